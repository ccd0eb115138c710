"""Cut a stream of text at stop strings.

A stop string can arrive split over several pieces, so what could be its beginning is held back until
the next piece shows whether it is one; half a stop string never reaches the screen.
"""

from __future__ import annotations


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
