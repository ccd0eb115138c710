"""Running one reply, the same way in every mode: ask, stream, record, or undo on failure.

A reply either answers a new prompt, answers the conversation as it stands (``/retry``), or extends
the last assistant turn when the conversation ends with one (``/continue``): its text and counts are
merged into that turn instead of opening a new one.
"""

from __future__ import annotations

import threading
from typing import Callable

from backends.errors import BackendError, Cancelled, ParrotError, UsageError
from backends.reply import Reply
from finetune.yielding import chat_replying

from .session import Session, Turn
from .truncation import truncation_notice


def stream_reply(session: Session, prompt: str | None, cancel: threading.Event,
                 on_chunk: Callable[[str], None], on_note: Callable[[str], None] | None = None,
                 on_start: Callable[[Reply], None] | None = None) -> tuple[Turn, Reply]:
    """Produce one reply, calling ``on_chunk`` per piece of text; returns the recorded turn and the reply.

    ``on_note`` is told, in one line each, what the person should know about the reply: that the prompt
    was cut to fit the window (before the model answers, as soon as the backend has fitted it) and,
    after a whole answer, a setting the server was seen to ignore (once a session per setting). Without
    one, the session's progress callback is. ``on_start`` gets the reply once the backend has fitted the
    prompt (its stats then hold the prompt's length and what was dropped), before the model answers.

    On failure a ParrotError is raised. If text had already arrived, it is kept as a turn marked cut
    off (``error.partial_turn``); otherwise the conversation is put back as it was, so the caller can
    hand the prompt back to the person. A reply cancelled before any text is the same: nothing is
    stored, nothing is sent to the model next time, and ``Cancelled`` is raised.
    """
    with chat_replying():  # a fine-tuning run beside the chat pauses while this reply streams
        return _stream_reply(session, prompt, cancel, on_chunk, on_note or session.progress or (lambda text: None),
                             on_start)


def _stream_reply(session: Session, prompt: str | None, cancel: threading.Event, on_chunk: Callable[[str], None],
                  on_note: Callable[[str], None], on_start: Callable[[Reply], None] | None) -> tuple[Turn, Reply]:
    if prompt is not None and session.conversation.edit_from is not None:
        from .branches import fork  # an edited prompt: the turns it replaces are kept as a branch

        fork(session, session.conversation.edit_from, session.history)
        session.conversation.edit_from = None
    mark = len(session.conversation.turns)
    continuing: Turn | None = None
    reply: Reply | None = None
    try:
        if prompt is not None:
            reply = session.ask(prompt, cancel)
        else:
            last = session.conversation.turns[-1] if session.conversation.turns else None
            if last is None:
                raise UsageError("there is nothing to reply to yet", "type a prompt first")
            continuing = last if last.message.role == "assistant" else None
            reply = session.reply(cancel)
        reply.on_start = lambda started: _begun(started, on_note, on_start)
        for chunk in reply:
            on_chunk(chunk)
    except ParrotError as error:
        keep_partial(session, mark, continuing, getattr(error, "reply", reply), error, prompt is not None)
        raise error.in_chat()  # a hint inside the chat names the slash-command, not a flag
    except Exception as error:  # a crash before the reply began (building the request) is told in one line
        failure = BackendError(f"{session.backend_name} failed: {type(error).__name__}: {error}")
        keep_partial(session, mark, continuing, reply, failure, prompt is not None)
        raise failure from error
    if not reply.worth_keeping:
        session.conversation.truncate(mark)
        raise Cancelled()
    if prompt is not None:
        session.pending_files = []  # they went with this prompt
    for setting, message in reply.ignored.items():
        if setting not in session.told_ignored:
            session.told_ignored.add(setting)
            on_note(message)
    return record(session, continuing, reply), reply


def _begun(reply: Reply, on_note: Callable[[str], None], on_start: Callable[[Reply], None] | None) -> None:
    if notice := truncation_notice(reply.stats):
        on_note(notice)
    if on_start is not None:
        on_start(reply)


def record(session: Session, continuing: Turn | None, reply: Reply) -> Turn:
    """Store a reply as a new assistant turn, or merged into the turn it continues."""
    if continuing is not None:
        return session.conversation.extend(continuing, reply.text, reply.tokens, reply.stats)
    return session.finish_reply(reply)


def keep_partial(session: Session, mark: int, continuing: Turn | None, reply: Reply | None,
                 error: ParrotError, new_prompt: bool = False) -> None:
    """After a failure, keep the text that did arrive (marked cut off), or undo the prompt if none did."""
    if reply is None or not reply.text:
        session.conversation.truncate(mark)
        return
    reply.stats.finish_reason = "error"
    if new_prompt:
        session.pending_files = []  # queued files went with the prompt, which stays
    error.partial_turn = record(session, continuing, reply)  # type: ignore[attr-defined]


def describe_end(turn: Turn) -> str:
    """One short line on how a reply ended, for the line under it: counts, speed, and any cut-off."""
    stats = turn.stats
    if stats is None:
        return ""
    parts = [stats.model or stats.backend, f"{stats.completion_tokens} tokens"]
    if stats.tokens_per_second:
        parts.append(f"{stats.tokens_per_second:.1f} tok/s")
    reason = {"cancelled": "cut off: cancelled", "length": "cut off: length limit (/continue extends it)",
              "error": "cut off: error", "empty": "the model answered with nothing (/retry asks again)",
              "loop": "stopped: it was repeating itself (/retry, /temp or /repeat vary it)"}.get(stats.finish_reason)
    if reason:
        parts.append(reason)
    return " · ".join(p for p in parts if p)
