"""The openai backend against a real HTTP server on 127.0.0.1: answers, settings, and every failure."""

from __future__ import annotations

import json
import math
import socket

import pytest

from backends import registry
from backends.base import Message
from backends.errors import BackendError, UsageError
from backends.hosted.httpclient import HttpOptions
from backends.hosted.openai_compat import OpenAIBackend
from backends.hosted.sse import iter_data
from backends.settings import GenerationSettings
from tests.support.openai_server import answer, chat_chunk, status

HELLO = [Message("user", "hi")]


def make(server, notes=None, **kw) -> OpenAIBackend:
    options = HttpOptions(read_timeout=kw.pop("read_timeout", 5), retries=kw.pop("retries", 2),
                          max_wait=kw.pop("max_wait", 2), backoff=0.05)
    return OpenAIBackend(kw.pop("model", "test"), server.url + "/v1", options=options,
                         on_note=None if notes is None else notes.append, **kw)


def fails(reply) -> BackendError:
    with pytest.raises(BackendError) as caught:
        reply.finish()
    return caught.value


def test_streamed_answer_with_usage_and_probabilities(server):
    backend = registry.create("openai", "test", base_url=server.url + "/v1", device="cpu")
    reply = backend.stream(HELLO, GenerationSettings(temperature=0.3, top_p=0.8, max_new_tokens=9))
    assert list(reply) == ["Hello", " world"]
    assert reply.text == "Hello world"
    assert (reply.stats.prompt_tokens, reply.stats.completion_tokens, reply.stats.finish_reason) == (7, 2, "stop")
    assert reply.stats.backend == "openai" and reply.stats.model == "test"
    assert [t.text for t in reply.tokens] == ["Hello", " world"]
    assert reply.tokens[0].prob == pytest.approx(math.exp(-0.5))
    assert reply.tokens[0].top[1] == ("other", pytest.approx(math.exp(-3.0)))
    sent = server.posts()[0]
    assert sent.path == "/v1/chat/completions"
    assert sent.body["messages"] == [{"role": "user", "content": "hi"}]
    assert (sent.body["max_tokens"], sent.body["temperature"], sent.body["top_p"]) == (9, 0.3, 0.8)
    assert sent.body["stream"] is True and sent.body["logprobs"] is True and sent.body["top_logprobs"] == 5
    assert "Authorization" not in sent.headers


def test_non_streaming_answer_and_length_finish(server):
    body = {"choices": [{"message": {"role": "assistant", "content": "def add(a, b):"}, "finish_reason": "length"}],
            "usage": {"prompt_tokens": 3, "completion_tokens": 5}}
    server.queue(status(200, body), status(200, body))
    reply = make(server, stream=False).stream(HELLO, GenerationSettings())
    assert reply.finish() == "def add(a, b):"
    assert (reply.stats.finish_reason, reply.stats.completion_tokens) == ("length", 5)
    assert server.posts()[0].body["stream"] is False
    # A server that ignores "stream": true and answers with plain JSON is read the same way.
    assert make(server).stream(HELLO, GenerationSettings()).finish() == "def add(a, b):"


def test_streamed_length_finish(server):
    server.queue(answer(["a", "b"], finish="length"))
    reply = make(server).stream(HELLO, GenerationSettings(max_new_tokens=2))
    assert reply.finish() == "ab" and reply.stats.finish_reason == "length"


def test_settings_mapping_and_a_note_for_what_the_api_cannot_carry(server):
    notes: list[str] = []
    backend = make(server, notes)
    settings = GenerationSettings(greedy=True, seed=5, stop=("\n\n",), top_k=7, repetition_penalty=1.3,
                                  system="be brief")
    backend.stream(HELLO, settings).finish()
    backend.stream(HELLO, settings).finish()
    body = server.posts()[0].body
    assert body["temperature"] == 0.0 and "top_p" not in body
    assert (body["seed"], body["stop"]) == (5, ["\n\n"])
    assert body["messages"][0] == {"role": "system", "content": "be brief"}
    assert "top_k" not in body and "repetition_penalty" not in body
    assert len(notes) == 1 and "repetition_penalty=1.3" in notes[0] and "uses its own" in notes[0]


