"""Token spans: they reassemble the exact input under every kind of tokenizer, and read well."""

import pytest

from backends.loading.tokenizer_source import load_tokenizer
from backends.token_spans import readable, token_spans

TEXTS = [
    "Hello, world!",
    "emoji 🦜🦜 and a family 👩‍👩‍👧 too",
    "東京タワー と 中文",
    "café naïve Ångström résumé",
    "tabs\there\t\tand\nnew lines\r\n",
    "",
    "   leading and trailing   ",
    "ﬁne İstanbul straße",  # lowercasing and NFD change the length of these
    "def add(a, b):\n    return a + b  # 2026\n",
    "<|im_start|>user\nhi<|im_end|>",  # special tokens written in the text
]


@pytest.fixture(scope="module")
def tokenizers(tiny_llama, tmp_path_factory):
    """A byte-level BPE (the tiny Llama's), the notebook's WordPiece and BPE, and a SentencePiece-style Unigram."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    from finetune.tokenizer import build_tokenizer, build_trainer
    from tests.support.tiny_models import CORPUS

    found = {"byte-level": load_tokenizer(str(tiny_llama)).tokenizer}
    for kind in ("wordpiece", "bpe"):
        tokenizer = build_tokenizer(kind)
        tokenizer.train_from_iterator(CORPUS, build_trainer(kind, 300))
        found[kind] = tokenizer
    unigram = Tokenizer(models.Unigram())
    unigram.pre_tokenizer = pre_tokenizers.Metaspace()
    unigram.decoder = decoders.Metaspace()
    unigram.train_from_iterator(CORPUS, trainers.UnigramTrainer(vocab_size=200, unk_token="<unk>",
                                                                special_tokens=["<unk>"], show_progress=False))
    found["unigram"] = unigram
    return found


@pytest.mark.parametrize("kind", ["byte-level", "wordpiece", "bpe", "unigram"])
@pytest.mark.parametrize("text", TEXTS)
def test_spans_reassemble_the_exact_input(tokenizers, kind, text):
    tokenizer = tokenizers[kind]
    spans = token_spans(tokenizer, text)
    assert "".join(s.text for s in spans) == text
    encoding = tokenizer.encode(text, add_special_tokens=False)
    assert [s.token_id for s in spans if s.is_token] == encoding.ids
    for span in spans:
        if span.is_token:  # a token shows the part of its offsets no earlier token showed
            assert text[span.start:span.end].endswith(span.text)
        else:
            assert span.text == text[span.start:span.end]
    if kind == "byte-level":
        assert all(s.is_token for s in spans), "byte-level BPE drops nothing, so nothing is left uncovered"

def test_byte_level_tokens_that_split_a_character_overlap_and_show_their_bytes(tokenizers):
    spans = token_spans(tokenizers["byte-level"], "🦜")
    tokens = [s for s in spans if s.is_token]
    assert len(tokens) > 1, "the tiny vocabulary has no single token for the parrot emoji"
    assert all((s.start, s.end) == (0, 1) for s in tokens)
    assert [s.text for s in tokens] == ["🦜"] + [""] * (len(tokens) - 1)
    assert "".join(s.token for s in tokens).replace("><", " ") == "<f0 9f a6 9c>"


def test_readable_tokens_make_spaces_visible_and_keep_wordpiece_continuations():
    assert readable("Ġworld", byte_level=True) == "␣world"
    assert readable("Ċ", byte_level=True) == "↵"
    assert readable("ĉ", byte_level=True) == "⇥"
    assert readable("ĠðŁ", byte_level=True) == "␣<f0 9f>"
    assert readable("<|im_end|>", byte_level=True) == "<|im_end|>"
    assert readable("##socks", byte_level=False) == "##socks"
    assert readable("▁hello", byte_level=False) == "▁hello"
