"""The one slash-command table, shared by the Textual app, the plain REPL and scripts.

A command is one function registered with ``@command``. The same table produces ``/help``, tab
completion, "did you mean" suggestions and usage errors, so no mode keeps its own if/elif chain.
"""

from __future__ import annotations

import difflib
import shlex
from dataclasses import dataclass
from typing import Callable

from backends.errors import ParrotError, UsageError

from .context import Context

Handler = Callable[[Context, list[str]], None]


@dataclass(frozen=True)
class Command:
    name: str
    handler: Handler
    usage: str  # e.g. "/temp VALUE"
    summary: str
    group: str = "chat"
    aliases: tuple[str, ...] = ()
    arguments: tuple[str, ...] = ()  # fixed first words offered by completion, e.g. ("md", "jsonl")


COMMANDS: dict[str, Command] = {}
_ALIASES: dict[str, str] = {}


def command(name: str, usage: str, summary: str, *, group: str = "chat", aliases: tuple[str, ...] = (),
            arguments: tuple[str, ...] = ()) -> Callable[[Handler], Handler]:
    """Register ``handler`` as ``/name``."""

    def register(handler: Handler) -> Handler:
        if name in COMMANDS or name in _ALIASES:
            raise RuntimeError(f"/{name} is registered twice")
        COMMANDS[name] = Command(name, handler, usage, summary, group, aliases, arguments)
        for alias in aliases:
            _ALIASES[alias] = name
        return handler

    return register


def is_command(line: str) -> bool:
    """A line that starts with one slash is a command; ``//`` escapes a prompt that starts with '/'."""
    return line.startswith("/") and not line.startswith("//")


def lookup(name: str) -> Command:
    key = _ALIASES.get(name, name)
    if key in COMMANDS:
        return COMMANDS[key]
    close = difflib.get_close_matches(name, list(COMMANDS) + list(_ALIASES), n=1, cutoff=0.5)
    hint = f"did you mean /{close[0]}? /help lists all commands" if close else "/help lists all commands"
    raise UsageError(f"unknown command /{name}", hint)


def split(line: str) -> tuple[str, list[str]]:
    """'/set temp=0.2 seed=1' -> ('set', ['temp=0.2', 'seed=1']); quotes group words."""
    body = line[1:].strip()
    name, _, rest = body.partition(" ")
    # Quotes group words as in a shell, but a backslash stays a backslash: people type \n in /stop,
    # regexes and Windows paths here, never shell escapes (shlex.split would turn \n into n).
    lexer = shlex.shlex(rest, posix=True)
    lexer.whitespace_split, lexer.escape, lexer.commenters = True, "", ""
    try:
        args = list(lexer)
    except ValueError as error:
        raise UsageError(f"could not read the arguments of /{name}: {error}", "close the quote") from None
    return name.lower(), args


def run(line: str, ctx: Context) -> None:
    """Run one slash-command line; a usage error names the command's usage."""
    name, args = split(line)
    cmd = lookup(name)
    try:
        cmd.handler(ctx, args)
    except UsageError as error:
        if error.hint is None:
            error.hint = f"usage: {cmd.usage}"
        raise error.in_chat()
    except ParrotError as error:
        raise error.in_chat()  # a hint inside the chat names the slash-command, not a flag


def completions(text: str) -> list[str]:
    """Commands (and fixed first arguments) that start with what has been typed."""
    if not text.startswith("/"):
        return []
    name, sep, rest = text[1:].partition(" ")
    if not sep:
        names = sorted(set(COMMANDS) | set(_ALIASES))
        return [f"/{n}" for n in names if n.startswith(name.lower())]
    cmd = COMMANDS.get(_ALIASES.get(name, name))
    if cmd is None or " " in rest:
        return []
    return [f"/{name} {a}" for a in cmd.arguments if a.startswith(rest)]


def require(args: list[str], count: int | tuple[int, int]) -> None:
    """Raise a usage error unless there are ``count`` arguments (or between min and max)."""
    low, high = (count, count) if isinstance(count, int) else count
    if not low <= len(args) <= high:
        raise UsageError(f"expected {low if low == high else f'{low} to {high}'} argument(s), got {len(args)}")
