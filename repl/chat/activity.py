"""The long work running now, each piece with its own Cancel: Esc stops it, quitting stops all of it.

A reply, a /compare, an /eval, a glob being expanded, a tokenizer being trained: each registers here
while it runs. The mode's stop key asks ``stop()`` and is told whether anything was running; ``/eval stop``
stops the one named. Nothing here knows a screen: the app, the plain REPL and scripts share it.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from typing import Iterator

from backends.cancel import Cancel


class Activity:
    """Names of running work -> their Cancels (a name may run more than once: a list each)."""

    def __init__(self) -> None:
        self._running: dict[str, list[Cancel]] = {}
        self._lock = threading.Lock()

    @contextmanager
    def run(self, name: str, cancel: Cancel | None = None) -> Iterator[Cancel]:
        """Register work ``name`` (with ``cancel``, or a new one) while the block runs."""
        cancel = cancel if cancel is not None else Cancel()
        with self._lock:
            self._running.setdefault(name, []).append(cancel)
        try:
            yield cancel
        finally:
            with self._lock:
                cancels = self._running.get(name, [])
                if cancel in cancels:
                    cancels.remove(cancel)
                if not cancels:
                    self._running.pop(name, None)

    def running(self, name: str | None = None) -> bool:
        """Whether work ``name`` (None: any work) is running and not yet asked to stop."""
        with self._lock:
            groups = [self._running.get(name, [])] if name is not None else list(self._running.values())
        return any(not c.is_set() for cancels in groups for c in cancels)

    def names(self) -> list[str]:
        """What runs now, in the order it started (for a status line)."""
        with self._lock:
            return [n for n, cancels in self._running.items() if any(not c.is_set() for c in cancels)]

    def stop(self, name: str | None = None) -> bool:
        """Ask work ``name`` (None: all work) to stop; returns whether anything was running."""
        with self._lock:
            groups = [self._running.get(name, [])] if name is not None else list(self._running.values())
            cancels = [c for group in groups for c in group if not c.is_set()]
        for cancel in cancels:
            cancel.set()
        return bool(cancels)
