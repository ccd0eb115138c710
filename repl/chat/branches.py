"""A conversation as a tree: the branch on screen, and the branches it parted from.

The current branch is ``conversation.turns``. Every other branch is kept as where it parts from the
current one (``fork``: the number of turns they share) and its own turns from there. Editing an
earlier prompt, /retry and switching all do the same thing: the current tail from the fork point
becomes a kept branch, and another tail (new, or a kept one) takes its place. Nothing is dropped.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from backends.errors import UsageError
from backends.one_line import one_line

from .session import Session, Turn


@dataclass
class Branch:
    """A kept branch: the turns after the first ``fork`` turns of the current branch."""

    fork: int
    turns: list[Turn]
    created: float = field(default_factory=time.time)
    id: int | None = None  # its history row, once stored

    @property
    def first_words(self) -> str:
        return one_line(self.turns[0].message.content, 50) if self.turns else ""


def fork(session: Session, position: int) -> Branch | None:
    """Keep the current branch's turns from ``position`` on as a branch, and end the current one there."""
    conversation = session.conversation
    tail = conversation.turns[position:]
    if not tail:
        return None
    branch = Branch(position, list(tail))
    conversation.keep_branch(branch)
    conversation.truncate(position)  # the store, subscribed to it, forgets them too
    return branch


def switch(session: Session, number: int) -> Branch:
    """Make kept branch ``number`` (1-based, as /branches lists them) the current one."""
    conversation = session.conversation
    if not 1 <= number <= len(conversation.branches):
        raise UsageError(f"there is no branch {number}", "/branches lists them")
    chosen = conversation.take_branch(number - 1)
    fork(session, chosen.fork)  # what is on screen now is kept as a branch
    for turn in chosen.turns:
        session.add(turn)
    return chosen
