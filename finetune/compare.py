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
            cancel: threading.Event | None = None, run: RunReply | None = None,
            say: Callable[[str], None] | None = None) -> list[Answer]:
    """Each model answers ``messages`` in turn, then each reply is scored under every model.

    ``run(label, start)`` streams the reply that ``start()`` begins and returns it once it has ended (the
    chat's reply runner, which shows progress and pauses fine-tuning); by default it is read to the end.
    ``say`` hears a line as each model starts and ends, and before scoring: a slow server's answer is
    otherwise a long wait with nothing to show. A cancel stops after the reply it cuts short, unscored.
    """
    settings = same_settings(settings)
    tell = say or (lambda line: None)
    answers = []
    for index, (label, backend) in enumerate(models):
        if cancel is not None and cancel.is_set():
            break
        tell(f"{label} is answering ({index + 1} of {len(models)})")
        start = partial(backend.stream, messages, settings, cancel)
        reply = run(label, start) if run is not None else _read(start())
        answers.append(Answer(label, reply.text, reply.stats))
        tell(f"{label}: {reply.stats.completion_tokens} tokens in {reply.stats.seconds:.1f} s")
    if cancel is not None and cancel.is_set():
        return answers
    tell("scoring each reply under both models")
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


def score_cell(score: Score | str | None) -> str:
    """One cell of the score table: mean log-prob per token and perplexity, or "cannot score"."""
    if isinstance(score, Score) and score.tokens:
        return f"{score.mean_logprob:.3f}/token, ppl {score.perplexity:.2f}"
    return "cannot score"


def score_notes(answers: list[Answer]) -> list[str]:
    """Why a model could not score a reply, each reason once."""
    return list(dict.fromkeys(s for a in answers for s in a.scores.values() if isinstance(s, str)))


def score_table(answers: list[Answer]) -> str:
    """Rows: replies; columns: the model scoring them (mean log-prob per token, perplexity). Columns are as
    wide as their longest entry, so a long model name shifts them instead of breaking them."""
    labels = [a.label for a in answers]
    first = max(len("reply by"), *(len(label) for label in labels)) + 2
    widths = [max(len(f"scored by {label}"), 32) + 2 for label in labels]
    lines = ["reply by".ljust(first) + "".join(f"scored by {label}".ljust(w) for label, w in zip(labels, widths))]
    for answer in answers:
        cells = (score_cell(answer.scores.get(label)).ljust(w) for label, w in zip(labels, widths))
        lines.append(answer.label.ljust(first) + "".join(cells))
    return "\n".join([line.rstrip() for line in lines] + score_notes(answers))
