"""A code continuation that goes round in a loop is ended, and says so; real code is never taken for one."""

from __future__ import annotations

import re
from pathlib import Path

from backends.base import Message
from backends.local.loop_guard import PERIOD, SPAN, LoopGuard, ends_in_loop
from backends.settings import GenerationSettings
from repl.chat.replies import describe_end

ROOT = Path(__file__).resolve().parents[2]


def word_ids(text: str) -> list[int]:
    """Words and marks as ids: a stand-in for a tokenizer that keeps the structure of code."""
    vocabulary: dict[str, int] = {}
    return [vocabulary.setdefault(word, len(vocabulary)) for word in re.findall(r"\w+|\S", text)]


def first_trip(ids: list[int]) -> int | None:
    guard = LoopGuard()
    return next((index for index, token in enumerate(ids) if guard.push(token)), None)


def test_a_loop_is_found_as_soon_as_it_has_repeated_for_the_span():
    start = word_ids("function add(a, b) {\n  const total = a + b;\n")
    for length in (1, 12, PERIOD):  # a token, a line, a whole block the model writes again and again
        turn = [900 + i for i in range(length)]
        trip = first_trip(start + turn * (200 // length + 2))
        assert trip == len(start) + length + SPAN - 1  # the first token that makes SPAN in a row
        assert ends_in_loop(start + turn * (200 // length + 2))


def test_a_near_repeat_or_a_longer_turn_is_not_a_loop():
    line = [900 + i for i in range(12)]
    varied = [token for n in range(40) for token in line[:-1] + [2000 + n]]  # one token differs each turn
    assert first_trip(varied) is None
    block = list(range(3000, 3000 + PERIOD + 1))
    assert first_trip(block * 3) is None


def test_real_code_is_never_taken_for_a_loop():
    """Every source file of this project, through a byte-level BPE trained on them (the GPT-2 kind), runs to
    its end without tripping the guard: section rules, tables of options and repeated calls included."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    files = [p for folder in ("backends", "repl", "finetune", "bench") for p in sorted((ROOT / folder).rglob("*.py"))]
    texts = [path.read_text(encoding="utf-8") for path in files]
    assert len(files) > 50
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    tokenizer.train_from_iterator(texts, trainers.BpeTrainer(vocab_size=4000, show_progress=False))
    for path, text in zip(files, texts):
        ids = tokenizer.encode(text).ids
        assert first_trip(ids) is None, f"{path.name} read as a loop at token {first_trip(ids)}"


def test_a_looping_completion_model_is_stopped_and_the_line_under_it_says_why(tiny_gpt2_backend):
    settings = GenerationSettings(greedy=True, max_new_tokens=400, repetition_penalty=1.0)
    reply = tiny_gpt2_backend.stream([Message("user", "function add(a, b) {")], settings)
    reply.finish()
    ids = [t.token_id for t in reply.tokens]
    assert reply.stats.finish_reason == "loop"
    assert SPAN < len(ids) < 400 and ends_in_loop(ids)

    class Turn:
        stats = reply.stats

    assert "repeating itself" in describe_end(Turn())
