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
import tempfile
from pathlib import Path
from typing import Any

from ..errors import ModelUnavailable
from .gguf_file import GgufFile

HINT = "give a .gguf file with its tokenizer in the metadata"


def build(path: Path) -> Any:
    """The transformers tokenizer that the file's metadata describes, with its chat template."""
    from ..library_imports import transformers_names

    PreTrainedTokenizerFast = transformers_names("PreTrainedTokenizerFast")
    from transformers.integrations.gguf.gguf_tokenizer_mapping import convert_gguf_tokenizer

    try:
        arch, described, config = described_tokenizer(GgufFile(path, tokenizer=True).metadata)
        backend, _ = convert_gguf_tokenizer(arch, described)
    except (KeyError, ValueError, IndexError) as error:  # no tokenizer in the metadata, or one of a kind unknown
        raise ModelUnavailable(f"could not build the tokenizer of {path.name}: {str(error).splitlines()[0]}",
                               HINT) from None
    special = {name: config[name] for name in ("bos_token", "eos_token", "unk_token", "pad_token") if config.get(name)}
    return PreTrainedTokenizerFast(tokenizer_object=backend, chat_template=config.get("chat_template"), **special)


def described_tokenizer(metadata: dict[str, Any]) -> tuple[str, dict, dict]:
    """(architecture, tokenizer, tokenizer config) as transformers' ``get_gguf_tokenizer`` gives them,
    from metadata read here. Its own reader reads the file again and imports torch (1.4 s of the
    tokenizer's 2.9 s of CPU for a 150k-token vocabulary), so its few lines of grouping are these."""
    from transformers.integrations.gguf.gguf_tokenizer_mapping import _SPECIAL_TOKENS, GGUF_TOKENIZER_MAPPING

    grouped = {group: {name: metadata[f"tokenizer.{key}"] for key, name in renames.items()
                       if f"tokenizer.{key}" in metadata} for group, renames in GGUF_TOKENIZER_MAPPING.items()}
    tokenizer, config = grouped["tokenizer"], grouped["tokenizer_config"]
    if tokenizer.get("tokenizer_type") == "llama":  # llama.cpp adds BOS to a sentencepiece vocabulary
        config.setdefault("add_bos_token", True)
    elif tokenizer.get("tokenizer_type") == "gemma4":
        config["add_bos_token"] = False
    for name, key in _SPECIAL_TOKENS.items():
        token_id = metadata.get(f"tokenizer.ggml.{key}")
        config[name] = tokenizer["tokens"][token_id] if token_id is not None else None
    return metadata["general.architecture"], tokenizer, config


class Job:
    """The tokenizer of a GGUF file being built in a child process, into a folder of its own."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._folder = tempfile.TemporaryDirectory(prefix="parrot-tokenizer-")
        self._process = subprocess.Popen([sys.executable, "-m", __name__, str(path), self._folder.name],
                                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)

    def result(self) -> Any:
        """The tokenizer the child built (a ``LightTokenizer``), or a one-line error saying why not."""
        from .light_tokenizer import LightTokenizer

        try:
            _, errors = self._process.communicate()
            if self._process.returncode != 0:
                lines = [line for line in errors.strip().splitlines() if line.strip()]
                reason = lines[-1] if lines else f"the tokenizer's process ended with {self._process.returncode}"
                raise ModelUnavailable(reason if reason.startswith("could not") else
                                       f"could not build the tokenizer of {self.path.name}: {reason}", HINT)
            folder = Path(self._folder.name)
            info = json.loads((folder / "info.json").read_text(encoding="utf-8"))
            return LightTokenizer(folder / "tokenizer.json", info, lambda: build(self.path))
        finally:
            self._folder.cleanup()

    def cancel(self) -> None:
        """Not needed after all (a load that stopped, or took another path): end the child."""
        self._process.kill()
        self._process.communicate()
        self._folder.cleanup()


def main(path: str, folder: str) -> None:
    from .light_tokenizer import tokenizer_info

    try:
        tokenizer = build(Path(path))
    except ModelUnavailable as error:
        sys.exit(error.message)  # to stderr, where ``finish`` reads it
    tokenizer.backend_tokenizer.save(str(Path(folder) / "tokenizer.json"))
    (Path(folder) / "info.json").write_text(json.dumps(tokenizer_info(tokenizer)), encoding="utf-8")


if __name__ == "__main__":
    main(*sys.argv[1:3])
