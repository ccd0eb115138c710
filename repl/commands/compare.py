"""/compare A B [PROMPT]: two models answer the same prompt with the same settings, then score each other."""

from __future__ import annotations

from typing import Any

from backends.base import Message
from backends.errors import UsageError

from .table import Context, command

USAGE = "/compare A B [PROMPT]"


def backend_for(ctx: Context, spec: str) -> Any:
    """A backend for ``model`` or ``backend:model``, kept so a second /compare does not load it again."""
    from backends import registry

    from .evaluate import split_spec

    session = ctx.session
    name, model = split_spec(spec)
    if name == session.backend_name and model == (session.model or ""):
        return session.backend
    cache = ctx.extras.setdefault("compare_backends", {})
    if spec not in cache:
        cache[spec] = registry.create(name, model, progress=session.progress, **session.backend_options)
    return cache[spec]


@command("compare", USAGE, "both models answer (no prompt: the last one) with the same settings and seed, "
         "then each reply is scored under both", group="models")
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
    answers = compare(models, [Message("user", prompt)], ctx.session.settings, ctx.extras.get("cancel"))
    if getattr(ctx.ui, "wide", False):  # the app: columns; --plain and scripts: stacked text
        from ..views.comparison import side_by_side

        ctx.ui.show(side_by_side(answers))
    else:
        ctx.ui.show(describe(answers))
