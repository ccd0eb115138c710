"""Ctrl-C, SIGTERM and SIGHUP in the middle of a reply: parrot stops at once with a meaningful exit
code, and the conversation keeps the prompt and the text that had arrived, marked cancelled."""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import time

import pytest

from tests.support.hostile_modes import ROOT, stored_turns


def held_answer(h) -> None:
    from tests.support.openai_server import chat_chunk

    h.start_sse()
    h.event(chat_chunk("Hi there"))
    h.wait_for_disconnect(60)  # then nothing more, until parrot hangs up


def start(server, argv: list[str], stdin: bytes = b"") -> subprocess.Popen:
    server.models = ["m"]
    server.queue(held_answer)
    child = subprocess.Popen([sys.executable, "-m", "repl", "-b", "openai", "--base-url", f"{server.url}/v1",
                              "-m", "m", *argv], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, cwd=ROOT, env=dict(os.environ))
    child.stdin.write(stdin)
    child.stdin.close()
    seen = b""
    deadline = time.monotonic() + 60
    while b"Hi there" not in seen:  # the first words are on stdout: the reply is under way
        assert time.monotonic() < deadline and child.poll() is None, (seen, child.stderr.read())
        ready, _, _ = select.select([child.stdout], [], [], 0.5)
        if ready:
            seen += os.read(child.stdout.fileno(), 4096)
    return child


def signal_and_wait(child: subprocess.Popen, signum: int) -> str:
    """Send ``signum`` mid-reply, wait for the program to end (killing it if it hangs); its stderr."""
    child.send_signal(signum)
    try:
        child.wait(30)
    finally:
        if child.poll() is None:
            child.kill()
    return child.stderr.read().decode()


@pytest.mark.parametrize("signum, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143), (signal.SIGHUP, 129)])
def test_a_signal_mid_reply_in_a_script_keeps_the_partial_answer(signum, code, server, no_keyring):
    child = start(server, ["--script", "-"], b"tell me everything\nthis line never runs\n")
    err = signal_and_wait(child, signum)
    assert child.returncode == code, err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert stored_turns() == [("user", "tell me everything"), ("assistant", "Hi there")]
    import sqlite3

    from backends.paths import history_file

    with sqlite3.connect(history_file()) as db:
        assert db.execute("SELECT finish_reason FROM turns WHERE role = 'assistant'").fetchone()[0] == "cancelled"
    assert len(server.posts()) == 1  # the next line of the script never ran


@pytest.mark.parametrize("signum, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_mid_reply_in_one_shot_mode_stops_it(signum, code, server, no_keyring):
    child = start(server, ["-p", "tell me everything"])
    started = time.monotonic()
    err = signal_and_wait(child, signum)
    assert child.returncode == code and "Traceback" not in err, err
    assert time.monotonic() - started < 20
