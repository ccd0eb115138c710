"""The decoding loop: one forward pass per token over a KV cache, greedy or sampled.

This is the course notebook's hand-written greedy loop done right. The notebook fed the whole
sequence back in at every step (quadratic: 3.5 tok/s at 128 tokens, 1.5 at 512 on a 2-core CPU);
with the cache each step feeds one token. Written by hand rather than through ``model.generate`` so
that every step can report the probability of the chosen token and its runners-up, and check for
cancellation, without a LogitsProcessor/streamer/thread round-trip per token.

The prompt itself is read in chunks of ``lean.PREFILL_CHUNK`` tokens (the prefill): a long one takes minutes
on a busy CPU, so a cancel is seen between two chunks, and a caller may hear how far it got (``Prefill``).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any, Callable, Iterator

import torch

from ..lean import decoder as lean
from ..lean.threads import thread_count_kept
from ..reply import Prefill
from ..settings import GenerationSettings
from .stop_rule import StopRule

TOP_ALTERNATIVES = 5


@dataclass
class Step:
    """One chosen token with the model's probability for it and the most likely alternatives."""

    token_id: int
    prob: float
    top_ids: list[int]
    top_probs: list[float]


def make_generator(seed: int | None, device: torch.device) -> torch.Generator | None:
    """A seeded generator so that a sampled reply can be reproduced from its stored seed."""
    if seed is None:
        return None
    generator = torch.Generator(device=device)
    generator.manual_seed(seed)
    return generator


def filter_logits(logits: torch.Tensor, settings: GenerationSettings) -> torch.Tensor:
    """Apply temperature, top-k and top-p to rows of logits (sampling only).

    The same arithmetic as transformers' ``TemperatureLogitsWarper``, ``TopKLogitsWarper`` and
    ``TopPLogitsWarper`` (min_tokens_to_keep=1), in the order ``generate`` applies them, ties included;
    tests/backends/test_sampling_parity.py holds them equal. They are written here rather than imported
    for start-up time: a fast start (``fast_start``) chats without importing transformers at all, and
    importing these processors costs 1.16 s after torch on a 2-core machine against 0.015 s for this
    whole module (best of 7 fresh processes each, load average ~7.5; 2026-12).
    """
    logits = logits / settings.temperature
    if settings.top_k and settings.top_k < logits.size(-1):
        kth = torch.topk(logits, settings.top_k).values[..., -1, None]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if settings.top_p < 1.0:
        # Ascending, as transformers sorts: ties then fall on the same side of the cut.
        sorted_logits, order = torch.sort(logits, descending=False)
        # Drop the least likely tokens while together they stay within 1 - top_p; the most likely stays.
        drop = sorted_logits.softmax(dim=-1).cumsum(dim=-1) <= 1 - settings.top_p
        drop[..., -1:] = False
        logits = logits.masked_fill(drop.scatter(-1, order, drop), float("-inf"))
    return logits


def penalize_repetition(logits: torch.Tensor, seen: torch.Tensor, penalty: float) -> torch.Tensor:
    """CTRL-style penalty: make every token already in the text less likely (as transformers'
    ``RepetitionPenaltyLogitsProcessor``: ids past the output vocabulary are ignored)."""
    vocab = logits.size(-1)
    # One padding column takes every id the output layer cannot produce (a tokenizer's added tokens).
    padded = torch.nn.functional.pad(logits, (0, 1))
    seen = seen.clamp(max=vocab)
    scores = padded.gather(-1, seen)
    scores = torch.where(scores < 0, scores * penalty, scores / penalty)
    return padded.scatter(-1, seen, scores)[..., :vocab]


