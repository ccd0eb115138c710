"""The one reply runner: every generation a person starts goes through it, in every mode.

``run_reply`` streams one Reply the way parrot always does: a fine-tuning run beside the chat is held
still meanwhile, a prompt cut to fit the window is said before the answer, a setting the server was
seen to ignore is said after it (once a session), cancel stops it, and a crash becomes one line.
``stream_reply`` adds the conversation: it answers a new prompt, answers the conversation as it stands
(``/retry``), extends the last reply (``/continue``) or re-answers it from a token's alternative
(``/probs N --pick K``), and records the result, keeping what arrived if it fails part-way.
/compare and /eval, whose replies are not turns, use ``run_reply`` alone.
"""

from __future__ import annotations

import threading
from typing import Callable

from backends.errors import BackendError, Cancelled, ParrotError, UsageError
from backends.reply import Reply
from finetune.yielding import chat_replying

from .session import Session, Turn
from .truncation import truncation_notice

OnText = Callable[[str], None]


def run_reply(start: Callable[[], Reply], on_chunk: OnText, on_note: OnText,
              on_start: Callable[[Reply], None] | None = None, told: set[str] | None = None) -> Reply:
    """Start a reply with ``start()`` and stream it through ``on_chunk``; returns it once it has ended.

    ``on_note`` is told, a line each, what the person should know: that the prompt was cut to fit the
    window (as soon as the backend has fitted it, before the answer) and, after the answer, a setting the
    server ignored (once per setting for the settings in ``told``, which collects them). ``on_start``
    gets the reply once its prompt is fitted. A failure raises a ParrotError whose ``reply`` holds the
    text that did arrive; a crash while starting is a BackendError.
    """
    with chat_replying():  # a fine-tuning run beside the chat is held still while this streams
        try:
            reply = start()
        except ParrotError:
            raise
        except Exception as error:  # building the request crashed: one line, nothing had begun
            raise BackendError(f"the reply could not start: {type(error).__name__}: {error}") from error
        reply.on_start = lambda started: _begun(started, on_note, on_start)
        try:
            for chunk in reply:
                on_chunk(chunk)
        except (ParrotError, BrokenPipeError):
            raise
        except Exception as error:  # showing a piece failed: the reply ends there, what arrived is kept
            reply.close("error")
            failure = BackendError(f"the reply could not be shown: {type(error).__name__}: {error}")
            failure.reply = reply
            raise failure from error
    for setting, message in reply.ignored.items():
        if told is None or setting not in told:
            if told is not None:
                told.add(setting)
            on_note(message)
    return reply


def _begun(reply: Reply, on_note: OnText, on_start: Callable[[Reply], None] | None) -> None:
    if notice := truncation_notice(reply.stats):
        on_note(notice)
    if on_start is not None:
        on_start(reply)


def stream_reply(session: Session, prompt: str | None, cancel: threading.Event, on_chunk: OnText,
                 on_note: OnText | None = None, on_start: Callable[[Reply], None] | None = None,
                 branch: tuple[int, int] | None = None) -> tuple[Turn, Reply]:
    """Produce one reply in the conversation and record it; returns the recorded turn and the reply.

    ``prompt`` None answers the conversation as it stands, or continues its last reply when it ends
    with one. ``branch`` (position, pick) answers the last prompt again from the last reply's
    ``pick``-th alternative at ``position``; the reply it replaces is kept as a branch.

    On failure a ParrotError is raised. If text had already arrived, it is kept as a turn marked cut
    off (``error.partial_turn``); otherwise the conversation is as it was, so the caller can hand the
    prompt back. A reply cancelled before any text is the same, and raises ``Cancelled``.
    """
    note = on_note or session.note or (lambda text: None)
    if prompt is not None and session.conversation.edit_from is not None:
        from .branches import fork  # an edited prompt: the turns it replaces are kept as a branch

        fork(session, session.conversation.edit_from)
        session.conversation.edit_from = None
    mark = len(session.conversation.turns)
    continuing, start, replaced = _plan(session, prompt, cancel, branch)
    try:
        reply = run_reply(start, on_chunk, note, on_start, session.told_ignored)
    except ParrotError as error:
        if replaced is not None and error.reply is not None and error.reply.text:
            _keep_replaced(session, replaced)  # the partial branch takes its place, the old reply is kept
            mark -= 1
        keep_partial(session, mark, continuing, error.reply, error, prompt is not None)
        raise error.in_chat()  # a hint inside the chat names the slash-command, not a flag
    if not reply.worth_keeping:
        session.conversation.truncate(mark)
        raise Cancelled()
    if prompt is not None:
        session.pending_files = []  # they went with this prompt
    kept = _keep_replaced(session, replaced) if replaced is not None else None
    turn = record(session, continuing, reply)
    if kept is not None and branch is not None:
        from .token_branch import branch_note

        note(branch_note(replaced, turn, branch[0], kept.number))
    return turn, reply


