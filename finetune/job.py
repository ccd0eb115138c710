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
import signal
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path

from backends import paths

from .progress import EventReader, JobProgress
from .train import RunConfig, run_dir

ROOT = Path(__file__).resolve().parent.parent  # the folder that holds the finetune package


class Job:
    """One background run: ``poll()`` for progress, ``stop()`` to end it with a checkpoint."""

    def __init__(self, name: str, pid: int, process: subprocess.Popen | None = None) -> None:
        self.name = name
        self.pid = pid
        self.process = process
        self.folder = run_dir(name)
        self._reader = EventReader(self.folder / "progress.jsonl")
        self.progress = JobProgress()

    @property
    def running(self) -> bool:
        if self.process is not None:
            return self.process.poll() is None
        return _alive(self.pid)

    def poll(self) -> JobProgress:
        """Fold the events written since the last poll into ``progress`` and return it."""
        for event in self._reader.read():
            self.progress.apply(event)
        if not self.progress.finished and not self.running:
            # The process ended without saying why: a crash, a kill, running out of memory.
            code = self.process.returncode if self.process is not None else None
            self.progress.phase = "failed"
            self.progress.message = f"the run ended unexpectedly (exit code {code}): {self.log_tail() or 'no output'}"
        return self.progress

    def stop(self) -> None:
        """Ask the run to stop after the current step; it saves a checkpoint first."""
        if self.running:
            os.kill(self.pid, signal.SIGTERM)

    def wait(self, timeout: float | None = None) -> JobProgress:
        """Block until the process ends (for scripts and tests), then poll."""
        if self.process is not None:
            self.process.wait(timeout)
        return self.poll()

    def log_tail(self, lines: int = 1) -> str:
        """The last lines the run wrote to stderr/stdout."""
        try:
            text = (self.folder / "train.log").read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""
        kept = [line for line in text.splitlines() if line.strip() and "\r" not in line]
        return "\n".join(kept[-lines:])


def start(config: RunConfig, fresh: bool = False, output: str | Path | None = None) -> Job:
    """Start ``python -m finetune.train`` for ``config`` in the background; resumes unless ``fresh``."""
    folder = run_dir(config.name)
    folder.mkdir(parents=True, exist_ok=True)
    progress_file = folder / "progress.jsonl"
    progress_file.write_text("", encoding="utf-8")  # the events of this job only
    command = [sys.executable, "-m", "finetune.train", "--progress-file", str(progress_file)]
    for key, value in asdict(config).items():
        if value is not None:
            command += [f"--{key.replace('_', '-')}" if key != "learning_rate" else "--lr", str(value)]
    if fresh:
        command.append("--fresh")
    if output is not None:
        command += ["--output", str(output)]
    env = {**os.environ, "TOKENIZERS_PARALLELISM": "false",
           "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    # Leave the chat a core: CPU threads that outnumber free cores spin against each other, and
    # training then runs several times slower while the chat stutters.
    env.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 2) - 1)))
    with open(folder / "train.log", "w", encoding="utf-8") as log:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=log,
                                   stderr=subprocess.STDOUT, start_new_session=True)
    paths.atomic_write_text(folder / "job.json", json.dumps({"pid": process.pid, "config": asdict(config)}))
    return Job(config.name, process.pid, process)


def attach(name: str) -> Job | None:
    """The last run of ``name`` started by any parrot process, to follow or stop it; None if none."""
    record = run_dir(name) / "job.json"
    try:
        pid = int(json.loads(record.read_text(encoding="utf-8"))["pid"])
    except (OSError, ValueError, KeyError):
        return None
    job = Job(name, pid)
    job.poll()
    return job


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A finished child of this process that nobody reaped is a zombie: still "alive" to kill(0).
    try:
        done, _ = os.waitpid(pid, os.WNOHANG)
        return done == 0
    except ChildProcessError:
        return _not_zombie(pid)


def _not_zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[-1][:1] != "Z"
    except OSError:
        return True  # no /proc (macOS): trust kill(0)
