"""The hand-written sampling filters equal transformers' logits processors, as ``generate`` builds them:
repetition penalty, then temperature, top-k and top-p, over many seeds and shapes, ties included."""

from __future__ import annotations

import itertools

import pytest
import torch
from transformers.generation.logits_process import (
    LogitsProcessorList,
    RepetitionPenaltyLogitsProcessor,
    TemperatureLogitsWarper,
    TopKLogitsWarper,
    TopPLogitsWarper,
)

from backends.local.decoding import filter_logits, penalize_repetition
from backends.settings import GenerationSettings


def transformers_chain(settings: GenerationSettings) -> LogitsProcessorList:
    """The processors ``generate`` adds for these settings (each only when it changes something)."""
    chain = LogitsProcessorList()
    if settings.repetition_penalty != 1.0:
        chain.append(RepetitionPenaltyLogitsProcessor(settings.repetition_penalty))
    if settings.temperature != 1.0:
        chain.append(TemperatureLogitsWarper(settings.temperature))
    if settings.top_k:
        chain.append(TopKLogitsWarper(settings.top_k))
    if settings.top_p < 1.0:
        chain.append(TopPLogitsWarper(settings.top_p))
    return chain


def parrot_chain(logits: torch.Tensor, seen: torch.Tensor, settings: GenerationSettings) -> torch.Tensor:
    """What decode and sample_batch do to one step's logits when sampling."""
    if settings.repetition_penalty != 1.0:
        logits = penalize_repetition(logits, seen, settings.repetition_penalty)
    return filter_logits(logits, settings)


def logits_for(seed: int, rows: int, vocab: int, ties: bool) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    logits = torch.randn(rows, vocab, generator=generator) * 3
    if ties:  # a few distinct values only, so the top-k and top-p cuts fall inside runs of equal logits
        logits = (logits * 2).round() / 2
    return logits


def assert_same(ours: torch.Tensor, theirs: torch.Tensor) -> None:
    assert torch.equal(torch.isinf(ours), torch.isinf(theirs)), "the same tokens are filtered out"
    assert torch.allclose(ours.softmax(-1), theirs.softmax(-1), atol=1e-7, rtol=1e-6)
    finite = torch.isfinite(theirs)
    assert torch.allclose(ours[finite], theirs[finite], rtol=1e-6, atol=1e-6)


TEMPERATURES = (0.3, 1.0, 1.7)
TOP_KS = (0, 1, 3, 40, 100_000)  # 100_000: larger than any vocabulary here
TOP_PS = (1.0, 0.95, 0.5, 1e-6)  # 1e-6: only the most likely token is left
PENALTIES = (1.0, 1.1, 2.5)


@pytest.mark.parametrize("rows, vocab", [(1, 2), (1, 7), (3, 50), (8, 1000), (2, 4096)])
@pytest.mark.parametrize("ties", [False, True])
def test_filters_equal_transformers_processors(rows, vocab, ties):
    cases = 0
    for seed, (temperature, top_k, top_p, penalty) in enumerate(
            itertools.product(TEMPERATURES, TOP_KS, TOP_PS, PENALTIES)):
        settings = GenerationSettings(temperature=temperature, top_k=top_k, top_p=top_p,
                                      repetition_penalty=penalty)
        logits = logits_for(seed, rows, vocab, ties)
        # The text so far repeats some ids (the penalty must apply once per id, however often it appears).
        seen = torch.randint(0, vocab, (rows, 12), generator=torch.Generator().manual_seed(seed))
        seen[:, 6:] = seen[:, :6]
        ours = parrot_chain(logits.clone(), seen, settings)
        theirs = transformers_chain(settings)(seen, logits.clone())
        assert_same(ours, theirs)
        cases += 1
    assert cases == len(TEMPERATURES) * len(TOP_KS) * len(TOP_PS) * len(PENALTIES)


def test_penalty_touches_only_the_ids_in_the_text_both_signs_and_zero():
    logits = torch.tensor([[2.0, -2.0, 0.0, 1.0, -1.0]])
    seen = torch.tensor([[0, 1, 2, 0, 1]])
    ours = penalize_repetition(logits, seen, 2.0)
    theirs = RepetitionPenaltyLogitsProcessor(2.0)(seen, logits.clone())
    assert torch.equal(ours, theirs)
    assert ours.tolist() == [[1.0, -4.0, 0.0, 1.0, -1.0]]


def test_ids_past_the_output_vocabulary_are_ignored_by_the_penalty():
    logits = torch.tensor([[1.0, 2.0, 3.0]])
    seen = torch.tensor([[1, 7]])  # 7: an added token the output layer cannot produce
    ours = penalize_repetition(logits, seen, 2.0)
    assert torch.equal(ours, RepetitionPenaltyLogitsProcessor(2.0)(seen, logits.clone()))
    assert ours.tolist() == [[1.0, 1.0, 3.0]]


@pytest.mark.parametrize("seed", range(20))
def test_sampling_from_the_filtered_rows_draws_the_same_tokens(seed):
    """Same distribution, same generator: the sampled tokens are identical too."""
    settings = GenerationSettings(temperature=0.8, top_k=20, top_p=0.9, repetition_penalty=1.2)
    logits, seen = logits_for(seed, 4, 500, ties=seed % 2 == 1), torch.randint(0, 500, (4, 30))
    draws = []
    for processed in (parrot_chain(logits.clone(), seen, settings),
                      transformers_chain(settings)(seen, logits.clone())):
        draws.append(torch.multinomial(processed.softmax(-1), 1, generator=torch.Generator().manual_seed(seed)))
    assert torch.equal(draws[0], draws[1])
