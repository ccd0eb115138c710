import pytest

from backends.local.stop_strings import StopFilter
from backends.local.text_stream import Detokenizer

TEXTS = ["def add(a, b):\n    return a + b\n", "emoji 🦜🦜 and 東京 and café", "tabs\tand  spaces", "x"]


@pytest.mark.parametrize("text", TEXTS)
def test_detokenizer_streams_exactly_the_decoded_text(tiny_gpt2_backend, text):
    tokenizer = tiny_gpt2_backend.tokenizer
    ids = tokenizer(text).input_ids
    detok = Detokenizer(tokenizer)
    pieces = [detok.push(i) for i in ids]
    assert "".join(pieces) == tokenizer.decode(ids)
    assert all("\ufffd" not in p for p in pieces)


def test_stop_string_split_over_chunks_is_cut_and_never_shown():
    stops = StopFilter(("END",))
    shown = [stops.push(c) for c in ["abc E", "N", "D and more"]]
    assert "".join(shown) == "abc "
    assert stops.stopped
    assert stops.flush() == ""


def test_held_back_text_that_is_not_a_stop_is_released():
    stops = StopFilter(("\n\n",))
    out = stops.push("line\n") + stops.push("next") + stops.flush()
    assert out == "line\nnext"
    assert not stops.stopped
