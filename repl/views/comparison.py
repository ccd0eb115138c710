"""/compare on a wide screen: the two replies in columns, each headed by its model and speed, scores below."""

from __future__ import annotations

from typing import Any

from rich.console import Group
from rich.table import Table
from rich.text import Text

from .terminal_text import neutral


def side_by_side(answers: list[Any]) -> Group:
    """A Rich renderable of ``finetune.compare.Answer``s; plain text stays plain (no markup, no escapes).
    Both tables fold a long model name inside its cell, so the columns hold at any width."""
    from finetune.compare import score_cell, score_notes

    replies = Table(expand=True, show_lines=False, title="/compare")
    for answer in answers:
        speed = answer.stats.tokens_per_second
        rate = f"{speed:.1f} tokens/s" if speed else "speed unknown"
        replies.add_column(Text(f"{neutral(answer.label)}\n{answer.stats.completion_tokens} tokens, {rate}"),
                           ratio=1, overflow="fold")
    replies.add_row(*(Text(neutral(a.text)) for a in answers))
    labels = [a.label for a in answers]
    scores = Table(expand=True, title="mean log-probability per token, perplexity")
    scores.add_column("reply by", ratio=1, overflow="fold")
    for label in labels:
        scores.add_column(Text(f"scored by {neutral(label)}"), ratio=1, overflow="fold")
    for answer in answers:
        scores.add_row(Text(neutral(answer.label)), *(Text(score_cell(answer.scores.get(label))) for label in labels))
    return Group(replies, scores, *(Text(neutral(note)) for note in score_notes(answers)))
