"""Packing: fixed-length blocks, no padding, EOS kept in the labels (unlike the notebook's collator)."""

from __future__ import annotations

import pytest

from finetune.packing import PackedDataset, pack

DOCS = ["class SimpleAdder {\n  add(a, b) {\n    return a + b;\n  }\n}\n",
        "function hello(name) {\n  console.log('Hello ' + name);\n}\n",
        "const xs = [1, 2, 3].map((x) => x * 2);\nexport default xs;\n"] * 6


@pytest.fixture(scope="module")
def tokenizer(tiny_gpt2):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_gpt2)


def test_blocks_are_full_and_documents_are_separated_by_eos(tokenizer):
    blocks = pack(DOCS, tokenizer, block_size=32)
    assert blocks and all(len(b) == 32 for b in blocks)
    stream = [t for b in blocks for t in b]
    expected = []
    for doc in DOCS:
        expected += tokenizer(doc, add_special_tokens=False).input_ids + [tokenizer.eos_token_id]
    assert stream == expected[: len(stream)]  # nothing added, nothing lost but the incomplete tail
    assert len(expected) - len(stream) < 32
    assert tokenizer.decode(stream).count("<|endoftext|>") == stream.count(tokenizer.eos_token_id) > 0


def test_labels_keep_eos_and_nothing_is_padding(tokenizer):
    dataset = PackedDataset(pack(DOCS, tokenizer, block_size=32))
    eos = tokenizer.eos_token_id
    labels = [dataset[i]["labels"] for i in range(len(dataset))]
    assert all((item != -100).all() for item in labels)  # every position is learned
    assert sum(int((item == eos).sum()) for item in labels) >= len(DOCS) - 1
    assert all(int(dataset[i]["attention_mask"].sum()) == 32 for i in range(len(dataset)))
    assert dataset.tokens == 32 * len(dataset)


def test_the_notebook_collator_masks_every_eos(tokenizer):
    """Why parrot packs: pad = eos makes DataCollatorForLanguageModeling hide EOS from the loss."""
    from transformers import DataCollatorForLanguageModeling

    tokenizer.pad_token = tokenizer.eos_token
    collator = DataCollatorForLanguageModeling(tokenizer, mlm=False)
    features = [{"input_ids": tokenizer(d, add_special_tokens=False).input_ids + [tokenizer.eos_token_id]}
                for d in DOCS[:3]]
    batch = collator(features)
    assert int((batch["input_ids"] == tokenizer.eos_token_id).sum()) >= 3
    assert int((batch["labels"] == tokenizer.eos_token_id).sum()) == 0
