"""The Backend protocol and the shapes that cross it: messages in, a streamed Reply out.

A backend turns a list of messages into text chunks. ``stream`` returns a ``Reply``: iterate it for
text as it is produced; once it is exhausted, ``reply.stats`` says how it ended and what it cost.
Cancellation is a ``threading.Event`` the backend checks between tokens.
"""

from __future__ import annotations

import threading
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Iterator, Literal, Protocol, runtime_checkable

from .settings import GenerationSettings

Role = Literal["system", "user", "assistant"]
FinishReason = Literal["stop", "length", "cancelled", "error"]


@dataclass
class Message:
    role: Role
    content: str

    def to_dict(self) -> dict[str, str]:
        return {"role": self.role, "content": self.content}


@dataclass
class TokenChoice:
    """One produced token: its id and text, the probability the model gave it, and the runners-up."""

    token_id: int
    text: str
    prob: float
    top: list[tuple[str, float]] = field(default_factory=list)
    top_ids: list[int] = field(default_factory=list)  # the runners-up's ids, where the backend knows them


@dataclass
class GenerationStats:
    """How one reply went; stored with the turn so it can be reproduced and compared."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    time_to_first_token: float | None = None
    seconds: float = 0.0
    finish_reason: FinishReason = "stop"
    dropped_messages: int = 0
    dropped_tokens: int = 0
    seed: int | None = None
    model: str = ""
    backend: str = ""

    @property
    def tokens_per_second(self) -> float | None:
        """Decode speed after the first token (prefill excluded), as llama.cpp and others report it."""
        if self.completion_tokens < 2 or self.time_to_first_token is None:
            return None
        decode_time = self.seconds - self.time_to_first_token
        return (self.completion_tokens - 1) / decode_time if decode_time > 0 else None

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["tokens_per_second"] = self.tokens_per_second
        return data


class Reply:
    """An iterator of text chunks that records statistics and token choices as it goes.

    Backends build one around their own generator; ``stats`` is complete once iteration ends.
    """

    def __init__(self, chunks: Iterator[str], stats: GenerationStats,
                 tokens: list[TokenChoice] | None = None) -> None:
        self._chunks = chunks
        self.stats = stats
        self.tokens: list[TokenChoice] = tokens if tokens is not None else []
        self.text = ""
        self._started = time.perf_counter()

    def __iter__(self) -> "Reply":
        return self

    def __next__(self) -> str:
        chunk = next(self._chunks)
        if self.stats.time_to_first_token is None:
            self.stats.time_to_first_token = time.perf_counter() - self._started
        self.text += chunk
        return chunk

    def finish(self) -> str:
        """Consume the rest and return the whole text."""
        for _ in self:
            pass
        return self.text


@runtime_checkable
class Backend(Protocol):
    """What the chat needs from anything that answers."""

    name: str

    def describe(self) -> dict[str, Any]:
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
