"""The fine-tuning panel in a small Textual app, following a real background run of a tiny model."""

from __future__ import annotations

from textual.app import App, ComposeResult
from textual.widgets import Label, ProgressBar, Sparkline

from finetune import job as jobs
from finetune.train import RunConfig
from repl.app.finetune_panel import FinetunePanel


class PanelApp(App):
    def __init__(self, job) -> None:
        super().__init__()
        self.job = job
        self.notes: list[str] = []
        self.finished = None

    def compose(self) -> ComposeResult:
        yield FinetunePanel(self.job, interval=0.2)

    def notify(self, message, **kwargs) -> None:
        self.notes.append(message)
        super().notify(message, **kwargs)

    def on_finetune_panel_finished(self, event: FinetunePanel.Finished) -> None:
        self.finished = event.progress


async def test_panel_shows_progress_loss_curve_and_announces_perplexity(tiny_gpt2, js_tree):
    config = RunConfig(base=str(tiny_gpt2), data=str(js_tree), steps=6, block=32, learning_rate=3e-3,
                       eval_share=0.2, eval_blocks=4, save_steps=3, device="cpu")
    app = PanelApp(jobs.start(config))
    async with app.run_test() as pilot:
        for _ in range(1200):
            if app.finished is not None:
                break
            await pilot.pause(0.1)
        assert app.finished is not None and app.finished.phase == "done", app.job.log_tail(10)
        bar = app.query_one(ProgressBar)
        assert bar.total == 6 and bar.progress == 6
        assert len(app.query_one(Sparkline).data) == 6
        numbers = str(app.query_one("#finetune-numbers", Label).render())
        assert "step 6/6" in numbers and "loss" in numbers and "tok/s" in numbers
        assert any("perplexity" in note and "→" in note and "/model js" in note for note in app.notes)
        assert app.query_one(FinetunePanel).has_class("-finished")