def test_a_server_that_refuses_logprobs_is_asked_again_without_them(server):
    notes: list[str] = []
    server.queue(status(400, {"error": {"message": "Unrecognized request argument: logprobs"}}),
                 answer(["ok"], logprobs=False, usage=None))
    backend = make(server, notes)
    reply = backend.stream(HELLO, GenerationSettings())
    assert reply.finish() == "ok" and reply.tokens == []
    assert reply.stats.completion_tokens == 0 or reply.stats.completion_tokens == 1
    first, second = server.posts()
    assert "logprobs" in first.body and "logprobs" not in second.body and "stream_options" not in second.body
    assert any("/probs is not available" in n for n in notes)


def test_model_defaults_to_the_first_one_the_server_lists(server):
    server.models = ["served/model-a", "served/model-b"]
    backend = OpenAIBackend(None, server.url + "/v1")
    reply = backend.stream(HELLO, GenerationSettings())
    assert reply.finish() == "Hello world"
    assert server.posts()[0].body["model"] == "served/model-a" and reply.stats.model == "served/model-a"


@pytest.mark.parametrize("code, words, hint", [
    (401, "refused the token (401)", "parrot login --base-url"),
    (402, "asks for payment (402)", "/backend local"),
    (403, "does not allow this token to use test (403)", "permission"),
    (404, "test is not served by", "/models lists"),
    (500, "failed with 500", "try again later"),
    (502, "failed with 502", "try again later"),
    (422, "rejected the request (422)", "--max-tokens"),
])
def test_each_error_status_is_one_line_that_says_what_to_do(server, code, words, hint):
    server.queue(status(code, {"error": {"message": "server says no"}}), answer(["still here"]))
    backend = make(server, retries=0)
    error = fails(backend.stream(HELLO, GenerationSettings()))
    text = str(error)
    assert words in text and hint in error.hint and "\n" not in text
    assert "server says no" in text and "/clear" not in text  # /clear only clears the screen
    if code == 422:
        assert "/settings" in error.in_chat().hint  # inside the chat the hint names the command
    # The chat goes on: the next question is answered.
    assert backend.stream(HELLO, GenerationSettings()).finish() == "still here"


def test_404_names_the_models_the_server_lists(server):
    server.models = ["Qwen/Qwen2.5-Coder-7B-Instruct", "meta-llama/Llama-3.1-8B-Instruct"]
    server.queue(status(404, {"error": "model not found"}))
    error = fails(make(server, model="Qwen/Qwen2.5-Coder-7B").stream(HELLO, GenerationSettings()))
    assert "Qwen/Qwen2.5-Coder-7B is not served" in error.message
    assert "Qwen/Qwen2.5-Coder-7B-Instruct" in error.hint


def test_429_retries_honour_retry_after_then_give_up(server):
    notes: list[str] = []
    server.queue(status(429, headers={"Retry-After": "1"}), answer(["after the wait"]))
    backend = make(server, notes)
    assert backend.stream(HELLO, GenerationSettings()).finish() == "after the wait"
    assert notes == [f"{server.url}/v1 is busy (429); trying again in 1 s (2 of 3)"]
    server.queue(*[status(429, headers={"Retry-After": "0"})] * 3)
    error = fails(backend.stream(HELLO, GenerationSettings()))
    assert "rate limiting requests (429) after 3 tries" in error.message and "wait a minute" in error.hint
    assert len(server.posts()) == 5


def test_503_loading_waits_for_estimated_time_capped(server):
    notes: list[str] = []
    server.queue(status(503, {"error": "Model is currently loading", "estimated_time": 600.0}), answer(["loaded"]))
    reply = make(server, notes, max_wait=0.2).stream(HELLO, GenerationSettings())
    assert reply.finish() == "loaded"
    assert "busy (503); trying again in 0.2 s" in notes[0]  # 600 s asked, capped at 0.2 s


def test_read_timeout_before_the_answer_starts(server):
    def slow(h):
        h.wait_for_disconnect(5)

    server.queue(slow)
    error = fails(make(server, read_timeout=0.3).stream(HELLO, GenerationSettings()))
    assert str(error).startswith(f"{server.url}/v1 did not answer within 0.3 s")


