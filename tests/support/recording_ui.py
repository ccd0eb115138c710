"""A real implementation of the commands' UI protocol that records what is shown, as text."""

from __future__ import annotations

import io
import threading
from typing import Any

from rich.console import Console


class RecordingUI:
    """Renders every shown renderable with a Rich console (no colour), as a plain terminal would."""

    def __init__(self, width: int = 120) -> None:
        self.width = width
        self.shown: list[Any] = []
        self.texts: list[str] = []
        self.quit_called = False
        self._lock = threading.Lock()  # /tokenizer train reports from its own thread

    def show(self, renderable: Any) -> None:
        buffer = io.StringIO()
        Console(file=buffer, width=self.width, color_system=None, force_terminal=False).print(renderable)
        with self._lock:
            self.shown.append(renderable)
            self.texts.append(buffer.getvalue())

    @property
    def text(self) -> str:
        with self._lock:
            return "".join(self.texts)

    def generate(self, branch: tuple[int, int] | None = None) -> None:
        raise AssertionError("these commands never start a reply")

    def progress(self, text: str | None) -> None:
        pass  # a command's progress is shown in place by the modes; the record keeps what stays

    def quit(self) -> None:
        self.quit_called = True

    def clear(self) -> None:
        with self._lock:
            self.shown.clear()
            self.texts.clear()

    def read_secret(self, prompt: str) -> str | None:
        return None
