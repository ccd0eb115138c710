"""The thread tuner: probes each thread count, keeps the fastest, and never changes the tokens."""

import time

import pytest
import torch

from backends.lean import threads
from backends.lean.threads import ThreadTuner
from backends.loading.models import load, resolve
from backends.local.decoding import decode
from backends.settings import GenerationSettings


@pytest.fixture
def two_threads():
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(before)


@pytest.mark.parametrize("slow, expected", [(2, 1), (1, 2)])
def test_the_tuner_keeps_the_thread_count_whose_steps_were_faster(two_threads, slow, expected):
    tuner = ThreadTuner(most=2)
    used = set()
    for _ in range(threads.CYCLE + 2 * threads.PROBE):
        with tuner:
            used.add(torch.get_num_threads())
            time.sleep(0.003 if torch.get_num_threads() == slow else 0.0)
    assert used == {1, 2}, "both choices were tried"
    assert tuner.best == expected
    assert torch.get_num_threads() == expected


def test_one_thread_asked_for_is_never_changed():
    tuner = ThreadTuner(most=1)
    assert tuner.choices == [1]
    with tuner:
        assert torch.get_num_threads() == 1


def test_tokens_do_not_depend_on_the_thread_changes(two_threads, tiny_llama, monkeypatch):
    monkeypatch.setattr(threads, "CYCLE", 8)
    monkeypatch.setattr(threads, "PROBE", 2)  # switches every few steps during the reply
    loaded = load(resolve(str(tiny_llama)), "cpu", "float32", quantize="none")
    ids = torch.tensor([loaded.tokenizer("def add(a, b):", add_special_tokens=False).input_ids])
    greedy = GenerationSettings(greedy=True, max_new_tokens=40)
    fast = [s.token_id for s in decode(loaded.fast, ids, greedy, eos_ids=set(), window=loaded.window)]
    hf = [s.token_id for s in decode(loaded.model, ids, greedy, eos_ids=set(), window=loaded.window)]
    assert fast == hf


def test_steps_that_turn_slow_make_the_tuner_measure_again_at_once(two_threads):
    tuner = ThreadTuner(most=2)
    slow = 1

    def step():
        with tuner:
            time.sleep(0.004 if torch.get_num_threads() == slow else 0.0)

    for _ in range(2 * threads.PROBE + 1):
        step()
    assert tuner.best == 2
    slow = 2  # another program took a core: two threads now stall
    for _ in range(threads.SLOW_STEPS + 2 * threads.PROBE + 1):
        step()
    assert tuner.best == 1, "measured again long before the cycle's end"


def test_a_decode_gives_the_process_its_thread_count_back(two_threads, tiny_llama, monkeypatch):
    monkeypatch.setattr(threads, "CYCLE", 8)
    monkeypatch.setattr(threads, "PROBE", 2)
    loaded = load(resolve(str(tiny_llama)), "cpu", "float32", quantize="none")
    ids = torch.tensor([loaded.tokenizer("def add(a, b):", add_special_tokens=False).input_ids])
    greedy = GenerationSettings(greedy=True, max_new_tokens=3)  # ends inside the one-thread probe
    seen = []
    for _ in decode(loaded.fast, ids, greedy, eos_ids=set(), window=loaded.window):
        seen.append(torch.get_num_threads())
    assert 1 in seen, "the tuner switched to one thread during the reply"
    assert torch.get_num_threads() == 2, "training or another model after the reply gets both threads"
    from backends.local.batch_sampling import sample_batch

    sample_batch(loaded.fast, ids, greedy, 2, eos_ids=set(), window=loaded.window)
    assert torch.get_num_threads() == 2


def test_a_reply_after_a_pause_measures_again_when_the_other_program_has_ended(two_threads, monkeypatch):
    monkeypatch.setattr(threads, "STALE", 0.2)
    tuner = ThreadTuner(most=2)
    slow = 2  # another program holds a core: two threads stall

    def reply(steps):
        tuner.use_best()  # the prompt's prefill
        for _ in range(steps):
            with tuner:
                time.sleep(0.004 if torch.get_num_threads() == slow else 0.0)

    reply(2 * threads.PROBE + 1)
    assert tuner.best == 1
    slow = 1  # it ended: one thread's steps are no faster than before, so only a probe can tell
    reply(2 * threads.PROBE + 1)
    assert tuner.best == 1, "right after the last probe, a reply keeps its choice"
    time.sleep(0.25)
    reply(2 * threads.PROBE + 1)
    assert tuner.best == 2, "a reply after a pause measured again"


def test_more_threads_turning_slower_than_one_thread_was_make_the_tuner_measure_again(two_threads):
    tuner = ThreadTuner(most=2)
    cost = {1: 0.006, 2: 0.004}

    def step():
        with tuner:
            time.sleep(cost[torch.get_num_threads()])

    for _ in range(2 * threads.PROBE + 1):
        step()
    assert tuner.best == 2
    cost[2] = 0.007  # slower than one thread was, though not twice the probe's time
    for _ in range(threads.SLOW_STEPS + 2 * threads.PROBE + 1):
        step()
    assert tuner.best == 1
