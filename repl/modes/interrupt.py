"""Stopping a reply from the keyboard or a signal without losing what already arrived.

The reply runs in a thread while the main thread waits; Ctrl-C (or SIGTERM/SIGHUP, turned into the
same exception) sets the reply's cancel Event, so the backend stops at its next token and the
partial answer is recorded, marked cancelled, before parrot exits 130 (or 128 + the signal).
"""

from __future__ import annotations

import signal
import threading
from typing import Callable, TypeVar

T = TypeVar("T")


class Terminated(KeyboardInterrupt):
    """SIGTERM or SIGHUP arrived: stop like Ctrl-C, exit with 128 + the signal's number."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def _raise(signum: int, frame: object) -> None:
    raise Terminated(signum)


def stop_on_signals() -> None:
    """Make SIGTERM and SIGHUP stop parrot the way Ctrl-C does (a reply in progress is kept)."""
    for name in ("SIGTERM", "SIGHUP"):
        if hasattr(signal, name) and threading.current_thread() is threading.main_thread():
            signal.signal(getattr(signal, name), _raise)


def run_interruptible(work: Callable[[threading.Event], T]) -> tuple[T, KeyboardInterrupt | None]:
    """Run ``work(cancel)`` in a thread; the first Ctrl-C (or signal) sets ``cancel`` and is returned."""
    cancel, finished = threading.Event(), threading.Event()
    outcome: dict[str, object] = {}

    def target() -> None:
        try:
            outcome["value"] = work(cancel)
        except BaseException as error:  # noqa: BLE001  handed to the waiting thread, which raises it
            outcome["error"] = error
        finally:
            finished.set()

    threading.Thread(target=target, name="parrot-reply", daemon=True).start()
    interrupted: KeyboardInterrupt | None = None
    # Wait on an Event, not Thread.join: a KeyboardInterrupt inside join() can leave the thread
    # looking finished while it still runs (CPython issue 90882).
    while not finished.is_set():
        try:
            finished.wait(0.1)
        except KeyboardInterrupt as stop:
            interrupted = interrupted or stop
            cancel.set()
    if "error" in outcome:
        raise outcome["error"]  # type: ignore[misc]
    return outcome["value"], interrupted  # type: ignore[return-value]
