"""One fine-tuning run: a transformers Trainer on packed JavaScript, with progress, stop and resume.

    python -m finetune.train --base smollm2 --data /usr/lib/node_modules --steps 100 --block 256

runs unchanged under ``accelerate launch -m finetune.train ...`` or ``torchrun -m finetune.train ...``
on several GPUs (the Trainer reads the ranks from the environment; only rank 0 writes progress and
the result). SIGTERM or Ctrl-C stops after the current step with a checkpoint; running the same
command again resumes from the last complete checkpoint. Held-out loss and perplexity are measured
before and after; the result is copied atomically to ``finetuned_dir(name)``, where the preset of
that name loads it as a completion model.
"""

from __future__ import annotations

import json
import math
import os
import signal
import sys
import time
from collections import deque
from dataclasses import asdict
from pathlib import Path
from typing import Any, Sequence

from backends import paths
from backends.paths import finetuned_dir

from .checkpoints import MARKER, checkpoint_step, complete_checkpoints, plan, remove_all, remove_incomplete
from .options import RunConfig, read_train_args
from .progress import EventWriter
from .yielding import Yielder

__all__ = ["RunConfig", "run", "main"]  # RunConfig lives in finetune.options; callers import it from here too


class StoppedEarly(KeyboardInterrupt):
    """A stop that came before training began: there is nothing to save, so leave at once."""


class StopFlag:
    """Set by SIGTERM or the first Ctrl-C; a second Ctrl-C interrupts at once.

    While the Trainer runs, the flag is only noted and the callback stops after the current step
    with a checkpoint; before that (loading, the first evaluation) the run ends at once.
    """

    def __init__(self) -> None:
        self.is_set = False
        self.training = False

    def install(self) -> None:
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, self._handle)

    def _handle(self, signum: int, frame: Any) -> None:
        self.is_set = True
        signal.signal(signal.SIGINT, signal.default_int_handler)
        if not self.training:
            raise StoppedEarly()


def make_callback(emit: EventWriter, stop: StopFlag, tokens_per_step: int, yielder: Yielder):
    """A TrainerCallback that reports progress, writes checkpoint markers and honours a stop."""
    from transformers import TrainerCallback

    class ProgressCallback(TrainerCallback):
        def __init__(self) -> None:
            self.step_times: deque[float] = deque(maxlen=10)
            self.last = time.perf_counter()
            self.eval_started, self.eval_done = time.perf_counter(), 0  # set again as each evaluation begins

        def on_train_begin(self, args, state, control, **kwargs):
            self.last = time.perf_counter()
            emit("phase", phase="training", message=f"training from step {state.global_step}")

        def on_step_begin(self, args, state, control, **kwargs):
            self._yield()

        def on_substep_end(self, args, state, control, **kwargs):
            self._yield()  # between gradient-accumulation micro-steps too: the speed of each leaves pauses out

        def _yield(self) -> None:
            waited = yielder.wait()
            if waited:
                self.last += waited  # time spent paused is not training speed
                self.eval_started += waited  # nor evaluation speed
                emit("yield", paused_seconds=yielder.paused_seconds, pauses=yielder.pauses)

        def on_prediction_step(self, args, state, control, eval_dataloader=None, **kwargs):
            # The first evaluation comes before any step: minutes on a busy machine, so it says how far it is.
            self._yield()
            self.eval_done += 1
            if not state.is_world_process_zero or eval_dataloader is None:
                return
            total = len(eval_dataloader)
            per_batch = (time.perf_counter() - self.eval_started) / self.eval_done
            emit("eval_step", done=min(self.eval_done, total), total=total,
                 seconds_left=per_batch * max(0, total - self.eval_done))

        def on_step_end(self, args, state, control, **kwargs):
            now = time.perf_counter()
            self.step_times.append(now - self.last)
            self.last = now
            if stop.is_set:
                # The Trainer saves a checkpoint for this step and leaves its loop.
                control.should_training_stop = True
                control.should_save = True
            return control

        def on_log(self, args, state, control, logs=None, **kwargs):
            if not logs or "loss" not in logs or not state.is_world_process_zero:
                return
            per_step = sum(self.step_times) / len(self.step_times) if self.step_times else None
            emit("step", step=state.global_step, max_steps=state.max_steps, loss=float(logs["loss"]),
                 tokens_per_second=tokens_per_step / per_step if per_step else None,
                 seconds_left=per_step * (state.max_steps - state.global_step) if per_step else None)

        def on_save(self, args, state, control, **kwargs):
            if not state.is_world_process_zero:
                return
            folder = Path(args.output_dir) / f"checkpoint-{state.global_step}"
            paths.atomic_write_text(folder / MARKER, json.dumps({"step": state.global_step}))
            emit("saved", step=state.global_step, checkpoint=str(folder))

    return ProgressCallback()


