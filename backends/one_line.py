"""Any text as one short line: for titles, list rows and error messages that quote what a person gave."""

from __future__ import annotations


def one_line(text: str, width: int = 80) -> str:
    """``text`` with its whitespace runs (newlines too) made single spaces, cut with … to at most ``width``."""
    line = " ".join(text.split())
    return line if len(line) <= width else line[: max(width - 1, 0)] + "…"
