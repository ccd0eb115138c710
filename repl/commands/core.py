"""The commands every mode needs: help, quit, and the generation settings."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text

from backends.base import BackendInfo
from backends.errors import UsageError
from backends.settings import SPECS, GenerationSettings, canonical_name, default_text

from .context import Context
from .sampling import effective, shown
from .table import COMMANDS, command, lookup


@command("help", "/help [COMMAND]", "list commands, or show one command's usage", group="general", aliases=("h", "?"))
def help_(ctx: Context, args: list[str]) -> None:
    if args:
        cmd = lookup(args[0].lstrip("/"))
        ctx.ui.show(f"{cmd.usage}\n  {cmd.summary}")
        return
    table = Table(box=None, show_header=False, pad_edge=False)
    table.add_column(style="bold cyan", no_wrap=True)
    table.add_column()
    for group in sorted({c.group for c in COMMANDS.values()}):
        table.add_row(f"[dim]{group}[/dim]", "")
        for cmd in sorted((c for c in COMMANDS.values() if c.group == group), key=lambda c: c.name):
            table.add_row(cmd.usage, cmd.summary)
    ctx.ui.show(table)


@command("quit", "/quit", "leave parrot (the conversation is saved)", group="general", aliases=("exit", "q"))
def quit_(ctx: Context, args: list[str]) -> None:
    ctx.ui.quit()


def settings_table(settings: GenerationSettings, backend: BackendInfo) -> Table:
    """Every setting with the value that applies (a per-mode default as this model's mode has it), its
    default, and the backend's facts."""
    mode = backend.mode
    applied = settings.for_mode(mode) if mode else settings
    table = Table(box=None, pad_edge=False)
    table.add_column("setting", style="bold")
    table.add_column("value")
    table.add_column("default", style="dim")
    table.add_column("meaning", style="dim")
    for name, spec in SPECS.items():
        value = shown(getattr(applied, name))
        if not settings.given(name):
            value = f"{value} ({mode}-model default)" if mode else "default"
        table.add_row(name, Text(value), default_text(name), spec.help)
    for key, value in backend.rows():
        table.add_row(key, value, "", "")
    return table


@command("settings", "/settings", "show every generation setting, its default, and the backend", group="settings")
def settings_(ctx: Context, args: list[str]) -> None:
    ctx.ui.show(settings_table(ctx.session.settings, ctx.session.backend.describe()))


@command("set", "/set KEY=VALUE ...", "change settings, e.g. /set temp=0.2 top_p=0.9 seed=1", group="settings")
def set_(ctx: Context, args: list[str]) -> None:
    if not args or any("=" not in a for a in args):
        raise UsageError("give one or more KEY=VALUE pairs")
    pairs = dict(a.split("=", 1) for a in args)
    ctx.session.settings = ctx.session.settings.updated_from_text(pairs)
    # Each as the shortcuts say it: its own name and the value it now has (temp=1 reads temperature = 1).
    names = dict.fromkeys(canonical_name(key) for key in pairs)
    ctx.ui.show(Text(", ".join(f"{name} = {effective(ctx, name)}" for name in names)))  # Text: values may hold [ ]
