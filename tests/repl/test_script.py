"""``parrot --script``: lines run as if typed, answers on stdout, exit codes at the first error."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time

from backends.paths import history_file
from repl.history.store import HistoryStore
from tests.support.helpers import ROOT, run_parrot


def script(model, text: str, *flags: str, decoding=("--greedy", "-n", "6")):
    return run_parrot(["--script", "-", "-m", str(model), "--device", "cpu", *decoding, *flags],
                      stdin=text.encode())


def test_script_runs_prompts_commands_and_blocks(tiny_llama, tmp_path):
    export = tmp_path / "chat.jsonl"
    # Sampled with a fixed seed: the tiny greedy model only produces blank lines.
    result = script(tiny_llama, f'# a comment\nhello\n"""\nline one\nline two\n"""\n/export jsonl {export}\n',
                    decoding=("-t", "1", "--seed", "3", "-n", "20"))
    assert result.returncode == 0, result.stderr.decode()
    records = [json.loads(line) for line in export.read_text().splitlines()]
    assert [r["role"] for r in records] == ["user", "assistant", "user", "assistant"]
    assert records[2]["content"] == "line one\nline two"
    out = result.stdout.decode()
    assert records[1]["content"].strip() and records[1]["content"] in out  # the answers went to stdout
    assert records[3]["content"] in out
    assert f"wrote {export}" in out
    assert records[1]["stats"]["completion_tokens"] >= 1 and records[1]["settings"]["seed"] == 3


def test_script_stops_at_the_first_usage_error(tiny_llama):
    result = script(tiny_llama, "/set temp=9\nhello\n")
    assert result.returncode == 2
    assert "line 1" in result.stderr.decode() and "temperature" in result.stderr.decode()
    assert result.stdout.decode() == ""  # the prompt after the error never ran


def test_keep_going_runs_on_and_exits_with_the_first_error(tiny_llama):
    result = script(tiny_llama, "/nosuchcommand\nhello\n/settings\n", "--keep-going")
    assert result.returncode == 2
    assert "did you mean" in result.stderr.decode() or "unknown command" in result.stderr.decode()
    assert "max_new_tokens" in result.stdout.decode()  # /settings ran after the error


def test_backend_failure_exits_1(tmp_path):
    result = run_parrot(["--script", "-", "-m", str(tmp_path / "missing-model")], stdin=b"hello\n")
    assert result.returncode == 1
    assert "no such folder" in result.stderr.decode()


def test_unclosed_block_is_a_usage_error(tiny_llama):
    result = script(tiny_llama, '"""\nnever closed\n')
    assert result.returncode == 2 and "never closed" in result.stderr.decode()


def test_continue_flag_and_history_subcommand(tiny_llama, parrot_home):
    first = script(tiny_llama, "first question\n", "--continue")
    assert first.stderr.decode().startswith("parrot: no conversation to continue yet; starting a new one\n")
    result = script(tiny_llama, "second question\n/history\n", "--continue")
    assert result.returncode == 0
    listing = run_parrot(["history"]).stdout.decode()
    assert "4" in listing and "first question" in listing  # one conversation, four turns
    shown = run_parrot(["history", "1"]).stdout.decode()
    assert "## user\n\nfirst question" in shown and "## user\n\nsecond question" in shown


def test_a_killed_process_keeps_its_committed_turns(tiny_llama, parrot_home):
    env = {**os.environ, "PARROT_HOME": str(parrot_home)}
    child = subprocess.Popen([sys.executable, "-m", "repl", "--script", "-", "-m", str(tiny_llama), "--device", "cpu",
                              "--greedy", "-n", "6"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, cwd=ROOT, env=env)
    try:
        child.stdin.write(b"remember me\n")
        child.stdin.flush()  # stdin stays open: the script waits for its next line
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if history_file().exists():
                with sqlite3.connect(history_file()) as db:
                    if db.execute("SELECT COUNT(*) FROM turns WHERE role = 'assistant'").fetchone()[0]:
                        break
            time.sleep(0.2)
        child.send_signal(signal.SIGKILL)
        child.wait(30)
    finally:
        if child.poll() is None:
            child.kill()
    assert child.returncode == -signal.SIGKILL
    store = HistoryStore()
    turns = store.load(store.last_id()).turns
    assert [t.message.role for t in turns] == ["user", "assistant"]
    assert turns[0].message.content == "remember me"
    assert turns[1].stats.completion_tokens >= 1 and turns[1].settings.greedy
