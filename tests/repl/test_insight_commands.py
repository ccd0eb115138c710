"""/tokens, /tokenizer and /probs through the one command table, on a real Session with a tiny model."""

import json
import re

import pytest

from backends.base import Message
from backends.errors import ParrotError, UsageError
from backends.reply import GenerationStats
from backends.settings import GenerationSettings
from repl import commands
from repl.chat.session import Session, Turn
from tests.support.helpers import run_parrot
from tests.support.recording_ui import RecordingUI


@pytest.fixture
def session(tiny_llama):
    return Session(backend_name="local", model=str(tiny_llama), device="cpu",
                   settings=GenerationSettings(greedy=True, max_new_tokens=12))


@pytest.fixture
def ui():
    return RecordingUI()


def run(line, session, ui):
    commands.run(line, commands.Context(session, ui))
    return ui.texts[-1]


def own_count(spec, text):
    """The count by the tokenizer's own library, not through parrot's loading."""
    if spec.endswith(".json"):
        from tokenizers import Tokenizer

        return len(Tokenizer.from_file(spec).encode(text, add_special_tokens=False).ids)
    from transformers import AutoTokenizer

    return len(AutoTokenizer.from_pretrained(spec)(text, add_special_tokens=False).input_ids)


@pytest.fixture
def wordpiece(tmp_path):
    from finetune.tokenizer import train
    from tests.support.tiny_models import CORPUS

    (tmp_path / "corpus.txt").write_text("".join(CORPUS), encoding="utf-8")
    return train([str(tmp_path / "corpus.txt")], vocab_size=300, name="wp").name


def test_tokens_shows_spans_table_and_count_against_the_window(session, ui, tiny_llama):
    shown = run('/tokens "Hello world"', session, ui)
    lines = shown.splitlines()
    assert lines[0] == f"tokenizer {tiny_llama}"
    assert lines[1] == "Hello world"
    assert lines[2].split() == ["#", "token", "id", "offsets"]
    rows = [line.split() for line in lines[3:-1]]
    assert not session.backend.is_loaded, "counting tokens does not load the model's weights"
    encoding = session.backend.tokenizer("Hello world", add_special_tokens=False, return_offsets_mapping=True)
    assert [int(r[2]) for r in rows] == encoding.input_ids
    assert [r[3] for r in rows] == [f"{s}-{e}" for s, e in encoding.offset_mapping]
    assert any(r[1].startswith("␣") for r in rows), "the leading space of a byte-level token is visible"
    window = session.backend.context_window
    assert lines[-1] == f"{len(rows)} tokens of the {window}-token context window ({100 * len(rows) / window:.1f}%)"


def test_tokens_without_text_uses_the_last_message(session, ui):
    with pytest.raises(UsageError, match="nothing to tokenize"):
        run("/tokens", session, ui)
    session.add(Turn(Message("user", "café 東京 🦜")))
    assert run("/tokens", session, ui).splitlines()[1] == "café 東京 🦜"


def test_compare_counts_equal_each_tokenizers_own_encode(session, ui, wordpiece, tiny_llama, tiny_gpt2, tmp_path):
    text = "Hello, world! toastersocks 2026 naïve 東京 🦜\tdef add(a, b): return a + b"
    file_spec = str(tiny_gpt2 / "tokenizer.json")
    shown = run(f'/tokens --compare model,{wordpiece},{file_spec} "{text}"', session, ui)
    header = " ".join(shown.splitlines()[:4])
    from backends.loading.tokenizer_source import trained_dir

    for counted in [str(tiny_llama), str(trained_dir(wordpiece) / "tokenizer.json"), file_spec]:
        assert f"{own_count(counted, text)} tokens" in header
    assert not session.backend.is_loaded, "counting tokens does not load the model's weights"


def test_tokens_with_an_unknown_tokenizer_says_what_names_work(session, ui):
    with pytest.raises(Exception, match="no such file: missing/tokenizer.json"):
        run("/tokens --tokenizer missing/tokenizer.json hi", session, ui)
    with pytest.raises(UsageError, match="not both"):
        run("/tokens --tokenizer model --compare model,wp hi", session, ui)
    offline = run_parrot(["tokens", "--tokenizer", "no-such-tokenizer", "hi"], env={"HF_HUB_OFFLINE": "1"})
    assert offline.returncode == 1
    assert "could not load the tokenizer of no-such-tokenizer" in offline.stderr.decode()
    assert "give a tokenizer parrot trained, a tokenizer.json" in offline.stderr.decode()


