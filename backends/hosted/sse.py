"""Server-sent events: the ``data:`` payloads of a text/event-stream, one string per event.

Servers differ in small ways (a space after the colon or not, ``\\r\\n`` line ends, keep-alive
comments, several ``data:`` lines in one event), so this follows the WHATWG rules rather than
splitting on ``data: `` by hand.
"""

from __future__ import annotations

from typing import Iterable, Iterator


def iter_data(lines: Iterable[bytes | str]) -> Iterator[str]:
    """Yield the data of each event; comments, ``event:``/``id:``/``retry:`` fields are skipped."""
    buffer: list[str] = []
    for raw in lines:
        line = raw.decode("utf-8", errors="replace") if isinstance(raw, bytes) else raw
        line = line.rstrip("\r\n")
        if not line:
            if buffer:
                yield "\n".join(buffer)
                buffer = []
            continue
        if line.startswith(":"):
            continue  # a comment, used as keep-alive
        field, _, value = line.partition(":")
        if field == "data":
            buffer.append(value[1:] if value.startswith(" ") else value)
    if buffer:
        # Some servers close the stream without the final blank line.
        yield "\n".join(buffer)
