"""A run keeps what a person trained, says what happened in words, and yields to the chat."""

from __future__ import annotations

import os
import signal
import time

import pytest
from test_finetune_commands import RecordingUI
from test_finetune_train import tiny_config, wait_for

from backends.errors import UsageError
from backends.paths import run_dir
from finetune import job as jobs
from finetune.checkpoints import complete_checkpoints
from repl.chat.session import Session
from repl.commands import Context, run


@pytest.fixture
def ctx(tiny_gpt2) -> Context:
    return Context(Session("local", model=str(tiny_gpt2)), RecordingUI())


def test_a_changed_base_is_a_question_and_a_bare_restart_resumes_by_name(ctx, js_tree, tiny_gpt2):
    run(f"/finetune js --data {js_tree} --steps 500 --block 32", ctx)
    job = ctx.finetune_job
    wait_for(job, lambda p: p.step >= 2)
    run("/finetune stop", ctx)
    assert "saves a checkpoint" in ctx.ui.shown[-1]
    ctx.session.model = "js"  # as after /model js: the chat's model is no longer the run's base
    with pytest.raises(UsageError, match="--fresh") as question:  # right after the stop: no "already going"
        run(f"/finetune js --base {tiny_gpt2}-other", ctx)
    assert "base" in str(question.value) and "checkpoint-" in str(question.value)
    kept = complete_checkpoints(run_dir("js"))
    step = int(kept[-1].name.split("-")[-1])
    assert kept and job.poll().phase == "stopped"

    run("/finetune js", ctx)  # found by its name: its base, data and block, not the chat's model
    assert f"resuming from step {step} (checkpoint-{step})" in ctx.ui.shown[-1]
    resumed = ctx.finetune_job
    progress = wait_for(resumed, lambda p: p.max_steps > 0)
    assert progress.step >= step and f"step {progress.step}/500" in progress.line()  # not step 0/500
    resumed.stop()
    assert resumed.wait(timeout=120).phase == "stopped"

    run(f"/finetune js --base {tiny_gpt2} --data {js_tree} --block 32 --steps 3 --fresh", ctx)
    assert "starting over (--fresh)" in ctx.ui.shown[-1] and "deleted" in ctx.ui.shown[-1]
    assert ctx.finetune_job.wait(timeout=240).phase == "done"


def test_a_stop_before_training_claims_no_checkpoint(ctx, js_tree):
    run(f"/finetune js --data {js_tree} --steps 500 --block 32", ctx)
    job = ctx.finetune_job
    wait_for(job, lambda p: p.phase in ("loading", "evaluating"))
    run("/finetune stop", ctx)
    assert "no checkpoint yet" in ctx.ui.shown[-1] and "kept" not in ctx.ui.shown[-1]
    stopped = job.wait(timeout=120)
    assert stopped.phase == "stopped" and stopped.checkpoint is None
    run("/finetune status", ctx)
    assert "/finetune js starts from the beginning" in ctx.ui.shown[-1] and "resumes" not in ctx.ui.shown[-1]


def test_a_killed_run_says_so_in_words_and_that_running_again_resumes(tiny_gpt2, js_tree):
    job = jobs.start(tiny_config(tiny_gpt2, js_tree, steps=400, save_steps=2))
    wait_for(job, lambda p: p.checkpoint is not None and p.step >= 3)
    os.kill(job.pid, signal.SIGKILL)
    failed = job.wait(timeout=60)
    assert failed.phase == "failed"
    assert "killed (SIGKILL)" in failed.message and "running it again resumes from checkpoint-" in failed.message
    assert "%|" not in failed.message and "None" not in failed.message
    other = jobs.attach("js")  # another parrot process cannot know the exit status
    assert "None" not in other.progress.message and "running it again resumes" in other.progress.message


def test_the_background_run_lowers_its_priority_and_pauses_while_a_reply_streams(tiny_gpt2, js_tree, ctx):
    from backends.settings import GenerationSettings
    from repl.chat.replies import stream_reply

    job = jobs.start(tiny_config(tiny_gpt2, js_tree, steps=100_000, save_steps=100_000), background=True)
    try:
        wait_for(job, lambda p: p.step >= 2)
        assert os.getpriority(os.PRIO_PROCESS, job.pid) >= jobs.BACKGROUND_NICE
        marked = []
        ctx.session.settings = GenerationSettings(greedy=True, max_new_tokens=200)

        def on_chunk(text: str) -> None:
            marked.append(bool(list(run_dir("js").glob("chat-busy-*"))))
            time.sleep(0.01)  # a reply that lasts a while, as a real model's does

        started = time.time()
        stream_reply(ctx.session, "class SimpleAdder {", __import__("threading").Event(), on_chunk)
        ended = time.time()
        assert marked and all(marked) and not list(run_dir("js").glob("chat-busy-*"))
        progress = wait_for(job, lambda p: p.pauses >= 1, timeout=60)
        steps = [e for e in jobs.EventReader(run_dir("js") / "progress.jsonl").read() if e["event"] == "step"]
        during = [e for e in steps if started + 1.0 < e["time"] < ended - 0.1]
        assert not during, "training steps ran while the reply streamed"
        assert progress.paused_seconds > 0
        run("/finetune status", ctx)
        assert "held still while the chat answers: paused" in ctx.ui.shown[-1]
        assert f"priority +{jobs.BACKGROUND_NICE}" in ctx.ui.shown[-1]
    finally:
        job.stop()
        job.wait(timeout=120)


def test_a_pause_before_the_first_step_is_told_at_once(tiny_gpt2, js_tree, ctx):
    """The run is held for a reply while it still loads: /finetune status says so then, not after a step."""
    from finetune.yielding import chat_reply, read_ledger

    ctx.finetune_job = job = jobs.start(tiny_config(tiny_gpt2, js_tree, steps=100_000), background=True)
    try:
        wait_for(job, lambda p: p.yields)  # the run has started its watcher; it loads now
        with chat_reply(run_dir("js")):
            wait_for(job, lambda p: os.path.exists(f"/proc/{job.pid}") and
                     open(f"/proc/{job.pid}/stat").read().split(") ")[-1][:1] == "T", timeout=10)
            time.sleep(0.5)
        deadline = time.monotonic() + 2
        while read_ledger(run_dir("js"))[1] < 1 and time.monotonic() < deadline:
            time.sleep(0.005)  # the watcher writes its ledger, then lets the run go on loading
        run("/finetune status", ctx)
        assert "paused" in ctx.ui.shown[-1] and "for 1 chat reply" in ctx.ui.shown[-1]
        assert "no chat reply waited for yet" not in ctx.ui.shown[-1]
    finally:
        job.stop()
        job.wait(timeout=120)