def step_function(model: Any, prompt_length: int, room: int, cache: object | None = None
                  ) -> Callable[[torch.Tensor], torch.Tensor]:
    """``forward(new_ids) -> float32 logits [1, vocab]`` of the next token, over a fresh KV cache.

    ``model`` is a transformers model, or a lean decoder (``lean.LeanDecoder``) that keeps its
    own preallocated cache of ``prompt_length + room`` positions.
    """
    if hasattr(model, "new_cache"):
        fast_cache = model.new_cache(prompt_length + room)
        return lambda ids: model(ids, fast_cache)
    from ..library_imports import transformers_names

    DynamicCache = transformers_names("DynamicCache")

    hf_cache = cache if cache is not None else DynamicCache(config=model.config)

    def forward(ids: torch.Tensor) -> torch.Tensor:
        # A long prompt in chunks, as the lean decoder does: the attention scores of one chunk against
        # the cache, not of the whole prompt against itself, are the largest temporary.
        for begin in range(0, ids.shape[-1], lean.PREFILL_CHUNK):
            # logits_to_keep=1: the output head runs for the last position only, also during the prefill.
            logits = model(input_ids=ids[:, begin:begin + lean.PREFILL_CHUNK], cache=hf_cache, use_cache=True,
                           logits_to_keep=1).logits
        return logits[:, -1, :].float()

    return forward


@torch.inference_mode()
def decode(
    model: Any,
    input_ids: torch.Tensor,
    settings: GenerationSettings,
    *,
    stop: StopRule | None = None,
    eos_ids: set[int] | None = None,
    window: int | None = None,
    cancel: threading.Event | None = None,
    generator: torch.Generator | None = None,
    cache: object | None = None,
    prefill_progress: bool = False,
) -> Iterator[Step | Prefill]:
    """Yield tokens one by one until the stop rule says the reply ends (EOS, ``max_new_tokens``, the
    context window, a cancel). Without ``stop``, one is made from ``eos_ids``, ``window`` and ``cancel``.
    With ``prefill_progress``, a prompt longer than one chunk also yields a ``Prefill`` after each chunk."""
    if stop is None:
        stop = StopRule(frozenset(eos_ids or ()), settings.max_new_tokens,
                        window if window is not None else input_ids.size(-1) + settings.max_new_tokens, cancel)
    with thread_count_kept():  # the lean decoder tunes its threads per step; the process keeps its own
        length = input_ids.size(-1)
        forward = step_function(model, length, stop.room(length), cache)
        seen = input_ids
        penalize = settings.repetition_penalty not in (None, 1.0)  # None: a backend forgot for_mode
        produced = 0
        logits: torch.Tensor | None = None
        # The prompt a chunk at a time: a cancel is seen between two chunks, not after the whole prompt.
        chunk = lean.PREFILL_CHUNK
        for begin in range(0, length, chunk):
            if stop.halted(length, produced):
                return
            logits = forward(input_ids[:, begin:begin + chunk])
            if prefill_progress and length > chunk:
                yield Prefill(min(begin + chunk, length), length)
        while logits is not None and not stop.halted(length, produced):
            if produced:  # only the new token: the cache holds keys and values of everything before
                logits = forward(next_id)
            # The model's own confidence, before any sampling filter, is what /probs shows:
            # probabilities of the top tokens and the chosen one only, from the log-normalizer,
            # instead of a softmax over the whole vocabulary.
            log_norm = torch.logsumexp(logits, dim=-1, keepdim=True)
            top = torch.topk(logits, TOP_ALTERNATIVES, dim=-1)
            raw = logits
            if penalize:
                logits = penalize_repetition(logits, seen, settings.repetition_penalty)
            if settings.is_greedy:
                next_id = top.indices[:, :1] if not penalize else torch.argmax(logits, dim=-1, keepdim=True)
            else:
                sample_probs = torch.softmax(filter_logits(logits, settings), dim=-1)
                next_id = torch.multinomial(sample_probs, 1, generator=generator)
            # One conversion to Python per step: chosen id, its probability, the alternatives.
            chosen = raw.gather(-1, next_id)
            numbers = torch.cat([next_id.double().view(1), (chosen - log_norm).exp().double().view(1),
                                 top.indices[0].double(), (top.values[0] - log_norm[0]).exp().double()]).tolist()
            token_id, prob = int(numbers[0]), numbers[1]
            top_ids = [int(i) for i in numbers[2:2 + TOP_ALTERNATIVES]]
            yield Step(token_id, prob, top_ids, numbers[2 + TOP_ALTERNATIVES:])
            if stop.is_end(token_id) or stop.repeats(token_id):
                return
            length += 1
            produced += 1
            if penalize:
                seen = torch.cat([seen, next_id], dim=-1)
