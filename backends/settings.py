"""GenerationSettings: the one object that says how to decode, with validation.

Layered by the caller: defaults -> config file -> command-line flags -> ``/set`` at run time.
Each setting is declared once, as a dataclass field whose metadata is its spec (type, range, help,
command-line flags, slash shortcut, aliases, per-mode default); validation, ``/settings``, ``/help``,
the slash shortcuts and the ``parrot`` flags are all read from it (``SPECS``).
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any, Callable, Mapping

from .errors import SettingsError

MODES = ("chat", "completion")  # chat models get the conversation; completion models continue raw text


@dataclass(frozen=True)
class FieldSpec:
    """How one setting is parsed, checked and explained, and the names a person sets it by."""

    help: str
    allowed: str
    check: Callable[[Any], bool]
    parse: Callable[[str], Any]
    flags: tuple[str, ...] = ()  # on the command line: parrot -t 0.2
    shortcut: str | None = None  # a slash command of its own: /temp 0.2
    aliases: tuple[str, ...] = ()  # other names /set and config.toml accept: /set temp=0.2
    kind: str = "value"  # "value"; "switch": a flag without a value (--greedy); "list": repeatable (--stop)
    metavar: str | None = None
    by_mode: Mapping[str, Any] | None = None  # defaults that differ for chat and completion models


def setting(default: Any, help: str, allowed: str, check: Callable[[Any], bool], parse: Callable[[str], Any],
            **names: Any) -> Any:
    """A GenerationSettings field and its spec, declared together."""
    return field(default=default, metadata={"spec": FieldSpec(help, allowed, check, parse, **names)})


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


def stop_from_items(items: list[str] | tuple[str, ...]) -> tuple[str, ...]:
    r"""Stop strings given one per argument (``/stop a b``, ``--stop a --stop b``): ``\n`` read as a
    newline; ``none`` (or ``off``) alone clears them."""
    if [item.strip().lower() for item in items] in (["none"], ["off"]):
        return ()
    return tuple(unescape(item) for item in items)


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _parse_penalty(text: str) -> float | None:
    return None if text.strip().lower() in {"", "default", "auto", "none"} else float(text)


@dataclass(frozen=True)
class GenerationSettings:
    """How to decode one reply. Immutable: ``updated`` returns a validated copy.

    A field left at None with a per-mode default (``repetition_penalty``) takes the default of the
    model's mode when a backend decodes (``for_mode``); a value the person gave always wins.
    """

    temperature: float = setting(
        0.7, "randomness of sampling; 0 means greedy", "a number from 0 to 5",
        lambda v: _finite(v) and 0 <= v <= 5, float,
        flags=("-t", "--temperature"), shortcut="temp", aliases=("temp",), metavar="T")
    top_p: float = setting(
        0.9, "sample only from the smallest set of tokens whose probabilities add up to this",
        "a number greater than 0 and at most 1", lambda v: _finite(v) and 0 < v <= 1, float,
        flags=("--top-p",), shortcut="top_p", metavar="P")
    top_k: int = setting(
        50, "sample only from the k most likely tokens; 0 turns it off", "a whole number from 0 to 100000",
        lambda v: _is_int(v) and 0 <= v <= 100_000, int,
        flags=("--top-k",), shortcut="top_k", metavar="K")
    max_new_tokens: int = setting(
        256, "longest reply in tokens", "a whole number from 1 to 32768",
        lambda v: _is_int(v) and 1 <= v <= 32_768, int,
        flags=("-n", "--max-tokens"), shortcut="max", aliases=("max", "max_tokens"), metavar="N")
    repetition_penalty: float | None = setting(
        None, "above 1 discourages tokens already in the text; 1 turns it off; 'default' takes the model's",
        "a number from 0.5 to 3", lambda v: v is None or (_finite(v) and 0.5 <= v <= 3), _parse_penalty,
        flags=("--repetition-penalty",), shortcut="repeat", aliases=("repeat", "repetition"), metavar="R",
        # Greedy continuations of a small code model loop (`if (a instanceof X) {...}` for every X)
        # without a penalty; 1.1 breaks the loops while identifiers a block reuses stay likely. Chat
        # models are tuned to answer without one.
        by_mode={"chat": 1.0, "completion": 1.1})
    seed: int | None = setting(
        None, "random seed for sampling; none picks a fresh one each reply",
        "a whole number from 0 to 2**63-1, or none",
        lambda v: v is None or (_is_int(v) and 0 <= v < 2**63), _parse_optional_int,
        flags=("--seed",), shortcut="seed", metavar="S")
    greedy: bool = setting(
        False, "always take the most likely token (temperature and top-p/k are then ignored)", "on or off (true or false)",
        lambda v: isinstance(v, bool), _parse_bool, flags=("--greedy",), shortcut="greedy", kind="switch")
    stop: tuple[str, ...] = setting(
        (), "strings that end the reply when produced (\\n for a newline)",
        "a comma-separated list of non-empty strings, or none",
        lambda v: isinstance(v, tuple) and all(isinstance(s, str) and s for s in v), _parse_stop,
        flags=("--stop",), shortcut="stop", kind="list", metavar="TEXT")
    system: str | None = setting(
        None, "system prompt for chat models; none uses the model's own", "any text, or none",
        lambda v: v is None or isinstance(v, str), lambda t: None if t.strip().lower() in {"", "none"} else t,
        flags=("-s", "--system"), metavar="TEXT")  # /system (repl/commands/chat.py) takes the rest of the line

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

    def for_mode(self, mode: str) -> "GenerationSettings":
        """The settings a model of ``mode`` (chat or completion) decodes with: unset per-mode values filled."""
        filled = {name: spec.by_mode[mode] for name, spec in SPECS.items()
                  if spec.by_mode and getattr(self, name) is None}
        return replace(self, **filled) if filled else self

    def given(self, name: str) -> bool:
        """Whether ``name`` holds a value of its own, not the per-mode default a backend fills in."""
        return not SPECS[name].by_mode or getattr(self, name) is not None

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


SPECS: dict[str, FieldSpec] = {f.name: f.metadata["spec"] for f in fields(GenerationSettings)}
ALIASES: dict[str, str] = {alias: name for name, spec in SPECS.items() for alias in spec.aliases}


def default_text(name: str) -> str:
    """A setting's default as a person reads it: "0.7", or "1.0 for chat models, 1.1 for completion models"."""
    spec = SPECS[name]
    if spec.by_mode:
        return ", ".join(f"{shown_value(value)} for {mode} models" for mode, value in spec.by_mode.items())
    return shown_value(getattr(GenerationSettings(), name))


def shown_value(value: Any) -> str:
    """A value as /settings and --help show it: none, true/false, a comma-separated list."""
    return _shown(value) if not isinstance(value, (tuple, list)) or value else "none"


def check_text(name: str, text: str) -> Any:
    """One setting parsed from text and checked against its range; a SettingsError names the range."""
    return getattr(GenerationSettings().updated_from_text({name: text}), name)


def _shown(value: Any) -> str:
    """A value as a person typed it, for messages: never a Python repr such as ('',)."""
    if isinstance(value, (tuple, list)):
        return ",".join(_shown(v) for v in value) if any(value) else "an empty string"
    if isinstance(value, str):
        return f'"{value}"' if value.strip() != value or not value else value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # as a person types it: 2, not 2.0
    return "none" if value is None else str(value)


def canonical_name(key: str) -> str:
    """Map a typed setting name (or alias) to its field name, or raise with the valid names."""
    name = ALIASES.get(key.strip().lower().replace("-", "_"), key.strip().lower().replace("-", "_"))
    if name not in SPECS:
        raise SettingsError(f"unknown setting {_shown(key)}", f"choose from {', '.join(SPECS)}")
    return name
