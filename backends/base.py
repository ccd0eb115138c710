"""The Backend protocol and the shapes that cross it: messages in, a streamed Reply out.

A backend turns a list of messages into events (``backends.reply``): text, token choices, usage,
how it finished. ``stream`` wraps them in a ``Reply``: iterate it for text as it is produced; once
it is exhausted, ``reply.stats`` says how it ended and what it cost. Cancellation is a
``threading.Event`` the backend checks between tokens.
"""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass, field, replace
from typing import TYPE_CHECKING, Any, Literal, Protocol, runtime_checkable

from .settings import GenerationSettings

if TYPE_CHECKING:
    from .reply import Reply

Role = Literal["system", "user", "assistant"]
FinishReason = Literal["stop", "length", "cancelled", "error", "empty", "loop"]


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

    def extended_by(self, more: "GenerationStats") -> "GenerationStats":
        """The stats of a turn that ``more`` continued (/continue): counts and time add up, the
        prompt and what was dropped to fit it stay those of the first part, the ending is the last."""
        return replace(
            self, completion_tokens=self.completion_tokens + more.completion_tokens,
            seconds=self.seconds + more.seconds, finish_reason=more.finish_reason,
            dropped_messages=max(self.dropped_messages, more.dropped_messages),
            dropped_tokens=max(self.dropped_tokens, more.dropped_tokens),
            seed=self.seed if self.seed is not None else more.seed,
            model=more.model or self.model, backend=more.backend or self.backend)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["tokens_per_second"] = self.tokens_per_second
        return data


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
    context_window: int | None = None
    base_url: str | None = None
    ignores: tuple[str, ...] = ()  # settings the server was seen to ignore

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
