"""Fitting a line of facts into a terminal's width: the least important give way first.

Each fact has a priority and its forms, longest first ("sample temp 0.7", "temp 0.7"); the last form
may be empty, which drops the fact. Until the line fits, the fact of lowest priority that can still
give way takes its next form; facts keep their places on the line whatever their priority.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from rich.cells import cell_len
from rich.text import Text

SEPARATOR = " · "


@dataclass
class Fact:
    forms: tuple[str | Text, ...]  # longest first; "" drops the fact
    priority: int  # higher stays longer
    style: str = ""
    chosen: int = field(default=0, init=False)

    @property
    def shown(self) -> str | Text:
        return self.forms[self.chosen]

    def can_give_way(self) -> bool:
        return self.chosen < len(self.forms) - 1


def fact(text: str | Text, *shorter: str | Text, priority: int, drop: bool = True, style: str = "") -> Fact:
    """A fact shown as ``text``, or one of the ``shorter`` forms, or (``drop``) not at all."""
    return Fact((text, *shorter, *([""] if drop else [])), priority, style)


def cut(text: str, width: int) -> str:
    """``text`` in at most ``width`` cells, its middle replaced by … (both ends of a name say most, the
    start more: "converting SmolLM…Q4_1.gguf")."""
    if cell_len(text) <= width:
        return text
    keep = max(1, width - 1)
    head = (2 * keep + 2) // 3
    return text[:head] + "…" + text[len(text) - (keep - head):]


def fit(facts: list[Fact], width: int) -> Text:
    """The facts joined into one line of at most ``width`` cells."""
    def length() -> int:
        shown = [cell_len(str(f.shown)) for f in facts if f.shown]
        return sum(shown) + len(SEPARATOR) * max(0, len(shown) - 1)

    while length() > width:
        giving = [f for f in facts if f.can_give_way()]
        if not giving:
            break
        min(giving, key=lambda f: f.priority).chosen += 1  # the first of equals: the line's left end
    line = Text(no_wrap=True, overflow="ellipsis", end="")
    for f in facts:
        if not f.shown:
            continue
        if line:
            line.append(SEPARATOR)
        line.append(f.shown if isinstance(f.shown, Text) else Text(f.shown, style=f.style))
    line.truncate(width, overflow="ellipsis")
    return line
