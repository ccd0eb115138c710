"""Before the first word, one-shot and --plain say on a terminal's stderr what the reply waits for (the model
loading, the prompt being read), in one line redrawn in place and gone before the answer; and every mode
says when a reply stopped at the token limit rather than by itself."""

from __future__ import annotations

import io
import json
import os
import re
import sys

import pexpect
from prompt_toolkit.input import create_pipe_input
from prompt_toolkit.output import DummyOutput

from backends.settings import GenerationSettings
from repl.chat.session import Session
from repl.modes.plain import PlainRepl
from tests.support.helpers import ROOT, run_parrot

LIMIT_CLI = "parrot: the reply stopped at the token limit of 3 new tokens; -n/--max-tokens N raises the limit"
LIMIT_CHAT = "parrot: the reply stopped at the token limit of 3 new tokens; /continue extends it, /max N raises the limit"


class TerminalErr(io.StringIO):
    """Where stderr goes on a terminal: a stream that says it is one, and keeps what was drawn on it."""

    def isatty(self) -> bool:
        return True


def test_one_shot_on_a_terminal_says_what_it_waits_for_in_one_line_then_answers(tiny_llama):
    child = pexpect.spawn(sys.executable, ["-m", "repl", "-m", str(tiny_llama), "-n", "3", "-p", "hello"],
                          cwd=str(ROOT), env=dict(os.environ), encoding="utf-8", timeout=240, dimensions=(24, 80))
    child.expect(pexpect.EOF)
    screen = child.before
    child.close()
    assert child.exitstatus == 0, screen
    # Loading, then the prompt being read, each drawn over the last with the seconds so far...
    loading = screen.index(f"\rparrot: loading {tiny_llama}… ")
    readings = list(re.finditer(r"\rparrot: reading the prompt \(\d+ tokens\)… \d+ s *", screen))
    assert readings and loading < readings[0].start()
    # ... and wiped before the answer (spaces over it, no escape sequence), which is followed by how it ended.
    wiped = screen[readings[-1].end():]
    assert re.match(r"\r {20,}\r", wiped) and "parrot:" not in wiped.split("\r\n")[0]
    assert "\x1b" not in screen and wiped.rstrip().endswith(LIMIT_CLI)


def test_off_a_terminal_nothing_is_drawn_and_the_limit_is_still_said(tiny_llama):
    result = run_parrot(["-m", str(tiny_llama), "-n", "3", "-p", "hello"])
    err = result.stderr.decode()
    assert result.returncode == 0, err
    assert err.strip() == LIMIT_CLI  # no waiting line in a log: only what it should keep
    as_json = run_parrot(["-m", str(tiny_llama), "-n", "3", "--json", "-p", "hello"])
    assert json.loads(as_json.stdout)["finish_reason"] == "length"
    assert as_json.stderr.decode().strip() == LIMIT_CLI


def test_a_script_says_which_reply_stopped_at_the_limit(tiny_llama):
    result = run_parrot(["--script", "-", "-m", str(tiny_llama), "-n", "3"], stdin=b"hello\n")
    assert result.returncode == 0, result.stderr.decode()
    assert result.stderr.decode().strip() == LIMIT_CHAT  # the chat's commands: a script runs REPL lines


def test_the_plain_repl_waits_in_one_line_on_stderr_and_clears_it(tiny_llama):
    session = Session("local", str(tiny_llama), GenerationSettings(greedy=True, max_new_tokens=3), device="cpu")
    out, err = io.StringIO(), TerminalErr()
    with create_pipe_input() as pipe:
        PlainRepl(session, input=pipe, output=DummyOutput(), out=out, err=err).handle("hello")
    drawn = err.getvalue()
    assert drawn.startswith(f"\rparrot: loading {tiny_llama}… 0 s")
    assert re.search(r"\rparrot: reading the prompt \(\d+ tokens\)… \d+ s", drawn)
    assert re.search(r"\r {20,}\r$", drawn)  # gone before the answer
    assert "cut off at the token limit of 3 new tokens (/continue extends it)" in out.getvalue()
