"""The tables /history and `parrot history` print: recent conversations, and the lines a search found."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text

from .terminal_text import neutral


def search_table(hits, text: str, current: int | None = None) -> Table | Text:
    """What /history TEXT and `parrot history --search TEXT` print: newest first, the line that matched."""
    if not hits:
        return Text(f"no conversation mentions {neutral(text)!r}")
    table = Table(box=None, pad_edge=False)
    table.add_column("id", justify="right", style="bold")
    table.add_column("updated", style="dim")
    table.add_column("who", style="dim")
    table.add_column("matching line")
    table.add_column("title", style="dim")
    for hit in hits:
        table.add_row(f"{hit.conversation_id}{'*' if hit.conversation_id == current else ''}", hit.when, hit.role,
                      Text(neutral(hit.line)), Text(neutral(hit.title)))
    return table


def conversations_table(infos, current: int | None = None) -> Table | str:
    """The table /history and `parrot history` print."""
    if not infos:
        return "no conversations yet"
    table = Table(box=None, pad_edge=False)
    table.add_column("id", justify="right", style="bold")
    table.add_column("updated", style="dim")
    table.add_column("turns", justify="right")
    table.add_column("files", justify="right")
    table.add_column("title")
    for info in infos:
        table.add_row(f"{info.id}{'*' if info.id == current else ''}", info.when, str(info.turns),
                      str(info.files or ""), Text(neutral(info.title)))  # a title is stored text: never markup, never escapes
    return table
