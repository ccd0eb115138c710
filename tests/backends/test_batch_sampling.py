"""Batched sampling: n replies to one prompt in one batch, on the lean decoder and on transformers."""

import torch

from backends.base import Message
from backends.loading.models import load, resolve
from backends.local.backend import LocalBackend
from backends.local.batch_sampling import sample_batch
from backends.local.decoding import decode
from backends.settings import GenerationSettings

GREEDY = GenerationSettings(greedy=True, max_new_tokens=20)
SAMPLED = GenerationSettings(greedy=False, temperature=1.5, top_p=1.0, top_k=0, max_new_tokens=20, seed=7)


def prompt(loaded):
    return torch.tensor([loaded.tokenizer("def add(a, b):", add_special_tokens=False).input_ids])


def test_greedy_rows_equal_one_greedy_decode_on_both_paths(tiny_llama, tiny_gpt2):
    for folder in (tiny_llama, tiny_gpt2):
        loaded = load(resolve(str(folder)), "cpu", "float32", quantize="none")
        single = [s.token_id for s in decode(loaded.decoder, prompt(loaded), GREEDY, eos_ids=set(),
                                             window=loaded.window)]
        for model in (loaded.fast, loaded.model):
            rows = sample_batch(model, prompt(loaded), GREEDY, 3, eos_ids=set(), window=loaded.window)
            assert rows == [single] * 3


def test_sampled_rows_differ_and_repeat_with_the_seed(tiny_llama):
    loaded = load(resolve(str(tiny_llama)), "cpu", "float32", quantize="none")

    def rows():
        generator = torch.Generator().manual_seed(SAMPLED.seed)
        return sample_batch(loaded.fast, prompt(loaded), SAMPLED, 4, eos_ids=set(), window=loaded.window,
                            generator=generator)

    first = rows()
    assert len(first) == 4 and all(len(row) == 20 for row in first)
    assert len({tuple(row) for row in first}) > 1, "samples of a hot temperature should not all agree"
    assert rows() == first


def test_a_row_stops_at_end_of_text_and_the_backend_returns_texts(tiny_llama):
    loaded = load(resolve(str(tiny_llama)), "cpu", "float32", quantize="none")
    single = [s.token_id for s in decode(loaded.fast, prompt(loaded), GREEDY, eos_ids=set(), window=loaded.window)]
    eos = single[5]
    rows = sample_batch(loaded.fast, prompt(loaded), GREEDY, 2, eos_ids={eos}, window=loaded.window)
    assert rows == [single[:single.index(eos)]] * 2
    backend = LocalBackend(str(tiny_llama), device="cpu", dtype="float32", quantize="none")
    texts = backend.sample([Message("user", "def add(a, b):")], SAMPLED, 3)
    assert len(texts) == 3 and all(isinstance(t, str) for t in texts)
    assert backend.sample([Message("user", "def add(a, b):")], SAMPLED, 3) == texts  # same seed, same replies