def evaluate(trainer: Any, when: str, emit: EventWriter, callback: Any) -> float:
    """Held-out loss -> perplexity, reported as an event; ``callback`` reports each batch on the way."""
    emit("phase", phase="evaluating", message=f"held-out perplexity {when} training")
    callback.eval_started, callback.eval_done = time.perf_counter(), 0
    loss = float(trainer.evaluate()["eval_loss"])
    perplexity = math.exp(min(loss, 50.0))
    emit("eval", when=when, loss=loss, perplexity=perplexity)
    return perplexity


def run(config: RunConfig, progress_file: str | None = None, fresh: bool = False, output: str | None = None,
        stop: StopFlag | None = None, nice: int = 0, yield_to_chat: bool = False) -> str:
    """Train; returns "done" or "stopped". Events go to ``progress_file`` (rank 0 only)."""
    is_main = int(os.environ.get("RANK", "0")) == 0
    emit = EventWriter(progress_file if is_main else None, echo=sys.stderr if is_main else None)
    stop = stop or StopFlag()
    yielder: Yielder | None = None
    try:
        paths.run_dir(config.name).mkdir(parents=True, exist_ok=True)
        yielder = Yielder(paths.run_dir(config.name), nice, yield_to_chat)
        return _run(config, emit, stop, fresh, Path(output) if output else finetuned_dir(config.name), is_main,
                    yielder)
    except StoppedEarly:
        kept = complete_checkpoints(paths.run_dir(config.name))
        if kept:
            emit("stopped", step=checkpoint_step(kept[-1]), checkpoint=str(kept[-1]),
                 message=f"stopped before training went on; {kept[-1].name} is kept, run again to resume")
        else:
            emit("stopped", step=0, checkpoint=None,
                 message="stopped before training began: no checkpoint yet, running again starts from the beginning")
        return "stopped"
    except BaseException as error:
        emit("failed", message=failure_message(error))
        raise
    finally:
        if yielder is not None:
            yielder.close()
        emit.close()


def failure_message(error: BaseException) -> str:
    """One line: parrot's own errors as they are (they carry a hint), others with their type."""
    from backends.errors import ParrotError

    lines = str(error).strip().splitlines()
    text = lines[0] if lines else ""
    return str(error) if isinstance(error, ParrotError) else f"{type(error).__name__}: {text}".rstrip(": ")


