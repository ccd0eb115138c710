"""Two models, one prompt: both answer with the same settings and seed, then each reply is scored by both.

This is the course notebook's before/after fine-tuning on one screen: the base model's reply and the
fine-tuned one's, each with its speed, and how likely each model finds each reply.
"""

from __future__ import annotations

import secrets
import threading
from dataclasses import dataclass, field
from functools import partial
from typing import Callable

from backends.base import Backend, Message
from backends.errors import ParrotError
from backends.reply import GenerationStats, Reply
from backends.settings import GenerationSettings

from .scoring import Score, score_reply

RunReply = Callable[[str, Callable[[], Reply]], Reply]


@dataclass
class Answer:
    label: str
    text: str
    stats: GenerationStats
    # Scores of this reply under each model, by label; a string says why that model could not score it.
    scores: dict[str, Score | str] = field(default_factory=dict)


def same_settings(settings: GenerationSettings) -> GenerationSettings:
    """Sampling needs one seed both models share, or the comparison measures luck."""
    if settings.is_greedy or settings.seed is not None:
        return settings
    return settings.updated(seed=secrets.randbits(31))


def compare(models: list[tuple[str, Backend]], messages: list[Message], settings: GenerationSettings,
            cancel: threading.Event | None = None, run: RunReply | None = None) -> list[Answer]:
    """Each model answers ``messages`` in turn, then each reply is scored under every model.

    ``run(label, start)`` streams the reply that ``start()`` begins and returns it once it has ended (the
    chat's reply runner, which shows progress and pauses fine-tuning); by default it is read to the end.
    A cancelled comparison stops after the reply that was streaming and scores nothing.
    """
    settings = same_settings(settings)
    answers = []
    for label, backend in models:
        if cancel is not None and cancel.is_set():
            break
        start = partial(backend.stream, messages, settings, cancel)
        reply = run(label, start) if run is not None else _read(start())
        answers.append(Answer(label, reply.text, reply.stats))
    if cancel is not None and cancel.is_set():
        return answers
    for answer in answers:
        for label, backend in models:
            try:
                answer.scores[label] = score_reply(backend, messages, answer.text, settings)
            except ParrotError as error:
                answer.scores[label] = str(error)
    return answers


def _read(reply: Reply) -> Reply:
    reply.finish()
    return reply


def describe(answers: list[Answer]) -> str:
    """Stacked text for --plain and scripts: each reply with its speed, then the score table."""
    parts = []
    for answer in answers:
        speed = answer.stats.tokens_per_second
        rate = f"{speed:.1f} tokens/s" if speed else "speed unknown"
        parts.append(f"── {answer.label} ({answer.stats.completion_tokens} tokens, {rate}, "
                     f"seed {answer.stats.seed if answer.stats.seed is not None else 'greedy'})\n{answer.text}")
    parts.append(score_table(answers))
    return "\n\n".join(parts)


def score_table(answers: list[Answer]) -> str:
    """Rows: replies; columns: the model scoring them (mean log-prob per token, perplexity)."""
    labels = [a.label for a in answers]
    width = max(len(label) for label in labels) + 9
    lines = ["reply by".ljust(width) + "".join(f"scored by {label}".ljust(34) for label in labels)]
    notes = []
    for answer in answers:
        cells = []
        for label in labels:
            score = answer.scores.get(label)
            if isinstance(score, Score) and score.tokens:
                cells.append(f"{score.mean_logprob:.3f}/token, ppl {score.perplexity:.2f}".ljust(34))
            else:
                cells.append("cannot score".ljust(34))
                if isinstance(score, str) and score not in notes:
                    notes.append(score)
        lines.append(answer.label.ljust(width) + "".join(cells))
    return "\n".join(lines + notes)
