"""Turn a stream of token ids into a stream of text.

It holds text back briefly: a token can end in the middle of a UTF-8 character, which must never
reach the screen as half a character.
"""

from __future__ import annotations

from typing import Any


class Detokenizer:
    """Incremental decoding with two offsets (the method TGI and vLLM use).

    Decoding each new id on its own breaks words that span tokens (leading-space markers, byte
    fallback); decoding everything each step is quadratic. Decoding from a recent offset is neither.
    """

    def __init__(self, tokenizer: Any) -> None:
        self.tokenizer = tokenizer
        self.ids: list[int] = []
        self.prefix_offset = 0
        self.read_offset = 0

    def push(self, token_id: int) -> str:
        self.ids.append(token_id)
        decode = self.tokenizer.decode
        before = decode(self.ids[self.prefix_offset:self.read_offset], skip_special_tokens=True)
        after = decode(self.ids[self.prefix_offset:], skip_special_tokens=True)
        if len(after) > len(before) and not after.endswith("\ufffd"):
            self.prefix_offset, self.read_offset = self.read_offset, len(self.ids)
            return after[len(before):]
        return ""
