"""Turn a stream of token ids into a stream of text, and cut it at stop strings.

Both hold text back briefly: a token can end in the middle of a UTF-8 character, and a stop
string can arrive split over several tokens. Neither may leak half a character or half a stop
string to the screen.
"""

from __future__ import annotations

from typing import Any


class Detokenizer:
    """Incremental decoding with two offsets (the method TGI and vLLM use).

    Decoding each new id on its own breaks words that span tokens (leading-space markers, byte
    fallback); decoding everything each step is quadratic. Decoding from a recent offset is neither.
    """

    def __init__(self, tokenizer: Any) -> None:
        self.tokenizer = tokenizer
        self.ids: list[int] = []
        self.prefix_offset = 0
        self.read_offset = 0

    def push(self, token_id: int) -> str:
        self.ids.append(token_id)
        decode = self.tokenizer.decode
        before = decode(self.ids[self.prefix_offset:self.read_offset], skip_special_tokens=True)
        after = decode(self.ids[self.prefix_offset:], skip_special_tokens=True)
        if len(after) > len(before) and not after.endswith("\ufffd"):
            self.prefix_offset, self.read_offset = self.read_offset, len(self.ids)
            return after[len(before):]
        return ""


class StopFilter:
    """Pass text through until a stop string appears; hold back what could be its beginning."""

    def __init__(self, stops: tuple[str, ...]) -> None:
        self.stops = tuple(s for s in stops if s)
        self.pending = ""
        self.stopped = False

    def push(self, text: str) -> str:
        if self.stopped:
            return ""
        if not self.stops:
            return text
        self.pending += text
        hits = [i for i in (self.pending.find(s) for s in self.stops) if i >= 0]
        if hits:
            self.stopped = True
            out, self.pending = self.pending[: min(hits)], ""
            return out
        keep = max((self._overlap(s) for s in self.stops), default=0)
        out = self.pending[: len(self.pending) - keep]
        self.pending = self.pending[len(self.pending) - keep:]
        return out

    def flush(self) -> str:
        out, self.pending = ("" if self.stopped else self.pending), ""
        return out

    def _overlap(self, stop: str) -> int:
        """Length of the longest end of ``pending`` that is a start of ``stop``."""
        for size in range(min(len(stop) - 1, len(self.pending)), 0, -1):
            if stop.startswith(self.pending[-size:]):
                return size
        return 0
