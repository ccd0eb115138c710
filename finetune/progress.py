"""The progress of a fine-tuning run as JSON lines: written by the run, read by whoever watches it.

One event per line (``{"event": "step", "step": 12, "loss": 1.9, ...}``), appended and flushed, so a
reader polling the file sees whole lines and a crashed run leaves every event it managed to write.
``JobProgress`` folds the events into the state a progress bar or a status line shows.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

PHASES = ("starting", "loading", "evaluating", "training", "saving", "done", "stopped", "failed")
FINISHED = ("done", "stopped", "failed")


class EventWriter:
    """Appends events to a JSON-lines file (or does nothing when there is none, e.g. on other ranks).

    With ``echo`` each event also updates a one-line summary on that stream (stderr for a terminal).
    """

    def __init__(self, path: str | Path | None, echo: TextIO | None = None) -> None:
        self._file: TextIO | None = None
        self._echo = echo
        self._progress = JobProgress()
        self._shown = ""
        if path:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            self._file = open(path, "a", encoding="utf-8")

    def __call__(self, event: str, **data: Any) -> None:
        record = {"event": event, "time": time.time(), **data}
        if self._echo is not None:
            self._progress.apply(record)
            line = self._progress.line()
            if line != self._shown:
                self._echo.write(line + "\n")
                self._echo.flush()
                self._shown = line
        if self._file is not None:
            self._file.write(json.dumps(record) + "\n")
            self._file.flush()

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


class EventReader:
    """Reads the events appended since the last call; a half-written last line waits for the next."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._offset = 0

    def read(self) -> list[dict[str, Any]]:
        try:
            with open(self.path, "rb") as handle:
                handle.seek(self._offset)
                chunk = handle.read()
        except FileNotFoundError:
            return []
        complete = chunk[: chunk.rfind(b"\n") + 1]
        self._offset += len(complete)
        events = []
        for line in complete.decode("utf-8", "replace").splitlines():
            try:
                events.append(json.loads(line))
            except ValueError:
                continue
        return events


@dataclass
class JobProgress:
    """Where a run stands: what a progress bar, a status line or a notification needs."""

    phase: str = "starting"
    step: int = 0
    max_steps: int = 0
    loss: float | None = None
    losses: list[float] = field(default_factory=list)
    tokens_per_second: float | None = None
    seconds_left: float | None = None
    perplexity_before: float | None = None
    perplexity_after: float | None = None
    message: str = ""
    result: str | None = None
    checkpoint: str | None = None
    base: str = ""
    threads: int | None = None
    nice: int = 0
    yields: bool = False  # held still while a chat reply streams
    paused_seconds: float = 0.0
    pauses: int = 0
    eval_done: int = 0  # held-out batches scored so far in the evaluation under way
    eval_total: int = 0
    eval_seconds_left: float | None = None

    @property
    def finished(self) -> bool:
        return self.phase in FINISHED

    def apply(self, event: dict[str, Any]) -> None:
        """Fold one event into the state."""
        kind = event.get("event")
        if kind == "phase":
            self.phase = event["phase"]
            if self.phase == "evaluating":  # a new evaluation: its own count and time left
                self.eval_done, self.eval_total, self.eval_seconds_left = 0, 0, None
        elif kind == "eval_step":
            self.eval_done, self.eval_total = event["done"], event["total"]
            self.eval_seconds_left = event.get("seconds_left")
        elif kind == "start":
            self.base, self.max_steps = event.get("base", ""), event.get("max_steps", 0)
            self.step = event.get("step", 0)  # a resumed run starts at its checkpoint's step
            self.checkpoint = event.get("resume")
            self.threads, self.nice = event.get("threads"), event.get("nice", 0)
            self.yields = bool(event.get("yields"))
        elif kind == "yield":
            self.held(event["paused_seconds"], event["pauses"])
        elif kind == "step":
            self.phase = "training"
            self.step, self.max_steps = event["step"], event.get("max_steps", self.max_steps)
            self.loss = event.get("loss")
            if self.loss is not None:
                self.losses.append(self.loss)
            self.tokens_per_second = event.get("tokens_per_second")
            self.seconds_left = event.get("seconds_left")
        elif kind == "eval":
            name = "perplexity_before" if event["when"] == "before" else "perplexity_after"
            setattr(self, name, event["perplexity"])
        elif kind == "saved":
            self.checkpoint = event["checkpoint"]
        elif kind in FINISHED:
            self.phase = kind
            self.result = event.get("result", self.result)
            self.step = event.get("step", self.step)
            self.checkpoint = event.get("checkpoint", self.checkpoint)
        if "message" in event:
            self.message = event["message"]

    def held(self, seconds: float, pauses: int) -> None:
        """What the run was held still for the chat so far (its ledger, or its own events); never less
        than already known, whichever is read first."""
        if pauses >= self.pauses:
            self.paused_seconds, self.pauses = max(seconds, self.paused_seconds), pauses

    def line(self) -> str:
        """One line for a terminal: phase, step, loss, speed, time left, perplexity."""
        parts = [self.phase]
        if self.max_steps:
            parts.append(f"step {self.step}/{self.max_steps}")
        if self.phase == "evaluating":  # minutes on a busy machine: how far it is, and how long it will take
            parts.append(self.message or "held-out perplexity")
            if self.eval_total:
                parts.append(f"batch {self.eval_done}/{self.eval_total}")
            if self.eval_seconds_left is not None:
                parts.append(f"{format_seconds(self.eval_seconds_left)} left")
        if self.loss is not None:
            parts.append(f"loss {self.loss:.3f}")
        if self.tokens_per_second:
            parts.append(f"{self.tokens_per_second:,.0f} tok/s")
        if self.seconds_left is not None and self.phase == "training":
            parts.append(f"{format_seconds(self.seconds_left)} left")
        if self.perplexity_before is not None:
            after = f"{self.perplexity_after:.2f}" if self.perplexity_after is not None else "…"
            parts.append(f"perplexity {self.perplexity_before:.2f} -> {after}")
        if self.message and self.phase in ("loading", "failed", "stopped", "starting"):
            parts.append(self.message)
        return " · ".join(parts)

    def next_start(self) -> str:
        """What starting this run again does, as the last complete checkpoint known decides."""
        if self.checkpoint:
            return f"resumes from {Path(self.checkpoint).name}"
        return "starts from the beginning (there is no checkpoint yet)"

    def sharing(self) -> str:
        """How the run shares the machine with the chat: the trade a person makes."""
        if self.threads is None:
            return ""
        threads = f"{self.threads} thread{'s' if self.threads != 1 else ''}"
        if not self.yields:
            return f"{threads}, the machine to itself"
        paused = (f"paused {format_seconds(self.paused_seconds)} for {self.pauses} chat "
                  f"repl{'ies' if self.pauses != 1 else 'y'}") if self.pauses else "no chat reply waited for yet"
        return f"{threads} at priority +{self.nice}, held still while the chat answers: {paused}"


def format_seconds(seconds: float) -> str:
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
