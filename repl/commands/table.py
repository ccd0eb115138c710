"""The one slash-command table, shared by the Textual app, the plain REPL and scripts.

A command is one function registered with ``@command``. The same table produces ``/help``, tab
completion, "did you mean" suggestions and usage errors, so no mode keeps its own if/elif chain.
"""

from __future__ import annotations

import difflib
import re
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
    text: bool = False  # its arguments are free text (a search, a prompt): words as typed, quotes and all
    verbatim: bool = False  # its argument is the text as typed, every space and line kept (one string)


COMMANDS: dict[str, Command] = {}
_ALIASES: dict[str, str] = {}


def command(name: str, usage: str, summary: str, *, group: str = "chat", aliases: tuple[str, ...] = (),
            arguments: tuple[str, ...] = (), text: bool = False,
            verbatim: bool = False) -> Callable[[Handler], Handler]:
    """Register ``handler`` as ``/name``; ``text``: its arguments are free text, split at spaces only;
    ``verbatim``: its one argument is the rest of the line exactly as typed (``/tokens a    b``)."""

    def register(handler: Handler) -> Handler:
        if name in COMMANDS or name in _ALIASES:
            raise RuntimeError(f"/{name} is registered twice")
        COMMANDS[name] = Command(name, handler, usage, summary, group, aliases, arguments, text, verbatim)
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


QUOTING = 'put a name with spaces in double quotes: /file "my notes.md"'


def split(line: str) -> tuple[str, list[str]]:
    """'/set temp=0.2 seed=1' -> ('set', ['temp=0.2', 'seed=1']); quotes group words.

    A free-text command's arguments (``/history it's``) are its words as typed: search text and
    prompts are not a command line, and an apostrophe there opens no quote.
    """
    named = re.match(r"/(\S*)", line)
    exact = COMMANDS.get(_ALIASES.get(named.group(1).lower(), named.group(1).lower())) if named else None
    if exact is not None and exact.verbatim:  # the text after the name and one space (or line break), as typed
        rest = line[named.end():]
        rest = rest[1:] if rest[:1] in (" ", "\t", "\n") else rest
        return named.group(1).lower(), [rest] if rest.strip() else []
    body = line[1:].strip()
    name, _, rest = body.partition(" ")
    cmd = COMMANDS.get(_ALIASES.get(name.lower(), name.lower()))
    if cmd is not None and cmd.text:
        return name.lower(), rest.split()
    # Quotes group words as in a shell, but a backslash stays a backslash: people type \n in /stop,
    # regexes and Windows paths here, never shell escapes (shlex.split would turn \n into n).
    lexer = shlex.shlex(rest, posix=True)
    lexer.whitespace_split, lexer.escape, lexer.commenters = True, "", ""
    try:
        args = list(lexer)
    except ValueError:
        raise UsageError(f"the arguments of /{name} open a quote that is never closed",
                         f"close the quote; {QUOTING}") from None
    if any(arg.endswith("\\") for arg in args[:-1]):  # `my\ notes.md`: a shell's escape, which is not one here
        raise UsageError(f"a backslash does not escape a space in /{name}", QUOTING)
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