def test_read_timeout_in_the_middle_keeps_the_partial_answer(server):
    def stall(h):
        h.start_sse()
        h.event({"choices": [{"delta": {"content": "half an ans"}}]})
        h.wait_for_disconnect(5)

    server.queue(stall)
    reply = make(server, read_timeout=0.3).stream(HELLO, GenerationSettings())
    error = fails(reply)
    assert "stopped sending for 0.3 s in the middle of the answer" in error.message
    assert reply.text == "half an ans" and reply.stats.finish_reason == "error"
    assert "kept" in error.hint


def test_connection_dropped_mid_stream_keeps_the_partial_answer(server):
    def crash(h):
        h.start_sse()
        h.event({"choices": [{"delta": {"content": "def add"}}]})
        h.drop()

    server.queue(crash)
    reply = make(server).stream(HELLO, GenerationSettings())
    error = fails(reply)
    assert "closed in the middle of the answer" in error.message
    assert (reply.text, reply.stats.finish_reason) == ("def add", "error")


def test_error_event_mid_stream_keeps_the_partial_answer(server):
    def overloaded(h):
        h.start_sse()
        h.event({"choices": [{"delta": {"content": "Sure, "}}]})
        h.event({"error": {"message": "backend overloaded", "type": "server_error"}})
        h.end_chunks()

    server.queue(overloaded)
    reply = make(server).stream(HELLO, GenerationSettings())
    error = fails(reply)
    assert error.message.endswith("reported an error in the middle of the answer: backend overloaded")
    assert reply.text == "Sure, "


def test_malformed_json_in_the_stream_and_in_a_plain_answer(server):
    def garbled(h):
        h.start_sse()
        h.event("{not json")
        h.end_chunks()

    server.queue(garbled, lambda h: h.send_json(200, b"<html>It works!</html>"))
    backend = make(server)
    assert "is not JSON: '{not json'" in str(fails(backend.stream(HELLO, GenerationSettings())))
    error = fails(backend.stream(HELLO, GenerationSettings()))
    assert "not JSON" in error.message and "/v1" in error.hint


def test_refused_connection():
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    backend = OpenAIBackend("m", f"http://127.0.0.1:{port}/v1")
    error = fails(backend.stream(HELLO, GenerationSettings()))
    assert str(error) == (f"nothing is listening at http://127.0.0.1:{port}/v1 (connection refused) "
                          "(start the server, or fix the address with --base-url)")


def test_a_base_url_that_is_not_a_url():
    with pytest.raises(UsageError, match="not a valid http"):
        OpenAIBackend("m", "localhost:8000/v1").stream(HELLO, GenerationSettings()).finish()


def test_sse_parser_follows_the_event_stream_rules():
    lines = [b": ping", b"data: {\"a\":", b"data:1}", b"", b"event: x\r", b"data: [DONE]\r", b"", b"data: tail"]
    assert list(iter_data(lines)) == ['{"a":\n1}', "[DONE]", "tail"]


@pytest.mark.parametrize("framing", ["chunked", "close-delimited"])
def test_text_arrives_while_the_server_is_still_sending(server, framing):
    import threading

    first_shown, server_saw_it = threading.Event(), []

    def respond(h):
        if framing == "chunked":
            h.start_sse()
            send = h.event
        else:  # an HTTP/1.0-style body that simply ends when the server closes the connection
            h.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n")
            send = lambda data: (h.wfile.write(f"data: {json.dumps(data)}\n\n".encode()), h.wfile.flush())  # noqa: E731
        send(chat_chunk("first"))
        server_saw_it.append(first_shown.wait(5))  # the client shows "first" before the rest is sent
        send(chat_chunk(" second", finish="stop"))
        if framing == "chunked":
            h.event("[DONE]")
            h.end_chunks()
        else:
            h.close_connection = True

    server.queue(respond)
    reply = make(server).stream(HELLO, GenerationSettings())
    assert next(reply) == "first"
    first_shown.set()
    assert list(reply) == [" second"] and reply.stats.finish_reason == "stop"
    assert server_saw_it == [True]
