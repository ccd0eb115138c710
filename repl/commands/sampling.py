"""The slash shortcuts of the generation settings (/temp /top_p /top_k /max /repeat /seed /greedy /stop),
generated from their specs, and /sample, which undoes /greedy.

Each is a shortcut for ``/set``: without a value it shows the current one, its default and the
allowed range; with a value it validates through GenerationSettings, whose errors name the range.
"""

from __future__ import annotations

from rich.text import Text

from backends.settings import SPECS, GenerationSettings, default_text, shown_value, stop_from_items

from .context import Context
from .table import command, require


def shown(value: object) -> str:
    """A setting's value as every command shows it: none, true/false, 2 (not 2.0), stop strings quoted."""
    if isinstance(value, tuple):
        return ", ".join(repr(s) for s in value) if value else "none"
    return shown_value(value)


def session_mode(ctx: Context) -> str | None:
    """chat or completion once the backend knows (a local model says so after loading), else None."""
    return ctx.session.backend.describe().mode


def effective(ctx: Context, name: str) -> str:
    """A setting's value as it applies now: a per-mode default shows as its value for this model's mode."""
    settings = ctx.session.settings
    if settings.given(name):
        return shown(getattr(settings, name))
    mode = session_mode(ctx)
    return f"{shown(getattr(settings.for_mode(mode), name))} ({mode}-model default)" if mode else "default"


def _report(ctx: Context, name: str, old: str) -> None:
    new = effective(ctx, name)
    line = f"{name} = {new}" + (f" (was {old})" if new != old else " (unchanged)")
    if name == "temperature" and ctx.session.settings.temperature == 0:
        line += "; 0 means greedy: always the most likely token"
    elif name in {"temperature", "top_p", "top_k"} and ctx.session.settings.greedy:
        line += "; greedy is on, so this applies after /sample"
    ctx.ui.show(Text(line))  # Text, not markup: a stop string may hold '[' and ']'


def _current(ctx: Context, name: str) -> None:
    spec = SPECS[name]
    ctx.ui.show(Text(f"{name} = {effective(ctx, name)} (default {default_text(name)}; {spec.allowed}): {spec.help}"))


def _setting_command(name: str) -> None:
    spec = SPECS[name]

    def handler(ctx: Context, args: list[str]) -> None:
        if spec.kind in ("switch", "value"):  # /greedy alone turns it on; /greedy off as /sample does
            require(args, (0, 1))
        if not args and spec.kind != "switch":
            _current(ctx, name)
            return
        old, settings = effective(ctx, name), ctx.session.settings
        if spec.kind == "switch" and not args:
            ctx.session.settings = settings.updated(**{name: True})
        elif spec.kind == "list":
            ctx.session.settings = settings.updated(**{name: stop_from_items(args)})
        else:
            ctx.session.settings = settings.updated_from_text({name: args[0]})
        _report(ctx, name, old)

    handler.__name__ = f"{spec.shortcut}_"
    usage = {"switch": f"/{spec.shortcut} [on|off]", "list": f"/{spec.shortcut} [STRING ...|none]"}.get(
        spec.kind, f"/{spec.shortcut} [VALUE]")
    summary = {"switch": f"{spec.help} (/sample undoes it)",
               "list": f"{spec.help}"}.get(spec.kind, f"{name}: {spec.allowed}")
    command(spec.shortcut, usage, summary, group="settings")(handler)


for _name, _spec in SPECS.items():
    if _spec.shortcut:
        _setting_command(_name)


@command("sample", "/sample", "sample again (undoes /greedy and /temp 0)", group="settings")
def sample_(ctx: Context, args: list[str]) -> None:
    require(args, 0)
    settings = ctx.session.settings
    changes: dict[str, object] = {"greedy": False}
    if settings.temperature == 0:  # temperature 0 would still be greedy
        changes["temperature"] = GenerationSettings().temperature
    ctx.session.settings = settings.updated(**changes)
    new = ctx.session.settings
    ctx.ui.show(Text(f"sampling: temperature = {shown(new.temperature)}, top_p = {shown(new.top_p)}, "
                     f"top_k = {shown(new.top_k)}, seed = {shown(new.seed)}"
                     + (" (temperature was 0, set back to the default)" if "temperature" in changes else "")))
