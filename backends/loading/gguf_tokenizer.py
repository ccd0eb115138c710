"""A GGUF file's tokenizer, built by transformers from the file's metadata alone (no weights).

transformers (``integrations.gguf``) knows how each vocabulary type and pre-tokenizer of llama.cpp
maps to a ``tokenizers`` tokenizer. Building one holds the whole vocabulary in Python for a while
(about 110 MB and 2 s for a 150k-token vocabulary), so a first load runs it in a child process,
beside the repacking of the weights: the tokenizer comes back as ``tokenizer.json`` and is read with
the ``tokenizers`` library alone (``fast_start.LightTokenizer``), as every later start reads it.

    python -m backends.loading.gguf_tokenizer FILE.gguf FOLDER   # writes tokenizer.json, info.json
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from ..errors import ModelUnavailable

HINT = "give a .gguf file with its tokenizer in the metadata"


def build(path: Path) -> Any:
    """The transformers tokenizer that the file's metadata describes, with its chat template."""
    from transformers import PreTrainedTokenizerFast
    from transformers.integrations.gguf import convert_gguf_tokenizer, get_gguf_tokenizer

    try:
        arch, described, config = get_gguf_tokenizer(str(path))
        backend, _ = convert_gguf_tokenizer(arch, described)
    except (KeyError, ValueError, IndexError) as error:  # no tokenizer in the metadata, or one of a kind unknown
        raise ModelUnavailable(f"could not build the tokenizer of {path.name}: {str(error).splitlines()[0]}",
                               HINT) from None
    special = {name: config[name] for name in ("bos_token", "eos_token", "unk_token", "pad_token") if config.get(name)}
    return PreTrainedTokenizerFast(tokenizer_object=backend, chat_template=config.get("chat_template"), **special)


def start(path: Path, folder: Path) -> subprocess.Popen:
    """Build the tokenizer of ``path`` into ``folder`` in a child process; ``finish`` collects it."""
    return subprocess.Popen([sys.executable, "-m", __name__, str(path), str(folder)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def finish(job: subprocess.Popen, path: Path, folder: Path) -> Any:
    """The tokenizer the child built (a ``LightTokenizer``), or a one-line error saying why not."""
    from .fast_start import LightTokenizer

    _, errors = job.communicate()
    if job.returncode != 0:
        lines = [line for line in errors.strip().splitlines() if line.strip()]
        reason = lines[-1] if lines else f"the tokenizer's process ended with {job.returncode}"
        raise ModelUnavailable(reason if reason.startswith("could not") else
                               f"could not build the tokenizer of {path.name}: {reason}", HINT)
    info = json.loads((folder / "info.json").read_text(encoding="utf-8"))
    return LightTokenizer(folder / "tokenizer.json", info, lambda: build(path))


def main(path: str, folder: str) -> None:
    from .fast_start import tokenizer_info

    try:
        tokenizer = build(Path(path))
    except ModelUnavailable as error:
        sys.exit(error.message)  # to stderr, where ``finish`` reads it
    tokenizer.backend_tokenizer.save(str(Path(folder) / "tokenizer.json"))
    (Path(folder) / "info.json").write_text(json.dumps(tokenizer_info(tokenizer)), encoding="utf-8")


if __name__ == "__main__":
    main(*sys.argv[1:3])
