"""The devices parrot runs on, checked where a person names one (``--device``, config.toml, ``/device``).

A device this machine lacks is a usage error said at once, in one line, not a failure found when the
model loads. Only a named GPU device costs an ``import torch``; ``auto`` and ``cpu`` are read as text.
"""

from __future__ import annotations

from .errors import UsageError

DEVICE_CHOICES = "auto, cpu, cuda, cuda:N or mps"


def check_device(requested: str) -> str:
    """``requested`` (normalised) if this machine has it, else a UsageError that names what it has."""
    text = requested.strip().lower()
    kind, colon, index = text.partition(":")
    if kind not in ("auto", "cpu", "cuda", "mps") or (colon and (kind == "auto" or not (index.isascii() and index.isdigit()))):
        raise UsageError(f"unknown device {requested.strip() or 'an empty name'}", f"choose {DEVICE_CHOICES}")
    if kind in ("auto", "cpu"):
        return text
    import torch

    if kind == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0:
            raise UsageError(f"device {text}: this machine has no CUDA device", "use cpu or auto")
        if colon and int(index) >= count:
            have = "cuda:0" if count == 1 else f"cuda:0 to cuda:{count - 1}"
            raise UsageError(f"device {text}: this machine has {count} CUDA device(s)", f"use {have}, or cpu")
    elif not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise UsageError(f"device {text}: MPS is not available on this machine", "use cpu or auto")
    return text
