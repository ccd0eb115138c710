"""Servers that misbehave: an HTML error page, a stream of garbage, a cut connection, an empty body,
a reply in no known shape. One line each, exit 1 where there is one, the chat stays up, and the
stored conversation keeps what it had."""

from __future__ import annotations

import pytest

from tests.support.hostile_modes import MODES, assert_one_line, run_mode, seed_conversation, stored_turns


def html_500(h):
    body = b"<html><body><h1>500 Internal Server Error</h1>" + b"x" * 5000 + b"</body></html>"
    h.send_response(500)
    h.send_header("Content-Type", "text/html")
    h.send_header("Content-Length", str(len(body)))
    h.end_headers()
    h.wfile.write(body)


def garbage_stream(h):
    h.start_sse()
    h.chunk("data: {this is not json\n\n")
    h.chunk("data: [DONE]\n\n")
    h.end_chunks()


def cut_mid_stream(h):
    from tests.support.openai_server import chat_chunk

    h.start_sse()
    h.event(chat_chunk("partial words"))
    h.drop()


def empty_body(h):
    h.send_response(200)
    h.send_header("Content-Type", "text/event-stream")
    h.send_header("Content-Length", "0")
    h.end_headers()


def wrong_shape(h):
    h.start_sse()
    h.event({"choices": "not a list"})
    h.event({"unexpected": [1, 2, 3]})
    h.event("[DONE]")
    h.end_chunks()


def binary_noise(h):
    h.start_sse()
    h.chunk("data: \udcff\n\n".encode("utf-8", "surrogateescape").decode("latin-1"))
    h.wfile.write(b"5\r\n\xff\xfe\x00\x01\n\r\n")
    h.end_chunks()


SERVERS = {"html-500": html_500, "garbage-json": garbage_stream, "cut-mid-stream": cut_mid_stream,
           "empty-body": empty_body, "wrong-shape": wrong_shape, "binary-noise": binary_noise}


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("case", SERVERS)
def test_a_misbehaving_server_is_one_line_and_loses_nothing(case, mode, server, no_keyring):
    conversation = seed_conversation()
    server.models = ["m"]
    server.queue(*[SERVERS[case]] * 4)  # also for a retry
    args = ["-b", "openai", "--base-url", f"{server.url}/v1", "-m", "m"]
    outcome = run_mode(mode, ["hello"], args, timeout=120)
    assert "Traceback" not in outcome.text and "<html>" not in outcome.text, outcome.text
    if mode in ("script", "oneshot"):
        assert outcome.code in (0, 1), outcome.text
        if outcome.code == 1:
            assert_one_line(outcome, server.url.split("//")[1].split(":")[0])
    if mode == "app":
        assert outcome.running
    if mode == "plain":
        assert outcome.code == 0
    assert stored_turns(conversation) == [("user", "keep me"), ("assistant", "kept")]
    if case in ("html-500", "cut-mid-stream") and mode in ("script", "oneshot"):
        assert outcome.code == 1