def test_tokenizer_train_in_the_background_then_usable_in_tokens(session, ui, tmp_path):
    from tests.support.tiny_models import CORPUS

    (tmp_path / "c.txt").write_text("".join(CORPUS), encoding="utf-8")
    context = commands.Context(session, ui)
    commands.run(f"/tokenizer train --data {tmp_path / 'c.txt'} --vocab 300 --name mine", context)
    context.background.threads["tokenizer training"].join(timeout=120)
    assert "training in the background" in ui.texts[0]
    assert "saved wordpiece tokenizer 'mine'" in ui.text
    assert "tokenizer 'mine' is ready: /tokens --tokenizer mine" in ui.texts[-1]
    assert run("/tokens --tokenizer mine 2026", session, ui).splitlines()[-1] == "4 tokens"
    assert run("/tokenizer list", session, ui).strip() == "mine"


def test_tokenizer_train_failure_is_the_commands_error_with_wait_and_shown_without(session, ui):
    with pytest.raises(ParrotError, match="tokenizer training failed: no such file or folder: /no/such/dir"):
        commands.run("/tokenizer train --data /no/such/dir --wait", commands.Context(session, ui))
    context = commands.Context(session, ui)
    commands.run("/tokenizer train --data /no/such/dir", context)
    context.background.threads["tokenizer training"].join(timeout=60)
    assert "tokenizer training failed: no such file or folder: /no/such/dir" in ui.texts[-1]


def test_probs_of_a_greedy_answer_are_the_maxima_at_each_step(session, ui):
    reply = session.ask("The quick brown fox")
    reply.finish()
    turn = session.finish_reply(reply)
    assert turn.tokens
    for token in turn.tokens:
        assert token.prob == pytest.approx(max(p for _, p in token.top))
    shown = run("/probs", session, ui)
    assert f"{len(turn.tokens)} tokens, mean probability" in shown
    assert "least confident positions" in shown
    last = len(turn.tokens) - 1
    table = run(f"/probs {last}", session, ui).splitlines()
    title = table.index(next(line for line in table if line.startswith(f"position {last}:")))
    rows = table[title + 2:title + 7]
    probs = [float(re.search(r"(\d+\.\d)%", row).group(1)) for row in rows]
    assert probs == sorted(probs, reverse=True) and len(rows) == 5
    assert rows[0].rstrip().endswith("chosen"), "greedy takes the most likely token"
    assert probs[0] == pytest.approx(100 * turn.tokens[last].prob, abs=0.05)


def test_probs_explains_what_is_missing(session, ui):
    with pytest.raises(UsageError, match="no answer yet"):
        run("/probs", session, ui)
    session.add(Turn(Message("user", "hi")))
    session.add(Turn(Message("assistant", "hello"), GenerationStats(backend="openai")))
    assert run("/probs", session, ui).strip() == (
        "per-token probabilities are not available for this backend (openai): it did not return log-probabilities")


def test_probs_position_out_of_range(session, ui):
    session.finish_reply(session.ask("Hello").__iter__())  # an unconsumed reply: no tokens yet
    reply = session.ask("Hello")
    reply.finish()
    turn = session.finish_reply(reply)
    with pytest.raises(UsageError, match=f"give a position from 0 to {len(turn.tokens) - 1}"):
        run(f"/probs {len(turn.tokens)}", session, ui)
    with pytest.raises(UsageError, match="there is no position x"):
        run("/probs x", session, ui)


def test_parrot_tokens_json_matches_the_tokenizer(tiny_llama, tiny_gpt2):
    text = "Hello, world! 🦜 東京\tcafé"
    result = run_parrot(["tokens", "--json", "-m", str(tiny_llama), text])
    assert result.returncode == 0, result.stderr.decode()
    data = json.loads(result.stdout)
    from transformers import AutoTokenizer

    encoding = AutoTokenizer.from_pretrained(tiny_llama)(text, add_special_tokens=False, return_offsets_mapping=True)
    ids = encoding.input_ids
    assert data["text"] == text and data["count"] == len(ids) == len(data["tokens"])
    assert [t["id"] for t in data["tokens"]] == ids
    assert [[t["start"], t["end"]] for t in data["tokens"]] == [list(o) for o in encoding.offset_mapping]
    assert "".join(t["text"] for t in data["tokens"]) == text
    assert data["context_window"] == 256
    compared = run_parrot(["tokens", "--json", "-m", str(tiny_llama), "--compare", f"model,{tiny_gpt2}"],
                          stdin=text.encode())
    assert compared.returncode == 0, compared.stderr.decode()
    counts = [c["count"] for c in json.loads(compared.stdout)["compare"]]
    assert counts == [len(ids), own_count(str(tiny_gpt2), text)]
    bad = run_parrot(["tokens", "--compare", ",", "hi"])
    assert bad.returncode == 2 and "--compare needs tokenizer names" in bad.stderr.decode()


