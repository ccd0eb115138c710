"""The fine-tuning options are declared once (finetune.options) and reach the training process as a file."""

from __future__ import annotations

import json
from dataclasses import asdict, fields

import pytest

from backends import paths
from backends.errors import UsageError
from finetune import job as jobs
from finetune.options import RunConfig, read_train_args
from repl.commands.finetune import build_parser, parse


def test_every_run_option_has_a_flag_with_its_help_and_default():
    parser = build_parser("smollm2", "parrot finetune")
    text = " ".join(parser.format_help().split())
    flags = {flag for action in parser._actions for flag in action.option_strings}
    for field in fields(RunConfig):
        if field.name == "name":
            continue
        assert f"--{field.name.replace('_', '-')}" in flags
        assert field.metadata["help"].split(" (")[0] in text, field.name
    assert "(optimizer updates; default 120)" in text and "Hub id; default smollm2)" in text
    assert "(default: None)" not in text and "[FRESH]" not in text and "--grad_accum" not in text
    assert {"--lr", "--max-files", "--fresh", "--steps", "--data", "--base", "--block"} <= flags


def test_options_left_out_are_not_given_and_values_are_checked(parrot_home):
    config, fresh = parse(["js", "--steps", "8", "--lr", "0.001", "--grad-accum", "4"], "smollm2")
    assert (config.steps, config.learning_rate, config.grad_accum, config.base, fresh) == (8, 0.001, 4, "smollm2", False)
    assert config.save_steps == 2, "a quarter of a short run"
    assert parse(["js", "--fresh"], "smollm2")[1] is True
    with pytest.raises(UsageError, match="--warmup must be from 0"):
        parse(["js", "--warmup", "1.5"], "smollm2")
    with pytest.raises(UsageError, match="first word"):
        parse(["js", "--name", "other"], "smollm2")


def test_the_job_hands_its_options_to_the_process_as_one_file(tiny_gpt2, js_tree):
    config = RunConfig(base=str(tiny_gpt2), data=str(js_tree), steps=2, block=32, learning_rate=3e-3, warmup=0.0,
                       eval_share=0.2, eval_blocks=2, save_steps=1, device="cpu", max_files=20)
    job = jobs.start(config, fresh=True, background=True)
    try:
        start_file = paths.run_dir("js") / jobs.START_FILE
        assert job.process.args[-1] == str(start_file) and not any(a.startswith("--") for a in job.process.args)
        written = json.loads(start_file.read_text(encoding="utf-8"))
        assert written["fresh"] is True and written["yield_to_chat"] is True and written["nice"] > 0
        again, start, process = read_train_args([str(start_file)])
        assert asdict(again) == asdict(config) and start.fresh and process.progress_file
        progress = job.wait(timeout=300)
        assert progress.phase == "done", job.log_tail(10)
    finally:
        if job.running:
            job.stop()
            job.wait(timeout=60)
