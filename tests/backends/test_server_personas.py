"""The openai backend against test servers that behave like real ones (tests/support/server_personas.py):
no usage, no log-probabilities, a temperature it ignores, one model only, a window smaller than the prompt.
parrot says what it saw and claims nothing it did not see."""

from __future__ import annotations

import pytest

from backends.base import Message
from backends.errors import BackendError
from backends.hosted.openai_compat import OpenAIBackend
from backends.hosted.sampling_check import UNCHECKABLE, UNCHECKED, VERIFIED
from backends.settings import GenerationSettings
from tests.support.server_personas import Persona, llama_cpp_python, transformers_serve

HOT = GenerationSettings(temperature=1.5, max_new_tokens=20)
HELLO = [Message("user", "hello there")]


def backend_for(server, persona, model="m") -> OpenAIBackend:
    server.persona = persona
    return OpenAIBackend(model, f"{server.url}/v1")


def answered(backend, messages=HELLO, settings=HOT):
    reply = backend.stream(messages, settings)
    reply.finish()
    return reply


def test_transformers_serve_ignores_temperature_and_a_check_beside_the_first_reply_shows_it(server):
    backend = backend_for(server, transformers_serve())
    assert backend.describe().sampling.startswith(UNCHECKED)  # nothing claimed before anything was seen
    first = answered(backend)
    assert first.text and first.tokens == [] and first.stats.prompt_tokens == 0  # no probabilities, no usage
    assert backend.sampling.done.wait(10), "the check ran beside the reply"
    probes = server.probes()
    assert len(probes) == 2 and {p.body["temperature"] for p in probes} == {1.5}
    assert len({p.body["seed"] for p in probes}) == 2, "two different seeds"
    assert backend.describe().ignores == ("temperature",)
    assert "word for word" in backend.describe().sampling
    # Said once, by the first reply that can say it (this one, or the next when the check ended later).
    told = {**first.ignored, **answered(backend).ignored}
    assert list(told) == ["temperature"] and server.url in told["temperature"]
    assert answered(backend).ignored == {} and len(server.probes()) == 2  # checked once per backend


def test_a_server_that_samples_but_sends_no_probabilities_is_verified_by_the_check(server):
    backend = backend_for(server, Persona(logprobs=False, usage=False))
    answered(backend)
    assert backend.sampling.done.wait(10)
    facts = backend.describe()
    assert facts.sampling.startswith(VERIFIED) and facts.ignores == ()


def test_llama_cpp_pythons_probabilities_show_sampling_without_a_check(server):
    backend = backend_for(server, llama_cpp_python())
    reply = answered(backend)
    assert reply.tokens and reply.stats.prompt_tokens == 0  # probabilities, but no usage in its stream
    assert backend.describe().sampling.startswith(VERIFIED)
    assert server.probes() == []  # a runner-up taken at temperature 1.5 is proof enough


def test_greedy_replies_start_no_check_and_claim_nothing(server):
    backend = backend_for(server, transformers_serve())
    answered(backend, settings=GenerationSettings(greedy=True, max_new_tokens=8))
    assert server.probes() == [] and backend.describe().sampling.startswith(UNCHECKED)


def test_a_check_whose_replies_are_too_short_says_it_cannot_tell(server):
    from tests.support.openai_server import answer

    server.probe = answer(["ok"], logprobs=False, usage=None)
    backend = OpenAIBackend("m", f"{server.url}/v1")
    server.queue(answer(["a", " sampled", " reply"], logprobs=False))
    answered(backend)
    assert backend.sampling.done.wait(10)
    assert backend.describe().sampling.startswith(UNCHECKABLE) and backend.describe().ignores == ()


def test_a_server_pinned_to_one_model_names_it_and_the_flag_or_command_that_picks_it(server):
    backend = backend_for(server, transformers_serve(pinned="org/pinned-coder"), model="org/other")
    with pytest.raises(BackendError) as caught:
        answered(backend)
    error = caught.value
    assert "org/other is not served by" in error.message and "(400)" in error.message
    assert "pinned to 'org/pinned-coder'" in error.message
    assert "org/pinned-coder" in error.hint and "-m MODEL" in error.hint and "/clear" not in str(error)
    assert "`/model MODEL`" in error.in_chat().hint


@pytest.mark.parametrize("style", ["drop", "error-event"])
def test_a_prompt_over_transformers_serves_window_keeps_no_text_and_says_so(server, style):
    backend = backend_for(server, transformers_serve(window=40, over_window=style))
    long = [Message("user", "word " * 200)]
    with pytest.raises(BackendError) as caught:
        answered(backend, long)
    error = caught.value
    assert "text received so far is kept" not in str(error) and "in the middle" not in str(error)
    if style == "drop":
        assert "closed the connection before answering" in error.message and "window" in error.hint
    else:
        assert "does not fit the window" in error.message and "shorten the prompt" in error.hint
    assert "/new" in error.in_chat().hint
    assert answered(backend).text, "a short prompt is answered as before"


def test_a_prompt_over_llama_cpps_window_is_a_400_that_names_the_window(server):
    backend = backend_for(server, llama_cpp_python(window=40))
    with pytest.raises(BackendError) as caught:
        answered(backend, [Message("user", "word " * 200)])
    assert "does not fit the window of m" in caught.value.message
    assert "--max-tokens" in caught.value.hint and "/new" in caught.value.in_chat().hint


def test_a_cut_after_some_text_still_says_the_text_is_kept(server):
    from tests.support.openai_server import chat_chunk

    def cut(h):
        h.start_sse()
        h.event(chat_chunk("partial words"))
        h.drop()

    server.queue(cut)
    reply = OpenAIBackend("m", f"{server.url}/v1").stream(HELLO, GenerationSettings(greedy=True))
    with pytest.raises(BackendError) as caught:
        reply.finish()
    assert "in the middle of the answer" in caught.value.message and "kept" in caught.value.hint
    assert reply.text == "partial words"
