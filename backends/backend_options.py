"""The backend options, declared once: where a model runs and how (``device``, ``dtype``, ``quantize``) and which
server answers (``base_url``).

The ``parrot`` flags, the keys of config.toml and what the registry hands each backend's factory all come
from this table, as generation settings come from theirs (``backends.settings``). Each value is checked when
it is given, in one line with the fix, before anything loads.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from .errors import UsageError


def _device(text: str) -> str:
    from .devices import check_device

    return check_device(text)


def _dtype(text: str) -> str:
    from .loading.plan import DTYPES

    value = text.strip().lower()
    if value != "auto" and value not in DTYPES:
        raise UsageError(f"unknown dtype {text.strip() or 'an empty name'}", f"choose auto or one of {', '.join(DTYPES)}")
    return value


def _quantize(text: str) -> str:
    from .lean.quantize import QUANTIZE_CHOICES

    value = text.strip().lower()
    if value not in ("auto", *QUANTIZE_CHOICES):
        raise UsageError(f"unknown quantization {text.strip() or 'an empty name'}",
                         f"choose auto or one of {', '.join(QUANTIZE_CHOICES)}")
    return value


def _base_url(text: str) -> str:
    from .hosted.httpclient import check_base_url  # imports requests: only when a URL is given

    return check_base_url(text)


@dataclass(frozen=True)
class BackendOption:
    name: str  # the config.toml key and the keyword a backend's factory takes
    flag: str
    metavar: str
    help: str
    check: Callable[[str], str]  # the value normalised, or a UsageError that says how to fix it
    backends: tuple[str, ...]  # the backends that use it; the others never see it
    default: str | None = None


OPTIONS: dict[str, BackendOption] = {o.name: o for o in (
    BackendOption("device", "--device", "DEVICE", "where a local model runs: auto, cpu, cuda, cuda:N or mps",
                  _device, ("local",), "auto"),
    BackendOption("dtype", "--dtype", "DTYPE", "a local model's number format: auto, float32, bfloat16 or float16",
                  _dtype, ("local",), "auto"),
    BackendOption("quantize", "--quantize", "QUANTIZE", "local CPU decoding: auto, none, int8 or int4 weights",
                  _quantize, ("local",), "auto"),
    BackendOption("base_url", "--base-url", "URL", "server for -b openai, e.g. http://127.0.0.1:8000/v1",
                  _base_url, ("openai",)),
)}


def for_backend(backend: str, options: dict[str, Any]) -> dict[str, Any]:
    """The declared options ``backend`` uses, out of ``options`` (other keys, such as callbacks, pass through)."""
    return {key: value for key, value in options.items() if key not in OPTIONS or backend in OPTIONS[key].backends}


def layered(given: dict[str, str | None], configured: dict[str, str | None]) -> dict[str, str]:
    """Each option from the command line, else the config file, else its default (unset ones left out)."""
    layers = {}
    for name, option in OPTIONS.items():
        value = given.get(name) or configured.get(name) or option.default
        if value is not None:
            layers[name] = value
    return layers
