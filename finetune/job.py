"""A fine-tuning run in its own process, watched through its progress file.

The chat starts ``python -m finetune.train`` as a child process in its own session: training never
blocks the chat's event loop, a crash in training (out of memory, a bad file) ends only the child,
and Ctrl-C in the terminal reaches the chat, not the run. The parent polls the JSON-lines progress
file; ``stop()`` sends SIGTERM, on which the run saves a checkpoint and exits; starting the same run
again resumes from that checkpoint.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import asdict
from pathlib import Path

from backends import paths

from .checkpoints import complete_checkpoints
from .options import ProcessOptions, RunConfig, StartOptions, write_start_file
from .progress import PHASES, EventReader, JobProgress
from .yielding import alive, read_ledger

START_FILE = "start.json"  # every option of the last start, read by python -m finetune.train
STOPPING = "stopping"  # marker: a stop was asked for; a new start waits for the checkpoint
BACKGROUND_NICE = 10  # the chat's replies come first; an idle machine still runs the training at full speed
ERROR_LINE = re.compile(r"^[A-Za-z_.]*(Error|Exception|Interrupt)\b.*:")
PROGRESS_BAR = re.compile(r"\d+%\||it/s\]|s/it\]")  # tqdm fragments (weights loading, shard writing)

ROOT = Path(__file__).resolve().parent.parent  # the folder that holds the finetune package


class Job:
    """One background run: ``poll()`` for progress, ``stop()`` to end it with a checkpoint."""

    def __init__(self, name: str, pid: int, process: subprocess.Popen | None = None) -> None:
        self.name = name
        self.pid = pid
        self.process = process
        self.folder = paths.run_dir(name)
        self._reader = EventReader(self.folder / "progress.jsonl")
        self.progress = JobProgress()

    @property
    def running(self) -> bool:
        if self.process is not None:
            return self.process.poll() is None
        return _alive(self.pid)

    def poll(self) -> JobProgress:
        """Fold the events written since the last poll into ``progress`` and return it."""
        self.read()
        return self.progress

    def read(self) -> list[dict]:
        """The events written since the last read, folded into ``progress`` on the way."""
        events = self._reader.read()
        for event in events:
            self.progress.apply(event)
        if self.progress.yields:
            # The watcher's ledger is the truth at once; the run itself tells only between two steps, and a
            # pause during the first evaluation would go unsaid until the first step.
            self.progress.held(*read_ledger(self.folder))
        if not self.progress.finished and not self.running:
            # The process ended without saying why: a crash, a kill, running out of memory.
            self.progress.phase = "failed"
            self.progress.message = self._ended_unexpectedly()
        return events

    def _ended_unexpectedly(self) -> str:
        code = self.process.returncode if self.process is not None else None
        how = ("the run ended unexpectedly" if code is None else
               f"the run was killed ({_signal_name(-code)})" if code < 0 else
               f"the run ended unexpectedly (exit status {code})")
        # A killed run has no reason of its own to tell; a crash's reason is the exception's line.
        error = "" if code is not None and code < 0 else self.error_line()
        kept = complete_checkpoints(self.folder)
        again = (f"running it again resumes from {kept[-1].name}" if kept else
                 "there is no checkpoint yet, so running it again starts from the beginning")
        return f"{how}{': ' + error if error else ''}; {again}"

    def error_line(self) -> str:
        """The last ``SomeError: why`` line the run wrote (a traceback's end), else ''."""
        lines = [line for line in self.log_tail(50).splitlines() if ERROR_LINE.match(line)]
        return lines[-1] if lines else ""

    @property
    def stopping(self) -> bool:
        """A stop was asked for and the run is still saving its checkpoint."""
        return (self.folder / STOPPING).exists() and self.running

    def stop(self) -> None:
        """Ask the run to stop after the current step; it saves a checkpoint first."""
        if self.running:
            (self.folder / STOPPING).touch()
            os.kill(self.pid, signal.SIGTERM)

    def wait(self, timeout: float | None = None) -> JobProgress:
        """Block until the process ends (for scripts and tests), then poll."""
        if self.process is not None:
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                pass
        else:  # started by another parrot process: not our child, so watch it
            deadline = time.monotonic() + (timeout if timeout is not None else float("inf"))
            while self.running and time.monotonic() < deadline:
                time.sleep(0.2)
        return self.poll()

    def log_tail(self, lines: int = 1) -> str:
        """The last lines the run wrote to stderr/stdout that say something (no progress-bar fragments)."""
        try:
            text = (self.folder / "train.log").read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""
        kept = [line for line in re.split(r"[\r\n]+", text) if line.strip() and not PROGRESS_BAR.search(line)
                and not line.startswith(PHASES)]  # the run's own summary lines repeat the progress file
        return "\n".join(kept[-lines:])


def start(config: RunConfig, fresh: bool = False, output: str | Path | None = None, background: bool = False) -> Job:
    """Start ``python -m finetune.train`` for ``config``; resumes unless ``fresh``.

    ``background`` (a run beside the chat): the run lowers its priority and is held still
    while a chat reply streams (``chat_pause``). Otherwise (``parrot finetune``) it has the machine to itself.
    """
    folder = paths.run_dir(config.name)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / STOPPING).unlink(missing_ok=True)
    progress_file = folder / "progress.jsonl"
    progress_file.write_text("", encoding="utf-8")  # the events of this job only
    # Every option in one JSON file, read back by the same dataclasses: nothing re-serialised into flags.
    process_options = ProcessOptions(progress_file=str(progress_file), output=str(output) if output else None,
                                     nice=BACKGROUND_NICE if background else 0, yield_to_chat=background)
    start_file = write_start_file(folder / START_FILE, config, StartOptions(fresh=fresh), process_options)
    command = [sys.executable, "-m", "finetune.train", str(start_file)]
    env = {**os.environ, "TOKENIZERS_PARALLELISM": "false",
           "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    with open(folder / "train.log", "w", encoding="utf-8") as log:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=log,
                                   stderr=subprocess.STDOUT, start_new_session=True)
    paths.atomic_write_text(folder / "job.json", json.dumps({"pid": process.pid, "config": asdict(config)}))
    return Job(config.name, process.pid, process)


def attach(name: str) -> Job | None:
    """The last run of ``name`` started by any parrot process, to follow or stop it; None if none."""
    record = paths.run_dir(name) / "job.json"
    try:
        pid = int(json.loads(record.read_text(encoding="utf-8"))["pid"])
    except (OSError, ValueError, KeyError):
        return None
    job = Job(name, pid)
    job.poll()
    return job


def _alive(pid: int) -> bool:
    # A finished child of this process that nobody reaped is a zombie: reap it, it is not running.
    try:
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done:
            return False
    except ChildProcessError:
        pass  # not our child (started by another parrot process)
    return alive(pid)


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"
