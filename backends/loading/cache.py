"""The one place that names parrot's cached copies of a model source.

A source's folder holds its fast-start copies (``fast_start``), the quality check's result
(``quality``), and the converted safetensors copy of a GGUF file transformers loads (``models``).
Its name changes whenever the source's files are moved, resized or rewritten, so a stale copy is
never read.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from .. import paths
from .source import ModelSource


def cache_key(files: list[Path]) -> str:
    """A short key that changes when any of ``files`` is moved, resized or rewritten."""
    stamp = ":".join(f"{f.resolve()}:{f.stat().st_size}:{f.stat().st_mtime_ns}" for f in files)
    return hashlib.sha256(stamp.encode()).hexdigest()[:12]


def cache_dir(source: ModelSource) -> Path | None:
    """parrot's cache folder for ``source``, or None for sources it does not cache (Hub ids: the HF
    cache holds them). Fast-start copies live there, the quality check's result, and the converted
    safetensors copy of a GGUF file the lean decoder does not run."""
    if source.kind == "gguf":
        gguf = Path(source.location) / (source.gguf_file or "")
        return paths.converted_models_dir() / f"{gguf.stem}-{cache_key([gguf])}"
    if source.kind == "folder":
        folder = Path(source.location)
        weights = sorted(folder.glob("*.safetensors")) or sorted(folder.glob("*.bin"))
        return paths.converted_models_dir() / f"{folder.name}-{cache_key([folder / 'config.json', *weights])}"
    return None
