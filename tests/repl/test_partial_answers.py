"""A server that dies in the middle of an answer, or a Ctrl-C: one-shot and scripts keep the partial text,
the error starts a line of its own (stdout and stderr share a terminal), and --json carries both."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from tests.support.helpers import ROOT, run_parrot
from tests.support.openai_server import chat_chunk
from tests.support.server_personas import transformers_serve


def cut_after_some_text(h):
    h.start_sse()
    h.event(chat_chunk("def add(a, b):"))
    h.event(chat_chunk(" return"))
    h.drop()


def text_then_silence(h):
    h.start_sse()
    h.event(chat_chunk("partial words"))
    h.wait_for_disconnect(30)


def both_streams(args: list[str], stdin: bytes = b"") -> tuple[int, str]:
    """Run parrot with stdout and stderr on one pipe, as a terminal shows them."""
    result = subprocess.run([sys.executable, "-m", "repl", *args], input=stdin, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, cwd=ROOT, timeout=120)
    return result.returncode, result.stdout.decode()


def server_args(server) -> list[str]:
    return ["-b", "openai", "--base-url", f"{server.url}/v1", "-m", "m", "--greedy"]


def test_oneshot_puts_the_error_on_a_line_of_its_own_after_the_partial_answer(server):
    server.queue(cut_after_some_text)
    code, shown = both_streams([*server_args(server), "-p", "add"])
    assert code == 1
    assert shown.startswith("def add(a, b): return\nparrot: the connection to"), shown
    assert "in the middle of the answer (the text received so far is kept" in shown


def test_a_script_puts_the_error_on_a_line_of_its_own_after_the_partial_answer(server):
    server.queue(cut_after_some_text)
    code, shown = both_streams(["--script", "-", *server_args(server)], stdin=b"add\n")
    assert code == 1
    assert "def add(a, b): return\nparrot: line 1: the connection to" in shown, shown


def test_json_keeps_the_partial_text_and_the_error_and_exits_1(server):
    server.queue(cut_after_some_text)
    result = run_parrot([*server_args(server), "--json", "-p", "add"])
    assert result.returncode == 1
    data = json.loads(result.stdout)
    assert data["text"] == "def add(a, b): return" and data["finish_reason"] == "error"
    assert "closed in the middle of the answer" in data["error"]
    assert data["stats"]["prompt_tokens"] is None  # the server never said: unknown, not 0
    assert result.stderr.decode().strip().startswith("parrot: the connection to")


def test_json_says_null_prompt_tokens_for_a_server_without_usage_and_no_error_when_all_went_well(server):
    server.persona = transformers_serve()
    result = run_parrot([*server_args(server), "--json", "-n", "5", "-p", "hello"])
    assert result.returncode == 0, result.stderr.decode()
    data = json.loads(result.stdout)
    assert data["stats"]["prompt_tokens"] is None and data["stats"]["completion_tokens"] == 5
    assert data["error"] is None and data["text"]


def test_json_with_usage_keeps_the_count(server):
    result = run_parrot([*server_args(server), "--json", "-p", "hello"])  # the default answer sends usage 7/2
    data = json.loads(result.stdout)
    assert (data["stats"]["prompt_tokens"], data["stats"]["completion_tokens"]) == (7, 2)


@pytest.mark.parametrize("as_json", [False, True])
def test_ctrl_c_in_the_middle_keeps_the_partial_answer_on_its_own_line(server, as_json):
    server.queue(text_then_silence)
    args = [sys.executable, "-m", "repl", *server_args(server), "-p", "hi"] + (["--json"] if as_json else [])
    process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=ROOT,
                               env={**os.environ, "PYTHONUNBUFFERED": "1"})
    deadline = time.monotonic() + 60
    while not server.posts() and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(1.0)  # the first chunk is on its way
    process.send_signal(signal.SIGINT)
    shown = process.communicate(timeout=60)[0].decode()
    assert process.returncode == 130, shown
    if as_json:
        first, *rest = shown.splitlines()
        data = json.loads(first)
        assert (data["text"], data["finish_reason"], data["error"]) == ("partial words", "cancelled", "interrupted")
        assert rest == ["parrot: interrupted"]
    else:
        assert shown == "partial words\nparrot: interrupted\n", shown
