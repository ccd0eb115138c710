"""Background work that runs only while a decoder rests.

Measuring what quantization costs a model (``loading.quality``) means running it through a few
hundred tokens several times: seconds for a small model, minutes for a 7B one. That must never slow
a reply, so the work goes in small pieces (one matrix product each), and a piece starts only after
the decoder has been idle for ``QUIET`` seconds; a reply that begins meanwhile waits for the current
piece only (a fraction of a second), then keeps the machine until it ends.
"""

from __future__ import annotations

import threading
import time
from contextlib import contextmanager
from typing import Callable, Iterator

QUIET = 0.5  # seconds without a decoder call before background work may run (a reply calls it every few ms)


class Stopped(Exception):
    """Background work was asked to stop (the program is ending)."""


class Activity:
    """``busy()`` around each decoder call; ``spare()`` around each piece of background work."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last = -float("inf")
        self._next_call: list[Callable[[], None]] = []
        self.stopping = False

    def at_next_call(self, callback: Callable[[], None]) -> None:
        """Run ``callback`` when the decoder is next called, in that caller's thread: what background
        work has to say is said as a reply starts, never into a prompt someone is typing at."""
        self._next_call.append(callback)

    @contextmanager
    def busy(self) -> Iterator[None]:
        while self._next_call:
            self._next_call.pop(0)()
        with self._lock:
            try:
                yield
            finally:
                self._last = time.monotonic()

    @contextmanager
    def spare(self) -> Iterator[None]:
        """Wait until the decoder has rested ``QUIET`` seconds, then hold it off for one piece."""
        while True:
            if self.stopping:
                raise Stopped()
            rest = self._last + QUIET - time.monotonic()
            if rest <= 0 and self._lock.acquire(blocking=False):
                if time.monotonic() - self._last >= QUIET:  # no call slipped in before the lock
                    break
                self._lock.release()
            time.sleep(max(rest, 0.05))
        try:
            yield
        finally:
            self._lock.release()
