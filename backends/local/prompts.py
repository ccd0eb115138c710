"""How a conversation becomes what a model reads: the system prompt put in place, or, for a
completion model, the raw text it continues. Shared by the local and the hosted backends."""

from __future__ import annotations

from ..base import Message


def completion_text(messages: list[Message]) -> str:
    """The raw text a completion model continues: the last prompt, plus the reply being continued."""
    start = max((i for i, m in enumerate(messages) if m.role == "user"), default=0)
    return "".join(m.content for m in messages[start:] if m.role != "system")


def with_system(messages: list[Message], system: str | None) -> list[Message]:
    """A copy of ``messages`` in which the settings' system prompt, if any, replaces the first one."""
    messages = list(messages)
    if system is None:
        return messages
    if messages and messages[0].role == "system":
        messages[0] = Message("system", system)
    else:
        messages.insert(0, Message("system", system))
    return messages
