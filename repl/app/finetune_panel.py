"""A panel that follows a background fine-tuning run: progress bar, a small loss curve, the numbers.

Self-contained: give it anything with ``poll() -> JobProgress`` (a ``finetune.job.Job``). It polls on
a timer (reading a small file, so the app never blocks), notifies when the run ends, and posts
``FinetunePanel.Finished`` so the app can offer the new model; a while later it gives the room back.
Two rows, whatever the terminal's height: the chat above it is what the person is reading.
"""

from __future__ import annotations

from typing import Any

from textual.app import App, ComposeResult
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import Label, ProgressBar, Sparkline


class FinetunePanel(Vertical):
    """Progress of one fine-tuning job."""

    DEFAULT_CSS = """
    FinetunePanel { height: auto; border-left: thick $accent; padding: 0 1; background: $boost; }
    FinetunePanel > Horizontal { height: 1; }
    FinetunePanel #finetune-title { width: auto; margin-right: 2; text-style: bold; }
    FinetunePanel ProgressBar { width: auto; margin-right: 2; }
    FinetunePanel Sparkline { width: 1fr; height: 1; }
    FinetunePanel #finetune-numbers { width: 100%; color: $text-muted; height: 1; text-wrap: nowrap; text-overflow: ellipsis; }
    FinetunePanel.-finished { border-left: thick $success; }
    FinetunePanel.-failed { border-left: thick $error; }
    """

    class Finished(Message):
        """The run ended: done, stopped or failed (``progress.phase`` says which)."""

        def __init__(self, panel: "FinetunePanel", progress: Any) -> None:
            super().__init__()
            self.panel = panel
            self.progress = progress

    def __init__(self, job: Any, *, interval: float = 0.5, name: str = "js", id: str | None = "finetune-panel") -> None:
        super().__init__(id=id)
        self.job = job
        self.model_name = name
        self.interval = interval
        self.progress: Any = None
        self._announced = False

    def compose(self) -> ComposeResult:
        with Horizontal():
            yield Label(f"fine-tuning {self.model_name}", id="finetune-title")
            yield ProgressBar(total=None, show_eta=False, id="finetune-bar")
            yield Sparkline([], id="finetune-loss")
        yield Label("starting…", id="finetune-numbers")

    def on_mount(self) -> None:
        self._timer = self.set_interval(self.interval, self.refresh_progress)
        self.refresh_progress()

    def refresh_progress(self) -> None:
        """Poll the job and show where it stands; announce the end once."""
        progress = self.job.poll()
        self.progress = progress
        bar = self.query_one(ProgressBar)
        if progress.max_steps:
            bar.update(total=progress.max_steps, progress=progress.step)
        self.query_one("#finetune-numbers", Label).update(progress.line())
        if progress.losses:
            self.query_one(Sparkline).data = list(progress.losses)
        if progress.finished and not self._announced:
            self._announced = True
            self._timer.stop()
            self._announce(progress)

    def _announce(self, progress: Any) -> None:
        self.set_class(progress.phase == "done", "-finished")
        self.set_class(progress.phase not in ("done", "stopped"), "-failed")
        title, text = self.ending(progress)
        self.notify(text, title=title, severity="error" if self.has_class("-failed") else "information", timeout=10)
        self.post_message(self.Finished(self, progress))

    def ending(self, progress: Any) -> tuple[str, str]:
        """How the run ended, as (title, sentence): for the notification, and for the chat log to keep."""
        if progress.phase == "done":
            change = ""
            if progress.perplexity_before is not None and progress.perplexity_after is not None:
                change = f": perplexity {progress.perplexity_before:.2f} → {progress.perplexity_after:.2f}"
            return "fine-tuning done", f"{self.model_name} is ready{change}. /model {self.model_name} to chat with it"
        if progress.phase == "stopped":
            return "fine-tuning", f"stopped at step {progress.step}; /finetune {self.model_name} {progress.next_start()}"
        return "fine-tuning failed", progress.message or "the run failed"

    def on_finetune_panel_finished(self) -> None:
        # The notification says how it ended; the panel stays a while, then gives the room back.
        self.set_timer(20, lambda: self.remove() if self.is_attached else None)


async def show_panel(app: App, job: Any, before: str = "#suggestions") -> None:
    """Follow ``job`` in a panel above the input, in place of the panel of an earlier run."""
    for old in app.query(FinetunePanel):
        await old.remove()
    await app.mount(FinetunePanel(job), before=before)


async def follow_running_finetune(app: App, ctx: Any) -> None:
    """A run started by an earlier parrot may still be going: follow it too (``/finetune stop`` finds it)."""
    from finetune.job import attach

    if (job := attach("js")) is not None and job.running:
        ctx.finetune_job = job
        await show_panel(app, job)
