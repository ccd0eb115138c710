"""/compare A B [PROMPT]: two models answer the same prompt with the same settings, then score each other."""

from __future__ import annotations

import time
from typing import Any, Callable

from backends.base import Message
from backends.errors import Cancelled, UsageError
from backends.reply import Reply

from .context import Context
from .table import command

USAGE = "/compare A B [PROMPT]"
PROGRESS_SECONDS = 0.25  # how often the progress line is redrawn while a reply streams


def backend_for(ctx: Context, spec: str) -> Any:
    """A backend for ``model`` or ``backend:model``, kept so a second /compare does not load it again."""
    from backends import registry

    from .evaluate import split_spec

    session = ctx.session
    name, model = split_spec(spec)
    if name == session.backend_name and model == (session.model or ""):
        return session.backend
    cache = ctx.compare_backends
    if spec not in cache:
        cache[spec] = registry.create(name, model, progress=session.progress, note=session.note,
                                      **session.backend_options)
    return cache[spec]


@command("compare", USAGE, "both models answer (no prompt: the last one) with the same settings and seed, "
         "then each reply is scored under both", group="models", text=True)
def compare_(ctx: Context, args: list[str]) -> None:
    from finetune.compare import compare, describe

    if len(args) < 2:
        raise UsageError("name two models", f"usage: {USAGE}, e.g. /compare smollm2 js class SimpleAdder {{")
    prompt = " ".join(args[2:])
    if not prompt:
        last = ctx.session.conversation.last("user")
        if last is None:
            raise UsageError("no prompt yet to compare on", f"give one: {USAGE}")
        prompt = last.message.content
    models = [(spec, backend_for(ctx, spec)) for spec in args[:2]]
    with ctx.activity.run("compare") as cancel:
        answers = compare(models, [Message("user", prompt)], ctx.session.settings, cancel,
                          lambda label, start: _answer(ctx, label, start))
    ctx.ui.progress(None)
    if cancel.is_set():
        raise Cancelled("the comparison was stopped")
    if getattr(ctx.ui, "wide", False):  # the app: columns; --plain and scripts: stacked text
        from ..views.comparison import side_by_side

        ctx.ui.show(side_by_side(answers))
    else:
        ctx.ui.show(describe(answers))


def _answer(ctx: Context, label: str, start: Callable[[], Reply]) -> Reply:
    """One model's reply through the chat's reply runner, its progress shown as it streams."""
    from ..chat.replies import describe_prefill, run_reply

    streaming: list[Reply] = []
    shown = [0.0]

    def chunk(text: str) -> None:
        now = time.monotonic()
        if streaming and now - shown[0] > PROGRESS_SECONDS:
            shown[0] = now
            ctx.ui.progress(f"/compare: {label} answering, {streaming[0].stats.completion_tokens} tokens (Esc stops)")

    ctx.ui.progress(f"/compare: {label} answering… (Esc stops)")
    return run_reply(start, chunk, ctx.ui.show, on_start=streaming.append, told=ctx.session.told_ignored,
                     on_prefill=lambda p: ctx.ui.progress(f"/compare: {label} {describe_prefill(p)} (Esc stops)"))
