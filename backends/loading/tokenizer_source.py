"""Find a tokenizer by name without loading any model weights.

A name is, in this order: a tokenizer parrot trained (``/tokenizer train --name NAME``), a
``tokenizer.json`` file or a folder holding only one, or a model as ``--model`` takes it (preset, .gguf
file, folder, Hub id). A model's tokenizer is loaded with AutoTokenizer, as the model itself loads it,
and only its config is read besides: no weights, so ``parrot tokens`` answers in a few seconds.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from .. import paths
from ..errors import ModelUnavailable
from .models import DEFAULT_MODEL, ModelSource, context_window, resolve


@dataclass
class NamedTokenizer:
    """A ``tokenizers.Tokenizer`` with the name it was asked for and its model's context window."""

    name: str
    tokenizer: Any
    window: int | None = None


def trained_dir(name: str) -> Path:
    """Folder of a tokenizer trained by parrot; holds ``tokenizer.json``."""
    return paths.tokenizers_dir() / name


def trained_names() -> list[str]:
    """Names of the tokenizers parrot has trained, for help texts and completion."""
    root = paths.tokenizers_dir()
    return sorted(p.name for p in root.glob("*") if (p / "tokenizer.json").is_file()) if root.is_dir() else []


def from_fast(name: str, tokenizer: Any, window: int | None = None) -> NamedTokenizer:
    """Wrap a transformers fast tokenizer (e.g. a loaded model's) by its ``tokenizers`` core."""
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is None:
        raise ModelUnavailable(f"{name} has no fast tokenizer", "token offsets need a tokenizer.json (a fast tokenizer)")
    return NamedTokenizer(name, backend, window)


def load_tokenizer(spec: str) -> NamedTokenizer:
    """Load the tokenizer called ``spec`` (see the module docstring for the order names are tried)."""
    from tokenizers import Tokenizer

    spec = spec.strip()
    if spec and "/" not in spec and (trained_dir(spec) / "tokenizer.json").is_file():
        return NamedTokenizer(spec, Tokenizer.from_file(str(trained_dir(spec) / "tokenizer.json")))
    path = paths.user_path(spec)
    if path.suffix == ".json":
        if not path.is_file():
            raise ModelUnavailable(f"no such file: {spec}", "check the path to the tokenizer.json")
        return NamedTokenizer(spec, _read_tokenizer_file(path))
    if path.is_dir() and (path / "tokenizer.json").is_file() and not (path / "config.json").is_file():
        return NamedTokenizer(spec, _read_tokenizer_file(path / "tokenizer.json"))
    return model_tokenizer(spec)


def model_tokenizer(spec: str | None) -> NamedTokenizer:
    """The tokenizer of a model as ``--model`` names it, and that model's context window."""
    source = resolve(spec or DEFAULT_MODEL)
    name = spec or source.name
    if source.kind == "gguf":  # from the file's metadata alone, as loading builds it
        from . import gguf_tokenizer
        from .gguf_file import GgufFile, gguf_path

        path = gguf_path(source)
        return from_fast(name, gguf_tokenizer.build(path), GgufFile(path).get("context_length"))
    if source.kind == "folder" and (Path(source.location) / "tokenizer.json").is_file():
        return _from_folder(name, Path(source.location))
    if source.kind == "hub":
        return _from_folder(name, _hub_tokenizer_folder(name, source.location))
    return _from_transformers(name, source)


def _hub_tokenizer_folder(name: str, repo_id: str) -> Path:
    """The tokenizer files of a Hub model (and its config, for the window), from the cache or fetched: no weights."""
    from . import hub

    try:
        return hub.cached_snapshot(repo_id, tokenizer_only=True) or hub.download(repo_id, tokenizer_only=True)
    except ModelUnavailable as error:
        raise ModelUnavailable(f"could not load the tokenizer of {name}: {error.message}",
                               f"give a tokenizer parrot trained, a tokenizer.json, a local folder, or a Hub id; "
                               f"{error.hint}") from None


def _read_tokenizer_file(path: Path) -> Any:
    from tokenizers import Tokenizer

    try:
        return Tokenizer.from_file(str(path))
    except Exception as error:  # tokenizers raises a bare Exception for malformed files
        raise ModelUnavailable(f"{path} is not a tokenizer.json: {error}", "point at a file saved by a tokenizers library") from None


def _from_folder(name: str, folder: Path) -> NamedTokenizer:
    """A model folder: AutoTokenizer, exactly as the model loads it (its config may adjust tokenizer.json)."""
    from ..library_imports import transformers_names

    AutoTokenizer = transformers_names("AutoTokenizer")

    window = None
    config = folder / "config.json"
    if config.is_file():  # read as JSON: building a config object would import the model's code
        window = context_window(SimpleNamespace(**json.loads(config.read_text(encoding="utf-8"))))
    try:
        tokenizer = AutoTokenizer.from_pretrained(str(folder))
    except (OSError, ValueError) as error:
        raise ModelUnavailable(f"could not load the tokenizer in {folder}: {str(error).strip().splitlines()[0]}",
                               "point at a folder written by save_pretrained") from None
    return from_fast(name, tokenizer, window)


def _from_transformers(name: str, source: ModelSource) -> NamedTokenizer:
    """Folders with only a slow tokenizer (Hub ids go through the cache, GGUF files their metadata)."""
    from ..library_imports import transformers_names

    AutoConfig, AutoTokenizer = transformers_names("AutoConfig", "AutoTokenizer")

    try:
        tokenizer = AutoTokenizer.from_pretrained(source.location, local_files_only=True)
    except (OSError, ValueError) as error:
        raise ModelUnavailable(f"could not load the tokenizer of {name}: {str(error).strip().splitlines()[0]}",
                               "give a tokenizer parrot trained, a tokenizer.json, a local folder, or a Hub id") from None
    window = None
    try:
        window = context_window(AutoConfig.from_pretrained(source.location, local_files_only=True))
    except (OSError, ValueError):
        pass  # a tokenizer-only repository has no model, so no window to count against
    return from_fast(name, tokenizer, window)
