"""Perplexity on held-out code: the measure training optimises, next to pass@k, which running code gives.

The held-out files are the ones the fine-tuning run never trains on (``data.load_corpus``'s split by
content hash), packed into blocks the way training packs them, so the figure is comparable with the
run's own evaluation loss.
"""

from __future__ import annotations

from typing import Any, Callable

from .data import Corpus
from .packing import pack
from .scoring import Score, token_logprobs


def held_out_blocks(corpus: Corpus, tokenizer: Any, block: int, max_blocks: int | None) -> tuple[list[list[int]], int]:
    """(blocks, files) of the held-out code of ``corpus`` (``data.load_corpus``: a folder, parquet or ``hub``)."""
    texts = [doc.text for doc in corpus.eval]
    return pack(texts, tokenizer, block, max_blocks), len(texts)


def perplexity(loaded: Any, blocks: list[list[int]],
               on_block: Callable[[int, int, Score], None] | None = None) -> Score:
    """Every token of every block scored given the tokens before it in that block."""
    total = Score(0.0, 0)
    for index, ids in enumerate(blocks):
        total = total + token_logprobs(loaded.model, ids, start=1)
        if on_block:
            on_block(index + 1, len(blocks), total)
    return total
