"""The local backend on tiny real models: determinism, sampling, cancel, trimming, probabilities."""

import threading

import pytest

from backends.base import Message
from backends.settings import GenerationSettings

GREEDY = GenerationSettings(greedy=True, max_new_tokens=24)


def ask(backend, text, settings=GREEDY, cancel=None):
    reply = backend.stream([Message("user", text)], settings, cancel)
    reply.finish()
    return reply


@pytest.mark.parametrize("fixture", ["tiny_llama_backend", "tiny_gpt2_backend"])
def test_greedy_output_is_identical_across_runs(request, fixture):
    backend = request.getfixturevalue(fixture)
    first, second = ask(backend, "def add(a, b):"), ask(backend, "def add(a, b):")
    assert first.text and first.text == second.text
    assert [t.token_id for t in first.tokens] == [t.token_id for t in second.tokens]
    assert first.stats.completion_tokens == len(first.tokens) > 0


def test_sampling_is_reproducible_with_a_seed(tiny_llama_backend):
    settings = GenerationSettings(temperature=1.0, top_p=1.0, top_k=0, seed=1234, max_new_tokens=24)
    a, b = ask(tiny_llama_backend, "Hello", settings), ask(tiny_llama_backend, "Hello", settings)
    assert a.text == b.text and a.stats.seed == 1234
    others = {ask(tiny_llama_backend, "Hello", settings.updated(seed=s)).text for s in range(5)}
    assert len(others) > 1, "different seeds should give different samples"


def test_unseeded_sampling_records_the_seed_that_reproduces_it(tiny_llama_backend):
    settings = GenerationSettings(temperature=1.0, max_new_tokens=16)
    first = ask(tiny_llama_backend, "Hello", settings)
    assert first.stats.seed is not None
    again = ask(tiny_llama_backend, "Hello", settings.updated(seed=first.stats.seed))
    assert again.text == first.text


def test_greedy_probabilities_are_the_maxima_at_each_step(tiny_llama_backend):
    reply = ask(tiny_llama_backend, "The quick brown fox")
    for token in reply.tokens:
        assert token.prob == pytest.approx(token.top[0][1])
        assert token.prob >= max(p for _, p in token.top)
        assert 0 < token.prob <= 1


def test_cancel_from_another_thread_stops_within_one_token(tiny_llama_backend):
    cancel = threading.Event()
    settings = GenerationSettings(greedy=True, max_new_tokens=200)
    reply = tiny_llama_backend.stream([Message("user", "Tell me a story")], settings, cancel)
    produced_at_cancel = None
    for _ in reply:
        if produced_at_cancel is None and reply.stats.completion_tokens >= 3:
            setter = threading.Thread(target=cancel.set)
            setter.start()
            setter.join()
            produced_at_cancel = reply.stats.completion_tokens
    assert reply.stats.finish_reason == "cancelled"
    assert reply.stats.completion_tokens <= produced_at_cancel + 1


def test_reply_that_hits_max_new_tokens_is_marked_length(tiny_gpt2_backend):
    reply = ask(tiny_gpt2_backend, "x", GenerationSettings(greedy=True, max_new_tokens=5))
    assert reply.stats.completion_tokens <= 5
    if reply.stats.completion_tokens == 5:
        assert reply.stats.finish_reason == "length"


def test_long_conversation_drops_oldest_turns_and_says_so(tiny_llama_backend):
    window = tiny_llama_backend.context_window
    long = "the quick brown fox jumps over the lazy dog " * 8
    messages = [Message("system", "be brief")]
    for i in range(12):
        messages += [Message("user", f"{i} {long}"), Message("assistant", long)]
    messages.append(Message("user", "last question"))
    settings = GenerationSettings(greedy=True, max_new_tokens=16)
    ids, dropped, cut = tiny_llama_backend.prompt_ids(messages, settings)
    assert dropped > 0 and cut == 0
    assert len(ids) <= window - 16
    text = tiny_llama_backend.tokenizer.decode(ids)
    assert "be brief" in text and "last question" in text and "0 the quick" not in text
    reply = tiny_llama_backend.stream(messages, settings)
    reply.finish()
    assert reply.stats.dropped_messages == dropped
    assert reply.stats.prompt_tokens == len(ids)


def test_single_message_longer_than_the_window_is_cut_from_its_start(tiny_gpt2_backend):
    text = "def add(a, b):\n    return a + b\n" * 60
    settings = GenerationSettings(greedy=True, max_new_tokens=8)
    ids, _, cut = tiny_gpt2_backend.prompt_ids([Message("user", text)], settings)
    assert cut > 0 and len(ids) == tiny_gpt2_backend.context_window - 8


def test_completion_model_continues_raw_text(tiny_gpt2_backend):
    tokenizer = tiny_gpt2_backend.tokenizer
    reply = ask(tiny_gpt2_backend, "class SimpleAdder {")
    assert reply.stats.prompt_tokens == len(tokenizer("class SimpleAdder {").input_ids)
    assert tiny_gpt2_backend.describe().mode == "completion"


def test_chat_model_uses_its_template_and_system_prompt(tiny_llama_backend):
    settings = GenerationSettings(greedy=True, max_new_tokens=4, system="You are terse.")
    ids, _, _ = tiny_llama_backend.prompt_ids([Message("user", "hi")], settings)
    text = tiny_llama_backend.tokenizer.decode(ids)
    assert text.startswith("<|im_start|>system\nYou are terse.<|im_end|>")
    assert text.endswith("<|im_start|>assistant\n")
    assert tiny_llama_backend.describe().mode == "chat"


def test_stop_string_ends_the_reply_without_showing_it(tiny_llama_backend):
    full = ask(tiny_llama_backend, "Hello", GenerationSettings(greedy=True, max_new_tokens=30)).text
    assert len(full) > 4
    stop = full[3:5]
    cut = ask(tiny_llama_backend, "Hello", GenerationSettings(greedy=True, max_new_tokens=30, stop=(stop,)))
    assert cut.text == full[: full.index(stop)]
    assert cut.stats.finish_reason == "stop"


@pytest.mark.parametrize("given, completion, chat", [(None, 1.1, 1.0), (1.0, 1.0, 1.0), (1.3, 1.3, 1.3)])
def test_repetition_penalty_is_a_per_mode_default_and_a_given_value_wins(
        tiny_gpt2_backend, tiny_llama_backend, given, completion, chat):
    settings = GenerationSettings(greedy=True, max_new_tokens=2, repetition_penalty=given)
    for backend, expected in ((tiny_gpt2_backend, completion), (tiny_llama_backend, chat)):
        reply = backend.stream([Message("user", "def add(a, b):")], settings)
        reply.finish()
        assert reply.settings.repetition_penalty == expected, backend.describe().mode
