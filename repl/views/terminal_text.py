"""Making stored and model text safe to print on a terminal.

A prompt, a title or a model's reply may hold escape sequences (ANSI colours, OSC 0 that retitles
the window, OSC 52 that writes the clipboard) or other control characters. Printed raw they act on
the terminal; ``neutral`` shows them as visible symbols instead. Newline and tab stay as they are.
"""

from __future__ import annotations

import re

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


def for_stream(stream: object, text: str) -> str:
    """``neutral(text)`` when ``stream`` is a terminal; unchanged when it goes to a file or a pipe."""
    isatty = getattr(stream, "isatty", None)
    try:
        return neutral(text) if isatty is not None and isatty() else text
    except ValueError:  # a closed stream
        return text


def same_terminal(*streams: object) -> bool:
    """Whether every stream is a terminal: then what one writes and another writes share one screen,
    and a line one leaves open runs on into the other's next line."""
    try:
        return all(getattr(s, "isatty", lambda: False)() for s in streams)
    except ValueError:  # a closed stream
        return False
