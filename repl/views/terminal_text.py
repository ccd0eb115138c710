"""Making text from outside safe to print on a terminal: the one neutraliser every mode uses.

A prompt, a title, a file name, a server's message or a model's reply may hold escape sequences
(ANSI colours, OSC 0 that retitles the window, OSC 52 that writes the clipboard) or other control
characters. Printed raw they act on the terminal; ``neutral`` shows them as visible symbols instead.
Newline and tab stay as they are. ``shown`` does the same for what a command shows (a string, or a
Rich table of token texts, titles or model text), and ``error_line`` is how every mode shows an error:
neutral, on one line, and a name thousands of characters long (a path) cut in its middle.
"""

from __future__ import annotations

import re
from typing import Any, Iterator

# C0 controls but \t and \n, DEL, and the C1 controls (U+0080-U+009F; U+009B is a one-byte CSI).
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def _visible(match: re.Match[str]) -> str:
    code = ord(match.group())
    if code < 0x20:
        return chr(0x2400 + code)  # the Unicode "control pictures": ESC shows as ␛
    if code == 0x7F:
        return "\u2421"  # ␡
    return f"<{code:02x}>"


def neutral(text: str) -> str:
    """``text`` with every control character but newline and tab made visible (a CRLF stays a newline)."""
    if not _CONTROL.search(text):
        return text
    return _CONTROL.sub(_visible, text.replace("\r\n", "\n"))


# A run of characters without a space (a path, a URL, a pasted blob) longer than this is cut in its middle.
LONGEST_WORD = 160
_LONG_WORD = re.compile(rf"\S{{{LONGEST_WORD + 1},}}")


def _cut(match: re.Match[str]) -> str:
    word = match.group()
    keep = LONGEST_WORD // 2 - 1
    return f"{word[:keep]}…{word[-keep:]}"


def shortened(text: str) -> str:
    """``text`` with every word longer than LONGEST_WORD cut in its middle with …: the start and the end
    of a 5,000-character path say which it was; the rest only pushes the message off the screen."""
    return _LONG_WORD.sub(_cut, text)


LONGEST_MESSAGE = 400  # past this, a message that quotes pages of what it was given is cut in its middle


def message(text: str) -> str:
    """A message for the person (an error, a notice) that may quote what they gave: control characters
    visible, very long words shortened, and at most LONGEST_MESSAGE characters; the start says what
    went wrong, the end how to fix it."""
    text = shortened(text)
    if len(text) > LONGEST_MESSAGE:
        text = f"{text[:LONGEST_MESSAGE * 5 // 8]} … {text[-(LONGEST_MESSAGE * 3 // 8):]}"
    return neutral(text)


def error_line(text: str) -> str:
    """An error as every mode shows it: a ``message`` on one line."""
    return message(" ".join(text.splitlines()))


class _Neutral:
    """A Rich renderable drawn as ``renderable`` is, with the text of every segment made ``neutral``.

    Rich passes text through as it is (its ``Text`` drops only BEL, BS, VT, FF and CR), so a token or a
    title holding ESC would reach the terminal from inside a table. Widths are measured before, so a row
    that held control characters may come out a little wider; every other row is exactly as it was.
    """

    def __init__(self, renderable: Any) -> None:
        self.renderable = renderable

    def __rich_measure__(self, console: Any, options: Any) -> Any:
        from rich.measure import Measurement

        return Measurement.get(console, options, self.renderable)

    def __rich_console__(self, console: Any, options: Any) -> Iterator[Any]:
        from rich.segment import Segment

        for segment in console.render(self.renderable, options):
            yield segment if segment.control else Segment(neutral(segment.text), segment.style)


def shown(renderable: Any) -> Any:
    """What a command shows, safe for a terminal: a string as plain text (never markup), neutral; a Rich
    renderable with the text of every segment neutral."""
    from rich.text import Text

    return Text(neutral(renderable)) if isinstance(renderable, str) else _Neutral(renderable)


def for_stream(stream: object, text: str) -> str:
    """``neutral(text)`` when ``stream`` is a terminal; unchanged when it goes to a file or a pipe."""
    isatty = getattr(stream, "isatty", None)
    try:
        return neutral(text) if isatty is not None and isatty() else text
    except ValueError:  # a closed stream
        return text


def in_place(stream: Any, text: str | None) -> None:
    """Say ``text`` on one line of a terminal, redrawn in place (None clears it); nothing on a file or pipe,
    where a line redrawn many times would only be noise."""
    if getattr(stream, "isatty", lambda: False)():
        stream.write("\r\x1b[2K" + (neutral(text) if text else ""))
        stream.flush()


def same_terminal(*streams: object) -> bool:
    """Whether every stream is a terminal: then what one writes and another writes share one screen,
    and a line one leaves open runs on into the other's next line."""
    try:
        return all(getattr(s, "isatty", lambda: False)() for s in streams)
    except ValueError:  # a closed stream
        return False
