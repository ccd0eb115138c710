"""A small fake model behind the test server, served the way real OpenAI-compatible servers serve one.

Checked against the servers themselves (see FACTS.md): ``transformers serve`` (5.24) ignores
``temperature``, ``logprobs`` and ``stream_options`` (so its stream has no usage), serves one model
when started pinned to it (a 400 for any other name), and cuts the stream when a prompt is over the
model's window; llama-cpp-python's server sends log-probabilities but no usage in its stream and answers
a prompt over the window with a 400. ``Persona`` has a switch for each of these, so a test (or the
bench) states which server it stands in for.

The model: at each step three words are possible with probabilities 0.5, 0.3 and 0.2. Greedy decoding
(temperature 0, or a server that ignores temperature) always takes the first; sampling draws with the
request's seed, so the same seed gives the same text. A prompt counts as its words plus four per message,
the way a chat template adds a few tokens per turn.
"""

from __future__ import annotations

import math
import random
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from tests.support.openai_server import Handler, Received, chat_chunk

WORDS = ["the", "cat", "sat", "on", "a", "warm", "mat", "and", "looked", "at", "birds", "outside"]
ODDS = (0.5, 0.3, 0.2)
PINNED_ERROR = "Server is pinned to '{pinned}'; requested '{asked}'."  # transformers serve's words, status 400
OVER_WINDOW_ERROR = "the request exceeds the available context size, try increasing it"  # llama.cpp's


def is_probe(body: dict[str, Any]) -> bool:
    """A request of parrot's sampling check (see tests/support/openai_server.py)."""
    return Received("POST", "", {}, body).is_probe


def prompt_tokens(body: dict[str, Any]) -> int:
    messages = body.get("messages") or []
    return sum(len(str(m.get("content", "")).split()) + 4 for m in messages if isinstance(m, dict))


def step_choices(index: int) -> list[tuple[str, float]]:
    """The three words possible at step ``index``, most likely first."""
    return [(f" {WORDS[(index + k * 5) % len(WORDS)]}", p) for k, p in enumerate(ODDS)]


