"""A conversation as a tree of paths: the one on screen, and the others it parted from, each under a number.

The current path is ``conversation.turns``; its number is ``conversation.branch``. Every other path is kept
whole, from the first turn, as a ``Branch`` under the number it had while it was current: numbers start at
1 and never change, so ``/branch 1`` always goes to the same path. Where a kept path parts from the
current one is worked out when it is shown (``parting``), which stays right however the current path
changes since. Editing an earlier prompt, /retry, a branch from a token and switching all do the same
thing: the current path is kept under its number, and another path (new, or a kept one) takes its place.
Nothing is dropped.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from backends.errors import UsageError

from .session import Conversation, Session, Turn


@dataclass
class Branch:
    """A kept path: every turn from the conversation's first, and the number it goes by."""

    number: int
    turns: list[Turn]
    created: float = field(default_factory=time.time)  # when it was set aside
    id: int | None = None  # its history row, once stored


def same_turn(a: Turn, b: Turn) -> bool:
    """The same turn, also when read back from the history as a copy."""
    return a is b or (a.message.role, a.message.content, a.created) == (b.message.role, b.message.content, b.created)


def parting(conversation: Conversation, branch: Branch) -> int:
    """How many turns from the start ``branch`` shares with the current path."""
    shared = 0
    for mine, theirs in zip(conversation.turns, branch.turns):
        if not same_turn(mine, theirs):
            break
        shared += 1
    return shared


def own_turns(conversation: Conversation, branch: Branch) -> list[Turn]:
    """The turns of ``branch`` from where it parts from the current path."""
    return branch.turns[parting(conversation, branch):]


def next_number(conversation: Conversation) -> int:
    return max([conversation.branch, *(b.number for b in conversation.branches)]) + 1


def fork(session: Session, position: int) -> Branch | None:
    """Keep the current path as a branch, and end the current one at ``position``: what grows from there
    is a path of its own, under the next number."""
    conversation = session.conversation
    if position >= len(conversation.turns):
        return None
    kept = Branch(conversation.branch, list(conversation.turns))
    conversation.branch = next_number(conversation)  # set first: the store records it with the kept branch
    conversation.keep_branch(kept)
    conversation.truncate(position)  # the store, subscribed to it, forgets the turns past it too
    return kept


def switch(session: Session, number: int) -> Branch:
    """Make kept branch ``number`` the current path; the current one is kept under its own number."""
    conversation = session.conversation
    if number == conversation.branch:
        raise UsageError(f"branch {number} is the one you are on", "/branches lists the others")
    index = next((i for i, b in enumerate(conversation.branches) if b.number == number), None)
    if index is None:
        numbers = sorted([conversation.branch, *(b.number for b in conversation.branches)])
        raise UsageError(f"there is no branch {number}", f"/branches lists them: {', '.join(map(str, numbers))}")
    chosen = conversation.take_branch(index)
    shared = parting(conversation, chosen)
    kept = Branch(conversation.branch, list(conversation.turns))
    conversation.branch = chosen.number
    conversation.keep_branch(kept)
    conversation.truncate(shared)
    for turn in chosen.turns[shared:]:
        session.add(turn)
    return chosen
