"""The real ``parrot`` program in a pseudo-terminal: the app starts, answers, quits, and remembers."""

from __future__ import annotations

import contextlib
import os
import shlex
import signal
import sys
import time
from pathlib import Path

import pexpect

from finetune.yielding import process_state
from tests.support.helpers import ROOT, run_parrot


def test_parrot_in_a_terminal_answers_and_keeps_history(tiny_llama, parrot_home):
    env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": "100", "LINES": "30", "TQDM_DISABLE": "1"}
    child = pexpect.spawn(sys.executable, ["-m", "repl", "-m", str(tiny_llama), "--device", "cpu", "--greedy",
                                           "-n", "8"], cwd=str(ROOT), env=env, dimensions=(30, 100),
                          encoding="utf-8", timeout=120)
    try:
        child.expect("Enter sends")  # first paint
        child.expect("chat")  # the status bar, once the model has loaded
        child.send("hello from a terminal\r")
        child.expect(r"\d+ tokens")  # the line under the streamed answer
        child.send("\x11")  # Ctrl-Q
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)
    assert child.exitstatus == 0
    listing = run_parrot(["history"], env={"PARROT_HOME": str(parrot_home)})
    assert listing.returncode == 0
    assert "hello from a terminal" in listing.stdout.decode()


def test_a_dumb_terminal_gets_the_plain_repl(tiny_llama):
    env = {**os.environ, "TERM": "dumb", "TQDM_DISABLE": "1"}
    child = pexpect.spawn(sys.executable, ["-m", "repl", "-m", str(tiny_llama), "--device", "cpu", "--greedy",
                                           "-n", "6"], cwd=str(ROOT), env=env, dimensions=(30, 100),
                          encoding="utf-8", timeout=120)
    try:
        child.expect("Ctrl-D quits")  # the plain REPL's greeting, not the full-screen app
        child.expect("> ")
        child.send("hi there\r")
        child.expect(r"\d+ tokens")
        child.expect("> ")
        child.send("/quit\r")  # (Ctrl-D is covered by the pipe-input tests; here it would race raw mode)
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)
    assert child.exitstatus == 0


def test_parrot_leaves_when_its_terminal_hangs_up_under_make(tiny_llama, parrot_home, tmp_path):
    # As under `make run`: the hangup goes to the session leader (make), which dies without passing
    # it on; parrot must notice the terminal itself instead of spinning on its end-of-file.
    env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": "100", "LINES": "30", "TQDM_DISABLE": "1"}
    (tmp_path / "Makefile").write_text(f"run:\n\tcd {shlex.quote(str(ROOT))} && {shlex.quote(sys.executable)} -m repl "
                                       f"-m {shlex.quote(str(tiny_llama))} --device cpu --greedy\n")
    child = pexpect.spawn("make", ["-s", "-C", str(tmp_path), "run"], env=env, dimensions=(30, 100),
                          encoding="utf-8", timeout=120)
    parrot = None
    try:
        child.expect("Enter sends")
        child.expect("chat")
        child.send("/max 4000\r")
        child.expect("max_new_tokens")
        child.send("before the hangup\r")  # a long reply: the hangup comes while it streams
        child.expect("before the hangup")
        parrot = _descendant(child.pid, "repl")
        os.close(child.child_fd)  # the window closes; only make, the session leader, is told
        deadline = time.monotonic() + 20
        while _running(parrot) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not _running(parrot), "parrot kept running after its terminal went away"
    finally:
        with contextlib.suppress(OSError):
            child.close(force=True)
        if parrot is not None and _running(parrot):
            os.kill(parrot, signal.SIGKILL)
    listing = run_parrot(["history"], env={"PARROT_HOME": str(parrot_home)})
    assert "before the hangup" in listing.stdout.decode()


def _descendant(pid: int, word: str) -> int:
    """The process under ``pid`` (at any depth) whose command line holds ``word``."""
    for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split():
        if word in Path(f"/proc/{child}/cmdline").read_bytes().decode(errors="replace"):
            return int(child)
        try:
            return _descendant(int(child), word)
        except LookupError:
            continue
    raise LookupError(word)


def _running(pid: int) -> bool:
    return process_state(pid) not in ("", "Z")  # "": gone; Z: ended, not yet reaped
