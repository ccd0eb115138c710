"""Ends a code continuation that has started going round: its last ``SPAN`` tokens repeat, token for
token, the ones a few lines before them.

A small completion model decoding greedily falls into loops (``// TODO: implement`` forty times,
``# 1. 1. 1. 1.``); the repetition penalty makes them rarer, not impossible. A share of repeated
4-grams cannot tell a loop from code: one of npm's own files in twenty reaches 92% repeated 4-grams
over 64 tokens. An exact repetition can: in the first 6,000 characters of 137 of npm's own source
files (smollm2's tokenizer) no stretch of 48 tokens repeats the one 1 to 64 tokens before it, while
every loop of the embedded model and the fine-tuned ``js`` seen in ``bench/finetune_quality.py``
does. Updated in O(``PERIOD``) per token, so it costs nothing beside a decoding step.
"""

from __future__ import annotations

SPAN = 48  # tokens in a row that repeat those one period before them
PERIOD = 64  # the longest turn of a loop looked for, in tokens


class LoopGuard:
    def __init__(self, span: int = SPAN, period: int = PERIOD) -> None:
        self.span, self.period = span, period
        self._ids: list[int] = []
        self._runs = [0] * (period + 1)  # per period p: how many tokens in a row equal the one p before

    def push(self, token_id: int) -> bool:
        """Take the next token; True once the continuation is going round."""
        ids, runs = self._ids, self._runs
        ids.append(token_id)
        last = len(ids) - 1
        looping = False
        for p in range(1, min(self.period, last) + 1):
            runs[p] = runs[p] + 1 if ids[last - p] == token_id else 0
            looping = looping or runs[p] >= self.span
        return looping


def ends_in_loop(ids: list[int]) -> bool:
    """Whether a continuation went round at some point (the guard's rule over a whole text)."""
    guard = LoopGuard()
    return any(guard.push(token) for token in ids)