def _plan(session: Session, prompt: str | None, cancel: threading.Event,
          branch: tuple[int, int] | None) -> tuple[Turn | None, Callable[[], Reply], Turn | None]:
    """What the reply continues, how it starts, and the turn it replaces (a branch from a token)."""
    turns = session.conversation.turns
    if branch is not None:
        from .token_branch import branch_reply

        last = turns[-1] if turns else None
        if last is None or last.message.role != "assistant":
            raise UsageError("there is no answer to branch from", "ask something first, then /probs N --pick K")
        position, pick = branch
        reply = branch_reply(session, last, position, pick, cancel)  # checks the position before anything runs
        return None, lambda: reply, last
    if prompt is not None:
        return None, lambda: session.ask(prompt, cancel), None
    last = turns[-1] if turns else None
    if last is None:
        raise UsageError("there is nothing to reply to yet", "type a prompt first")
    return (last if last.message.role == "assistant" else None), lambda: session.reply(cancel), None


def _keep_replaced(session: Session, replaced: Turn):
    """The reply a branch from a token replaces stays as a kept branch (/branches lists it); returns it."""
    from .branches import fork

    turns = session.conversation.turns
    if turns and turns[-1] is replaced:
        return fork(session, len(turns) - 1)
    return None


def record(session: Session, continuing: Turn | None, reply: Reply) -> Turn:
    """Store a reply as a new assistant turn, or merged into the turn it continues."""
    if continuing is not None:
        return session.conversation.extend(continuing, reply.text, reply.tokens, reply.stats)
    return session.finish_reply(reply)


def keep_partial(session: Session, mark: int, continuing: Turn | None, reply: Reply | None,
                 error: ParrotError, new_prompt: bool = False) -> None:
    """After a failure, keep the text that did arrive (the Reply marked it cut off), or undo the prompt
    if none did."""
    if reply is None or not reply.text:
        session.conversation.truncate(mark)
        return
    if new_prompt:
        session.pending_files = []  # queued files went with the prompt, which stays
    error.partial_turn = record(session, continuing, reply)


def describe_end(turn: Turn) -> str:
    """One short line on how a reply ended, for the line under it: counts, speed, and any cut-off."""
    stats = turn.stats
    if stats is None:
        return ""
    parts = [stats.model or stats.backend, f"{stats.completion_tokens} tokens"]
    if stats.tokens_per_second:
        parts.append(f"{stats.tokens_per_second:.1f} tok/s")
    reason = {"cancelled": "cut off: cancelled", "error": "cut off: error",
              "empty": "the model answered with nothing (/retry asks again)",
              "loop": "stopped: it was repeating itself (/retry, /temp or /repeat vary it)"}.get(stats.finish_reason)
    if stats.finish_reason == "length":
        reason = f"cut off at {limit_reached(stats, turn.settings)} (/continue extends it)"
    if reason:
        parts.append(reason)
    return " · ".join(p for p in parts if p)


def limit_reached(stats, settings) -> str:
    """Which limit a reply that ended with "length" ran into: the token limit, or the model's window."""
    limit = settings.max_new_tokens if settings is not None else None
    if limit is not None and 0 < stats.completion_tokens < limit:
        return "a full context window"
    return f"the token limit of {limit:,} new tokens" if limit is not None else "the token limit"


def end_note(stats, settings, in_chat: bool) -> str | None:
    """One line where no footer is shown (one-shot, scripts) when a reply did not end by itself: it ran into
    a limit or went round in a loop; with what to do about it there. None for a reply that ended."""
    if stats.finish_reason == "loop":
        vary = "/retry, /temp or /repeat vary it" if in_chat else "--temperature or --repetition-penalty vary it"
        return f"the reply was stopped: it was repeating itself ({vary})"
    if stats.finish_reason != "length":
        return None
    reached = limit_reached(stats, settings)
    if "window" in reached:
        return f"the reply stopped at {reached}" + ("; /new starts a fresh conversation" if in_chat else "")
    return f"the reply stopped at {reached}; " + (
        "/continue extends it, /max N raises the limit" if in_chat else "-n/--max-tokens N raises the limit")
