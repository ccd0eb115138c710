"""Running one reply, the same way in every mode: ask, stream, record, or undo on failure.

A reply either answers a new prompt, answers the conversation as it stands (``/retry``), or extends
the last assistant turn when the conversation ends with one (``/continue``): its text and counts are
merged into that turn instead of opening a new one.
"""

from __future__ import annotations

import threading
from typing import Callable

from backends.base import GenerationStats, Reply
from backends.errors import BackendError, ParrotError, UsageError

from .history import HistoryStore
from .session import Session, Turn


def stream_reply(session: Session, prompt: str | None, cancel: threading.Event,
                 on_chunk: Callable[[str], None], store: HistoryStore | None = None) -> tuple[Turn, Reply]:
    """Produce one reply, calling ``on_chunk`` per piece of text; returns the recorded turn and the reply.

    On failure the conversation is put back as it was (the prompt is not kept) and a ParrotError is
    raised, so the caller can show it and hand the prompt back to the person.
    """
    mark = len(session.conversation.turns)
    continuing: Turn | None = None
    try:
        if prompt is not None:
            reply = session.ask(prompt, cancel)
        else:
            last = session.conversation.turns[-1] if session.conversation.turns else None
            if last is None:
                raise UsageError("there is nothing to reply to yet", "type a prompt first")
            continuing = last if last.message.role == "assistant" else None
            reply = session.reply(cancel)
        for chunk in reply:
            on_chunk(chunk)
            if cancel.is_set():  # a backend that does not watch the event still stops here
                break
        if cancel.is_set():
            reply.stats.finish_reason = "cancelled"
    except ParrotError:
        truncate(session, mark, store)
        raise
    except Exception as error:  # a crash inside a backend is a backend failure, told in one line
        truncate(session, mark, store)
        raise BackendError(f"{session.backend_name} failed: {type(error).__name__}: {error}") from error
    if continuing is not None:
        return merge(session, continuing, reply), reply
    return session.finish_reply(reply), reply


def merge(session: Session, turn: Turn, reply: Reply) -> Turn:
    """Append a continuation to the assistant turn it extends, and store the turn again."""
    turn.message.content += reply.text
    turn.tokens.extend(reply.tokens)
    new = reply.stats
    if turn.stats is None:
        turn.stats = new
    else:
        old = turn.stats
        turn.stats = GenerationStats(
            prompt_tokens=old.prompt_tokens, completion_tokens=old.completion_tokens + new.completion_tokens,
            time_to_first_token=old.time_to_first_token, seconds=old.seconds + new.seconds,
            finish_reason=new.finish_reason, seed=old.seed if old.seed is not None else new.seed,
            model=new.model or old.model, backend=new.backend or old.backend)
    for callback in session.on_turn:
        callback(session, turn)
    return turn


def truncate(session: Session, keep: int, store: HistoryStore | None = None) -> list[Turn]:
    """Drop the turns after the first ``keep``; the history forgets them too. Returns what was dropped."""
    turns = session.conversation.turns
    dropped = turns[keep:]
    del turns[keep:]
    if store is not None and dropped:
        store.sync_length(session.conversation)
    return dropped


def describe_end(turn: Turn) -> str:
    """One short line on how a reply ended, for the line under it: counts, speed, and any cut-off."""
    stats = turn.stats
    if stats is None:
        return ""
    parts = [stats.model or stats.backend, f"{stats.completion_tokens} tokens"]
    if stats.tokens_per_second:
        parts.append(f"{stats.tokens_per_second:.1f} tok/s")
    reason = {"cancelled": "cut off: cancelled", "length": "cut off: length limit (/continue extends it)",
              "error": "cut off: error"}.get(stats.finish_reason)
    if reason:
        parts.append(reason)
    return " · ".join(p for p in parts if p)
