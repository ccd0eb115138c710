"""The Backend protocol and the shapes that cross it: messages in, a streamed Reply out.

A backend turns a list of messages into events (``backends.reply``): text, token choices, usage,
how it finished. ``stream`` wraps them in a ``Reply``: iterate it for text as it is produced; once
it is exhausted, ``reply.stats`` says how it ended and what it cost. Cancellation is a
``threading.Event`` the backend checks between tokens.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Literal, Protocol, runtime_checkable

from .reply import Reply
from .settings import GenerationSettings

Role = Literal["system", "user", "assistant"]


@dataclass
class Message:
    role: Role
    content: str

    def to_dict(self) -> dict[str, str]:
        return {"role": self.role, "content": self.content}


@dataclass(frozen=True)
class BackendInfo:
    """Facts about a backend for the status bar and ``/settings``: what answers, where and how; never a key.

    A fact nobody knows yet is None (a local model's device before it has loaded), so that nothing is
    claimed that was not seen.
    """

    backend: str
    model: str
    mode: Literal["chat", "completion"] | None = None  # None: not known until the model has loaded
    device: str | None = None
    dtype: str | None = None
    quantize: str | None = None
    weights: str | None = None  # the layout and what it costs: "int4 weights, perplexity +0.4%"
    perplexity: str | None = None  # the quality check's figures, once measured
    context_window: int | None = None
    base_url: str | None = None
    ignores: tuple[str, ...] = ()  # settings the server was seen to ignore
    sampling: str | None = None  # whether a server was seen to sample at the temperature it was sent, and why

    @property
    def completion(self) -> bool:
        """Whether the model continues text (no chat template), as far as is known."""
        return self.mode == "completion"

    def rows(self) -> list[tuple[str, str]]:
        """(name, value) of every known fact, for a table."""
        rows = []
        for name in self.__dataclass_fields__:
            value = getattr(self, name)
            if value not in (None, ()):
                rows.append((name, ", ".join(value) if isinstance(value, tuple) else str(value)))
        return rows


@runtime_checkable
class Backend(Protocol):
    """What the chat needs from anything that answers."""

    name: str

    def describe(self) -> BackendInfo:
        """Facts for the status bar and ``/settings``: model, device, dtype, mode, context window."""
        ...

    def stream(
        self,
        messages: list[Message],
        settings: GenerationSettings,
        cancel: threading.Event | None = None,
    ) -> Reply:
        """Start answering ``messages``; iterate the Reply for text."""
        ...
