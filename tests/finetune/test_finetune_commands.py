"""/finetune through the one command table, and `parrot finetune` in a subprocess."""

from __future__ import annotations

import sys
import time

import pytest

from backends.errors import UsageError
from repl.chat.session import Session
from repl.commands import Context, run
from tests.support.helpers import run_parrot


class RecordingUI:
    """Keeps what commands show, as text."""

    def __init__(self) -> None:
        self.shown: list[str] = []

    def show(self, renderable) -> None:
        self.shown.append(str(renderable))

    def generate(self) -> None: ...

    def quit(self) -> None: ...

    def clear(self) -> None: ...

    def read_secret(self, prompt: str):
        return None


@pytest.fixture
def ctx(tiny_gpt2) -> Context:
    return Context(Session("local", model=str(tiny_gpt2)), RecordingUI())


def test_finetune_runs_in_the_background_and_reports_status(ctx, js_tree, tiny_gpt2):
    started = []
    ctx.on_finetune_started = started.append
    run(f"/finetune js --data {js_tree} --steps 4 --block 32 --lr 3e-3", ctx)
    assert "in the background" in ctx.ui.shown[-1] and "/finetune status" in ctx.ui.shown[-1]
    assert f"fine-tuning {tiny_gpt2}" in ctx.ui.shown[-1]  # the session's model is the default base
    job = ctx.finetune_job
    assert started == [job] and job.running
    with pytest.raises(UsageError, match="already going"):
        run(f"/finetune js --data {js_tree}", ctx)
    run("/finetune status", ctx)
    assert ctx.ui.shown[-1].split(" · ")[0] in ("starting", "loading", "evaluating", "training", "saving", "done")
    job.wait(timeout=300)
    run("/finetune status", ctx)
    assert ctx.ui.shown[-1].startswith("done · step 4/4") and "perplexity" in ctx.ui.shown[-1]
    assert "/model js" in ctx.ui.shown[-1]
    with pytest.raises(UsageError, match="no fine-tuning run is going"):
        run("/finetune stop", ctx)


def test_finetune_stop_keeps_a_checkpoint(ctx, js_tree):
    run(f"/finetune js --data {js_tree} --steps 500 --block 32", ctx)
    job = ctx.finetune_job
    deadline = time.monotonic() + 240
    while job.poll().step < 2 and time.monotonic() < deadline and job.running:
        time.sleep(0.1)
    run("/finetune stop", ctx)
    assert "checkpoint" in ctx.ui.shown[-1]
    assert job.wait(timeout=120).phase == "stopped"
    run("/finetune status", ctx)
    assert ctx.ui.shown[-1].startswith("stopped") and "/finetune js resumes" in ctx.ui.shown[-1]


@pytest.mark.parametrize("line, message", [
    ("/finetune", "js, status or stop"),
    ("/finetune python", "cannot fine-tune for 'python'"),
    ("/finetune js --steps many", "invalid int"),
    ("/finetune js --steps 0", "at least 1"),
])
def test_bad_finetune_arguments_say_how_to_fix_them(ctx, line, message):
    with pytest.raises(UsageError, match=message) as error:
        run(line, ctx)
    assert "usage: /finetune js" in str(error.value)


def test_parrot_finetune_runs_in_the_foreground_and_the_result_answers_as_js(js_tree, tiny_gpt2):
    result = run_parrot(["finetune", "js", "--base", str(tiny_gpt2), "--data", str(js_tree), "--steps", "3",
                         "--block", "32"])
    stderr = result.stderr.decode()
    assert result.returncode == 0, stderr
    assert "done · step 3/3" in stderr and "perplexity" in stderr and "loss" in stderr
    assert "parrot -m js" in stderr and "/model" not in stderr  # said as it is typed here
    answer = run_parrot(["-m", "js", "--greedy", "-n", "8", "-p", "class SimpleAdder {"])
    assert answer.returncode == 0, answer.stderr.decode()
    assert answer.stdout.decode().strip()


