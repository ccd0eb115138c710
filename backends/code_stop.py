"""How a code continuation is decoded and where it ends: the line that closes the top-level block.

A completion model (codeparrot, the fine-tuned ``js``) given ``function add(a, b) {`` writes the
body, the closing ``}`` — and then, having no reason to stop, the next function, and the next, to
the token limit. A person asked for one block. So the continuation ends at the end of the line that
starts with the brace returning the code, prompt and continuation together, to depth 0 (``}``,
``});``, ``};`` in the first column). Braces inside strings, template literals and comments do not count.
"""

from __future__ import annotations

from typing import Any

# Greedy continuations of a small code model loop (`if (a instanceof X) {...}` for every X) without a
# repetition penalty; 1.1 breaks the loops while identifiers a block reuses stay likely.
COMPLETION_REPETITION_PENALTY = 1.1


def completion_settings(settings: Any) -> Any:
    """The settings a completion model decodes with: a repetition penalty unless one was set (not 1.0)."""
    if settings.repetition_penalty == 1.0:
        return settings.updated(repetition_penalty=COMPLETION_REPETITION_PENALTY)
    return settings


class BlockEnd:
    """Feed the prompt once, then each piece of the continuation; ``push`` says where to cut."""

    def __init__(self, prompt: str) -> None:
        self.depth = 0
        self._quote = ""  # ' " ` while inside a string
        self._comment = ""  # "//" or "/*" while inside a comment
        self._previous = ""
        self._closed = False  # the top-level block closed on the current line
        self._column = 0
        self._scan(prompt, record=False)
        self._closed = False

    def push(self, text: str) -> int | None:
        """The length of ``text`` to keep when the block ends within it (through that newline), else None."""
        return self._scan(text, record=True)

    def _scan(self, text: str, record: bool) -> int | None:
        for index, char in enumerate(text):
            previous, self._previous = self._previous, char
            column, self._column = self._column, 0 if char == "\n" else self._column + 1
            if self._comment == "//":
                if char == "\n":
                    self._comment = ""
                else:
                    continue
            elif self._comment == "/*":
                if previous == "*" and char == "/":
                    self._comment = ""
                    self._previous = ""
                continue
            elif self._quote:
                if char == "\\" and previous != "\\":
                    continue
                if char == self._quote and previous != "\\":
                    self._quote = ""
                elif char == "\n" and self._quote != "`":
                    self._quote = ""  # an unclosed ' or " ends with its line
                if char == "\\" and previous == "\\":
                    self._previous = ""  # an escaped backslash escapes nothing after it
                continue
            if char == "/" and previous == "/":
                self._comment = "//"
            elif char == "*" and previous == "/":
                self._comment = "/*"
            elif char in "'\"`":
                self._quote = char
            elif char == "{":
                self.depth += 1
                self._closed = False
            elif char == "}" and self.depth > 0:
                self.depth -= 1
                # Only a brace that opens its line ends a top-level block: `x = {a: 1}` or an
                # indented `    }` (a dict in a Python body) does not.
                self._closed = self.depth == 0 and column == 0
            if char == "\n" and self._closed:
                self._closed = False
                if record:
                    return index + 1
        return None
