"""How much of the model's window the conversation fills, as the status bar shows it.

Exact where it can be: the count the model (or the server) gave for the last reply, when that reply came
from the backend in use; else, for a local model that has loaded, its own tokenizer and chat template
over the conversation (so ``/backend local`` recounts it). Otherwise an estimate, shown with a "~": each
turn adds its own share (about four characters a token plus a few for the chat template, and a streamed
reply at least the pieces it came in), and a count a backend gave for an earlier reply is a floor for
everything after it. Every step only adds, so a longer conversation never shows a smaller number.
"""

from __future__ import annotations

from typing import Any

CHARS_PER_TOKEN = 4
PER_MESSAGE = 4  # what a chat template adds around each message (role markers, separators)


def context_used(stats: Any, session: Any) -> str:
    """``"812"`` (exact) or ``"~812"`` (estimated): tokens of the window the conversation fills."""
    if stats is not None and stats.prompt_tokens and _from_backend_in_use(stats, session):
        return str(stats.prompt_tokens + stats.completion_tokens)
    counted = _counted_by_model(session)
    if counted is not None:
        return str(counted)
    return f"~{estimate(session.conversation)}"


def estimate(conversation: Any) -> int:
    """A count that never falls as turns are added: each turn's share, floored by counts backends gave."""
    running = 0
    for turn in conversation.turns:
        message = turn.message
        if message.role == "assistant" and not message.content:
            continue  # never sent to a model
        share = PER_MESSAGE + len(message.content) // CHARS_PER_TOKEN
        stats = turn.stats
        if stats is not None:
            share = max(share, PER_MESSAGE + stats.completion_tokens)
        running += share
        if stats is not None and stats.prompt_tokens:
            running = max(running, stats.prompt_tokens + stats.completion_tokens)
    return running


def _from_backend_in_use(stats: Any, session: Any) -> bool:
    """Whether the counts were made by the backend and model now in use (after a switch they were not)."""
    model = session.backend.describe().model
    return stats.backend == session.backend_name and stats.model in (model, session.model or "")


def _counted_by_model(session: Any) -> int | None:
    """The conversation in tokens of a local model that has loaded, through the function that fits a
    request into its window; None for a backend without a tokenizer here."""
    backend = session.backend
    if not hasattr(backend, "prompt_ids") or not getattr(backend, "is_loaded", False):
        return None
    messages = session.conversation.messages
    if not messages:
        return 0
    ids, _, _ = backend.prompt_ids(messages, session.settings)
    return len(ids)