def test_ctrl_c_in_parrot_finetune_stops_with_a_checkpoint_and_a_rerun_resumes(js_tree, tiny_gpt2):
    """In an 80-column terminal: the corpus summary and the first evaluation stay above a bar that fits."""
    import io
    import os
    import re
    import sys

    import pexpect

    from tests.support.helpers import ROOT

    args = ["-m", "repl", "finetune", "js", "--base", str(tiny_gpt2), "--data", str(js_tree), "--block", "32"]
    child = pexpect.spawn(sys.executable, args + ["--steps", "500"], cwd=str(ROOT), env=dict(os.environ),
                          timeout=240, encoding="utf-8", dimensions=(24, 80))
    child.logfile_read = seen = io.StringIO()
    child.expect(r"\d+ training files, \d+ held out")
    child.expect(r"held-out perplexity before training: \d")
    child.expect(r"training: +\d+%\|.*\| *[1-9]\d*/500")
    child.sendintr()
    child.expect(r"stopped at step (\d+)")
    step = int(child.match.group(1))
    child.expect(f"resumes from checkpoint-{step}")
    child.expect(pexpect.EOF)
    screen = seen.getvalue()
    child.close()
    assert child.exitstatus == 130
    bar_lines = [part for part in re.split(r"[\r\n]+", screen) if "%|" in part]
    plain = [re.sub(r"\x1b\[[0-9;]*[A-Za-z]|\^C", "", part) for part in bar_lines]  # ^C: the terminal echoes it
    assert plain and all(len(part) <= 80 for part in plain), [p for p in plain if len(p) > 80]

    resumed = run_parrot(["finetune", "js", "--base", str(tiny_gpt2), "--data", str(js_tree), "--block", "32",
                          "--steps", str(step + 2)])
    stderr = resumed.stderr.decode()
    assert resumed.returncode == 0, stderr
    assert f"resuming from step {step} (checkpoint-{step})" in stderr
    assert f"done · step {step + 2}/{step + 2}" in stderr
    from backends.paths import run_dir
    from finetune.progress import EventReader

    log = EventReader(run_dir("js") / "progress.jsonl").read()
    assert [e["step"] for e in log if e["event"] == "step"] == [step + 1, step + 2]
    assert next(e for e in log if e["event"] == "start")["threads"] == torch_threads()  # every core


def torch_threads() -> int:
    """torch's own default in a fresh process: this one's count may have been changed by earlier tests."""
    import subprocess

    command = [sys.executable, "-c", "import torch; print(torch.get_num_threads())"]
    return int(subprocess.run(command, capture_output=True, text=True, check=True).stdout)


def test_the_foreground_run_tells_of_checkpoint_saves(js_tree, tiny_gpt2):
    result = run_parrot(["finetune", "js", "--base", str(tiny_gpt2), "--data", str(js_tree), "--block", "32",
                         "--steps", "8"])
    stderr = result.stderr.decode()
    assert result.returncode == 0, stderr
    assert "saved checkpoint-2 (running again resumes from it)" in stderr
    assert "held-out perplexity before training" in stderr and "starting a new run" in stderr


def test_a_missing_data_folder_is_reported_before_anything_starts(ctx, tmp_path):
    with pytest.raises(UsageError, match="no such folder") as error:
        run(f"/finetune js --data {tmp_path / 'nowhere'}", ctx)
    assert "--data hub, a .parquet file or a folder" in str(error.value)
    assert ctx.finetune_job is None


def test_a_note_in_a_terminal_starts_its_own_line_even_before_the_bar_is_known():
    """A Ctrl-C can land while tqdm draws the bar for the first time, before the view holds it: the
    note must not run onto that drawn bar."""
    import io
    import re

    from repl.views.finetune_progress import ForegroundProgress

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    screen = Terminal()
    view = ForegroundProgress(screen)
    screen.write("\rtraining:   3%|█     | 14/500 [00:00<?, ?step/s]")  # drawn; view.bar not yet set
    view.note("stopping after the current step")
    parts = [re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", part) for part in re.split(r"[\r\n]+", screen.getvalue())]
    assert "stopping after the current step" in parts
