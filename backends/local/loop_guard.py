"""Ends a reply that has started going round: its last tokens repeat, token for token, the ones a little
before them.

A small model decoding greedily falls into loops (``// TODO: implement`` forty times, ``# 1. 1. 1. 1.``,
a chat answer that says the same sentence seven times); a repetition penalty makes them rarer, not
impossible. A share of repeated 4-grams cannot tell a loop from real text: one of npm's own files in
twenty reaches 92% repeated 4-grams over 64 tokens. An exact repetition can.

- A code continuation (``LoopGuard()``) ends once its last ``SPAN`` tokens repeat the ones 1 to ``PERIOD``
  tokens before them. In the first 6,000 characters of 137 of npm's own source files (smollm2's
  tokenizer) no stretch of 48 tokens does, while every loop of the embedded model and the fine-tuned
  ``js`` seen in ``bench/finetune_quality.py`` does.
- A chat reply (``LoopGuard.for_chat()``) may quote, list and repeat itself more than code does, and its
  turns (a sentence, a paragraph) are longer: it ends once a stretch of up to ``CHAT_PERIOD`` tokens has
  been written three times in a row, and at least ``SPAN`` tokens repeat. A line written twice (a
  changelog's duplicate entry, 75 tokens) is not a loop; a sentence of 20 tokens said a third time is.
  In the first 6,000 tokens of the 201 Markdown files of npm's tree and this project's notes (306,635
  tokens of smollm2's tokenizer) the closest any text came was 33 of the 48 tokens the rule needs (a log
  excerpt: the same line three times); in 524 source files (750,042 tokens: a quarter of npm's
  JavaScript and this project's Python), 29 of 48.

Updated in O(period) per token, so it costs nothing beside a decoding step.
"""

from __future__ import annotations

SPAN = 48  # tokens in a row that repeat those one period before them
PERIOD = 64  # the longest turn of a code continuation's loop looked for, in tokens
CHAT_PERIOD = 128  # the longest turn of a chat reply's loop: a sentence or a short paragraph
CHAT_COPIES = 3  # a chat reply's stretch is a loop once written this many times in a row


class LoopGuard:
    def __init__(self, span: int = SPAN, period: int = PERIOD, copies: int = 1) -> None:
        self.span, self.period = span, period
        # Per period p: how many tokens in a row must equal the one p before (``copies`` times the turn).
        self._need = [max(span, (copies - 1) * p) for p in range(period + 1)]
        self._ids: list[int] = []
        self._runs = [0] * (period + 1)  # per period p: how many tokens in a row equal the one p before

    @classmethod
    def for_chat(cls) -> "LoopGuard":
        """The guard for a chat model's reply (see the module's notes)."""
        return cls(SPAN, CHAT_PERIOD, CHAT_COPIES)

    def push(self, token_id: int) -> bool:
        """Take the next token; True once the reply is going round."""
        ids, runs, need = self._ids, self._runs, self._need
        ids.append(token_id)
        last = len(ids) - 1
        looping = False
        for p in range(1, min(self.period, last) + 1):
            runs[p] = runs[p] + 1 if ids[last - p] == token_id else 0
            looping = looping or runs[p] >= need[p]
        return looping


def ends_in_loop(ids: list[int], guard: LoopGuard | None = None) -> bool:
    """Whether a reply went round at some point (a guard's rule, the code one by default, over a whole text)."""
    guard = guard or LoopGuard()
    return any(guard.push(token) for token in ids)
