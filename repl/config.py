"""The config file (``config.toml`` in parrot's config folder): defaults a person sets once.

    backend = "local"
    model = "smollm2"
    device = "auto"

    [generation]
    temperature = 0.2
    max_new_tokens = 512
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from backends import paths
from backends.errors import SettingsError, UsageError
from backends.settings import GenerationSettings


@dataclass
class Config:
    backend: str = "local"
    model: str | None = None
    device: str = "auto"
    dtype: str = "auto"
    quantize: str = "auto"
    base_url: str | None = None
    settings: GenerationSettings = field(default_factory=GenerationSettings)


def config_path() -> Path:
    return paths.config_dir() / "config.toml"


def load_config(path: Path | None = None) -> Config:
    """Read the config file if there is one; a broken file is an error that names the file."""
    path = path or config_path()
    if not path.exists():
        return Config()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise UsageError(f"{path} is not valid TOML: {error}", "fix or remove the file") from None
    generation = data.pop("generation", {})
    known = {"backend", "model", "device", "dtype", "quantize", "base_url"}
    unknown = set(data) - known
    if unknown:
        raise UsageError(f"{path}: unknown key(s) {', '.join(sorted(unknown))}",
                         f"use {', '.join(sorted(known))} and a [generation] table")
    try:
        settings = GenerationSettings.from_dict(generation)
    except SettingsError as error:
        raise SettingsError(f"{path}: {error.message}", error.hint) from None
    return Config(settings=settings, **{k: str(v) for k, v in data.items()})
