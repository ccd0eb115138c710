"""Hostile input by class, in every mode it reaches: a user name after ``~``, bytes that are not UTF-8,
NULs and control characters, too little data, escape sequences, quoting, very long names and numbers
that only look like numbers. Each is answered or refused in one line; nothing crashes, hangs or acts
on the terminal, and the stored conversation stays as it was."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.support.helpers import ROOT, run_parrot
from tests.support.hostile_modes import assert_one_line, run_mode, seed_conversation, stored_turns

CHAT_MODES = ("app", "plain", "script")
NOUSER = "~nonexistentuser/x"
KEPT = [("user", "keep me"), ("assistant", "kept")]


def refused(outcome, *needles: str) -> str:
    """One line that says ``needles``; the chat goes on; a script exits 2; the conversation is kept."""
    line = assert_one_line(outcome, *needles, code=2 if outcome.mode in ("script", "oneshot") else None)
    if outcome.mode == "app":
        assert outcome.running
    if outcome.mode == "plain":
        assert outcome.code == 0
    return line


# -- ~user in every path ------------------------------------------------------------------------------

HOME_LINES = {"@path": f"look at @{NOUSER}", "/file": f"/file {NOUSER}", "/load": f"/load {NOUSER}.json",
              "/save": f"/save {NOUSER}.json", "/export": f"/export md {NOUSER}.md",
              "/tokens": f"/tokens hi --tokenizer {NOUSER}"}


@pytest.mark.parametrize("mode", CHAT_MODES)
@pytest.mark.parametrize("what", HOME_LINES)
def test_a_user_that_does_not_exist_is_one_line_wherever_a_path_goes(what, mode, model_args):
    conversation = seed_conversation()
    outcome = run_mode(mode, [HOME_LINES[what]], [*model_args, "--continue"])
    refused(outcome, "~nonexistentuser: there is no such user")
    assert stored_turns(conversation) == KEPT


@pytest.mark.parametrize("argv", [["--script", NOUSER], ["-m", NOUSER, "-p", "hi"],
                                  ["tokens", "--tokenizer", NOUSER, "hi"], ["tokenizer", "train", "--data", NOUSER],
                                  ["eval", "ppl", "--data", NOUSER]])
def test_a_user_that_does_not_exist_on_the_command_line(argv):
    result = run_parrot(argv)
    err = result.stderr.decode()
    assert result.returncode == 2 and err.count("\n") == 1 and "no such user" in err, err


def test_parrot_home_under_a_user_that_does_not_exist(tiny_llama):
    result = run_parrot(["-m", str(tiny_llama), "-p", "hi"], env={"PARROT_HOME": "~nonexistentuser/home"})
    assert result.returncode == 2 and "~nonexistentuser: there is no such user" in result.stderr.decode()


# -- bytes that are not UTF-8 ------------------------------------------------------------------------


def parrot_bytes(argv: list[bytes], env: dict[bytes, bytes] | None = None) -> subprocess.CompletedProcess:
    """parrot with arguments and environment given as bytes, as a shell passes them."""
    environment = {**os.environb, **(env or {})}
    return subprocess.run([os.fsencode(sys.executable), b"-m", b"repl", *argv], input=b"", capture_output=True,
                          cwd=ROOT, env=environment, timeout=300)


@pytest.mark.parametrize("where", ["-p", "argument", "--system"])
def test_an_argument_that_is_not_utf8_is_replaced_and_said(where, tiny_llama):
    model = [b"-m", os.fsencode(tiny_llama), b"--device", b"cpu", b"--greedy", b"-n", b"3"]
    text = b"caf\xe9 \xff"
    argv = {"-p": [b"-p", text], "argument": [text], "--system": [b"--system", text, b"-p", b"hi"]}[where]
    result = parrot_bytes([*model, *argv])
    err = result.stderr.decode()
    assert result.returncode == 0, err
    assert "Traceback" not in err and "TypeError" not in err
    assert "an argument is not valid UTF-8; its invalid bytes were replaced with U+FFFD" in err


def test_a_search_that_is_not_utf8_finds_nothing_and_says_so():
    seed_conversation()
    result = parrot_bytes([b"history", b"--search", b"\xff\xfe"])
    assert result.returncode == 0 and "no conversation mentions" in result.stdout.decode()


@pytest.mark.parametrize("name", [b"PARROT_HOME", b"HF_TOKEN"])
def test_an_environment_variable_that_is_not_utf8_is_refused(name, tiny_llama):
    result = parrot_bytes([b"-m", os.fsencode(tiny_llama), b"-p", b"hi"], env={name: b"/tmp/\xff"})
    err = result.stderr.decode()
    assert result.returncode == 2 and err.count("\n") == 1, err
    assert f"the environment variable {name.decode()} is not valid UTF-8" in err
    assert "\xff" not in err and "/tmp/" not in err  # a token's value is never shown


def test_the_plain_repl_replaces_bytes_the_terminal_sent_that_are_not_utf8(model_args):
    # prompt_toolkit keeps a byte that is not UTF-8 as a lone surrogate, as the terminal's reader does.
    outcome = run_mode("plain", ["caf\udce9 ok"], model_args)
    assert outcome.code == 0 and "Traceback" not in outcome.text and "TypeError" not in outcome.text
    assert any("not UTF-8; they were replaced with U+FFFD" in line for line in outcome.out.splitlines())
    assert stored_turns()[0] == ("user", "caf\ufffd ok")


# -- NULs and control characters -----------------------------------------------------------------------

NUL_LINES = {"/history": ("/history a\0b", "no conversation mentions"), "/load": ("/load a\0b", "NUL"),
             "/file": ("/file a\0b", "NUL"), "/save": ("/save a\0b", "NUL"), "/model": ("/model a\0b", "NUL"),
             "@path": ('look at @"a\0b"', "NUL")}


@pytest.mark.parametrize("what", NUL_LINES)
def test_a_nul_is_refused_or_searched_for_in_one_line(what, model_args):
    conversation = seed_conversation()
    line, needle = NUL_LINES[what]
    outcome = run_mode("script", [line], [*model_args, "--continue"])
    if what == "/history":  # a search for text with a NUL in it: found nowhere, said in one line
        assert outcome.code == 0 and needle in outcome.out and "OperationalError" not in outcome.text
    else:
        refused(outcome, needle)
    assert stored_turns(conversation) == KEPT


def test_a_prompt_with_nuls_and_escapes_is_stored_and_found_again(model_args):
    outcome = run_mode("script", ["hello\0 \x1b[31mworld", "/history world", "/history \x01\x02"], model_args)
    assert outcome.code == 0, outcome.text
    assert stored_turns()[0] == ("user", "hello\0 \x1b[31mworld")


# -- too little data -----------------------------------------------------------------------------------


def js_folder(path, files: dict[str, str]):
    path.mkdir()
    for name, text in files.items():
        (path / name).write_text(text)
    return path


@pytest.mark.parametrize("kind", ["empty", "one-file", "unlicensed"])
def test_finetune_on_too_little_javascript_is_a_usage_error_before_anything_loads(kind, tmp_path):
    code = "function add(a, b) {\n  return a + b;\n}\nmodule.exports = add;\n" * 3
    files = {"empty": {}, "one-file": {"package.json": '{"name": "x", "license": "MIT"}', "a.js": code},
             "unlicensed": {"a.js": code, "b.js": code + "\n"}}[kind]
    folder = js_folder(tmp_path / kind, files)
    result = run_parrot(["finetune", "js", "--data", str(folder), "--steps", "1"], timeout=120)
    err = result.stderr.decode()
    assert result.returncode == 2 and err.count("\n") == 1 and "ValueError" not in err, err
    assert "too little JavaScript to train on" in err


@pytest.mark.parametrize("kind", ["empty-file", "binary", "blank"])
def test_a_tokenizer_needs_text_to_learn_from(kind, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    content = {"empty-file": b"", "binary": bytes(range(256)) * 20, "blank": b"\n\n  \n"}[kind]
    (data / "f.txt").write_bytes(content)
    result = run_parrot(["tokenizer", "train", "--data", str(data)])
    err = result.stderr.decode()
    assert result.returncode == 2 and "holds no text to learn a vocabulary from" in err, err
    assert not (tmp_path / "parrot-home" / "data" / "tokenizers").exists()  # nothing saved


@pytest.mark.parametrize("kind", ["file", "missing", "empty"])
def test_eval_ppl_says_what_its_data_is(kind, tmp_path, tiny_llama):
    path = {"file": tmp_path / "code.js", "missing": tmp_path / "nope", "empty": tmp_path / "empty"}[kind]
    if kind == "file":
        path.write_text("function a() { return 1; }\n")
    if kind == "empty":
        path.mkdir()
    result = run_parrot(["eval", "ppl", "--data", str(path), "-m", str(tiny_llama)])
    err = result.stderr.decode()
    expected = {"file": "is a file, not a folder", "missing": "no such folder",
                "empty": "has no held-out code"}[kind]
    said = [line for line in err.splitlines() if line.startswith("parrot:")]  # after the loading progress
    assert result.returncode == 2 and len(said) == 1 and expected in said[0], err


def test_eval_of_something_that_is_no_evaluation_names_the_command_line_help():
    result = run_parrot(["eval", "bogus"])
    err = result.stderr.decode()
    assert result.returncode == 2 and "there is no evaluation called bogus" in err and "/eval" not in err, err
    result = run_parrot(["eval", "humaneval", "--limit", "x"])
    err = result.stderr.decode()
    assert result.returncode == 2 and "parrot eval --help" in err and "/eval" not in err, err


# -- escape sequences and markup -----------------------------------------------------------------------

EVIL = "\x1b]0;pwned\x07evil.py"


@pytest.mark.parametrize("mode", ["app", "plain"])
def test_a_file_named_with_escapes_is_shown_not_obeyed(mode, tmp_path, model_args):
    (tmp_path / EVIL).write_text("print('hi')\n")
    outcome = run_mode(mode, [f"/file {tmp_path}/*.py", "/tokens \x1b]0;pwned\x07 hi \x9b1m"], model_args)
    shown = outcome.out + "\n".join(outcome.messages)
    for marker in ("\x1b]0;", "\x07", "\x9b"):
        assert marker not in shown, repr(shown)
    assert "␛]0;pwned␇evil.py" in shown


def test_the_attachment_line_above_the_input_shows_escapes_as_symbols(tmp_path, tiny_llama):
    import asyncio

    from backends.settings import GenerationSettings
    from repl.app.attachment_bar import AttachmentBar
    from repl.app.chat_app import ChatApp
    from repl.app.prompt_input import PromptInput
    from tests.support.app_helpers import wait_until

    (tmp_path / EVIL).write_text("print('hi')\n")

    async def scenario() -> str:
        app = ChatApp("local", str(tiny_llama), GenerationSettings(greedy=True), {"device": "cpu"})
        async with app.run_test(size=(120, 30)) as pilot:
            await wait_until(pilot, lambda: app.loader.since is None)
            app.query_one(PromptInput).text = f'look at @"{tmp_path}/{EVIL}"'
            bar = app.query_one(AttachmentBar)
            await wait_until(pilot, lambda: "evil.py" in str(bar.render()))
            shown = str(bar.render())
        app.history.close()
        return shown

    shown = asyncio.run(scenario())
    assert "\x1b" not in shown and "\x07" not in shown and "␛]0;pwned␇evil.py" in shown


def test_markup_in_an_error_is_shown_as_typed_in_the_app(model_args):
    outcome = run_mode("app", ["/load [/bold]x[red].json"], model_args)
    assert outcome.running
    assert any("[/bold]x[red].json" in message for message in outcome.messages), outcome.messages


# -- quoting, free text, long names, numbers ---------------------------------------------------------------


@pytest.mark.parametrize("mode", CHAT_MODES)
def test_search_text_is_not_a_command_line(mode, model_args):
    seed_conversation(("it's a test", "kept"))
    outcome = run_mode(mode, ["/history it's"], model_args)
    assert "quot" not in outcome.text.lower(), outcome.text
    assert "it's a test" in outcome.out or any("it's a test" in m for m in outcome.messages), outcome.text


@pytest.fixture
def spaced(tmp_path):
    path = tmp_path / "path with space.py"
    path.write_text("print('spaced')\n")
    return path


@pytest.mark.parametrize("mode", CHAT_MODES)
def test_a_path_with_spaces_in_double_quotes_is_attached(mode, spaced, model_args):
    outcome = run_mode(mode, [f'/file "{spaced}"', f'and @"{spaced}" again'], model_args)
    assert outcome.code in (0, None) and "Traceback" not in outcome.text, outcome.text
    first = stored_turns()[0][1]
    assert first.startswith(f"{spaced}:\n```python\nprint('spaced')")
    assert first.endswith(f'and @"{spaced}" again')


@pytest.mark.parametrize("mode", CHAT_MODES)
@pytest.mark.parametrize("form", ["@", "/file"])
def test_a_backslash_before_a_space_is_refused_with_the_quoting_rule(form, mode, spaced, model_args):
    escaped = str(spaced).replace(" ", "\\ ")
    line = f"explain @{escaped}" if form == "@" else f"/file {escaped}"
    outcome = run_mode(mode, [line], model_args)
    refused(outcome, "a backslash does not escape a space", "double quotes")


@pytest.mark.parametrize("mode", ["script", "plain"])
def test_a_model_that_cannot_load_is_refused_by_the_command_itself(mode, tmp_path, model_args):
    outcome = run_mode(mode, [f"/model {tmp_path / 'no-such-model'}", "/model"], model_args)
    line = assert_one_line(outcome, "no such folder", code=1 if mode == "script" else None)
    assert "no-such-model" in line
    assert "the conversation is kept" not in outcome.out  # no claim that the switch worked
    if mode == "plain":  # the one before stays
        assert f"model: {model_args[1]}" in outcome.out


@pytest.mark.parametrize("mode", CHAT_MODES)
def test_a_path_of_five_thousand_characters_is_cut_in_its_error(mode, model_args):
    outcome = run_mode(mode, ["/load /tmp/" + "x" * 5000 + ".json"], model_args)
    line = refused(outcome, "too long")
    assert len(line) < 400 and "…" in line


@pytest.mark.parametrize("line", ["/branch ²", "/edit ²", "/history ²"])
def test_numbers_that_only_look_like_numbers(line, model_args):
    outcome = run_mode("script", ["hello", line], [*model_args, "--keep-going"])
    assert "Traceback" not in outcome.text and "unexpectedly" not in outcome.text, outcome.text
    assert outcome.code in (0, 2)


# -- globs ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", CHAT_MODES)
def test_a_glob_of_thousands_of_files_is_refused_at_once(mode, model_args):
    import time

    started = time.monotonic()
    outcome = run_mode(mode, ["/file /usr/lib/**/*.py"], model_args, timeout=120)
    refused(outcome, "matches more than 64 files")
    assert time.monotonic() - started < 60
    assert "would cut" not in outcome.text
