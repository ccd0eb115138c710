"""How a code continuation is decoded and where it ends: the end of the top-level block it writes.

A completion model (codeparrot, the fine-tuned ``js``) given ``function add(a, b) {`` writes the
body, the closing ``}`` — and then, having no reason to stop, the next function, and the next, to
the token limit. A person asked for one block. So the continuation ends:

- in brace languages, at the end of the line whose leading ``}`` (``}``, ``});``, ``};``) closes the
  block that was opened at depth 0, at or left of the indentation of the line that opened it (so an
  indented snippet ends at its own indented ``}``). Braces inside strings, template literals and
  comments do not count, and a one-line ``{ a: 1 }`` closes nothing;
- in Python, before the first line back at column 0 after the body of a ``def`` or ``class`` that
  starts at column 0 (braces in such a body are data, not blocks).
"""

from __future__ import annotations

PYTHON_HEADERS = ("def ", "class ", "async def ")


class BlockEnd:
    """Feed the prompt once, then each piece of the continuation; ``push`` says where to cut."""

    def __init__(self, prompt: str) -> None:
        self.depth = 0
        self._quote = ""  # ' " ` while inside a string
        self._comment = ""  # "//" or "/*" while inside a comment
        self._previous = ""
        self._closed = False  # the top-level block closed on the current line
        self._line = ""  # the current line so far
        self._indent: int | None = None  # the current line's indentation, once its first character came
        self._opened_at = 0  # indentation of the line that opened the top-level brace block
        self._python = ""  # "header" after a def/class line at column 0, "body" once an indented line followed
        self._scan(prompt, record=False)
        self._closed = False

    def push(self, text: str) -> int | None:
        """The length of ``text`` to keep when the block ends within it, else None."""
        return self._scan(text, record=True)

    def _scan(self, text: str, record: bool) -> int | None:
        for index, char in enumerate(text):
            if char == "\n":
                self._end_line()
                if self._closed:
                    self._closed = False
                    if record:
                        return index + 1
            elif self._indent is None and not char.isspace():
                self._indent = len(self._line)
                if self._python == "body" and self._indent == 0 and char != "#":
                    self._python = ""  # back at column 0: the def or class has ended before this line
                    if record:
                        return index
                elif self._python == "header" and self._indent > 0:
                    self._python = "body"
            self._line += char if char != "\n" else ""
            self._code(char)
        return None

    def _end_line(self) -> None:
        line = self._line.split("#")[0].rstrip()
        if self._indent == 0 and self.depth == 0 and line.endswith(":") and line.startswith(PYTHON_HEADERS):
            self._python = "header"
        self._line, self._indent = "", None

    def _code(self, char: str) -> None:
        """Track strings, comments and brace depth through one character."""
        previous, self._previous = self._previous, char
        if self._comment == "//":
            if char == "\n":
                self._comment = ""
            return
        if self._comment == "/*":
            if previous == "*" and char == "/":
                self._comment = ""
                self._previous = ""
            return
        if self._quote:
            if char == "\\" and previous == "\\":
                self._previous = ""  # an escaped backslash escapes nothing after it
            elif char == self._quote and previous != "\\":
                self._quote = ""
            elif char == "\n" and self._quote != "`":
                self._quote = ""  # an unclosed ' or " ends with its line
            return
        if char == "/" and previous == "/":
            self._comment = "//"
        elif char == "*" and previous == "/":
            self._comment = "/*"
        elif char in "'\"`":
            self._quote = char
        elif char == "{":
            if self.depth == 0:
                self._opened_at = self._indent or 0
            self.depth += 1
            self._closed = False
        elif char == "}" and self.depth > 0:
            self.depth -= 1
            # Only a brace that leads its line, at or left of where the block opened, ends the block:
            # `x = {a: 1}` does not, nor a dict closed inside a Python body. A leading brace that far
            # left also ends it when the count is off (a regex literal with a quote, say).
            leads = self._line.strip() == "}"
            if leads and (self._indent or 0) <= self._opened_at and not self._python:
                self.depth = 0
                self._closed = True
