"""The config file (``config.toml`` in parrot's config folder): defaults a person sets once.

    backend = "local"
    model = "smollm2"
    device = "auto"

    [generation]
    temperature = 0.2
    max_new_tokens = 512
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from backends import paths
from backends.backend_options import OPTIONS
from backends.errors import SettingsError, UsageError
from backends.settings import GenerationSettings

from .. import safe_files


@dataclass
class Config:
    backend: str = "local"
    model: str | None = None
    options: dict[str, str] = field(default_factory=dict)  # backend options (backends.backend_options), as given
    settings: GenerationSettings = field(default_factory=GenerationSettings)


def config_path() -> Path:
    return paths.config_file()


CONFIG_LIMIT = 1024 * 1024
KEYS = ("backend", "model", *OPTIONS)


def load_config(path: Path | None = None) -> Config:
    """Read the config file if there is one; a broken file is an error that names the file and the key."""
    path = path or config_path()
    if not os.path.lexists(path):
        return Config()
    text = safe_files.read_text(path, "config file", CONFIG_LIMIT)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise UsageError(f"{path} is not valid TOML: {error}", "fix or remove the file") from None
    generation = data.pop("generation", {})
    if not isinstance(generation, dict):
        raise UsageError(f"{path}: generation must be a table, not {_kind(generation)}",
                         "write the settings under a [generation] line, e.g. temperature = 0.2")
    unknown = set(data) - set(KEYS)
    if unknown:
        raise UsageError(f"{path}: unknown key(s) {', '.join(sorted(unknown))}",
                         f"use {', '.join(sorted(KEYS))} and a [generation] table")
    for key, value in data.items():
        if not isinstance(value, str) or not value.strip():
            raise UsageError(f"{path}: {key} must be a non-empty string, not {_kind(value)}",
                             f'quote it, e.g. {key} = "{value}"' if isinstance(value, (int, float)) else None)
    options = {}
    for key in OPTIONS.keys() & data.keys():
        try:
            options[key] = OPTIONS[key].check(data.pop(key))
        except UsageError as error:
            raise UsageError(f"{path}: {key}: {error.message}", error.hint) from None
    try:
        settings = GenerationSettings.from_dict(generation)
    except SettingsError as error:
        raise SettingsError(f"{path}: {error.message}", error.hint) from None
    return Config(settings=settings, options=options, **data)


def _kind(value: object) -> str:
    """'a number', 'a table', ... for messages (never a Python repr)."""
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, (int, float)):
        return f"the number {value}"
    return {dict: "a table", list: "a list", str: "an empty string"}.get(type(value), "a date or time")
