"""When a local reply ends, decided in one object: end-of-text ids, the token limit, the context window,
a cancel, stop strings, a loop and, for a code continuation, the end of the top-level block.

The decoding loop asks it before each step (``halted``) and after each token (``is_end``); the backend
passes each decoded piece of text through it (``text``), which holds back what could be the start of
a stop string and cuts at a stop string or the block's end. ``reason`` then says how the reply
finished. It plays the part of transformers' ``StoppingCriteriaList`` without a call per criterion.
"""

from __future__ import annotations

import sys
import threading
from dataclasses import dataclass, field
from typing import Any

from ..reply import FinishReason
from .code_stop import BlockEnd
from .loop_guard import LoopGuard
from .stop_strings import StopFilter


@dataclass
class StopRule:
    eos_ids: frozenset[int]
    max_new_tokens: int
    window: int
    cancel: threading.Event | None = None
    stop_strings: tuple[str, ...] = ()
    block: BlockEnd | None = None  # completion mode: the continuation ends with the block it writes
    guard: LoopGuard | None = None  # ... or once it goes round in a loop (a code or a chat reply's rule)
    reason: FinishReason | None = None  # how the reply ended, once it has
    _filter: StopFilter = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.eos_ids = frozenset(self.eos_ids)
        self._filter = StopFilter(tuple(self.stop_strings))

    @classmethod
    def for_reply(cls, settings: Any, eos_ids: set[int] | frozenset[int], window: int,
                  cancel: threading.Event | None = None, completion_prompt: str | None = None) -> "StopRule":
        """The rule for one reply under ``settings``; ``completion_prompt`` (raw text a completion model
        continues) adds the end of the top-level block, and takes the code rule for loops over the chat one."""
        code = completion_prompt is not None
        return cls(frozenset(eos_ids), settings.max_new_tokens, window, cancel, tuple(settings.stop),
                   BlockEnd(completion_prompt) if code else None, LoopGuard() if code else LoopGuard.for_chat())

    @classmethod
    def for_server(cls, settings: Any, completion_prompt: str) -> "StopRule":
        """The part of the rule a server cannot apply: the end of the block of a code continuation. The
        server counts tokens, knows its end-of-text ids and applies the stop strings itself."""
        return cls(frozenset(), settings.max_new_tokens, sys.maxsize, None, (), BlockEnd(completion_prompt))

    # -- tokens ---------------------------------------------------------------------------------

    def room(self, prompt_length: int) -> int:
        """How many tokens may follow a prompt of ``prompt_length``: the limit, cut to the window."""
        return max(0, min(self.max_new_tokens, self.window - prompt_length))

    def halted(self, length: int, produced: int) -> bool:
        """Before a step: cancelled, or the limit or the window reached (``length`` = prompt + reply)."""
        if self.cancel is not None and self.cancel.is_set():
            self.reason = "cancelled"
            return True
        if produced >= self.max_new_tokens or length >= self.window:
            self.reason = self.reason or "length"
            return True
        return False

    def is_end(self, token_id: int) -> bool:
        """After a step: the token is an end of text (it is not shown)."""
        if token_id in self.eos_ids:
            self.reason = "stop"
            return True
        return False

    def repeats(self, token_id: int) -> bool:
        """After a step (once per token, by the decoding loop): the reply went round in a loop."""
        if self.guard is not None and self.guard.push(token_id):
            self.reason = "loop"
            return True
        return False

    # -- text -----------------------------------------------------------------------------------

    def text(self, piece: str) -> str:
        """What of ``piece`` to show now; after a stop string or the block's end, ``ended`` is True."""
        shown = self._filter.push(piece)
        if self.block is not None and (cut := self.block.push(shown)) is not None:
            shown, self._filter.stopped = shown[:cut], True
        if self._filter.stopped:
            self.reason = "stop"
        return shown

    @property
    def ended(self) -> bool:
        """The text has reached a stop string or the end of the block: generate no more."""
        return self._filter.stopped

    def flush(self) -> str:
        """Text held back at the end (a possible stop string that never completed)."""
        return self._filter.flush()

    def cut(self, text: str) -> str:
        """A whole reply cut at the first stop string (replies decoded in a batch)."""
        hits = [text.find(stop) for stop in self.stop_strings if stop and stop in text]
        return text[:min(hits)] if hits else text
