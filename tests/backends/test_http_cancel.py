"""Cancelling an HTTP reply: the connection closes at once, whatever the reply is waiting for."""

from __future__ import annotations

import threading

from backends.base import Message
from backends.hosted.httpclient import HttpOptions
from backends.hosted.openai_compat import OpenAIBackend
from backends.settings import GenerationSettings
from tests.support.openai_server import answer, status

HELLO = [Message("user", "hi")]


def test_cancel_while_a_read_is_blocked_closes_the_socket(server):
    seen_closed = threading.Event()

    def stall(h):
        h.start_sse()
        h.event({"choices": [{"delta": {"content": "first words"}}]})
        h.wait_for_disconnect(10)  # sends nothing more; returns when the client closes the socket
        seen_closed.set()

    server.queue(stall, answer(["next answer"]))
    cancel = threading.Event()
    backend = OpenAIBackend("test", server.url + "/v1", options=HttpOptions(read_timeout=30))
    reply = backend.stream(HELLO, GenerationSettings(), cancel)
    assert next(reply) == "first words"
    # The reading thread is now blocked in recv(); the cancel comes from elsewhere, as from the UI.
    threading.Timer(0.2, cancel.set).start()
    assert list(reply) == []
    assert reply.stats.finish_reason == "cancelled" and reply.text == "first words"
    assert seen_closed.wait(5) and len(server.disconnects) == 1  # the server saw the socket close
    # The chat goes on with the same backend.
    assert backend.stream(HELLO, GenerationSettings()).finish() == "next answer"


def test_cancel_before_the_server_answers(server):
    def thinking(h):
        h.wait_for_disconnect(3)

    server.queue(thinking)
    cancel = threading.Event()
    reply = OpenAIBackend("test", server.url + "/v1").stream(HELLO, GenerationSettings(), cancel)
    threading.Timer(0.2, cancel.set).start()
    assert reply.finish() == ""
    assert reply.stats.finish_reason == "cancelled"


def test_cancel_interrupts_a_retry_wait(server):
    notes: list[str] = []
    server.queue(status(429, headers={"Retry-After": "30"}), answer(["too late"]))
    cancel = threading.Event()
    backend = OpenAIBackend("test", server.url + "/v1", options=HttpOptions(max_wait=30), on_note=notes.append)
    reply = backend.stream(HELLO, GenerationSettings(), cancel)
    threading.Timer(0.2, cancel.set).start()
    assert reply.finish() == ""
    assert reply.stats.finish_reason == "cancelled"
    assert notes == [f"{server.url}/v1 is busy (429); trying again in 30 s (2 of 4)"]
    assert len(server.posts()) == 1
