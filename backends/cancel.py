"""A request to stop one piece of long work: a reply, a prefill, a download, a comparison, an evaluation.

Work that runs step by step (decoding, reading a stream, walking files) checks ``is_set()`` between
steps. Work that blocks where nothing can check (a child process, a socket read, a native library's
loop) registers ``on_set`` to be woken: the hook runs in the thread that asked to stop, at once, so the
stop takes effect within milliseconds instead of at the next natural pause.
"""

from __future__ import annotations

import threading
from typing import Callable

from .errors import Cancelled


class Cancel(threading.Event):
    """A ``threading.Event`` that also wakes blocked work when it is set."""

    def __init__(self) -> None:
        super().__init__()
        self._hooks: list[Callable[[], None]] = []
        self._lock = threading.Lock()

    def set(self) -> None:
        super().set()
        with self._lock:
            hooks, self._hooks = self._hooks, []
        for hook in hooks:
            try:
                hook()
            except Exception:  # noqa: BLE001  a hook that fails must not keep the others (or the stop) from running
                pass

    def on_set(self, hook: Callable[[], None]) -> Callable[[], None]:
        """Run ``hook`` when this is set (now, if it already is); returns a function that unregisters it."""
        with self._lock:
            if not self.is_set():
                self._hooks.append(hook)
                return lambda: self._forget(hook)
        hook()
        return lambda: None

    def check(self) -> None:
        """Raise ``Cancelled`` if a stop was asked for: for work with natural steps."""
        if self.is_set():
            raise Cancelled("stopped")

    def _forget(self, hook: Callable[[], None]) -> None:
        with self._lock:
            if hook in self._hooks:
                self._hooks.remove(hook)
