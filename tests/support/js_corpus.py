"""Small ordinary JavaScript files and npm-style packages, written by the fine-tuning tests.

A module of its own (not tests/finetune/conftest.py) so that tests can import it by a name no other
conftest shares: `import conftest` finds whichever conftest pytest loaded last.
"""

from __future__ import annotations

import json
from pathlib import Path

ADJECTIVES = ["Simple", "Fast", "Lazy", "Tiny", "Smart", "Quiet", "Eager", "Plain", "Happy", "Small", "Brave",
              "Clever"]
NOUNS = ["Adder", "Counter", "Parser", "Cache", "Queue", "Timer", "Logger", "Store", "Router", "Buffer"]


def js_class(index: int) -> str:
    """A small, distinct, ordinary JavaScript file."""
    name = ADJECTIVES[index % len(ADJECTIVES)] + NOUNS[index // len(ADJECTIVES) % len(NOUNS)]
    return (f"// {name}: keeps a running value.\n"
            f"class {name} {{\n"
            f"  constructor(start = {index}) {{\n    this.value = start;\n  }}\n\n"
            f"  add(a, b) {{\n    this.value += a + b;\n    return this.value;\n  }}\n\n"
            f"  reset() {{\n    this.value = {index % 7};\n  }}\n}}\n\n"
            f"module.exports = {name};\n")


def write_package(folder: Path, licence: str | None, files: dict[str, str], name: str | None = None) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    meta: dict = {"name": name or folder.name, "version": "1.0.0"}
    if licence is not None:
        meta["license"] = licence
    (folder / "package.json").write_text(json.dumps(meta))
    for rel, text in files.items():
        path = folder / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
