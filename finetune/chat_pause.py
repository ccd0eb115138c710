"""Holds a background run still while a chat reply streams: ``python -m finetune.chat_pause PID FOLDER``.

A pause between training steps comes too late on a small machine: one gradient micro-step of a
135M model takes seconds on two cores, longer than a whole reply, so the reply ran beside the step
it waited for. This small process (the standard library only) watches the run's folder for the
marks a streaming reply leaves (``yielding.chat_reply``) and stops the run outright with SIGSTOP
within ``POLL`` of a reply's start, continuing it when the last mark is gone.

Nothing is lost if a side dies: a mark whose chat process is gone counts for nothing, so the run
goes on; this process continues the run before it exits on SIGTERM or an error, and leaves when
the run has ended. A run that someone else stopped (a debugger, a shell's Ctrl-Z) is left alone.
The seconds paused are written to ``paused.json`` for the run to take out of its speed and ETA.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from pathlib import Path

from .yielding import LEDGER, STALE, alive, process_state, read_ledger, replies_streaming

POLL = 0.02  # seconds: how late a reply may find the run still training; ~0.2% of a core to watch


def stopped_by_others(pid: int) -> bool:
    """Whether the process is already stopped (state T), so a stop here would not be ours to undo."""
    return process_state(pid) in ("T", "t")


def _write_ledger(folder: Path, seconds: float, pauses: int) -> None:
    temporary = folder / f".{LEDGER}.{os.getpid()}"
    temporary.write_text(json.dumps({"seconds": seconds, "pauses": pauses}), encoding="utf-8")
    os.replace(temporary, folder / LEDGER)  # the run never reads half a record


def watch(pid: int, folder: Path) -> None:
    seconds, pauses = read_ledger(folder)
    holding = False

    def release(*_: object) -> None:
        if holding:
            os.kill(pid, signal.SIGCONT)
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, release)
    signal.signal(signal.SIGINT, release)
    try:
        while alive(pid):
            if replies_streaming(folder) and not stopped_by_others(pid):
                started = time.monotonic()
                os.kill(pid, signal.SIGSTOP)
                holding = True
                while replies_streaming(folder) and alive(pid) and time.monotonic() - started < STALE:
                    time.sleep(POLL)
                seconds, pauses = seconds + time.monotonic() - started, pauses + 1
                _write_ledger(folder, seconds, pauses)  # before the run goes on, so its next step sees it
                os.kill(pid, signal.SIGCONT)
                holding = False
            time.sleep(POLL)
    except ProcessLookupError:
        return  # the run ended while held
    finally:
        if holding:
            try:
                os.kill(pid, signal.SIGCONT)
            except ProcessLookupError:
                pass


def main(argv: list[str] | None = None) -> int:
    pid, folder = (argv or sys.argv[1:])[:2]
    watch(int(pid), Path(folder))
    return 0


if __name__ == "__main__":
    sys.exit(main())
