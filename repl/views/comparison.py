"""/compare on a wide screen: the two replies in columns, each headed by its model and speed, scores below."""

from __future__ import annotations

from typing import Any

from rich.console import Group
from rich.table import Table
from rich.text import Text

from .terminal_text import neutral


def side_by_side(answers: list[Any]) -> Group:
    """A Rich renderable of ``finetune.compare.Answer``s; plain text stays plain (no markup, no escapes)."""
    from finetune.compare import score_table

    replies = Table(expand=True, show_lines=False, title="/compare")
    for answer in answers:
        speed = answer.stats.tokens_per_second
        rate = f"{speed:.1f} tokens/s" if speed else "speed unknown"
        replies.add_column(Text(f"{neutral(answer.label)}\n{answer.stats.completion_tokens} tokens, {rate}"),
                           ratio=1, overflow="fold")
    replies.add_row(*(Text(neutral(a.text)) for a in answers))
    return Group(replies, Text(neutral(score_table(answers))))
