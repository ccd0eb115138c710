"""Editing an earlier prompt and moving between the branches that leaves: /edit, /branches, /branch."""

from __future__ import annotations

import dataclasses
import time

from rich.table import Table
from rich.text import Text

from backends.errors import UsageError
from backends.one_line import one_line

from ..chat.attachments import mentions, split_composed
from ..chat.branches import switch
from ..views.terminal_text import neutral
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
                     "which stays as a branch (/branches)", "dim"))


@command("branches", "/branches", "list the conversation's branches: where they part, first words, when")
def branches_(ctx: Context, args: list[str]) -> None:
    require(args, 0)
    conversation = ctx.session.conversation
    if not conversation.branches:
        ctx.ui.show("this conversation has one branch (/edit or /retry start another)")
        return
    table = Table(box=None, pad_edge=False)
    table.add_column("branch", justify="right", style="bold")
    table.add_column("parts after", justify="right")
    table.add_column("when", style="dim")
    table.add_column("first words")
    tail = conversation.turns[min(b.fork for b in conversation.branches):]
    table.add_row("0*", "", "now", Text(neutral(one_line(tail[0].message.content, 50)) if tail else ""))
    for number, branch in enumerate(conversation.branches, start=1):
        table.add_row(str(number), f"message {branch.fork}", time.strftime("%H:%M", time.localtime(branch.created)),
                      Text(neutral(branch.first_words)))
    ctx.ui.show(table)


@command("branch", "/branch N", "switch to branch N of /branches (the current one is kept)")
def branch_(ctx: Context, args: list[str]) -> None:
    require(args, 1)
    number = _number(args[0], len(ctx.session.conversation.branches), "branch")
    chosen = switch(ctx.session, number)
    # A new Conversation object over the same turns: every mode redraws a conversation it has not shown.
    ctx.session.conversation = dataclasses.replace(ctx.session.conversation)
    ctx.ui.clear()
    ctx.ui.show(f"switched to the branch that starts {chosen.first_words!r}; the one before is kept (/branches)")



def _number(text: str, count: int, what: str) -> int:
    if not (text.isascii() and text.isdigit()) or not 1 <= int(text) <= count:  # "²".isdigit() too
        raise UsageError(f"there is no {what} {text}", f"give a number from 1 to {count}" if count else None)
    return int(text)
