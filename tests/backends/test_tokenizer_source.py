"""Finding a tokenizer by name: trained names, tokenizer.json files, model folders, with their windows."""

import json
import shutil

import pytest

from backends.errors import ModelUnavailable
from backends.loading.tokenizer_source import load_tokenizer, model_tokenizer, trained_dir, trained_names


def test_a_model_folder_gives_its_tokenizer_and_window(tiny_gpt2, tiny_llama):
    from transformers import AutoTokenizer

    for folder, window in [(tiny_gpt2, 128), (tiny_llama, 256)]:
        named = model_tokenizer(str(folder))
        assert named.window == window
        text = "def add(a, b): return a + b 🦜"
        own = AutoTokenizer.from_pretrained(folder)(text, add_special_tokens=False).input_ids
        assert named.tokenizer.encode(text, add_special_tokens=False).ids == own


def test_a_folder_with_only_vocab_and_merges_loads_through_transformers(tiny_gpt2, tmp_path):
    """Older checkpoints ship a slow tokenizer; AutoTokenizer builds the fast one that offsets need."""
    from tokenizers import Tokenizer

    folder = shutil.copytree(tiny_gpt2, tmp_path / "slow")
    reference = Tokenizer.from_file(str(folder / "tokenizer.json"))
    reference.model.save(str(folder))  # vocab.json and merges.txt
    (folder / "tokenizer.json").unlink()
    config = json.loads((folder / "tokenizer_config.json").read_text())
    (folder / "tokenizer_config.json").write_text(json.dumps({**config, "tokenizer_class": "GPT2Tokenizer"}))
    named = load_tokenizer(str(folder))
    assert named.window == 128
    text = "def add(a, b):\n\treturn a + b"
    assert named.tokenizer.encode(text, add_special_tokens=False).ids == reference.encode(text).ids


def test_trained_names_and_tokenizer_json_paths(tiny_llama, tmp_path):
    target = trained_dir("mine") / "tokenizer.json"
    target.parent.mkdir(parents=True)
    shutil.copy(tiny_llama / "tokenizer.json", target)
    assert trained_names() == ["mine"]
    assert load_tokenizer("mine").window is None  # a bare tokenizer belongs to no model
    loose = shutil.copy(tiny_llama / "tokenizer.json", tmp_path / "loose.json")
    assert load_tokenizer(str(loose)).tokenizer.get_vocab_size() == load_tokenizer("mine").tokenizer.get_vocab_size()


@pytest.mark.parametrize("spec, message", [
    ("missing/tokenizer.json", "no such file: missing/tokenizer.json"),
    ("./no/such/folder", "no such folder"),
])
def test_names_that_lead_nowhere_say_so(spec, message):
    with pytest.raises(ModelUnavailable, match=message):
        load_tokenizer(spec)


def test_a_file_that_is_not_a_tokenizer_says_so(tmp_path):
    bad = tmp_path / "tokenizer.json"
    bad.write_text("{}")
    with pytest.raises(ModelUnavailable, match="is not a tokenizer.json") as caught:
        load_tokenizer(str(bad))
    assert caught.value.hint
