"""Tokenize documents and pack them into fixed-length blocks separated by EOS.

Every position of every block is a real token: no padding, so no compute is spent on it, and the
EOS between documents stays in the labels, so the model learns where a file ends. (A collator that
pads with ``pad = eos`` masks every EOS in the labels, and the model never learns to stop.)
"""

from __future__ import annotations

from typing import Any, Iterable, Iterator


def eos_id(tokenizer: Any) -> int:
    """The document separator: the tokenizer's EOS."""
    if tokenizer.eos_token_id is None:
        raise ValueError("the tokenizer has no EOS token to separate documents with")
    return int(tokenizer.eos_token_id)


def token_stream(texts: Iterable[str], tokenizer: Any, batch_size: int = 64) -> Iterator[int]:
    """Token ids of each text followed by EOS, one text after another."""
    separator = eos_id(tokenizer)
    batch: list[str] = []

    def flush() -> Iterator[int]:
        for ids in tokenizer(batch, add_special_tokens=False).input_ids:
            yield from ids
            yield separator

    for text in texts:
        batch.append(text)
        if len(batch) == batch_size:
            yield from flush()
            batch = []
    if batch:
        yield from flush()


def pack(texts: Iterable[str], tokenizer: Any, block_size: int, max_blocks: int | None = None) -> list[list[int]]:
    """Blocks of exactly ``block_size`` ids; the incomplete tail is dropped rather than padded."""
    if block_size < 2:
        raise ValueError("block_size must be at least 2")
    blocks: list[list[int]] = []
    current: list[int] = []
    for token in token_stream(texts, tokenizer):
        current.append(token)
        if len(current) == block_size:
            blocks.append(current)
            current = []
            if max_blocks is not None and len(blocks) >= max_blocks:
                break
    return blocks


class PackedDataset:
    """A map-style dataset of packed blocks for the Trainer; labels are the inputs (the model shifts)."""

    def __init__(self, blocks: list[list[int]]) -> None:
        self.blocks = blocks

    def __len__(self) -> int:
        return len(self.blocks)

    def __getitem__(self, index: int) -> dict[str, Any]:
        import torch

        ids = torch.tensor(self.blocks[index], dtype=torch.long)
        return {"input_ids": ids, "attention_mask": torch.ones_like(ids), "labels": ids.clone()}

    @property
    def tokens(self) -> int:
        return sum(map(len, self.blocks))
