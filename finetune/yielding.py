"""A background run yields the machine to the chat: lower priority, and held still while a reply streams.

On a 2-core laptop a training step and a reply fight for the same cores and memory bandwidth, and
the chat loses by far (0.8 instead of 47 tok/s). So the chat marks each reply with a small file in
the run's folder (``chat_reply``), and ``chat_pause``, a watcher the run starts, stops the run while
such a mark exists. A mark whose process is gone, or that is older than ``STALE``, is ignored: a
chat that crashed mid-reply never freezes the training.
"""

from __future__ import annotations

import json
import os
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

BUSY_PREFIX = "chat-busy-"
LEDGER = "paused.json"  # seconds the run was held and how often, written by chat_pause
STALE = 600.0  # seconds: no reply streams this long; an older mark was left behind


@contextmanager
def chat_reply(folder: Path | None) -> Iterator[None]:
    """Mark a streaming reply for the run in ``folder`` (nothing when there is no run)."""
    if folder is None or not folder.is_dir():
        yield
        return
    mark = folder / f"{BUSY_PREFIX}{os.getpid()}-{time.monotonic_ns()}"
    try:
        mark.touch()
    except OSError:
        mark = None  # type: ignore[assignment]
    try:
        yield
    finally:
        if mark is not None:
            mark.unlink(missing_ok=True)


@contextmanager
def chat_replying() -> Iterator[None]:
    """Mark a streaming reply for every run of this user that is going now (the chat calls this)."""
    from contextlib import ExitStack

    from backends import paths

    with ExitStack() as marks:
        for record in paths.runs_dir().glob("*/job.json"):
            try:
                running = alive(int(json.loads(record.read_text(encoding="utf-8"))["pid"]))
            except (OSError, ValueError, KeyError, TypeError):
                continue
            if running:
                marks.enter_context(chat_reply(record.parent))
        yield


def replies_streaming(folder: Path) -> bool:
    """Whether a live chat process is streaming a reply now."""
    now = time.time()
    for mark in folder.glob(BUSY_PREFIX + "*"):
        try:
            pid = int(mark.name[len(BUSY_PREFIX):].split("-")[0])
            fresh = now - mark.stat().st_mtime < STALE
        except (ValueError, OSError):
            continue
        if fresh and alive(pid):
            return True
    return False


class Yielder:
    """The run's side of sharing the machine: lowers its priority once and, when ``enabled``, starts
    ``chat_pause``, which stops the run outright while a chat reply streams. ``wait`` (called between
    steps) says how many seconds the run was held since it was last asked, to leave out of its speed."""

    def __init__(self, folder: Path, nice: int = 0, enabled: bool = False) -> None:
        self.folder = folder
        self.enabled = enabled
        self.paused_seconds = 0.0
        self.pauses = 0
        self.nice = os.nice(nice) if nice else os.nice(0)
        self._watcher = None
        if enabled:
            import subprocess
            import sys

            (folder / LEDGER).unlink(missing_ok=True)  # this run's pauses only
            self._watcher = subprocess.Popen(
                [sys.executable, "-m", "finetune.chat_pause", str(os.getpid()), str(folder)],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, start_new_session=True)

    def wait(self) -> float:
        """Seconds the run was held for the chat since the last call (0 when no reply streamed)."""
        if not self.enabled:
            return 0.0
        seconds, pauses = read_ledger(self.folder)
        waited, self.paused_seconds, self.pauses = seconds - self.paused_seconds, seconds, pauses
        return max(0.0, waited)

    def close(self) -> None:
        """Stop the watcher (it continues the run first if it holds it, which it cannot while we run)."""
        if self._watcher is not None:
            self._watcher.terminate()
            try:
                self._watcher.wait(timeout=5)
            except Exception:  # noqa: BLE001  it leaves by itself once the run has ended
                pass
            self._watcher = None


def read_ledger(folder: Path) -> tuple[float, int]:
    """(seconds paused, pauses) so far; zeros before the first pause."""
    try:
        record = json.loads((folder / LEDGER).read_text(encoding="utf-8"))
        return float(record["seconds"]), int(record["pauses"])
    except (OSError, ValueError, KeyError, TypeError):
        return 0.0, 0


def alive(pid: int) -> bool:
    """Whether process ``pid`` runs (a zombie does not); never reaps, so a parent's Popen keeps its status."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return process_state(pid) != "Z"  # no /proc (macOS): "" -- trust kill(0)


def process_state(pid: int) -> str:
    """The one-letter state /proc gives (R, S, T stopped, Z zombie, ...); "" where it cannot be read."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[-1][:1]
    except OSError:
        return ""
