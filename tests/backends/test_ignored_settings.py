"""A server that ignores a setting is caught from its answer, over real HTTP, and said once."""

from __future__ import annotations

import threading

import pytest

from backends.base import Message
from backends.hosted.openai_compat import OpenAIBackend
from backends.settings import GenerationSettings
from tests.support.openai_server import decoding

HELLO = [Message("user", "hello")]
HOT = GenerationSettings(temperature=1.5, max_new_tokens=40)


def ask(backend, settings=HOT):
    reply = backend.stream(HELLO, settings)
    reply.finish()
    return reply


def test_a_server_that_decodes_greedily_at_temperature_1_5_ignores_temperature(server):
    backend = OpenAIBackend("test", f"{server.url}/v1")
    server.queue(decoding(30, sample=False), decoding(30, sample=False))
    first = ask(backend)
    assert server.posts()[0].body["temperature"] == 1.5, "the setting was sent"
    assert list(first.ignored) == ["temperature"]
    assert "ignores temperature" in first.ignored["temperature"] and server.url in first.ignored["temperature"]
    assert backend.describe().ignores == ("temperature",)
    assert ask(backend).ignored == {}, "said once: the backend already knows"


def test_a_server_that_samples_is_not_accused(server):
    backend = OpenAIBackend("test", f"{server.url}/v1")
    server.queue(decoding(30, sample=True, seed=1))
    assert ask(backend).ignored == {} and backend.describe().ignores == ()


@pytest.mark.parametrize("settings, count", [
    (GenerationSettings(temperature=0.7, max_new_tokens=40), 30),  # below 1 the top token may well be near certain
    (HOT, 8),  # too few tokens to tell: 0.5/0.9 ** 8 is 1 in 110
    (GenerationSettings(greedy=True, max_new_tokens=40), 30),
])
def test_greedy_looking_answers_are_not_judged_where_sampling_would_look_the_same(server, settings, count):
    backend = OpenAIBackend("test", f"{server.url}/v1")
    server.queue(decoding(count, sample=False))
    assert ask(backend, settings).ignored == {}


def test_a_server_that_echoes_another_temperature_ignored_the_one_sent(server):
    backend = OpenAIBackend("test", f"{server.url}/v1")
    server.queue(decoding(3, sample=True, echo={"temperature": 1.0}))
    reply = ask(backend, GenerationSettings(temperature=0.3))
    assert "temperature 1, not the 0.3 it was sent" in reply.ignored["temperature"]


def test_the_session_is_told_once_per_setting_even_across_backend_switches(server):
    from repl.chat.replies import stream_reply
    from repl.chat.session import Session

    session = Session("openai", "test", HOT, base_url=f"{server.url}/v1")
    notes: list[str] = []
    server.queue(*[decoding(30, sample=False) for _ in range(3)])
    stream_reply(session, "one", threading.Event(), lambda text: None, notes.append)
    stream_reply(session, "two", threading.Event(), lambda text: None, notes.append)
    session.use_backend("openai", "test")  # a new backend learns it again, but the person knows already
    stream_reply(session, "three", threading.Event(), lambda text: None, notes.append)
    assert len(notes) == 1 and "ignores temperature" in notes[0]
    assert session.backend.describe().ignores == ("temperature",)
