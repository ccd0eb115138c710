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


def text_tokenizer():
    """A byte-level BPE (the kind chat models use) trained on this project's prose and code."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    texts = [(ROOT / "README.md").read_text(encoding="utf-8")]
    texts += [p.read_text(encoding="utf-8") for folder in ("backends", "repl") for p in sorted((ROOT / folder).rglob("*.py"))]
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    tokenizer.train_from_iterator(texts, trainers.BpeTrainer(vocab_size=4000, show_progress=False))
    return tokenizer, texts


def test_a_chat_reply_that_says_the_same_sentence_again_and_again_is_stopped_before_a_fourth_time():
    tokenizer, _ = text_tokenizer()
    opening = "Sure! Here is why the sky is blue.\n\n"
    sentence = "Sunlight is scattered by the air, and blue light is scattered the most. "
    ids = tokenizer.encode(opening + sentence * 7).ids
    turn = len(tokenizer.encode(sentence).ids)
    guard = LoopGuard.for_chat()
    trip = next(index for index, token in enumerate(ids) if guard.push(token))
    said = tokenizer.decode(ids[:trip + 1])
    assert said.count(sentence.strip()) == 3  # written three times, then stopped before a fourth
    assert trip < len(tokenizer.encode(opening).ids) + 4 * turn


def test_real_text_is_never_taken_for_a_chat_loop():
    """The README (prose, tables, commands) and every module (a chat model writes code too) run to their
    end: a line said twice, a table of like rows, a list of similar items are not loops."""
    tokenizer, texts = text_tokenizer()
    for text in texts:
        guard = LoopGuard.for_chat()
        ids = tokenizer.encode(text).ids
        assert not any(guard.push(token) for token in ids), text[:80]
    twice = tokenizer.encode("Install it with pip install parrot and run parrot.\n" * 2).ids
    assert not ends_in_loop(twice, LoopGuard.for_chat())


def test_a_looping_chat_model_is_stopped_and_the_line_under_it_says_why(tiny_llama_backend):
    """The tiny chat model, greedy and without a penalty, writes the same token until its window is full."""
    settings = GenerationSettings(greedy=True, max_new_tokens=400, repetition_penalty=1.0)
    reply = tiny_llama_backend.stream([Message("user", "hello there, tell me a story")], settings)
    reply.finish()
    ids = [t.token_id for t in reply.tokens]
    assert reply.stats.finish_reason == "loop"
    assert len(ids) == SPAN + 1 and len(set(ids)) == 1

    class Turn:
        stats = reply.stats

    assert "stopped: it was repeating itself" in describe_end(Turn())
