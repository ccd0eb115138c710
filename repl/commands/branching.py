"""Editing an earlier prompt and moving between the branches that leaves: /edit, /branches, /branch."""

from __future__ import annotations

import dataclasses
import time

from rich.console import Group
from rich.table import Table
from rich.text import Text

from backends.errors import UsageError
from backends.one_line import one_line

from ..chat.attachments import mentions, split_composed
from ..chat.branches import own_turns, parting, switch
from ..chat.session import Turn
from ..views.terminal_text import neutral
from ..views.transcript import parts_at
from .context import Context
from .table import command, require


@command("edit", "/edit [N]", "put prompt N (default: the last) back in the input; sending it starts a branch")
def edit_(ctx: Context, args: list[str]) -> None:
    require(args, (0, 1))
    conversation = ctx.session.conversation
    users = [i for i, t in enumerate(conversation.turns) if t.message.role == "user"]
    if not users:
        raise UsageError("there is no prompt to edit yet", "type a prompt first")
    number = len(users) if not args else _number(args[0], len(users), "prompt")
    position = users[number - 1]
    conversation.edit_from = position
    turn = conversation.turns[position]
    text, files = split_composed(turn.message.content, turn.attachments)
    # Files named with @ are read again when it is sent; those queued with /file go as they were.
    named = set(mentions(text))
    ctx.session.pending_files = [f for f in files if f.path not in named]
    put_back = getattr(ctx.ui, "edit", None)
    if put_back is not None:
        put_back(text)
    ctx.ui.show(Text(f"editing prompt {number}: the next prompt you send replaces it and what followed, "
                     f"which stays as branch {conversation.branch} (/branches)", "dim"))


@command("branches", "/branches", "list the conversation's branches: where each differs, when, first words")
def branches_(ctx: Context, args: list[str]) -> None:
    require(args, 0)
    conversation = ctx.session.conversation
    if not conversation.branches:
        ctx.ui.show("this conversation has one branch (/edit or /retry start another)")
        return
    table = Table(box=None, pad_edge=False)
    table.add_column("branch", justify="right", style="bold")
    table.add_column("differs at")
    table.add_column("when", style="dim")
    table.add_column("first words")
    # The current path is shown from the earliest place a kept branch differs from it.
    start = min(parting(conversation, b) for b in conversation.branches)
    rows = [(conversation.branch, "", conversation.turns[start:])]
    rows += [(b.number, parts_at(conversation, b), own_turns(conversation, b)) for b in conversation.branches]
    for number, where, turns in sorted(rows, key=lambda row: row[0]):
        table.add_row(f"{number}{'*' if number == conversation.branch else ''}", where, when(turns[0].created) if turns else "",
                      Text(neutral(first_words(turns))))
    ctx.ui.show(Group(table, Text("* the branch on screen; /branch N switches to another", "dim")))


@command("branch", "/branch N", "switch to branch N of /branches (the one on screen is kept)")
def branch_(ctx: Context, args: list[str]) -> None:
    require(args, 1)
    conversation = ctx.session.conversation
    if not args[0].isdigit():
        raise UsageError(f"there is no branch {args[0]}", "give its number from /branches")
    left = conversation.branch
    chosen = switch(ctx.session, int(args[0]))
    kept = next(b for b in conversation.branches if b.number == left)
    shared = parting(conversation, kept)
    # A new Conversation object over the same turns: every mode redraws a conversation it has not shown.
    ctx.session.conversation = dataclasses.replace(conversation)
    ctx.ui.clear()
    ctx.ui.show(Text(f"switched to branch {chosen.number}, which starts {first_words(chosen.turns[shared:])!r} "
                     f"at {parts_at(ctx.session.conversation, kept) or 'its end'}; branch {left}, where you were, "
                     "is kept (/branches)"))


def first_words(turns: list[Turn]) -> str:
    """The start of the first of ``turns`` as a person would recognise it: a prompt as typed, without its files."""
    if not turns:
        return ""
    text, _ = split_composed(turns[0].message.content, turns[0].attachments)
    return one_line(text or turns[0].message.content, 50)


def when(timestamp: float) -> str:
    """'14:05' today, '2026-12-03 14:05' on another day."""
    local = time.localtime(timestamp)
    same_day = time.strftime("%Y-%m-%d", local) == time.strftime("%Y-%m-%d")
    return time.strftime("%H:%M" if same_day else "%Y-%m-%d %H:%M", local)


def _number(text: str, count: int, what: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= count:
        raise UsageError(f"there is no {what} {text}", f"give a number from 1 to {count}" if count else None)
    return int(text)
