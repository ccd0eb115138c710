"""/compare: two tiny models answer with the same settings and seed and score each other's replies."""

from __future__ import annotations

import math
import re

from backends import registry
from backends.base import Message
from backends.settings import GenerationSettings
from finetune.compare import compare
from finetune.scoring import score_reply, token_logprobs
from tests.support.helpers import run_parrot
from tests.support.openai_server import FakeServer, answer


def test_a_score_is_the_models_own_loss_over_the_reply(tiny_gpt2_backend):
    import torch

    loaded = tiny_gpt2_backend.load()
    ids = loaded.tokenizer("def add(a, b):\n    return a + b\n").input_ids
    with torch.inference_mode():
        loss = float(loaded.model(torch.tensor([ids]), labels=torch.tensor([ids])).loss)
    score = token_logprobs(loaded.model, ids, start=1)
    assert score.tokens == len(ids) - 1
    assert math.isclose(score.mean_logprob, -loss, rel_tol=1e-4)
    assert math.isclose(score.perplexity, math.exp(loss), rel_tol=1e-3)


def test_scoring_a_reply_counts_only_the_replys_tokens(tiny_gpt2_backend):
    prompt, reply = "def add(a, b):", "\n    return a + b"
    score = score_reply(tiny_gpt2_backend, [Message("user", prompt)], reply)
    tokenizer = tiny_gpt2_backend.tokenizer
    whole, before = tokenizer(prompt + reply).input_ids, tokenizer(prompt).input_ids
    assert score.tokens == len(whole) - len(before) > 0


def test_both_models_answer_with_the_same_seed_and_each_reply_is_scored_by_both(tiny_gpt2_backend,
                                                                               tiny_llama_backend):
    models = [("gpt2", tiny_gpt2_backend), ("llama", tiny_llama_backend)]
    # A fixed seed: a free draw of these tiny random models can end at once with nothing shown (a partial
    # UTF-8 byte, then end of text), which says nothing about /compare.
    settings = GenerationSettings(temperature=0.9, max_new_tokens=6, seed=1234)
    answers = compare(models, [Message("user", "class SimpleAdder {")], settings)
    seeds = {a.stats.seed for a in answers}
    assert len(seeds) == 1 and None not in seeds
    for a in answers:
        assert a.text and set(a.scores) == {"gpt2", "llama"}
        assert all(s.tokens > 0 and s.mean_logprob < 0 for s in a.scores.values())
    again = compare(models, [Message("user", "class SimpleAdder {")], settings.updated(seed=answers[0].stats.seed))
    assert [a.text for a in again] == [a.text for a in answers]  # the same seed gives the same replies


def test_a_backend_that_cannot_score_says_so_and_the_rest_is_shown(tiny_gpt2_backend):
    server = FakeServer()
    try:
        server.queue(answer(["hello", " there"]))
        http = registry.create("openai", "hosted", base_url=server.url + "/v1")
        answers = compare([("hosted", http), ("gpt2", tiny_gpt2_backend)], [Message("user", "hi")],
                          GenerationSettings(greedy=True, max_new_tokens=4))
    finally:
        server.stop()
    assert answers[0].text == "hello there"
    assert "cannot score" in answers[0].scores["hosted"]
    assert answers[0].scores["gpt2"].tokens > 0  # the local model still scores the hosted reply


def test_compare_in_a_script_stacks_both_replies_with_speed_and_the_score_table(tiny_gpt2, tiny_llama, parrot_home):
    script = f"/set seed=3\n/set max=8\n/compare {tiny_gpt2} {tiny_llama} class SimpleAdder {{\n/compare {tiny_gpt2} {tiny_llama}\n"
    result = run_parrot(["--script", "-"], stdin=script.encode(), env={"PARROT_HOME": str(parrot_home)})
    out = result.stdout.decode()
    assert out.count(f"── {tiny_gpt2} (") == 1 and out.count(f"── {tiny_llama} (") == 1
    assert len(re.findall(r"tokens/s, seed 3\)", out)) == 2
    rows = re.findall(r"^(\S+)\s+(-\d+\.\d+)/token, ppl (\d+\.\d+)\s+(-\d+\.\d+)/token, ppl (\d+\.\d+)", out, re.M)
    assert [r[0] for r in rows] == [str(tiny_gpt2), str(tiny_llama)]
    # The second /compare has no prompt and none earlier in the conversation: one line, a usage error.
    assert result.stderr.decode().strip().endswith("no prompt yet to compare on (give one: /compare A B [PROMPT])")
    assert result.returncode == 2
