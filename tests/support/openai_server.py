"""A real HTTP server on 127.0.0.1 that speaks enough of the OpenAI and TGI APIs for the tests.

Each test queues what the next requests get (a streamed answer, an error status, a stall, a
dropped connection, ...) and afterwards reads what the server received and saw. With nothing queued it
answers as its ``persona`` does: a small fake model that behaves like a real server in the ways parrot
must cope with (``tests/support/server_personas.py``: no usage, no log-probabilities, a temperature it
ignores, one model only, a window smaller than the prompt).

parrot checks once per backend, in the background, that a server samples when asked to
(``backends/hosted/sampling_check.py``). Those requests are answered by the persona, or without one by
``probe`` (an honest sampler unless a test says otherwise), and never take a queued answer: a test's
queue stays the replies it means. ``posts()`` lists the other POSTs; ``probes()`` the check's.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: Any

    @property
    def is_probe(self) -> bool:
        """A request of parrot's sampling check (its fixed prompt), not a reply a person asked for."""
        from backends.hosted.sampling_check import PROMPT

        if not isinstance(self.body, dict):
            return False
        messages = self.body.get("messages") or [{"content": self.body.get("inputs")}]
        return isinstance(messages[-1], dict) and messages[-1].get("content") == PROMPT


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # chunked streaming, as vLLM and TGI send it
    server: "FakeServer"

    def log_message(self, *args: Any) -> None:  # keep test output clean
        pass

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def _handle(self, method: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw
        received = Received(method, self.path, dict(self.headers), body)
        self.body = body if isinstance(body, dict) else {}  # what this request asked, for its responder
        self.server.received.append(received)
        persona = self.server.persona
        if method == "GET" and self.path.endswith("/models"):
            models = [persona.pinned] if persona is not None and persona.pinned else self.server.models
            if models is None:
                self.send_json(404, {"error": "Not Found"})
            else:
                self.send_json(200, {"object": "list", "data": [{"id": m} for m in models]})
            return
        if received.is_probe:
            respond = persona.respond if persona is not None else self.server.probe
        elif self.server.responders:
            respond = self.server.responders.popleft()
        else:
            respond = persona.respond if persona is not None else answer(["Hello", " world"])
        respond(self)

    # -- helpers for responders -----------------------------------------------------------------

    def send_json(self, status: int, data: Any, headers: dict[str, str] | None = None) -> None:
        payload = data if isinstance(data, bytes) else json.dumps(data).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(payload)

    def start_sse(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()

    def chunk(self, text: str) -> None:
        data = text.encode()
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    def event(self, data: Any) -> None:
        self.chunk(f"data: {data if isinstance(data, str) else json.dumps(data)}\n\n")

    def end_chunks(self) -> None:
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def drop(self) -> None:
        """Cut the connection without ending the response (a crashed server, a lost network)."""
        self.wfile.flush()
        self.connection.shutdown(socket.SHUT_RDWR)
        self.close_connection = True

    def wait_for_disconnect(self, limit: float = 10.0) -> None:
        """Keep the stream open, sending nothing, until the client closes the socket."""
        self.connection.settimeout(limit)
        try:
            if self.connection.recv(1) == b"":
                self.server.disconnects.append(time.monotonic())
        except (TimeoutError, OSError):
            pass
        self.close_connection = True


def chat_chunk(text: str | None = None, finish: str | None = None, logprob: float | None = None) -> dict:
    delta = {"content": text} if text is not None else {}
    choice: dict[str, Any] = {"index": 0, "delta": delta, "finish_reason": finish}
    if logprob is not None and text is not None:
        choice["logprobs"] = {"content": [{"token": text, "logprob": logprob,
                                           "top_logprobs": [{"token": text, "logprob": logprob},
                                                            {"token": "other", "logprob": -3.0}]}]}
    return {"id": "c1", "object": "chat.completion.chunk", "choices": [choice]}


def answer(pieces: list[str], finish: str = "stop", logprobs: bool = True,
           usage: tuple[int, int] | None = (7, 2)) -> Callable[[Handler], None]:
    """A streamed chat answer: one event per piece, the finish reason, usage, then [DONE]."""

    def respond(h: Handler) -> None:
        h.start_sse()
        h.chunk(": keep-alive\n\n")
        for piece in pieces:
            h.event(chat_chunk(piece, logprob=-0.5 if logprobs else None))
        h.event(chat_chunk(finish=finish))
        if usage:
            h.event({"choices": [], "usage": {"prompt_tokens": usage[0], "completion_tokens": usage[1]}})
        h.event("[DONE]")
        h.end_chunks()

    return respond


# The distribution a decoding server sees at each step: the top token is likely, the others are not rare.
STEP_CHOICES = [("tok", 0.5), ("alt", 0.3), ("other", 0.2)]


def decoding(count: int, *, sample: bool, echo: dict[str, Any] | None = None, seed: int = 0) -> Callable[[Handler], None]:
    """A streamed answer of ``count`` tokens decoded from ``STEP_CHOICES`` at each step, with their
    log-probabilities. ``sample=False`` is a server that ignores the request's temperature and always
    takes the top token (as ``transformers serve`` does); ``sample=True`` honours it and draws from the
    distribution. ``echo`` puts fields at the top of every chunk (a server saying what it used)."""
    import math
    import random

    def respond(h: Handler) -> None:
        sent = h.body
        draw = random.Random(seed)
        h.start_sse()
        for index in range(count):
            if sample and float(sent.get("temperature") or 0) > 0:
                text = draw.choices([t for t, _ in STEP_CHOICES], [p for _, p in STEP_CHOICES])[0]
            else:
                text = STEP_CHOICES[0][0]
            chunk = chat_chunk(f"{text}{index} ")
            chosen = dict(STEP_CHOICES)[text]
            chunk["choices"][0]["logprobs"] = {"content": [{
                "token": f"{text}{index} ", "logprob": math.log(chosen),
                "top_logprobs": [{"token": f"{t}{index} ", "logprob": math.log(p)} for t, p in STEP_CHOICES]}]}
            h.event({**chunk, **(echo or {})})
        h.event({**chat_chunk(finish="stop"), **(echo or {})})
        h.event({"choices": [], "usage": {"prompt_tokens": 5, "completion_tokens": count}})
        h.event("[DONE]")
        h.end_chunks()

    return respond


def sampler(honest: bool = True) -> Callable[[Handler], None]:
    """A short answer whose words follow the request's seed when ``honest`` (a server that samples), or are
    the same whatever it is sent (one that decodes greedily)."""
    import random

    def respond(h: Handler) -> None:
        draw = random.Random(h.body.get("seed") if honest else 0)
        words = [draw.choice(["red", "blue", "green", "sea", "stone", "river", "cloud", "lamp", "bird", "tree"])
                 for _ in range(6)]
        answer([f" {w}" for w in words], logprobs=False, usage=None)(h)

    return respond


def status(code: int, body: Any = None, headers: dict[str, str] | None = None) -> Callable[[Handler], None]:
    return lambda h: h.send_json(code, body if body is not None else {"error": f"status {code}"}, headers)


class FakeServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, host: str = "127.0.0.1") -> None:
        super().__init__((host, 0), Handler)
        self.responders: deque[Callable[[Handler], None]] = deque()
        self.received: list[Received] = []
        self.disconnects: list[float] = []
        self.models: list[str] | None = None
        self.persona: Any = None  # a server_personas.Persona answers what nothing was queued for
        self.probe: Callable[[Handler], None] = sampler()  # the sampling check's requests, without a persona
        self.thread = threading.Thread(target=self.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}"

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # clients that hang up (cancel, timeouts) are part of the tests, not failures

    def queue(self, *responders: Callable[[Handler], None]) -> None:
        self.responders.extend(responders)

    def posts(self) -> list[Received]:
        """The POSTs of replies asked for (the sampling check's are in ``probes``)."""
        return [r for r in self.received if r.method == "POST" and not r.is_probe]

    def probes(self) -> list[Received]:
        return [r for r in self.received if r.method == "POST" and r.is_probe]

    def stop(self) -> None:
        self.shutdown()
        self.server_close()

