"""Tokenizer training on a small local corpus behaves as the course notebook's does."""

import json

import pytest

from backends.errors import UsageError
from backends.loading.tokenizer_source import load_tokenizer, trained_dir
from finetune.tokenizer import SPECIAL_TOKENS, train
from tests.support.helpers import run_parrot

SENTENCES = [
    "Hello, world! The toaster in the kitchen makes toast every morning.",
    "Warm socks and a hello from the world of tokenizers.",
    "In 2026 there were 12 toasters and 345 pairs of socks.",
    "Café owners say the naïve résumé was written in Zürich.",
    "Tokenizers split text into words, and words into pieces.",
]


@pytest.fixture
def corpus(tmp_path):
    """A folder with text in a file and a subfolder, plus a hidden file that must be ignored."""
    folder = tmp_path / "corpus"
    (folder / "more").mkdir(parents=True)
    (folder / "a.txt").write_text("\n".join(SENTENCES * 30), encoding="utf-8")
    (folder / "more" / "b.txt").write_text("\n".join(reversed(SENTENCES * 30)), encoding="utf-8")
    (folder / ".hidden").write_text("zzzzqqqq " * 500, encoding="utf-8")
    return folder


def test_wordpiece_reproduces_the_notebook(corpus, parrot_home):
    messages = []
    result = train([str(corpus)], progress=messages.append)
    assert result.path == trained_dir("wordpiece") / "tokenizer.json"
    assert str(result.path).startswith(str(parrot_home))
    assert result.texts == 2 * len(SENTENCES) * 30
    assert messages[-1].startswith("saved wordpiece tokenizer 'wordpiece'")
    tokenizer = load_tokenizer("wordpiece").tokenizer
    assert tokenizer.encode("Hello, world!").tokens == ["hello", ",", "world", "!"]
    assert tokenizer.encode("2026").tokens == ["2", "0", "2", "6"]
    pieces = tokenizer.encode("toastersocks").tokens
    assert len(pieces) > 1 and not pieces[0].startswith("##")
    assert all(p.startswith("##") for p in pieces[1:])
    assert "".join(p.removeprefix("##") for p in pieces) == "toastersocks"
    assert tokenizer.encode("CAFÉ\t\tZürich").tokens == ["cafe", "zurich"]
    assert [tokenizer.id_to_token(i) for i in range(5)] == SPECIAL_TOKENS
    assert "zzzzqqqq" not in tokenizer.get_vocab(), "hidden files are not training data"


def test_bpe_is_an_option_with_the_same_normalisation(corpus):
    result = train([str(corpus / "a.txt")], model="bpe", vocab_size=300, name="small-bpe")
    tokenizer = load_tokenizer("small-bpe").tokenizer
    assert result.vocab_size <= 300
    assert json.loads(tokenizer.to_str())["model"]["type"] == "BPE"
    assert tokenizer.encode("Hello, World! 42").tokens[:2] == ["hello", ","]
    assert tokenizer.encode("42").tokens == ["4", "2"]
    assert tokenizer.decode(tokenizer.encode("toastersocks").ids) == "toastersocks"


def test_retraining_replaces_the_file_atomically(corpus):
    first = train([str(corpus)], vocab_size=200)
    second = train([str(corpus)], vocab_size=400)
    assert first.path == second.path
    assert json.loads(second.path.read_text())["model"]["vocab"].__len__() == second.vocab_size
    assert [p.name for p in second.path.parent.iterdir()] == ["tokenizer.json"]


@pytest.mark.parametrize("kwargs, message", [
    ({"data": ["/no/such/folder"]}, "no such file or folder"),
    ({"vocab_size": 5}, "vocabulary size 5 is out of range"),
    ({"model": "sentencepiece"}, "unknown tokenizer model"),
    ({"name": "../escape"}, "not a usable name"),
    ({"data": ["hub", "."]}, "'hub' cannot be mixed with local files"),
])
def test_bad_requests_say_how_to_fix_them(corpus, kwargs, message):
    kwargs.setdefault("data", [str(corpus)])
    with pytest.raises(UsageError, match=message) as caught:
        train(**kwargs)
    assert caught.value.hint


def test_parrot_tokenizer_train_then_tokens_in_subprocesses(corpus, parrot_home):
    env = {"PARROT_HOME": str(parrot_home)}
    trained = run_parrot(["tokenizer", "train", "--data", str(corpus), "--name", "notebook"], env=env)
    assert trained.returncode == 0, trained.stderr.decode()
    assert trained.stdout.decode().strip() == str(trained_dir("notebook") / "tokenizer.json")
    assert "saved wordpiece tokenizer 'notebook'" in trained.stderr.decode()
    listed = run_parrot(["tokenizer", "list"], env=env)
    assert listed.stdout.decode().startswith("notebook\t")
    shown = run_parrot(["tokens", "--tokenizer", "notebook", "--json", "Hello, world! 2026"], env=env)
    assert shown.returncode == 0, shown.stderr.decode()
    data = json.loads(shown.stdout)
    assert [t["token"] for t in data["tokens"]] == ["hello", ",", "world", "!", "2", "0", "2", "6"]
    assert data["count"] == 8 and data["context_window"] is None
    bad = run_parrot(["tokenizer", "train", "--model", "unigram"], env=env)
    assert bad.returncode == 2 and "invalid choice" in bad.stderr.decode()


def test_a_corpus_with_thousands_of_characters_still_learns_words(tmp_path):
    """Every distinct character would otherwise fill the vocabulary before the first merge."""
    rare = " ".join(chr(0x4E00 + i) for i in range(3000))
    (tmp_path / "mixed.txt").write_text(rare + "\n" + "\n".join(SENTENCES * 30), encoding="utf-8")
    result = train([str(tmp_path / "mixed.txt")], vocab_size=2500)
    tokenizer = load_tokenizer(result.name).tokenizer
    assert result.vocab_size <= 2500
    assert tokenizer.encode("hello toaster").tokens == ["hello", "toaster"]


def test_without_the_hub_the_default_data_says_to_use_local_text(parrot_home):
    result = run_parrot(["tokenizer", "train"], env={"PARROT_HOME": str(parrot_home), "HF_HUB_OFFLINE": "1"})
    assert result.returncode == 1
    assert result.stderr.decode().strip() == (
        "parrot: could not load Salesforce/wikitext: offline mode is set (HF_HUB_OFFLINE=1) and it is not in the "
        "local cache (unset HF_HUB_OFFLINE to download it once, or train on local text instead: --data PATH "
        "(files or folders))")
    assert not trained_dir("wordpiece").exists()
