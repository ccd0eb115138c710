"""One table from backend names to factories. A new backend is one class and one line here."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from .backend_options import OPTIONS, for_backend
from .base import Backend
from .errors import UsageError

# What the local backend's constructor takes: its backend options and the progress callback.
LOCAL_KEYWORDS = {*(name for name, option in OPTIONS.items() if "local" in option.backends), "progress"}


@dataclass(frozen=True)
class BackendEntry:
    description: str
    factory: Callable[..., Backend]


def _local(model: str | None = None, **options: Any) -> Backend:
    from .loading.models import DEFAULT_MODEL
    from .local.backend import LocalBackend

    keep = {k: v for k, v in options.items() if k in LOCAL_KEYWORDS}
    return LocalBackend(model or DEFAULT_MODEL, **keep)


def _lazy(module: str) -> Callable[..., Backend]:
    """A factory that imports ``module`` (and requests) only when the backend is first used."""
    import importlib

    return lambda model=None, **options: importlib.import_module(module, __package__).create(model, **options)


BACKENDS: dict[str, BackendEntry] = {
    "local": BackendEntry("a transformers model on this machine (default: the embedded SmolLM2)", _local),
    "openai": BackendEntry("an OpenAI-compatible server: vLLM, TGI, llama.cpp, ollama (--base-url)", _lazy(".hosted.openai_compat")),
    "hf": BackendEntry("models hosted on Hugging Face, through the inference router (needs parrot login)", _lazy(".hosted.hf")),
}

DEFAULT_BACKEND = "local"


def create(name: str, model: str | None = None, **options: Any) -> Backend:
    """Build backend ``name`` for ``model``; the backend options it does not use are left out."""
    entry = BACKENDS.get(name)
    if entry is None:
        raise UsageError(f"unknown backend {name!r}", f"choose from {', '.join(BACKENDS)}")
    return entry.factory(model, **for_backend(name, options))
