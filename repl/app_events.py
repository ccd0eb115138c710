"""Named messages from the worker threads to the app: the only way they reach the screen."""

from __future__ import annotations

from typing import Any

from textual.message import Message

from backends.errors import ParrotError

from .session import Turn


class ResponseStarted(Message):
    """The first text of the reply has arrived (after waiting for the model, if it had to)."""


class Chunk(Message):
    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text


class ResponseFinished(Message):
    def __init__(self, turn: Turn, stats: Any) -> None:
        super().__init__()
        self.turn, self.stats = turn, stats


class ResponseFailed(Message):
    def __init__(self, error: ParrotError, prompt: str | None) -> None:
        super().__init__()
        self.error, self.prompt = error, prompt


class ModelProgress(Message):
    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text


class ModelReady(Message):
    def __init__(self, backend: Any) -> None:
        super().__init__()
        self.backend = backend


class ModelFailed(Message):
    def __init__(self, backend: Any, error: ParrotError) -> None:
        super().__init__()
        self.backend, self.error = backend, error


class CommandDone(Message):
    pass
