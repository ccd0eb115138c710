"""The ``parrot`` flags for generation settings and backend options, generated from their declarations
(``backends.settings.SPECS``, ``backends.backend_options.OPTIONS``).

Names, help, the allowed range and the default all come from the one declaration of each, so a flag
cannot drift from ``/set``, the slash shortcuts, ``/settings`` or config.toml. A value out of range is a
usage error while the arguments are read, before anything loads.
"""

from __future__ import annotations

import argparse
from typing import Any, Callable, Collection, Mapping

from backends.errors import SettingsError, UsageError
from backends.settings import SPECS, GenerationSettings, check_text, default_text, shown_value, stop_from_items


def add_setting_flags(group: Any, *, names: Collection[str] | None = None,
                      defaults: Mapping[str, Any] | None = None, skip: Collection[str] = ()) -> None:
    """Add a flag for each setting (or for ``names``); ``defaults`` replace the built-in ones for this
    command (``parrot eval``), ``skip`` leaves out flag spellings the command uses otherwise."""
    defaults = defaults or {}
    for name, spec in SPECS.items():
        flags = [flag for flag in spec.flags if flag not in skip]
        if not flags or (names is not None and name not in names):
            continue
        default = defaults.get(name)
        shown = shown_value(default) if name in defaults else default_text(name)
        text = f"{spec.help} ({spec.allowed}; default {shown})".replace("%", "%%")
        if spec.kind == "switch":
            group.add_argument(*flags, dest=name, action="store_true", default=default, help=spec.help)
        elif spec.kind == "list":  # one string per flag, so no commas to escape
            group.add_argument(*flags, dest=name, action="append", type=_flag_type(name, item=True), default=default,
                               metavar=spec.metavar, help=f"{spec.help}; repeat the flag for more")
        else:
            group.add_argument(*flags, dest=name, type=_flag_type(name), default=default, metavar=spec.metavar,
                               help=text)


def add_backend_flags(group: Any) -> None:
    """A flag for each backend option (--device, --dtype, --quantize, --base-url)."""
    from backends.backend_options import OPTIONS

    for option in OPTIONS.values():
        default = f" (default {option.default})" if option.default else ""
        group.add_argument(option.flag, dest=option.name, metavar=option.metavar, type=_checked(option.check),
                           help=option.help + default)


def _checked(check: Callable[[str], str]) -> Callable[[str], str]:
    def parse(text: str) -> str:
        try:
            return check(text)
        except UsageError as error:  # argparse prefixes the flag: "argument --device: ..."
            raise argparse.ArgumentTypeError(f"{error.message}; {error.hint}" if error.hint else error.message) from None

    parse.__name__ = check.__name__.lstrip("_")
    return parse


def settings_from_args(base: GenerationSettings, args: argparse.Namespace) -> GenerationSettings:
    """Layer the flags that were given over ``base`` (the config file's settings)."""
    changes: dict[str, Any] = {}
    for name, spec in SPECS.items():
        value = getattr(args, name, None)
        if value is not None:
            changes[name] = stop_from_items(value) if spec.kind == "list" else value
    return base.updated(**changes)


def _flag_type(name: str, item: bool = False) -> Callable[[str], Any]:
    def parse(text: str) -> Any:
        try:
            if item:  # one stop string per flag, checked as a list of one; read as a list once all are in
                GenerationSettings().updated(**{name: stop_from_items([text])})
                return text
            return check_text(name, text)
        except SettingsError as error:  # argparse prefixes the flag: "argument -t/--temperature: ..."
            raise argparse.ArgumentTypeError(f"{error.message}; {error.hint}") from None

    parse.__name__ = name
    return parse
