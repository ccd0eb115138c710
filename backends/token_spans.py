"""How a text becomes tokens: spans with ids and character offsets that reassemble the exact input.

Offsets come from the fast tokenizer's own ``encode``. Two things make them more than a slicing job:
byte-level BPE splits a multi-byte character (an emoji, a CJK ideograph) over several tokens that all
point at the same character, so offsets overlap; and normalizers drop text (WordPiece drops
whitespace), so offsets leave gaps. Overlapping characters go to the first token that covers them and
gaps become spans with no token id, so that joining every span's text gives back the input exactly.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

SPACE_MARK, NEWLINE_MARK, TAB_MARK = "␣", "↵", "⇥"


@dataclass(frozen=True)
class Span:
    """A piece of the input: one token (``token_id`` set) or text no token covers (``token_id`` None).

    ``text`` is the part of the input this span shows (empty for a token whose characters an earlier
    token already showed); ``start``/``end`` are the tokenizer's own character offsets.
    """

    text: str
    token_id: int | None
    token: str  # the token as the vocabulary spells it, made readable (see ``readable``)
    start: int
    end: int

    @property
    def is_token(self) -> bool:
        return self.token_id is not None


@lru_cache(maxsize=1)
def _byte_decoder() -> dict[str, int]:
    """GPT-2's table from the printable stand-in characters of byte-level BPE back to bytes."""
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    codes = printable[:]
    extra = 0
    for byte in range(256):
        if byte not in printable:
            printable.append(byte)
            codes.append(256 + extra)
            extra += 1
    return {chr(code): byte for byte, code in zip(printable, codes)}


def is_byte_level(tokenizer: Any) -> bool:
    """True for GPT-2 style tokenizers whose vocabulary spells bytes as printable stand-ins."""
    spec = json.loads(tokenizer.to_str())
    return '"ByteLevel"' in json.dumps([spec.get("pre_tokenizer"), spec.get("decoder")])


def visible(text: str) -> str:
    """Make spaces, newlines and tabs visible, as a token table needs them to be."""
    return text.replace(" ", SPACE_MARK).replace("\n", NEWLINE_MARK).replace("\t", TAB_MARK).replace("\r", "\\r")


def readable(token: str, byte_level: bool) -> str:
    """A vocabulary entry as a person can read it.

    Byte-level entries are turned back into their text with a visible leading space (``Ġworld`` ->
    ``␣world``); a token holding only part of a character shows its bytes (``<e6 9d>``). WordPiece
    ``##`` continuations and SentencePiece ``▁`` are shown as the vocabulary spells them.
    """
    if not byte_level:
        return visible(token)
    table = _byte_decoder()
    if not all(ch in table for ch in token):  # a special token such as <|im_end|>
        return token
    # Bytes that are only part of a character decode to lone surrogates: show those as hex.
    decoded = bytes(table[ch] for ch in token).decode("utf-8", errors="surrogateescape")
    parts = re.split(r"([\udc80-\udcff]+)", decoded)
    return "".join(f"<{' '.join(f'{ord(c) - 0xDC00:02x}' for c in part)}>" if i % 2 else visible(part)
                   for i, part in enumerate(parts))


def token_spans(tokenizer: Any, text: str) -> list[Span]:
    """Spans of ``text`` under ``tokenizer`` (a ``tokenizers.Tokenizer``), without special tokens added.

    ``"".join(s.text for s in spans) == text`` always holds.
    """
    encoding = tokenizer.encode(text, add_special_tokens=False)
    byte_level = is_byte_level(tokenizer)
    spans: list[Span] = []
    covered = 0  # everything before this character has been shown by an earlier span
    for token_id, token, (start, end) in zip(encoding.ids, encoding.tokens, encoding.offsets):
        if start > covered:
            spans.append(Span(text[covered:start], None, visible(text[covered:start]), covered, start))
        piece_start = max(start, covered)
        piece = text[piece_start:end] if end > piece_start else ""
        spans.append(Span(piece, token_id, readable(token, byte_level), start, end))
        covered = max(covered, end)
    if covered < len(text):
        spans.append(Span(text[covered:], None, visible(text[covered:]), covered, len(text)))
    return spans

