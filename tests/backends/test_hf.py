"""The hf backend (router chat and the hf-inference task endpoint) and where tokens may travel."""

from __future__ import annotations

import math

import pytest

from backends import registry
from backends.base import Message
from backends.errors import BackendError, NeedsToken
from backends.hosted.hf import ROUTER_URL, HfBackend
from backends.hosted.openai_compat import OpenAIBackend
from backends.settings import GenerationSettings
from tests.support.openai_server import FakeServer, status

FAKE = "hf_FakeTokenForTests0123456789"
HELLO = [Message("user", "hi")]


@pytest.fixture
def token(monkeypatch, memory_keyring):
    monkeypatch.setenv("HF_TOKEN", FAKE)
    return FAKE


def test_router_chat_sends_the_token_and_the_provider_suffix(server, token):
    backend = HfBackend("Qwen/Qwen2.5-Coder-7B-Instruct:nebius", router_url=server.url)
    reply = backend.stream(HELLO, GenerationSettings())
    assert reply.finish() == "Hello world" and reply.stats.backend == "hf"
    sent = server.posts()[0]
    assert sent.path == "/v1/chat/completions"
    assert sent.headers["Authorization"] == f"Bearer {FAKE}"
    assert sent.body["model"] == "Qwen/Qwen2.5-Coder-7B-Instruct:nebius"
    assert FAKE not in repr(backend) and FAKE not in str(backend.describe())


def test_no_token_says_how_to_log_in(server, memory_keyring):
    error = pytest.raises(NeedsToken, HfBackend("org/model", router_url=server.url).stream(HELLO, GenerationSettings()).finish)
    assert str(error.value).startswith("the Hugging Face router needs an access token (run /login (or `parrot login`)")
    assert server.posts() == []


def test_refused_token_and_exhausted_credits(server, token):
    server.queue(status(401, {"error": "Invalid credentials in Authorization header"}),
                 status(402, {"error": "You have exceeded your monthly included credits"}))
    backend = HfBackend("org/model", router_url=server.url)
    error = pytest.raises(BackendError, backend.stream(HELLO, GenerationSettings()).finish).value
    assert f"the Hugging Face router at {server.url} refused the token (401)" in error.message
    assert error.hint.startswith("run /login")
    error = pytest.raises(BackendError, backend.stream(HELLO, GenerationSettings()).finish).value
    assert "(402)" in error.message and "huggingface.co/settings/billing" in error.hint


def tgi_stream(pieces, finish="length"):
    def respond(h):
        h.start_sse()
        for i, piece in enumerate(pieces):
            last = i == len(pieces) - 1
            h.event({"index": i, "token": {"id": 100 + i, "text": piece, "logprob": -0.25, "special": False},
                     "top_tokens": [{"id": 100 + i, "text": piece, "logprob": -0.25},
                                    {"id": 7, "text": "x", "logprob": -2.0}],
                     "generated_text": "".join(pieces) if last else None,
                     "details": {"finish_reason": finish, "generated_tokens": len(pieces)} if last else None})
        h.end_chunks()

    return respond


def test_completion_model_uses_the_task_endpoint(server, token):
    server.queue(tgi_stream(["    return", " a + b"]))
    backend = registry.create("hf", "codeparrot", router_url=server.url, base_url="http://elsewhere/v1")
    assert backend.describe().mode == "completion"
    reply = backend.stream([Message("user", "def add(a, b):\n")], GenerationSettings(greedy=True, max_new_tokens=2))
    assert reply.finish() == "    return a + b"
    assert (reply.stats.finish_reason, reply.stats.completion_tokens) == ("length", 2)
    assert reply.tokens[0].token_id == 100 and reply.tokens[0].prob == pytest.approx(math.exp(-0.25))
    sent = server.posts()[0]
    assert sent.path == "/hf-inference/models/codeparrot/codeparrot-small"
    assert sent.body["inputs"] == "def add(a, b):\n" and sent.body["stream"] is True
    assert sent.body["parameters"] == {"max_new_tokens": 2, "return_full_text": False, "details": True,
                                       "top_n_tokens": 5, "do_sample": False,
                                       "repetition_penalty": 1.1}  # the completion-mode default, as locally
    assert sent.headers["Authorization"] == f"Bearer {FAKE}"


def test_completion_model_not_served(server, token):
    server.queue(status(404, {"error": "Model codeparrot/codeparrot-small does not exist"}))
    backend = HfBackend("codeparrot", router_url=server.url)
    error = pytest.raises(BackendError, backend.stream(HELLO, GenerationSettings()).finish).value
    assert "codeparrot/codeparrot-small is not served" in error.message and "/backend local" in error.hint


def test_completion_without_streaming(server, token):
    server.queue(status(200, [{"generated_text": " pass", "details": {"finish_reason": "eos_token"}}]))
    reply = HfBackend("some/model", mode="completion", router_url=server.url, stream=False).stream(HELLO, GenerationSettings())
    assert reply.finish() == " pass" and reply.stats.finish_reason == "stop"


def test_hf_backend_ignores_an_openai_base_url():
    backend = registry.create("hf", "org/model", base_url="http://127.0.0.1:1/v1")
    assert backend.describe().base_url == ROUTER_URL


def test_openai_backend_never_gets_the_hf_token(server, token):
    OpenAIBackend("m", server.url + "/v1").stream(HELLO, GenerationSettings()).finish()
    assert "Authorization" not in server.posts()[0].headers


@pytest.mark.parametrize("other_host", ["localhost", "127.0.0.2"])
def test_a_redirect_to_another_host_never_carries_the_key(server, other_host):
    elsewhere = FakeServer("127.0.0.2" if other_host == "127.0.0.2" else "127.0.0.1")
    try:
        port = elsewhere.server_address[1]
        target = f"http://{other_host}:{port}/v1/chat/completions"
        server.queue(lambda h: h.send_json(307, {}, {"Location": target}))
        backend = OpenAIBackend("m", server.url + "/v1", api_key=FAKE)
        assert backend.stream(HELLO, GenerationSettings()).finish() == "Hello world"
        assert server.posts()[0].headers["Authorization"] == f"Bearer {FAKE}"
        assert [p.path for p in elsewhere.posts()] == ["/v1/chat/completions"]
        assert "Authorization" not in elsewhere.posts()[0].headers
    finally:
        elsewhere.stop()


def test_a_hosted_code_continuation_ends_with_its_block(server, token):
    pieces = ["\n  return", " a + b;\n", "}\n", "\nfunction", " sub(a, b) {\n", "  return a - b;\n}\n"]
    server.queue(tgi_stream(pieces), status(200, [{"generated_text": "".join(pieces),
                                                   "details": {"finish_reason": "length"}}]))
    prompt = [Message("user", "function add(a, b) {")]
    reply = HfBackend("some/model", mode="completion", router_url=server.url).stream(prompt, GenerationSettings())
    assert reply.finish() == "\n  return a + b;\n}\n"
    assert reply.stats.finish_reason == "stop" and reply.stats.completion_tokens == 3
    whole = HfBackend("some/model", mode="completion", router_url=server.url, stream=False).stream(
        prompt, GenerationSettings())
    assert whole.finish() == "\n  return a + b;\n}\n" and whole.stats.finish_reason == "stop"
