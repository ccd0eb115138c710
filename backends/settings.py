"""GenerationSettings: the one object that says how to decode, with validation.

Layered by the caller: defaults -> config file -> command-line flags -> ``/set`` at run time.
Every field has a spec (type, range, help) so validation, ``/settings`` and ``/help`` share one source.
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any, Callable

from .errors import SettingsError


@dataclass(frozen=True)
class FieldSpec:
    """How one setting is parsed, checked and explained."""

    help: str
    allowed: str
    check: Callable[[Any], bool]
    parse: Callable[[str], Any]


def _parse_bool(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise ValueError(text)


def _parse_optional_int(text: str) -> int | None:
    return None if text.strip().lower() in {"", "none", "off", "random"} else int(text)


_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\"}


def unescape(text: str) -> str:
    r"""Turn typed ``\n``, ``\t``, ``\r`` and ``\\`` into the characters; leave the rest alone (é stays é)."""
    return re.sub(r"\\([ntr\\])", lambda m: _ESCAPES[m.group(1)], text)


def _parse_stop(text: str) -> tuple[str, ...]:
    # Stop strings are comma separated; "\n" is written as an escape so it fits on a command line.
    if text.strip().lower() in {"", "none", "off"}:
        return ()
    return tuple(unescape(part) for part in text.split(","))


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


SPECS: dict[str, FieldSpec] = {
    "temperature": FieldSpec(
        "randomness of sampling; 0 means greedy", "a number from 0 to 5",
        lambda v: _finite(v) and 0 <= v <= 5, float),
    "top_p": FieldSpec(
        "sample only from the smallest set of tokens whose probabilities add up to this",
        "a number greater than 0 and at most 1", lambda v: _finite(v) and 0 < v <= 1, float),
    "top_k": FieldSpec(
        "sample only from the k most likely tokens; 0 turns it off", "a whole number from 0 to 100000",
        lambda v: _is_int(v) and 0 <= v <= 100_000, int),
    "max_new_tokens": FieldSpec(
        "longest reply in tokens", "a whole number from 1 to 32768",
        lambda v: _is_int(v) and 1 <= v <= 32_768, int),
    "repetition_penalty": FieldSpec(
        "above 1 discourages tokens already in the text; 1 turns it off", "a number from 0.5 to 3",
        lambda v: _finite(v) and 0.5 <= v <= 3, float),
    "seed": FieldSpec(
        "random seed for sampling; none picks a fresh one each reply", "a whole number from 0 to 2**63-1, or none",
        lambda v: v is None or (_is_int(v) and 0 <= v < 2**63), _parse_optional_int),
    "greedy": FieldSpec(
        "always take the most likely token (temperature and top-p/k are then ignored)", "true or false",
        lambda v: isinstance(v, bool), _parse_bool),
    "stop": FieldSpec(
        "strings that end the reply when produced (comma separated; \\n for a newline)",
        "a comma-separated list of non-empty strings, or none",
        lambda v: isinstance(v, tuple) and all(isinstance(s, str) and s for s in v), _parse_stop),
    "system": FieldSpec(
        "system prompt for chat models; none uses the model's own", "any text, or none",
        lambda v: v is None or isinstance(v, str), lambda t: None if t.strip().lower() in {"", "none"} else t),
}

ALIASES = {"temp": "temperature", "max": "max_new_tokens", "max_tokens": "max_new_tokens",
           "repeat": "repetition_penalty", "repetition": "repetition_penalty"}


@dataclass(frozen=True)
class GenerationSettings:
    """How to decode one reply. Immutable: ``updated`` returns a validated copy."""

    temperature: float = 0.7
    top_p: float = 0.9
    top_k: int = 50
    max_new_tokens: int = 256
    repetition_penalty: float = 1.0
    seed: int | None = None
    greedy: bool = False
    stop: tuple[str, ...] = field(default_factory=tuple)
    system: str | None = None

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "stop" and isinstance(value, list):
                value = tuple(value)
                object.__setattr__(self, "stop", value)
            if _is_int(value) and f.name in {"temperature", "top_p", "repetition_penalty"}:
                value = float(value)
                object.__setattr__(self, f.name, value)
            spec = SPECS[f.name]
            if not spec.check(value):
                raise SettingsError(f"{f.name} = {_shown(value)} is not allowed", f"use {spec.allowed}")

    @property
    def is_greedy(self) -> bool:
        """Greedy when asked for, or when temperature is 0 (sampling at 0 would divide by zero)."""
        return self.greedy or self.temperature == 0

    def updated(self, **changes: Any) -> "GenerationSettings":
        """A copy with ``changes`` applied and validated; unknown names are refused."""
        clean = {}
        for key, value in changes.items():
            name = canonical_name(key)
            clean[name] = value
        return replace(self, **clean)

    def updated_from_text(self, pairs: dict[str, str]) -> "GenerationSettings":
        """Apply ``key=value`` strings as typed by a person (``/set temp=0.2 seed=1``)."""
        parsed = {}
        for key, text in pairs.items():
            name = canonical_name(key)
            spec = SPECS[name]
            try:
                parsed[name] = spec.parse(text)
            except (ValueError, TypeError):
                raise SettingsError(f"{name} = {_shown(text)} is not allowed", f"use {spec.allowed}") from None
        return self.updated(**parsed)

    def to_dict(self) -> dict[str, Any]:
        """Plain dict for JSON output and history."""
        data = asdict(self)
        data["stop"] = list(self.stop)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "GenerationSettings":
        """Build from a dict such as a config file's ``[generation]`` table."""
        return cls().updated(**data)


def _shown(value: Any) -> str:
    """A value as a person typed it, for messages: never a Python repr such as ('',)."""
    if isinstance(value, (tuple, list)):
        return ",".join(_shown(v) for v in value) if any(value) else "an empty string"
    if isinstance(value, str):
        return f'"{value}"' if value.strip() != value or not value else value
    if isinstance(value, bool):
        return "true" if value else "false"
    return "none" if value is None else str(value)


def canonical_name(key: str) -> str:
    """Map a typed setting name (or alias) to its field name, or raise with the valid names."""
    name = ALIASES.get(key.strip().lower().replace("-", "_"), key.strip().lower().replace("-", "_"))
    if name not in SPECS:
        raise SettingsError(f"unknown setting {_shown(key)}", f"choose from {', '.join(SPECS)}")
    return name
