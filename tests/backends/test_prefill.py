"""Chunked prefill: a prompt fed in chunks gives the same logits and tokens as fed at once, in the
lean decoder and on transformers' own forward. (Its memory bound is shown by bench/decode.py --prefill.)"""

import pytest
import torch

from backends.lean import decoder as lean
from backends.loading.models import load, resolve
from backends.local.decoding import decode
from backends.settings import GenerationSettings

GREEDY = GenerationSettings(greedy=True, max_new_tokens=12)
PROMPT = "def add(a, b):\n    return a + b\n\nclass SimpleAdder {\n  add(a, b) {\n    return a + b;\n  }\n}\n"


def greedy_ids(decoder, loaded, prompt=PROMPT):
    ids = torch.tensor([loaded.tokenizer(prompt, add_special_tokens=False).input_ids])
    return [s.token_id for s in decode(decoder, ids, GREEDY, eos_ids=set(), window=loaded.window)]


@pytest.fixture(scope="module")
def llama(tiny_llama):
    return load(resolve(str(tiny_llama)), "cpu", "float32", quantize="none")


def test_the_prompt_is_longer_than_a_chunk(llama, monkeypatch):
    monkeypatch.setattr(lean, "PREFILL_CHUNK", 7)
    assert len(llama.tokenizer(PROMPT, add_special_tokens=False).input_ids) > 3 * 7


@pytest.mark.parametrize("chunk", [1, 7, 16])
def test_chunked_prefill_in_the_lean_decoder_matches_one_pass_and_transformers(llama, monkeypatch, chunk):
    whole = greedy_ids(llama.fast, llama)
    ids = torch.tensor([llama.tokenizer(PROMPT, add_special_tokens=False).input_ids])
    with torch.inference_mode():
        all_at_once = llama.fast(ids, llama.fast.new_cache(ids.shape[-1]), every_position=True)
        reference = llama.model(input_ids=ids).logits[0].float()
    monkeypatch.setattr(lean, "PREFILL_CHUNK", chunk)
    assert greedy_ids(llama.fast, llama) == whole == greedy_ids(llama.model, llama)
    with torch.inference_mode():
        chunked = llama.fast(ids, llama.fast.new_cache(ids.shape[-1]), every_position=True)
    assert chunked.shape == all_at_once.shape == reference.shape
    torch.testing.assert_close(chunked, all_at_once, rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(chunked, reference, rtol=1e-4, atol=1e-4)


def test_chunked_prefill_on_transformers_forward_matches_one_pass(tiny_gpt2, monkeypatch):
    gpt2 = load(resolve(str(tiny_gpt2)), "cpu", "float32", quantize="none", lean=False)
    whole = greedy_ids(gpt2.model, gpt2)
    monkeypatch.setattr(lean, "PREFILL_CHUNK", 5)
    assert greedy_ids(gpt2.model, gpt2) == whole


def test_a_long_prompt_says_how_far_it_got_and_a_cancel_stops_it_between_parts(tiny_llama_backend, monkeypatch):
    from backends.base import Message
    from backends.cancel import Cancel
    from backends.reply import Prefill

    monkeypatch.setattr(lean, "PREFILL_CHUNK", 16)  # the tiny model's window holds a few parts of 16
    messages = [Message("user", PROMPT)]
    heard: list[Prefill] = []
    reply = tiny_llama_backend.stream(messages, GREEDY)
    reply.on_prefill = heard.append
    reply.finish()
    total = reply.stats.prompt_tokens
    assert [p.done for p in heard] == [min(done, total) for done in range(16, total + 16, 16)]
    assert all(p.total == total for p in heard) and reply.stats.completion_tokens > 0

    cancel = Cancel()
    stopped = tiny_llama_backend.stream(messages, GREEDY, cancel)
    stopped.on_prefill = lambda progress: cancel.set() if progress.done >= 32 else None
    assert stopped.finish() == "" and stopped.stats.finish_reason == "cancelled"
    assert stopped.stats.completion_tokens == 0  # stopped while reading the prompt, before any token
