"""``parrot finetune`` in a terminal: what happens as lines, and one progress bar under them.

Loading, the corpus summary, the evaluations, each checkpoint saved and a resume are printed as
lines that stay; the steps, and the held-out batches of an evaluation (minutes on a busy machine,
before the first step), move a tqdm bar kept to 80 columns (a wider bar wraps in an 80-column
terminal and leaves a trail). Without a terminal (a log, a pipe) there is no bar: a step line every
tenth of the run instead.
"""

from __future__ import annotations

import os
import shutil
from typing import Any, TextIO

from tqdm import tqdm

WIDTH = 80


class ForegroundProgress:
    """Feed it each event of the run (with the progress folded so far); ``close()`` at the end."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.tty = stream.isatty()
        self.bar: tqdm | None = None
        self.eval_bar: tqdm | None = None
        self._last_note = ""
        self._last_line_step = -1

    def event(self, event: dict[str, Any], progress: Any) -> None:
        kind = event.get("event")
        if kind == "start":
            self.note(event.get("message", ""))
        elif kind == "phase" and event.get("phase") in ("loading", "evaluating", "saving"):
            message = event.get("message", "")
            self.note(f"{message}…" if event.get("phase") == "evaluating" else message)
        elif kind == "eval_step":
            self._eval_step(event)
        elif kind == "eval":
            self._close_eval_bar()
            self.note(f"held-out perplexity {event['when']} training: {event['perplexity']:.2f}")
        elif kind == "step":
            self._step(progress)
        elif kind == "saved":
            self.note(f"saved {os.path.basename(event['checkpoint'])} (running again resumes from it)")

    def note(self, text: str) -> None:
        """A line above the bar."""
        if not text or text == self._last_note:
            return
        self._last_note = text
        if self.tty:
            # The line is cleared here rather than by tqdm.write, which leaves the bar when a Ctrl-C lands
            # while it is being drawn -- or while tqdm draws it for the first time, before ``self.bar``
            # is even set; the note then starts its own line, and the bar is drawn below it.
            self.stream.write(f"\r\x1b[2K{text}\n")
            self.stream.flush()
            if self.bar is not None:
                self.bar.refresh()
        elif self.bar is not None:
            self.bar.write(text, file=self.stream)
        else:
            self.stream.write(text + "\n")
            self.stream.flush()

    def _step(self, progress: Any) -> None:
        if not self.tty:
            every = max(1, progress.max_steps // 10)
            if progress.step % every == 0 or progress.step == progress.max_steps:
                self.note(progress.line())
            return
        if self.bar is None:
            columns = min(WIDTH, shutil.get_terminal_size((WIDTH, 24)).columns)
            start = max(0, progress.step - 1)
            self.bar = tqdm(total=progress.max_steps, initial=start, file=self.stream, ncols=columns,
                            unit="step", dynamic_ncols=False, leave=True, desc="training")
        postfix = f"loss {progress.loss:.3f}" if progress.loss is not None else ""
        if progress.tokens_per_second:
            postfix += f" {progress.tokens_per_second:,.0f} tok/s"
        self.bar.set_postfix_str(postfix, refresh=False)
        self.bar.update(progress.step - self.bar.n)

    def _eval_step(self, event: dict[str, Any]) -> None:
        if not self.tty:
            return  # the line before it said that it evaluates; its result follows
        if self.eval_bar is None:
            columns = min(WIDTH, shutil.get_terminal_size((WIDTH, 24)).columns)
            self.eval_bar = tqdm(total=event["total"], file=self.stream, ncols=columns, unit="batch",
                                 dynamic_ncols=False, leave=False, desc="evaluating")
        self.eval_bar.update(event["done"] - self.eval_bar.n)

    def _close_eval_bar(self) -> None:
        if self.eval_bar is not None:
            self.eval_bar.close()
            self.eval_bar = None

    def close(self) -> None:
        self._close_eval_bar()
        if self.bar is not None:
            self.bar.close()
            self.bar = None
