"""One stop rule ends a local reply: end-of-text ids, the token limit, the window, a cancel, stop strings and
a code continuation's block end, each saying how the reply finished."""

from __future__ import annotations

import threading

import torch

from backends.base import Message
from backends.local.decoding import decode
from backends.local.stop_rule import StopRule
from backends.reply import TokenChoice
from backends.settings import GenerationSettings

GREEDY = GenerationSettings(greedy=True, max_new_tokens=8)


def steps(backend, rule, text="def add(a, b):"):
    loaded = backend.load()
    ids = torch.tensor([loaded.tokenizer(text, add_special_tokens=False).input_ids])
    return [s.token_id for s in decode(loaded.decoder, ids, GREEDY, stop=rule)], ids.shape[-1]


def test_the_token_limit_the_window_and_a_cancel_halt_decoding(tiny_gpt2_backend):
    rule = StopRule(frozenset(), max_new_tokens=5, window=10_000)
    produced, _ = steps(tiny_gpt2_backend, rule)
    assert len(produced) == 5 and rule.reason == "length"
    _, length = steps(tiny_gpt2_backend, StopRule(frozenset(), 5, 10_000))
    rule = StopRule(frozenset(), max_new_tokens=50, window=length + 3)
    assert len(steps(tiny_gpt2_backend, rule)[0]) == 3 and rule.reason == "length"
    cancel = threading.Event()
    cancel.set()
    rule = StopRule(frozenset(), 50, 10_000, cancel)
    assert steps(tiny_gpt2_backend, rule)[0] == [] and rule.reason == "cancelled"


def test_an_end_of_text_token_ends_the_reply(tiny_gpt2_backend):
    first = steps(tiny_gpt2_backend, StopRule(frozenset(), 3, 10_000))[0]
    end = first[-1]
    rule = StopRule(frozenset({end}), 50, 10_000)
    assert steps(tiny_gpt2_backend, rule)[0] == first[:first.index(end) + 1] and rule.reason == "stop"


def test_stop_strings_are_held_back_and_cut():
    rule = StopRule.for_reply(GenerationSettings(stop=("END",)), set(), 100)
    shown = [rule.text(piece) for piece in ("abc E", "N", "D and more")]
    assert "".join(shown) == "abc " and rule.ended and rule.reason == "stop"
    assert rule.cut("one END two") == "one "


def test_a_completion_reply_ends_with_its_block_through_the_backend(tiny_gpt2_backend):
    """A forced prefix that closes the block ends the reply there: nothing more is decoded."""
    loaded = tiny_gpt2_backend.load()
    body = "\n  return a + b;\n}\n\nfunction sub(a, b) {\n"
    ids = loaded.tokenizer(body, add_special_tokens=False).input_ids
    prefix = [TokenChoice(i, loaded.tokenizer.decode([i]), 1.0) for i in ids]
    reply = tiny_gpt2_backend.stream_from([Message("user", "function add(a, b) {")], GREEDY, prefix)
    assert reply.finish() == "\n  return a + b;\n}\n"
    assert reply.stats.finish_reason == "stop"
    assert len(reply.tokens) == len(prefix)
