"""Several replies to one prompt in one batch (``/retry n``, comparisons, pass@k).

The prompt is prefilled once; its cache is copied to ``n`` rows and every step decodes all rows in
one forward pass, so the weights are read once per step for all samples instead of once per sample.
A row that reaches end of text stops growing; the batch ends when every row has.
"""

from __future__ import annotations

from typing import Any, Callable

import torch

from ..lean.threads import thread_count_kept
from ..settings import GenerationSettings
from .decoding import filter_logits, penalize_repetition
from .stop_rule import StopRule


def _batched_forward(model: Any, input_ids: torch.Tensor, length: int, count: int
                     ) -> tuple[torch.Tensor, Callable[[torch.Tensor], torch.Tensor]]:
    """Logits after the prompt ([1, vocab]) and ``forward(ids [count, 1]) -> logits [count, vocab]``."""
    if hasattr(model, "new_cache"):  # a lean decoder
        cache = model.new_cache(length)
        first = model(input_ids, cache)
        rows = cache.repeat(count)
        return first, lambda ids: model(ids, rows)
    from ..library_imports import transformers_names

    DynamicCache = transformers_names("DynamicCache")

    hf_cache = DynamicCache(config=model.config)

    def forward(ids: torch.Tensor) -> torch.Tensor:
        return model(input_ids=ids, cache=hf_cache, use_cache=True, logits_to_keep=1).logits[:, -1, :].float()

    first = forward(input_ids)
    hf_cache.batch_repeat_interleave(count)
    return first, forward


@torch.inference_mode()
@thread_count_kept()  # the lean decoder tunes its threads per step; the process keeps its own
def sample_batch(model: Any, input_ids: torch.Tensor, settings: GenerationSettings, count: int, *,
                 eos_ids: set[int], window: int, generator: torch.Generator | None = None) -> list[list[int]]:
    """``count`` continuations of ``input_ids`` ([1, T]), token ids without the end-of-text token."""
    length = input_ids.shape[-1]
    stop = StopRule(frozenset(eos_ids), settings.max_new_tokens, window)
    room = stop.room(length)
    if room == 0 or count < 1:
        return [[] for _ in range(max(count, 0))]
    logits, forward = _batched_forward(model, input_ids, length + room, count)
    logits = logits.expand(count, -1)
    seen = input_ids.expand(count, -1)
    eos = torch.tensor(sorted(stop.eos_ids), dtype=torch.long, device=input_ids.device)
    finished = torch.zeros(count, dtype=torch.bool, device=input_ids.device)
    chosen = []
    for step in range(room):
        if settings.repetition_penalty not in (None, 1.0):
            logits = penalize_repetition(logits, seen, settings.repetition_penalty)
        if settings.is_greedy:
            next_ids = logits.argmax(dim=-1, keepdim=True)
        else:
            next_ids = torch.multinomial(torch.softmax(filter_logits(logits, settings), dim=-1), 1,
                                         generator=generator)
        chosen.append(torch.where(finished[:, None], -1, next_ids))
        finished |= torch.isin(next_ids[:, 0], eos)
        if bool(finished.all()) or step == room - 1:
            break
        seen = torch.cat([seen, next_ids], dim=-1)
        logits = forward(next_ids)
    rows = torch.cat(chosen, dim=-1).tolist()
    return [[t for t in row if t >= 0 and t not in stop.eos_ids] for row in rows]
