"""/compare A B [PROMPT]: two models answer the same prompt with the same settings, then score each other."""

from __future__ import annotations

import time
from typing import Any, Callable

from backends.base import Message
from backends.errors import UsageError
from backends.reply import Reply

from .context import Context
from .table import command

USAGE = "/compare A B [PROMPT]"
PROGRESS_SECONDS = 0.25  # how often the progress line is redrawn while a reply streams
SERVER_SPEC = "openai:MODEL@URL"  # a model on another server than the session's; a bare URL takes its first model


def parse_spec(spec: str) -> tuple[str, str | None, str | None]:
    """(backend, model, base URL) of ``model``, ``backend:model``, ``openai:model@URL`` or a server's URL."""
    from backends.hosted.httpclient import check_base_url
    from backends.registry import BACKENDS

    from .evaluate import split_spec

    if spec.startswith(("http://", "https://")):
        return "openai", None, check_base_url(spec)
    head, sep, url = spec.rpartition("@")
    if not (sep and url.startswith(("http://", "https://"))):
        return (*split_spec(spec), None)
    name, model = (head, None) if head in BACKENDS else split_spec(head)
    if name != "openai":  # the hf backend never follows an address: its token goes to the router alone
        raise UsageError(f"{spec}: only the openai backend takes a server's address",
                         f"write {SERVER_SPEC}, e.g. openai:qwen@http://127.0.0.1:8001/v1")
    return name, model, check_base_url(url)


def backend_for(ctx: Context, spec: str) -> Any:
    """A backend for ``spec`` (see parse_spec), kept so a second /compare does not load it again."""
    from backends import registry

    session = ctx.session
    name, model, base_url = parse_spec(spec)
    if base_url is None and name == session.backend_name and model == (session.model or ""):
        return session.backend
    cache = ctx.compare_backends
    if spec not in cache:
        options = {**session.backend_options, **({"base_url": base_url} if base_url else {})}
        cache[spec] = registry.create(name, model, progress=session.progress, note=session.note, **options)
    return cache[spec]


@command("compare", USAGE, "both models answer (no prompt: the last one) with the same settings and seed, "
         f"then each reply is scored under both; a model on a server: {SERVER_SPEC}", group="models")
def compare_(ctx: Context, args: list[str]) -> None:
    from finetune.compare import compare, describe

    if len(args) < 2:
        raise UsageError("name two models", f"usage: {USAGE}, e.g. /compare smollm2 js class SimpleAdder {{ "
                                            f"(a model on a server: {SERVER_SPEC})")
    prompt = " ".join(args[2:])
    if not prompt:
        last = ctx.session.conversation.last("user")
        if last is None:
            raise UsageError("no prompt yet to compare on", f"give one: {USAGE}")
        prompt = last.message.content
    labels = args[:2] if args[0] != args[1] else [args[0], f"{args[1]} (again)"]  # scores are kept by label
    models = [(label, backend_for(ctx, spec)) for label, spec in zip(labels, args[:2])]
    with ctx.activity.run("compare") as cancel:
        answers = compare(models, [Message("user", prompt)], ctx.session.settings, cancel,
                          lambda label, start: _answer(ctx, label, start),
                          say=lambda line: ctx.ui.show(f"/compare: {line}"))
    ctx.ui.progress(None)
    if cancel.is_set():
        ctx.ui.show(f"/compare: stopped; {len(answers)} of 2 answered")
        if not answers:
            return
    if getattr(ctx.ui, "wide", False):  # the app: columns; --plain and scripts: stacked text
        from ..views.comparison import side_by_side

        ctx.ui.show(side_by_side(answers))
    else:
        ctx.ui.show(describe(answers))


def _answer(ctx: Context, label: str, start: Callable[[], Reply]) -> Reply:
    """One model's reply through the chat's reply runner, its progress shown as it streams."""
    from ..chat.replies import run_reply

    streaming: list[Reply] = []
    shown = [0.0]

    def chunk(text: str) -> None:
        now = time.monotonic()
        if streaming and now - shown[0] > PROGRESS_SECONDS:
            shown[0] = now
            ctx.ui.progress(f"/compare: {label} answering, {streaming[0].stats.completion_tokens} tokens (Esc stops)")

    ctx.ui.progress(f"/compare: {label} answering… (Esc stops)")
    return run_reply(start, chunk, ctx.ui.show, on_start=streaming.append, told=ctx.session.told_ignored)
