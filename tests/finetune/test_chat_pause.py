"""The watcher holds a background run still while a reply streams, and never leaves it held."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from finetune.chat_pause import stopped_by_others
from finetune.yielding import BUSY_PREFIX, read_ledger

pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads process states from /proc")

ROOT = Path(__file__).resolve().parents[2]


def state(pid: int) -> str:
    return Path(f"/proc/{pid}/stat").read_text().split(") ")[-1][:1]


def wait_until(condition, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return False


@pytest.fixture
def run_process():
    """A stand-in for a training run: a process that counts as fast as it can."""
    process = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    yield process
    os.kill(process.pid, signal.SIGCONT)
    process.kill()
    process.wait()


def start_watcher(pid: int, folder: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "finetune.chat_pause", str(pid), str(folder)], cwd=ROOT)


def mark(folder: Path, pid: int) -> Path:
    path = folder / f"{BUSY_PREFIX}{pid}-{time.monotonic_ns()}"
    path.touch()
    return path


def test_a_streaming_reply_holds_the_run_and_its_end_lets_it_go_on(tmp_path, run_process):
    watcher = start_watcher(run_process.pid, tmp_path)
    try:
        time.sleep(0.3)
        assert state(run_process.pid) == "R"
        reply = mark(tmp_path, os.getpid())
        assert wait_until(lambda: state(run_process.pid) == "T", timeout=2), "the run went on during the reply"
        time.sleep(0.3)
        reply.unlink()
        assert wait_until(lambda: state(run_process.pid) in "RS", timeout=2), "the run stayed held"
        assert wait_until(lambda: read_ledger(tmp_path)[1] == 1)
        seconds, pauses = read_ledger(tmp_path)
        assert 0.25 < seconds < 5 and pauses == 1
    finally:
        watcher.terminate()
        watcher.wait(timeout=10)


def test_a_mark_left_by_a_chat_that_died_holds_nothing(tmp_path, run_process):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    mark(tmp_path, dead.pid)
    watcher = start_watcher(run_process.pid, tmp_path)
    try:
        time.sleep(0.5)
        assert state(run_process.pid) == "R" and read_ledger(tmp_path) == (0.0, 0)
    finally:
        watcher.terminate()
        watcher.wait(timeout=10)


def test_a_chat_killed_mid_reply_lets_the_run_go_on(tmp_path, run_process):
    chat = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    mark(tmp_path, chat.pid)
    watcher = start_watcher(run_process.pid, tmp_path)
    try:
        assert wait_until(lambda: state(run_process.pid) == "T", timeout=2)
        chat.kill()
        chat.wait()
        assert wait_until(lambda: state(run_process.pid) in "RS", timeout=2), "a dead chat left the run held"
    finally:
        watcher.terminate()
        watcher.wait(timeout=10)


def test_stopping_the_watcher_while_it_holds_the_run_lets_the_run_go_on(tmp_path, run_process):
    reply = mark(tmp_path, os.getpid())
    watcher = start_watcher(run_process.pid, tmp_path)
    try:
        assert wait_until(lambda: state(run_process.pid) == "T", timeout=2)
        watcher.terminate()
        assert watcher.wait(timeout=10) == 0
        assert wait_until(lambda: state(run_process.pid) in "RS", timeout=2)
    finally:
        reply.unlink()


def test_a_run_stopped_by_someone_else_stays_stopped_after_a_reply(tmp_path, run_process):
    os.kill(run_process.pid, signal.SIGSTOP)
    assert wait_until(lambda: stopped_by_others(run_process.pid))
    watcher = start_watcher(run_process.pid, tmp_path)
    try:
        reply = mark(tmp_path, os.getpid())
        time.sleep(0.3)
        reply.unlink()
        time.sleep(0.3)
        assert state(run_process.pid) == "T" and read_ledger(tmp_path) == (0.0, 0)
    finally:
        watcher.terminate()
        watcher.wait(timeout=10)


def test_the_watcher_leaves_when_the_run_has_ended(tmp_path):
    run = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(0.3)"])
    watcher = start_watcher(run.pid, tmp_path)
    run.wait()
    assert watcher.wait(timeout=10) == 0
