"""The Trainer run on a tiny model: loss falls, perplexity before/after, stop/resume, atomic saves, `js`."""

from __future__ import annotations

import json
import os
import re
import signal
import time
from pathlib import Path

import pytest

from backends.paths import finetuned_dir, run_dir
from finetune import job as jobs
from finetune.progress import EventReader, JobProgress
from finetune.train import RunConfig, complete_checkpoints, run


def tiny_config(model: Path, data: Path, **changes) -> RunConfig:
    base = dict(base=str(model), data=str(data), steps=12, block=32, learning_rate=3e-3, warmup=0.0,
                eval_share=0.2, eval_blocks=4, save_steps=4, device="cpu")
    return RunConfig(**{**base, **changes})


def events(path: Path) -> list[dict]:
    return EventReader(path).read()


def fold(path: Path) -> JobProgress:
    progress = JobProgress()
    for event in events(path):
        progress.apply(event)
    return progress


def wait_for(job, condition, timeout: float = 240.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        progress = job.poll()
        if condition(progress):
            return progress
        time.sleep(0.1)
    raise AssertionError(f"timed out; last state: {job.poll().line()} / {job.log_tail(5)}")


def test_loss_falls_and_perplexity_is_reported_before_and_after(tiny_gpt2, js_tree, tmp_path):
    progress_file = tmp_path / "progress.jsonl"
    assert run(tiny_config(tiny_gpt2, js_tree), str(progress_file)) == "done"
    progress = fold(progress_file)
    assert progress.phase == "done" and progress.step == 12
    losses = progress.losses
    assert len(losses) == 12 and sum(losses[-3:]) / 3 < sum(losses[:3]) / 3
    assert progress.perplexity_after < progress.perplexity_before
    assert "perplexity" in progress.line() and "->" in progress.line()
    assert progress.tokens_per_second and progress.tokens_per_second > 0
    saved = json.loads((finetuned_dir("js") / "parrot-finetune.json").read_text())
    assert saved["perplexity_after"] == pytest.approx(progress.perplexity_after)


def test_an_evaluation_says_how_far_it_is_and_how_long_it_will_take(tiny_gpt2, js_tree, tmp_path):
    """The evaluation before the first step can take minutes: every batch is told, with the time left."""
    progress_file = tmp_path / "progress.jsonl"
    assert run(tiny_config(tiny_gpt2, js_tree, steps=2, eval_blocks=4), str(progress_file)) == "done"
    log = events(progress_file)
    first = [e for e in log[:next(i for i, e in enumerate(log) if e["event"] == "step")] if e["event"] == "eval_step"]
    assert [e["done"] for e in first] == [1, 2, 3, 4] and {e["total"] for e in first} == {4}
    assert first[-1]["seconds_left"] == 0 and all(e["seconds_left"] >= 0 for e in first)
    progress = JobProgress()
    for event in log[:log.index(first[1]) + 1]:  # as /finetune status and the app's panel read it then
        progress.apply(event)
    line = progress.line()
    assert line.startswith("evaluating · step 0/2 · held-out perplexity before training · batch 2/4 · ")
    assert line.endswith(" left")


def test_result_loads_as_model_js_and_continues_code(tiny_gpt2, js_tree, tmp_path):
    from backends.base import Message
    from backends.local.backend import LocalBackend
    from backends.settings import GenerationSettings

    run(tiny_config(tiny_gpt2, js_tree, steps=4), str(tmp_path / "p.jsonl"))
    backend = LocalBackend("js", device="cpu")
    reply = backend.stream([Message("user", "class SimpleAdder {")], GenerationSettings(greedy=True, max_new_tokens=12))
    text = reply.finish()
    assert backend.describe().mode == "completion"  # no chat template: it continues the code
    assert reply.stats.completion_tokens > 0 and text


def test_stop_then_resume_continues_from_the_checkpoint(tiny_gpt2, js_tree):
    config = tiny_config(tiny_gpt2, js_tree, steps=400, save_steps=1000)
    job = jobs.start(config)
    wait_for(job, lambda p: p.step >= 3)
    job.stop()
    stopped = job.wait(timeout=120)
    assert stopped.phase == "stopped", job.log_tail(10)
    step = stopped.step
    assert step >= 3 and "resume" in stopped.message
    checkpoint = complete_checkpoints(run_dir("js"))[-1]
    assert checkpoint.name == f"checkpoint-{step}"  # saved at the stop, not at a save_steps boundary
    assert not finetuned_dir("js").exists()  # a stopped run publishes nothing

    resumed = jobs.start(tiny_config(tiny_gpt2, js_tree, steps=step + 3, save_steps=1000))
    done = resumed.wait(timeout=240)
    assert done.phase == "done", resumed.log_tail(10)
    log = events(run_dir("js") / "progress.jsonl")
    assert next(e for e in log if e["event"] == "start")["resume"] == str(checkpoint)
    assert [e["step"] for e in log if e["event"] == "step"] == [step + 1, step + 2, step + 3]
    assert done.perplexity_before == pytest.approx(stopped.perplexity_before)  # measured once, kept


def test_a_half_written_checkpoint_is_never_resumed_from(tiny_gpt2, js_tree, tmp_path):
    """What a kill during a checkpoint save leaves (a folder without the completion marker) is skipped."""
    job = jobs.start(tiny_config(tiny_gpt2, js_tree, steps=400, save_steps=1000))
    wait_for(job, lambda p: p.step >= 2)
    job.stop()
    step = job.wait(timeout=120).step
    good = complete_checkpoints(run_dir("js"))[-1]
    assert good.name == f"checkpoint-{step}"
    half = run_dir("js") / f"checkpoint-{step + 1}"
    half.mkdir()
    weights = (good / "model.safetensors").read_bytes()
    (half / "model.safetensors").write_bytes(weights[: len(weights) // 2])
    assert complete_checkpoints(run_dir("js"))[-1] == good

    progress_file = tmp_path / "b.jsonl"
    assert run(tiny_config(tiny_gpt2, js_tree, steps=step + 2, save_steps=1000), str(progress_file)) == "done"
    log = events(progress_file)
    assert next(e for e in log if e["event"] == "start")["resume"] == str(good)
    assert [e["step"] for e in log if e["event"] == "step"] == [step + 1, step + 2]
    assert not list(run_dir("js").glob("checkpoint-*"))  # done: the result is published, checkpoints go


def test_a_run_killed_while_saving_leaves_a_loadable_result(tiny_gpt2, js_tree, tmp_path):
    """SIGKILL as the result is written: `js` is then the previous result or the new one, never half."""
    from backends.loading.models import load, resolve

    run(tiny_config(tiny_gpt2, js_tree, steps=2), str(tmp_path / "first.jsonl"))
    before = (finetuned_dir("js") / "model.safetensors").read_bytes()
    job = jobs.start(tiny_config(tiny_gpt2, js_tree, steps=3), fresh=True)
    wait_for(job, lambda p: p.phase in ("saving", "done"), timeout=240)
    if job.running:
        os.kill(job.pid, signal.SIGKILL)  # as a crash or `kill -9` would
    job.wait(timeout=30)
    after = (finetuned_dir("js") / "model.safetensors").read_bytes()
    loaded = load(resolve("js"), device="cpu")
    assert loaded.model is not None and not loaded.is_chat
    if after != before:  # the kill came too late: then the new result must be the whole of it
        assert json.loads((finetuned_dir("js") / "parrot-finetune.json").read_text())["steps"] == 3


def test_leftovers_of_a_killed_save_are_never_loaded(tiny_gpt2, js_tree, tmp_path):
    """A save killed half-way leaves only a hidden .tmp folder beside the result; `js` ignores it."""
    from backends.loading.models import load, resolve

    run(tiny_config(tiny_gpt2, js_tree, steps=2), str(tmp_path / "p.jsonl"))
    result = finetuned_dir("js")
    half = result.with_name(f".{result.name}.k1ll3d.tmp")
    half.mkdir()
    (half / "config.json").write_text((result / "config.json").read_text())
    (half / "model.safetensors").write_bytes((result / "model.safetensors").read_bytes()[:1000])
    assert resolve("js").location == str(result)
    assert load(resolve("js"), device="cpu").model is not None


def test_a_finished_run_started_again_starts_over(tiny_gpt2, js_tree, tmp_path):
    config = tiny_config(tiny_gpt2, js_tree, steps=2, save_steps=2)
    run(config, str(tmp_path / "a.jsonl"))
    run(config, str(tmp_path / "b.jsonl"))
    log = events(tmp_path / "b.jsonl")
    assert next(e for e in log if e["event"] == "start")["resume"] is None
    assert [e["step"] for e in log if e["event"] == "step"] == [1, 2]


def test_the_hub_path_trains_from_github_code_parquet(tiny_gpt2, tmp_path):
    """`--data` pointing at parquet files with github-code's columns goes through the hub reader."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from tests.support.js_corpus import js_class

    texts = [js_class(i) for i in range(40)]
    pq.write_table(pa.table({"content": texts, "path": [f"src/f{i}.js" for i in range(40)],
                             "license": ["mit", "isc", "apache-2.0", "gpl-2.0"] * 10,
                             "repo_name": [f"org/r{i}" for i in range(40)], "size": [len(t) for t in texts]}),
                   tmp_path / "train-00000.parquet")
    progress_file = tmp_path / "p.jsonl"
    config = tiny_config(tiny_gpt2, tmp_path / "train-*.parquet", steps=3)
    assert run(config, str(progress_file)) == "done"
    corpus_line = next(e["message"] for e in events(progress_file) if "training files" in e.get("message", ""))
    kept, held_out = map(int, re.match(r"(\d+) training files, (\d+) held out", corpus_line).groups())
    assert kept + held_out == 30  # the gpl-2.0 rows never reach the reader
    progress = fold(progress_file)
    assert progress.phase == "done" and progress.perplexity_after is not None


def test_runs_unchanged_under_torchrun(tiny_gpt2, js_tree, tmp_path):
    """Two processes (gloo on the CPU): one progress stream, one result."""
    import subprocess
    import sys

    from tests.support.helpers import ROOT

    progress_file = tmp_path / "p.jsonl"
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2", "-m", "finetune.train",
               "--base", str(tiny_gpt2), "--data", str(js_tree), "--steps", "3", "--block", "32",
               "--eval-blocks", "4", "--eval-share", "0.2", "--device", "cpu", "--progress-file", str(progress_file)]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, timeout=300,
                            env={**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)})
    assert result.returncode == 0, result.stderr.decode()[-2000:]
    log = events(progress_file)
    assert [e["step"] for e in log if e["event"] == "step"] == [1, 2, 3]  # rank 0 alone reports
    assert sum(e["event"] == "done" for e in log) == 1
    assert (finetuned_dir("js") / "model.safetensors").exists()