def _run(config: RunConfig, emit: EventWriter, stop: StopFlag, fresh: bool, result: Path, is_main: bool,
         yielder: Yielder) -> str:
    import torch
    from transformers import PrinterCallback, Trainer, TrainingArguments, default_data_collator
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()  # bars in train.log would read as the reason of a crash

    from backends.errors import UsageError
    from backends.loading.models import load, resolve

    from .data import load_corpus
    from .packing import PackedDataset, pack

    folder = paths.run_dir(config.name)
    folder.mkdir(parents=True, exist_ok=True)
    planned = plan(config, fresh)  # raises rather than deleting checkpoints trained with other settings
    if is_main:
        remove_all(folder) if fresh else remove_incomplete(folder)
    resume, record = (str(planned.resume) if planned.resume else None), planned.record
    emit("start", base=config.base, max_steps=config.steps, resume=resume, step=planned.resume_step,
         threads=torch.get_num_threads(), nice=yielder.nice, yields=yielder.enabled,
         message=f"resuming from step {planned.resume_step} ({planned.resume.name})" if resume else
         f"starting over: deleted {', '.join(p.name for p in planned.discard)} (--fresh)" if planned.discard else
         "starting a new run")
    emit("phase", phase="loading", message=f"loading {config.base}")
    # On the CPU: the Trainer moves the model to each rank's device itself.
    # lean=False: training runs the transformers model; a fused lean copy would only take memory.
    loaded = load(resolve(config.base), device="cpu", dtype="float32", lean=False,
                  progress=lambda text: emit("phase", phase="loading", message=text))
    model, tokenizer = loaded.model, loaded.tokenizer
    tokenizer.chat_template = None  # the result is a completion model: it continues raw JavaScript
    if config.block > loaded.window:
        raise UsageError(f"--block {config.block} is longer than {config.base}'s window of {loaded.window} tokens",
                         f"use --block {loaded.window} or less")

    emit("phase", phase="loading", message=f"reading JavaScript from {config.data}")
    corpus = load_corpus(config.data, config.eval_share, config.max_files)
    train_set = PackedDataset(pack((d.text for d in corpus.train), tokenizer, config.block))
    eval_set = PackedDataset(pack((d.text for d in corpus.eval), tokenizer, config.block, config.eval_blocks))
    if not len(train_set) or not len(eval_set):
        raise ValueError(f"not enough JavaScript for blocks of {config.block} tokens ({corpus.summary()})")
    emit("phase", phase="loading", message=f"{corpus.summary()}; {len(train_set)} training blocks "
         f"({train_set.tokens:,} tokens), {len(eval_set)} held-out blocks")

    use_cpu = config.device == "cpu" or not torch.cuda.is_available()
    args = TrainingArguments(
        output_dir=str(folder), max_steps=config.steps, per_device_train_batch_size=config.batch,
        per_device_eval_batch_size=config.batch, gradient_accumulation_steps=config.grad_accum,
        learning_rate=config.learning_rate, lr_scheduler_type="cosine", warmup_steps=int(config.warmup * config.steps),
        weight_decay=0.1, logging_steps=1, save_strategy="steps", save_steps=config.save_steps,
        save_total_limit=2, eval_strategy="no", prediction_loss_only=True, report_to="none", use_cpu=use_cpu, seed=config.seed,
        bf16=not use_cpu and torch.cuda.is_bf16_supported(), disable_tqdm=True, dataloader_num_workers=0,
    )
    world = int(os.environ.get("WORLD_SIZE", "1"))
    tokens_per_step = config.block * config.batch * config.grad_accum * world
    callback = make_callback(emit, stop, tokens_per_step, yielder)
    trainer = Trainer(model=model, args=args, train_dataset=train_set, eval_dataset=eval_set,
                      processing_class=tokenizer, data_collator=default_data_collator, callbacks=[callback])
    trainer.remove_callback(PrinterCallback)  # our callback reports progress; no dicts on stdout

    before = record.get("perplexity_before")
    if before is None:
        before = evaluate(trainer, "before", emit, callback)
        if is_main:
            paths.atomic_write_text(folder / "run.json", json.dumps(
                {"config": asdict(config), "perplexity_before": before}, indent=2))
    else:
        emit("eval", when="before", perplexity=before, loss=math.log(before))
    stop.training = True  # from here on a stop ends with a checkpoint (or, after training, the result)
    trainer.train(resume_from_checkpoint=resume)
    step = trainer.state.global_step
    if stop.is_set and step < config.steps:
        emit("stopped", step=step, checkpoint=str(folder / f"checkpoint-{step}"),
             message=f"stopped at step {step}; checkpoint-{step} is kept, run again to resume")
        return "stopped"

    after = evaluate(trainer, "after", emit, callback)
    emit("phase", phase="saving", message=f"saving the model to {result}")
    if trainer.is_world_process_zero():
        # A run killed here leaves the previous result in place and only a hidden .tmp folder.
        with paths.atomic_directory(result) as tmp:
            trainer.save_model(str(tmp))
            tokenizer.save_pretrained(str(tmp))
            (tmp / "parrot-finetune.json").write_text(json.dumps(
                {"config": asdict(config), "steps": step, "perplexity_before": before, "perplexity_after": after},
                indent=2), encoding="utf-8")
        remove_all(folder)  # the result is published; checkpoints (weights + optimizer state) only take room
    emit("done", step=step, result=str(result),
         message=f"perplexity {before:.2f} -> {after:.2f}; chat with it: /model {config.name}")
    return "done"


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m finetune.train START.json`` (what the job runs) or ``... --base X --steps N`` (by hand)."""
    from backends.errors import ParrotError

    try:
        config, start, process = read_train_args(list(sys.argv[1:] if argv is None else argv))
    except ParrotError as error:
        print(f"finetune.train: {error}", file=sys.stderr)
        return 2
    stop = StopFlag()
    stop.install()
    try:
        run(config, process.progress_file, start.fresh, process.output, stop, process.nice, process.yield_to_chat)
    except ParrotError:  # explained already (the "failed" line); no traceback
        return 1
    return 0


if __name__ == "__main__":
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    sys.exit(main())
