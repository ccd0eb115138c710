"""One reply's lifecycle, in one place: backends yield events, the Reply owns everything else.

The shape is simonw/llm's ``Response``: a backend's generator only says what happened (text, a token
with its probabilities, usage counts, how it finished). The Reply that wraps it keeps the clock and
the time to first token, stops on cancel, sets the finish reason, turns a crash into a one-line
``BackendError`` and decides what is worth keeping. Nothing else in parrot sets these.
"""

from __future__ import annotations

import threading
import time
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Callable, Iterable, Iterator, Literal, Union

from .errors import BackendError, Cancelled, ParrotError

FinishReason = Literal["stop", "length", "cancelled", "error", "empty", "loop"]


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
class Text:
    """A piece of the reply's text, ready to show."""

    text: str


@dataclass(frozen=True)
class Token:
    """One produced token and the probabilities the model gave (shown by /probs)."""

    choice: TokenChoice


@dataclass(frozen=True)
class Usage:
    """Counts as the backend knows them; None leaves a count as it was."""

    prompt_tokens: int | None = None
    completion_tokens: int | None = None


@dataclass(frozen=True)
class Started:
    """Generation proper begins (after loading a model or finding one): the clock starts here.

    It also carries what the backend decided about the prompt: its length, what was dropped to fit
    the window, the seed of a sampled reply, the model that answers and the settings it decodes with
    (per-mode defaults filled in), so that a stored turn says exactly how it was made.
    """

    prompt_tokens: int | None = None
    dropped_messages: int = 0
    dropped_tokens: int = 0
    seed: int | None = None
    model: str | None = None
    settings: Any = None  # GenerationSettings


@dataclass(frozen=True)
class Finish:
    reason: FinishReason


@dataclass(frozen=True)
class Ignored:
    """The answer showed that the server ignored a setting it was sent (``backends.ignored_settings``)."""

    setting: str
    message: str  # one line for the person, naming the server and the evidence


Event = Union[Text, Token, Usage, Started, Finish, Ignored, str]  # a bare str is Text


class Reply:
    """An iterator of text chunks over a backend's events; ``stats`` is complete once it ends.

    Iteration ends early, without an error, when ``cancel`` is set (the finish reason says
    "cancelled"). A failure raises a ParrotError whose ``reply`` attribute is this Reply, so the
    caller can keep the text that did arrive.
    """

    def __init__(self, events: Iterable[Event], stats: GenerationStats,
                 cancel: threading.Event | None = None) -> None:
        self.stats = stats
        self.tokens: list[TokenChoice] = []
        self.text = ""
        self.settings: Any = None  # what the backend decoded with, once it says (Started)
        self.ignored: dict[str, str] = {}  # setting -> message, for settings the server was seen to ignore
        # Called once the backend has fitted the prompt (Started), before the model answers: a mode
        # tells there what was cut to fit the window, before any of the reply.
        self.on_start: Callable[["Reply"], None] | None = None
        self.cancel = cancel
        self._events = iter(events)
        self._chunks = self._run()
        self._counted_by_server = False

    def __iter__(self) -> "Reply":
        return self

    def __next__(self) -> str:
        return next(self._chunks)

    def finish(self) -> str:
        """Consume the rest and return the whole text."""
        for _ in self:
            pass
        return self.text

    def close(self, reason: FinishReason = "cancelled") -> None:
        """Stop reading before the end: the backend's stream is let go and the reply ends with ``reason``."""
        self._chunks.close()
        self.stats.finish_reason = reason

    @property
    def cancelled(self) -> bool:
        return self.cancel is not None and self.cancel.is_set()

    @property
    def worth_keeping(self) -> bool:
        """False for a reply cancelled or failed before any text: it must not become a turn."""
        return bool(self.text) or self.stats.finish_reason not in ("cancelled", "error")

    def _run(self) -> Iterator[str]:
        stats = self.stats
        started = time.perf_counter()
        pieces = 0
        try:
            for event in self._events:
                if isinstance(event, str):
                    event = Text(event)
                if isinstance(event, Text):
                    if not event.text:
                        continue
                    if stats.time_to_first_token is None:
                        stats.time_to_first_token = time.perf_counter() - started
                    self.text += event.text
                    pieces += 1
                    yield event.text
                elif isinstance(event, Token):
                    self.tokens.append(event.choice)
                    if not self._counted_by_server:
                        stats.completion_tokens = len(self.tokens)  # live, for a reader watching it
                elif isinstance(event, Usage):
                    self._usage(event)
                elif isinstance(event, Started):
                    started = time.perf_counter()  # loading is not generation
                    self._started(event)
                    if self.on_start is not None:
                        self.on_start(self)
                elif isinstance(event, Ignored):
                    self.ignored[event.setting] = event.message
                elif isinstance(event, Finish):
                    stats.finish_reason = event.reason
                if self.cancelled:  # a backend that does not watch the event still stops here
                    break
        except Cancelled:
            pass
        except ParrotError as error:
            stats.finish_reason = "error"
            error.reply = self
            raise
        except Exception as error:  # a crash inside a backend is a backend failure, told in one line
            stats.finish_reason = "error"
            failure = BackendError(f"{stats.backend or 'the backend'} failed: {type(error).__name__}: {error}")
            failure.reply = self
            raise failure from error
        finally:
            self._close(started, pieces)

    def _close(self, started: float, pieces: int) -> None:
        stats = self.stats
        stats.seconds = time.perf_counter() - started
        if self.cancelled and stats.finish_reason != "error":
            stats.finish_reason = "cancelled"
        if not self._counted_by_server or not stats.completion_tokens:
            # No usage from the server (a cut-off stream, llama.cpp): count what arrived. Without
            # per-token probabilities each streamed piece is one token, as servers send them.
            stats.completion_tokens = len(self.tokens) or pieces
        if not self.text and not stats.completion_tokens and stats.finish_reason in ("stop", "length"):
            stats.finish_reason = "empty"  # the model answered with nothing: say so, never resend it
        close = getattr(self._events, "close", None)
        if close is not None:
            close()  # a cancelled stream's generator lets go of its connection now

    def _usage(self, usage: Usage) -> None:
        if usage.prompt_tokens is not None:
            self.stats.prompt_tokens = usage.prompt_tokens
        if usage.completion_tokens is not None:
            self.stats.completion_tokens = usage.completion_tokens
            self._counted_by_server = True

    def _started(self, event: Started) -> None:
        stats = self.stats
        if event.prompt_tokens is not None:
            stats.prompt_tokens = event.prompt_tokens
        stats.dropped_messages, stats.dropped_tokens = event.dropped_messages, event.dropped_tokens
        if event.seed is not None:
            stats.seed = event.seed
        if event.model:
            stats.model = event.model
        if event.settings is not None:
            self.settings = event.settings