@dataclass
class Persona:
    """What a server does with a request. Defaults: an honest server that sends everything (like vLLM)."""

    usage: bool = True  # a last chunk with token counts (streams); counts in a whole answer always
    logprobs: bool = True  # log-probabilities with five alternatives, when asked for
    honours_temperature: bool = True
    pinned: str | None = None  # the one model served: another name gets a 400, /models lists this one
    window: int | None = None  # prompt tokens the model takes; more is "over the window"
    over_window: str = "400"  # "400" (llama.cpp, vLLM), "drop" (transformers serve 5.24), "error-event"
    seconds_per_token: float = 0.0  # decoding time, for the concurrency bench
    slots: int | None = None  # requests decoded at once; more wait their turn (a server that saturates)
    text_for: Callable[[dict[str, Any]], str] | None = None  # answer with this text instead of the model's
    in_flight: int = 0
    peak: int = 0  # the most requests decoded at once so far
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _slots: threading.Semaphore | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.slots:
            self._slots = threading.BoundedSemaphore(self.slots)

    def respond(self, h: Handler) -> None:
        body = h.body
        if self.pinned and body.get("model") not in (None, self.pinned):
            h.send_json(400, {"detail": PINNED_ERROR.format(pinned=self.pinned, asked=body.get("model"))})
            return
        if self.window is not None and prompt_tokens(body) > self.window:
            self._over_window(h)
            return
        if is_probe(body):  # parrot's sampling check: answered, but not counted among the replies in flight
            self._answer(h, body, lambda: None)
            return
        if self._slots is not None:
            self._slots.acquire()
        with self._lock:
            self.in_flight += 1
            self.peak = max(self.peak, self.in_flight)
        released = threading.Event()

        def decoded() -> None:
            # The last token is out: the request stops counting (and frees its slot) before its closing bytes,
            # which a client that has what it needs may not wait for before it sends the next request.
            if not released.is_set():
                released.set()
                with self._lock:
                    self.in_flight -= 1
                if self._slots is not None:
                    self._slots.release()

        try:
            self._answer(h, body, decoded)
        finally:
            decoded()

    def _over_window(self, h: Handler) -> None:
        if self.over_window == "400":
            h.send_json(400, {"error": {"code": 400, "message": OVER_WINDOW_ERROR, "type": "exceed_context_size_error"}})
            return
        h.start_sse()
        h.event({"id": "c1", "object": "chat.completion.chunk",
                 "choices": [{"index": 0, "delta": {"role": "assistant"}, "finish_reason": None}]})
        if self.over_window == "error-event":
            h.event({"error": f"Input length of input_ids is {prompt_tokens(h.body)}, but `max_length` is set to "
                              f"{self.window}. This can lead to unexpected behavior."})
            h.end_chunks()
        else:
            h.drop()

    def pieces(self, body: dict[str, Any]) -> list[tuple[str, list[tuple[str, float]]]]:
        """The reply as (piece, the alternatives at that step with their probabilities)."""
        limit = int(body.get("max_tokens") or 16)
        if self.text_for is not None and not is_probe(body):  # parrot's sampling check meets the model itself
            words = self.text_for(body).split(" ")
            text = [w if i == 0 else f" {w}" for i, w in enumerate(words)][:limit]
            return [(piece, [(piece, 0.9)]) for piece in text if piece]
        sampled = self.honours_temperature and float(body.get("temperature") or 0) > 0
        draw = random.Random(body.get("seed"))
        out = []
        for index in range(limit):
            choices = step_choices(index)
            word = draw.choices([w for w, _ in choices], [p for _, p in choices])[0] if sampled else choices[0][0]
            out.append((word, choices))
        return out

    def _answer(self, h: Handler, body: dict[str, Any], decoded: Callable[[], None]) -> None:
        pieces = self.pieces(body)
        wants_logprobs = self.logprobs and body.get("logprobs")
        counts = {"prompt_tokens": prompt_tokens(body), "completion_tokens": len(pieces)}
        finish = "length" if len(pieces) >= int(body.get("max_tokens") or 16) else "stop"
        if not body.get("stream"):
            time.sleep(self.seconds_per_token * len(pieces))
            decoded()
            h.send_json(200, {"id": "c1", "object": "chat.completion", "model": body.get("model"), "usage": counts,
                              "choices": [{"index": 0, "finish_reason": finish, "message": {
                                  "role": "assistant", "content": "".join(p for p, _ in pieces)}}]})
            return
        h.start_sse()
        for piece, choices in pieces:
            time.sleep(self.seconds_per_token)
            chunk = chat_chunk(piece)
            if wants_logprobs:
                chosen = dict(choices)[piece]
                chunk["choices"][0]["logprobs"] = {"content": [{
                    "token": piece, "logprob": math.log(chosen),
                    "top_logprobs": [{"token": w, "logprob": math.log(p)} for w, p in choices]}]}
            h.event(chunk)
        decoded()
        h.event(chat_chunk(finish=finish))
        if self.usage and (body.get("stream_options") or {}).get("include_usage"):
            h.event({"choices": [], "usage": counts})
        h.event("[DONE]")
        h.end_chunks()


def transformers_serve(**changes: Any) -> Persona:
    """``transformers serve`` 5.24: no usage in its stream, no log-probabilities, temperature ignored, and a
    prompt over the window cuts the stream before any text."""
    return Persona(**{"usage": False, "logprobs": False, "honours_temperature": False, "over_window": "drop",
                      **changes})


def llama_cpp_python(**changes: Any) -> Persona:
    """llama-cpp-python's server: log-probabilities, but no usage in its stream; a 400 over the window."""
    return Persona(**{"usage": False, **changes})
