"""One short command per sampling setting: /temp /top_p /top_k /max /seed /repeat /stop /greedy /sample.

Each is a shortcut for ``/set``: without a value it shows the current one, its default and the
allowed range; with a value it validates through GenerationSettings, whose errors name the range.
"""

from __future__ import annotations

from rich.text import Text

from backends.settings import SPECS, GenerationSettings, unescape

from .table import Context, command, require


def shown(value: object) -> str:
    if isinstance(value, tuple):
        return ", ".join(repr(s) for s in value) if value else "none"
    return "none" if value is None else str(value)


def _report(ctx: Context, name: str, old: object) -> None:
    new = getattr(ctx.session.settings, name)
    line = f"{name} = {shown(new)}" + (f" (was {shown(old)})" if new != old else " (unchanged)")
    if name == "temperature" and new == 0:
        line += "; 0 means greedy: always the most likely token"
    elif name in {"temperature", "top_p", "top_k"} and ctx.session.settings.greedy:
        line += "; greedy is on, so this applies after /sample"
    ctx.ui.show(Text(line))  # Text, not markup: a stop string may hold '[' and ']'


def _current(ctx: Context, name: str) -> None:
    spec = SPECS[name]
    default = getattr(GenerationSettings(), name)
    ctx.ui.show(Text(f"{name} = {shown(getattr(ctx.session.settings, name))} (default {shown(default)}; "
                     f"{spec.allowed}): {spec.help}"))


def _setting_command(short: str, name: str) -> None:
    spec = SPECS[name]

    def handler(ctx: Context, args: list[str]) -> None:
        require(args, (0, 1))
        if not args:
            _current(ctx, name)
            return
        old = getattr(ctx.session.settings, name)
        ctx.session.settings = ctx.session.settings.updated_from_text({name: args[0]})
        _report(ctx, name, old)

    handler.__name__ = f"{short}_"
    note = " (0 = greedy)" if name == "temperature" else ""
    command(short, f"/{short} [VALUE]", f"{name}: {spec.allowed}{note}", group="settings")(handler)


for _short, _name in [("temp", "temperature"), ("top_p", "top_p"), ("top_k", "top_k"), ("max", "max_new_tokens"),
                      ("seed", "seed"), ("repeat", "repetition_penalty")]:
    _setting_command(_short, _name)


@command("stop", "/stop [STRING ...|none]", "end replies at any of these strings (\\n for a newline)",
         group="settings")
def stop_(ctx: Context, args: list[str]) -> None:
    if not args:
        _current(ctx, "stop")
        return
    old = ctx.session.settings.stop
    values = () if [a.lower() for a in args] in (["none"], ["off"]) else tuple(unescape(a) for a in args)
    ctx.session.settings = ctx.session.settings.updated(stop=values)
    _report(ctx, "stop", old)


@command("greedy", "/greedy", "always take the most likely token (/sample undoes it)", group="settings")
def greedy_(ctx: Context, args: list[str]) -> None:
    require(args, 0)
    old = ctx.session.settings.greedy
    ctx.session.settings = ctx.session.settings.updated(greedy=True)
    _report(ctx, "greedy", old)


@command("sample", "/sample", "sample again (undoes /greedy and /temp 0)", group="settings")
def sample_(ctx: Context, args: list[str]) -> None:
    require(args, 0)
    settings = ctx.session.settings
    changes: dict[str, object] = {"greedy": False}
    if settings.temperature == 0:  # temperature 0 would still be greedy
        changes["temperature"] = GenerationSettings().temperature
    ctx.session.settings = settings.updated(**changes)
    new = ctx.session.settings
    ctx.ui.show(Text(f"sampling: temperature = {new.temperature}, top_p = {new.top_p}, top_k = {new.top_k}, "
                     f"seed = {shown(new.seed)}" + (" (temperature was 0, set back to the default)"
                                                   if "temperature" in changes else "")))