def test_options_may_come_between_words_and_long_tables_are_cut(session, ui, wordpiece):
    shown = run(f"/tokens Hello --tokenizer {wordpiece} world", session, ui).splitlines()
    assert shown[:2] == [f"tokenizer {wordpiece}", "Hello world"]
    long = " ".join(str(n) for n in range(100))  # 190 digits, each its own token
    shown = run(f'/tokens --tokenizer {wordpiece} "{long} {long}"', session, ui).splitlines()
    assert shown[-1] == "380 tokens"
    assert shown[-2].split() == ["...", "180", "more", "(parrot", "tokens", "--json", "lists", "all)"]


@pytest.mark.slow
def test_spans_under_the_embedded_models_own_tokenizer():
    from backends.loading.tokenizer_source import model_tokenizer
    from backends.token_spans import token_spans

    named = model_tokenizer("smollm2")
    assert named.window == 8192
    for text in ["Hello, world!", "🦜 東京 café\tdef f():\n    return 1\n", ""]:
        spans = token_spans(named.tokenizer, text)
        assert "".join(s.text for s in spans) == text
        assert [s.token_id for s in spans] == named.tokenizer.encode(text, add_special_tokens=False).ids
    assert [s.token for s in token_spans(named.tokenizer, "Hello world")] == ["Hello", "␣world"]


def test_probs_keeps_characters_split_over_tokens_whole(session, ui):
    """The tiny model seldom answers in emoji, so the turn holds the real ids of a known text."""
    from backends.reply import TokenChoice

    session.ask("hi").finish()  # loads the model; the reply itself is not used
    tokenizer = session.backend.tokenizer
    ids = tokenizer("🦜 東京", add_special_tokens=False).input_ids
    assert len(ids) > 3, "the tiny vocabulary splits these characters into bytes"
    tokens = [TokenChoice(i, tokenizer.decode([i]), 0.5, [(tokenizer.decode([i]), 0.5)]) for i in ids]
    assert "\ufffd" in "".join(t.text for t in tokens)
    session.add(Turn(Message("assistant", "🦜 東京"), GenerationStats(model=session.backend.model_name), tokens=tokens))
    assert run("/probs", session, ui).splitlines()[0] == "🦜 東京"


def test_tokens_that_look_like_markup_are_shown_as_typed(session, ui, wordpiece):
    text = "[/] [bold]x[/bold]"
    assert run(f'/tokens "{text}"', session, ui).splitlines()[1] == text
    tokens = " ".join(run(f'/tokens --compare model,{wordpiece} "{text}"', session, ui).split())
    assert "[ / ]" in tokens or "[/]" in tokens
    from backends.reply import TokenChoice

    session.add(Turn(Message("assistant", "[/]"), GenerationStats(backend="local", model="other"),
                     tokens=[TokenChoice(1, "[/]", 0.9, [("[/]", 0.9), ("[b]", 0.1)])]))
    shown = run("/probs 0", session, ui)
    assert shown.splitlines()[0] == "[/]" and "[b]" in shown


def test_tokens_on_a_fast_start_need_no_full_model(tiny_llama, ui):
    options = {"device": "cpu", "dtype": "bfloat16", "quantize": "int8"}
    Session("local", str(tiny_llama), **options).backend.load()  # the first start writes the ready copy
    session = Session("local", str(tiny_llama), **options)
    loaded = session.backend.load()
    run("/tokens def add(a, b):", session, ui)
    from transformers import AutoTokenizer

    count = len(AutoTokenizer.from_pretrained(tiny_llama)("def add(a, b):", add_special_tokens=False).input_ids)
    assert f"{count} tokens of the" in ui.texts[-1]
    assert type(loaded.tokenizer).__name__ == "LightTokenizer", "the second start uses the ready copy"
    assert loaded.tokenizer._full is None, "counting tokens did not load the transformers model"


def test_tokens_counts_the_text_exactly_as_typed(session, ui):
    """Spaces, indents and lines stay: /tokens counts what `parrot tokens` counts for the same text."""
    for text in ("a    b", "def f():\n    return 1\n", "  leading and trailing  "):
        shown = run(f"/tokens {text}", session, ui)
        expected = len(session.backend.tokenizer(text, add_special_tokens=False).input_ids)
        assert shown.splitlines()[-1].startswith(f"{expected} tokens of the"), (text, shown)
    flagged = run("/tokens --tokenizer model a    b", session, ui)
    assert flagged.splitlines()[-1].startswith(f"{len(session.backend.tokenizer('a    b', add_special_tokens=False).input_ids)} tokens")
