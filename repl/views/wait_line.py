"""What a reply is waiting for, on a terminal's stderr: one line redrawn in place, with the seconds so far.

Before a reply's first word there can be minutes of nothing on a busy machine: the model loading (or
converting, or downloading), then the prompt being read. ``WaitLine`` says which, and counts the
seconds so that a person can tell a slow start from a hung one; it is cleared before the answer
begins. Lines that must stay (a note that the prompt was cut) go above it. Off a terminal (a log, a
pipe) it draws nothing: progress there is noise.
"""

from __future__ import annotations

import shutil
import threading
import time
from typing import Any, TextIO

from .terminal_text import neutral

TICK = 0.5  # seconds between redraws: the count moves, the line does not flicker


class WaitLine:
    """``show`` what is being waited for, ``note`` a line that stays, ``clear`` once the answer starts."""

    def __init__(self, stream: TextIO, enabled: bool | None = None) -> None:
        self.stream = stream
        if enabled is None:
            try:
                enabled = stream.isatty()
            except (AttributeError, ValueError):
                enabled = False
        self.enabled = enabled
        self._text: str | None = None
        self._ticking = True
        self._drawn = 0  # characters on the line now, to be covered by the next drawing
        self._since = time.monotonic()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._ticker: threading.Thread | None = None

    def show(self, text: str, tick: bool = True) -> None:
        """Say what is being waited for now (the count of seconds goes on from the first ``show``).

        ``tick`` False draws it once and leaves the line alone: a library's own progress bar (a model
        being converted or read) may be drawing on it then, and a redraw would fight it."""
        if not self.enabled:
            return
        with self._lock:
            self._text, self._ticking = text, tick
            self._draw()
        if self._ticker is None:
            self._ticker = threading.Thread(target=self._tick, name="parrot-wait-line", daemon=True)
            self._ticker.start()

    def note(self, text: str) -> None:
        """A line that stays, above what is being waited for (or plainly, where nothing is drawn)."""
        with self._lock:
            if self.enabled and self._text is not None:
                self._wipe()
            self.stream.write(f"{text}\n")
            if self.enabled and self._text is not None:
                self._draw()
            self.stream.flush()

    def clear(self) -> None:
        """The wait is over: the line goes, and nothing is drawn again."""
        self._stop.set()
        with self._lock:
            if self.enabled and self._text is not None:
                self._wipe()
                self.stream.flush()
            self._text = None

    def _tick(self) -> None:
        while not self._stop.wait(TICK):
            with self._lock:
                if self._text is not None and self._ticking:
                    self._draw()

    def _draw(self) -> None:
        seconds = time.monotonic() - self._since
        shown = f"parrot: {neutral(self._text or '')}… {seconds:.0f} s"
        width = shutil.get_terminal_size().columns - 1  # a line that wrapped could not be redrawn in place
        shown = shown if len(shown) <= width else shown[:width - 1] + "…"
        # Spaces rather than an erase sequence cover what was there: plain text on any terminal.
        self.stream.write(f"\r{shown.ljust(self._drawn)}")
        self._drawn = len(shown)
        self.stream.flush()

    def _wipe(self) -> None:
        self.stream.write(f"\r{' ' * self._drawn}\r")
        self._drawn = 0


def waiting_for(backend: Any) -> str:
    """What a reply waits for before anything else: the model loading here, or a server."""
    info = backend.describe()
    return f"loading {info.model}" if getattr(backend, "is_loaded", True) is False else f"waiting for {info.model}"


def download_bar(line: Any, width: int = 24) -> str:
    """``downloading org/id: [#########...] 40% (1.2 of 3.0 MB)`` for a terminal, from a
    ``backends.loading.hub.DownloadProgress``."""
    filled = round(width * line.fraction)
    name, _, rest = line.partition(": ")
    return f"{name}: [{'#' * filled}{'.' * (width - filled)}] {rest}"
