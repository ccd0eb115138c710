"""A conversation as a tree: the branch on screen, and the branches it parted from.

The current branch is ``conversation.turns``. Every other branch is kept as where it parts from the
current one (``fork``: the number of turns they share) and its own turns from there. Editing an
earlier prompt, /retry and switching all do the same thing: the current tail from the fork point
becomes a kept branch, and another tail (new, or a kept one) takes its place. Nothing is dropped.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from backends.base import GenerationStats, Message
from backends.errors import UsageError
from backends.settings import GenerationSettings

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
        line = " ".join(self.turns[0].message.content.split()) if self.turns else ""
        return line if len(line) <= 50 else line[:49] + "…"


def turn_record(turn: Turn) -> dict:
    """A turn as JSON-ready data (exports, saved files, kept branches)."""
    record: dict = {"role": turn.message.role, "content": turn.message.content, "created": turn.created}
    if turn.stats is not None:
        record["stats"] = turn.stats.to_dict()
        record["cut_off"] = turn.cut_off
    if turn.settings is not None:
        record["settings"] = turn.settings.to_dict()
    if turn.attachments:
        record["attachments"] = turn.attachments
    return record


def turn_from_record(record: dict) -> Turn:
    stats = record.get("stats")
    if stats:
        stats = GenerationStats(**{k: v for k, v in stats.items() if k in GenerationStats.__dataclass_fields__})
    settings = record.get("settings")
    return Turn(Message(record["role"], record["content"]), stats or None,
                GenerationSettings.from_dict(settings) if settings else None,
                created=record.get("created", 0.0), attachments=list(record.get("attachments", [])))


def fork(session: Session, position: int, store=None) -> Branch | None:
    """Keep the current branch's turns from ``position`` on as a branch, and end the current one there."""
    conversation = session.conversation
    tail = conversation.turns[position:]
    if not tail:
        return None
    branch = Branch(position, list(tail))
    conversation.branches.append(branch)
    if store is not None and conversation.id is not None:
        store.save_branch(conversation, branch)
    conversation.truncate(position)  # the store, subscribed to it, forgets them too
    return branch


def switch(session: Session, number: int, store=None) -> Branch:
    """Make kept branch ``number`` (1-based, as /branches lists them) the current one."""
    conversation = session.conversation
    if not 1 <= number <= len(conversation.branches):
        raise UsageError(f"there is no branch {number}", "/branches lists them")
    chosen = conversation.branches.pop(number - 1)
    if store is not None and chosen.id is not None:
        store.delete_branch(chosen)
    fork(session, chosen.fork, store)  # what is on screen now is kept as a branch
    for turn in chosen.turns:
        session.add(turn)
    return chosen
