"""How likely a model finds a text: mean log-probability per token and perplexity.

Shared by /compare (a reply scored under two models) and ``parrot eval ppl`` (held-out code). Only a
backend with the model's weights at hand can score a given text; a hosted chat endpoint returns
log-probabilities for what it writes, not for a text it is handed, so it says so instead.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from backends.base import Backend, Message
from backends.errors import BackendError
from backends.settings import GenerationSettings


@dataclass(frozen=True)
class Score:
    """Log-probabilities of ``tokens`` scored tokens (natural log)."""

    total_logprob: float
    tokens: int

    @property
    def mean_logprob(self) -> float:
        return self.total_logprob / self.tokens if self.tokens else 0.0

    @property
    def perplexity(self) -> float:
        return math.exp(-self.mean_logprob) if self.tokens else float("nan")

    def __add__(self, other: "Score") -> "Score":
        return Score(self.total_logprob + other.total_logprob, self.tokens + other.tokens)


class CannotScore(BackendError):
    """The backend has no way to give log-probabilities for a text it did not write."""


def token_logprobs(model: Any, ids: list[int], start: int) -> Score:
    """Sum of log p(ids[i] | ids[:i]) for i >= start, in one forward pass (teacher forcing)."""
    import torch

    if len(ids) - max(start, 1) <= 0:
        return Score(0.0, 0)
    device = next(model.parameters()).device
    with torch.inference_mode():
        logits = model(torch.tensor([ids], device=device)).logits[0].float()
    logprobs = torch.log_softmax(logits[:-1], dim=-1)  # row i predicts token i + 1
    targets = torch.tensor(ids[1:], device=device)
    picked = logprobs.gather(-1, targets[:, None])[:, 0][max(start, 1) - 1:]
    return Score(float(picked.sum()), int(picked.numel()))


def score_reply(backend: Backend, messages: list[Message], reply: str,
                settings: GenerationSettings = GenerationSettings()) -> Score:
    """How likely ``backend``'s model finds ``reply`` as the answer to ``messages``."""
    prompt_ids = getattr(backend, "prompt_ids", None)
    load = getattr(backend, "load", None)
    if prompt_ids is None or load is None:
        raise CannotScore(f"{backend.name} cannot score a given text (its API returns no log-probabilities for one)")
    loaded = load()
    before, _, _ = prompt_ids(messages, settings)
    whole, _, _ = prompt_ids(messages + [Message("assistant", reply)], settings)
    # The reply's tokens are what the prompt-with-reply adds to the prompt alone.
    start = _common_prefix(before, whole)
    ids = whole[-loaded.window:]
    return token_logprobs(loaded.model, ids, start - (len(whole) - len(ids)))


def _common_prefix(a: list[int], b: list[int]) -> int:
    n = 0
    for x, y in zip(a, b):
        if x != y:
            break
        n += 1
    return n
