"""Escape sequences in stored or model text are shown, never obeyed, wherever they reach a terminal.

A terminal is a real pseudo-terminal (pexpect) for the subprocess modes; a file or pipe keeps the
text exactly as it was.
"""

from __future__ import annotations

import os
import sys

import pexpect
import pytest

from tests.support.hostile_modes import ROOT, run_mode, seed_conversation

HOSTILE = "\x1b]0;pwned\x07retitled \x1b[2J\x1b[31mred\x9b1m \x1b]52;c;aGk=\x07clip\x08\r done"
RAW_MARKERS = ("\x1b", "\x07", "\x9b", "\x08")


def on_a_terminal(args: list[str], timeout: float = 240) -> str:
    """Run parrot on a pseudo-terminal and return everything it printed there."""
    child = pexpect.spawn(sys.executable, ["-m", "repl", *args], cwd=str(ROOT), env=dict(os.environ),
                          encoding="utf-8", codec_errors="replace", timeout=timeout, dimensions=(40, 200))
    child.setecho(False)
    text = child.read()
    child.close()
    return text


def assert_neutral(shown: str) -> None:
    for marker in ("\x1b]0;", "\x1b]52", "\x1b[2J", "\x07", "\x9b", "\x08"):
        assert marker not in shown, f"{marker!r} reached the terminal:\n{shown!r}"
    assert "␛]0;pwned" in shown  # shown as a visible symbol instead


@pytest.mark.parametrize("args", [["history"], ["history", "1"]])
def test_history_subcommand_on_a_terminal(args):
    seed_conversation((HOSTILE, "answer " + HOSTILE))
    assert_neutral(on_a_terminal(args))


def test_history_into_a_file_keeps_the_text_as_stored():
    from tests.support.helpers import run_parrot

    seed_conversation((HOSTILE, "fine"))
    result = run_parrot(["history", "1"])
    assert HOSTILE.replace("\r", "").split("\x08")[0] in result.stdout.decode().replace("\r", "")


@pytest.mark.parametrize("mode", ["plain", "script-tty"])
def test_history_command_and_continue_in_the_chat(mode, model_args):
    seed_conversation((HOSTILE, "fine"))
    if mode == "plain":
        shown = run_mode("plain", ["/history", "/undo"], [*model_args, "--continue"]).out
    else:
        import tempfile

        with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as script:
            script.write("/history\n/undo\n")
        shown = on_a_terminal(["--script", script.name, *model_args, "--continue"])
    for marker in ("\x1b]0;", "\x07", "\x9b"):
        assert marker not in shown, repr(shown)
    assert "␛]0;pwned" in shown


def hostile_server(server):
    from tests.support.openai_server import answer

    server.models = ["m"]
    server.queue(answer(["Hi ", "\x1b]0;pwned\x07", "\x1b[2Jthere\x9b"]))
    return ["-b", "openai", "--base-url", f"{server.url}/v1", "-m", "m"]


@pytest.mark.parametrize("mode", ["oneshot", "script"])
def test_model_output_on_a_terminal_is_neutralised(mode, server, no_keyring):
    args = hostile_server(server)
    if mode == "oneshot":
        shown = on_a_terminal([*args, "-p", "hello"])
    else:
        import tempfile

        with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as script:
            script.write("hello\n")
        shown = on_a_terminal(["--script", script.name, *args])
    assert "Hi " in shown and "there" in shown, shown
    for marker in RAW_MARKERS:
        assert marker not in shown, repr(shown)


def test_model_output_into_a_pipe_is_kept_as_sent(server, no_keyring):
    args = hostile_server(server)
    outcome = run_mode("oneshot", ["hello"], args)
    assert outcome.code == 0 and "\x1b]0;pwned\x07" in outcome.out


@pytest.mark.parametrize("mode", ["plain", "app"])
def test_model_output_in_the_chat_is_neutralised(mode, server, no_keyring):
    args = hostile_server(server)
    outcome = run_mode(mode, ["hello"], args)
    assert "there" in outcome.out, outcome.text
    for marker in RAW_MARKERS:
        assert marker not in outcome.out, repr(outcome.out)


@pytest.mark.parametrize("mode", ["plain", "app", "script"])
def test_markup_and_escapes_in_command_arguments_are_plain_text(mode, model_args):
    outcome = run_mode(mode, ["/system [/bold] [red]x \x1b]0;t\x07", "/model"], model_args)
    assert "Traceback" not in outcome.text and "MarkupError" not in outcome.text, outcome.text
    assert "[/bold]" in outcome.out or mode == "app", outcome.text
    if mode != "script":  # a script's stdout here is a pipe: kept as typed
        assert "\x1b]0;t" not in outcome.out
