"""/finetune: train a JavaScript model in the background while the chat goes on; ``parrot finetune``.

The run is a separate process (finetune.job); this module only parses arguments, starts, stops and
reports. A mode that can show more (the Textual app) puts a callable under
``ctx.extras["finetune_started"]`` and gets each new job, e.g. to mount a progress panel.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from typing import Any

from backends.errors import UsageError

from .table import Context, command

USAGE = "/finetune js [OPTIONS]|status|stop"  # short: it is a column of the /help table
OPTIONS = "[--steps N] [--data hub|DIR] [--base MODEL] [--block N] [--fresh]"
FULL_USAGE = f"/finetune js {OPTIONS} | status | stop"
NAMES = ("js",)
STOP_WAIT = 120  # seconds a new start waits for a stopping run to write its checkpoint  # what can be fine-tuned: the name is also the model preset the result becomes


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # argparse would print and exit the whole chat
        raise UsageError(message, f"usage: {FULL_USAGE}")


def build_parser(default_base: str, prog: str = "finetune", add_help: bool = False) -> argparse.ArgumentParser:
    """The options of ``/finetune js`` and ``parrot finetune js``; left out, they resume the stopped run's."""
    from finetune.train import RunConfig

    defaults = RunConfig()
    parser = _Parser(prog=prog, add_help=add_help,
                     description="Fine-tune a model on JavaScript; Ctrl-C stops with a checkpoint, running it "
                                 "again resumes (options left out take the stopped run's values).")
    parser.add_argument("name", choices=NAMES, help="what to fine-tune for (the result becomes the model js)")
    parser.add_argument("--steps", type=int, help=f"training steps (at least 1; default {defaults.steps})")
    parser.add_argument("--data", help=f"hub (codeparrot/github-code) or a folder of .js files (default {defaults.data})")
    parser.add_argument("--base", help=f"the model to start from (default {default_base})")
    parser.add_argument("--block", type=int, help=f"tokens per training block (at least 2; default {defaults.block})")
    parser.add_argument("--lr", type=float, help=f"peak learning rate (default {defaults.learning_rate})")
    parser.add_argument("--max-files", type=int, help="use at most this many files")
    parser.add_argument("--fresh", action="store_true", help="start over: delete this run's checkpoints")
    return parser


def parse(args: list[str], default_base: str) -> tuple[Any, bool]:
    """``js --steps 50 --data DIR`` -> (RunConfig, fresh).

    A run is found by its name: options left out take the values of that run's checkpoints, so a bare
    ``/finetune js`` resumes it whatever model the chat uses now.
    """
    from finetune.checkpoints import complete_checkpoints, run_dir, saved_settings
    from finetune.train import RunConfig

    defaults = RunConfig()
    options = build_parser(default_base).parse_args(args)
    if options.steps is not None and options.steps < 1:
        raise UsageError(f"--steps must be at least 1, not {options.steps}", f"usage: {FULL_USAGE}")
    if options.block is not None and options.block < 2:
        raise UsageError(f"--block must be at least 2, not {options.block}", f"usage: {FULL_USAGE}")
    if options.lr is not None and (not options.lr > 0 or options.lr == float("inf")):
        raise UsageError(f"--lr must be a positive number, not {options.lr}", f"usage: {FULL_USAGE}")
    if options.max_files is not None and options.max_files < 1:
        raise UsageError(f"--max-files must be at least 1, not {options.max_files}", f"usage: {FULL_USAGE}")
    if options.data is not None and options.data != "hub" and not options.data.endswith(".parquet") \
            and not os.path.isdir(os.path.expanduser(options.data)):
        raise UsageError(f"no such folder: {options.data}", "give --data hub or a folder of .js files")
    resumable = not options.fresh and complete_checkpoints(run_dir(options.name))
    saved = saved_settings(options.name) if resumable else {}
    given = {"steps": options.steps, "data": options.data, "base": options.base, "block": options.block,
             "learning_rate": options.lr, "max_files": options.max_files}
    fallback = {**vars(defaults), "base": default_base}
    values = {key: value if value is not None else saved.get(key, fallback[key]) for key, value in given.items()}
    config = RunConfig(name=options.name, **values,
                       save_steps=max(1, min(defaults.save_steps, values["steps"] // 4 or 1)))
    return config, options.fresh


def plan_note(config: Any, fresh: bool) -> str:
    """What starting ``config`` does with earlier checkpoints; raises (a question) if it would lose them."""
    from finetune.checkpoints import plan

    planned = plan(config, fresh)
    if planned.resume:
        return f"resuming from step {planned.resume_step} ({planned.resume.name}) of {config.steps}"
    if planned.discard:
        return f"starting over (--fresh): {', '.join(p.name for p in planned.discard)} deleted"
    return f"{config.steps} steps of {config.block} tokens"


def current_job(ctx: Context, name: str = "js") -> Any:
    """The job this session started, or the last one any parrot process started."""
    from finetune.job import attach

    return ctx.extras.get("finetune_job") or attach(name)


def session_base(ctx: Context) -> str:
    """The current local model is the default base; other backends fall back to the embedded model."""
    from backends.loading import DEFAULT_MODEL

    if ctx.session.backend_name == "local" and ctx.session.model:
        return ctx.session.model
    return DEFAULT_MODEL


@command("finetune", USAGE, f"fine-tune a model on JavaScript in the background, then /model js; {OPTIONS}",
         group="models", arguments=("js", "status", "stop"))
def finetune_(ctx: Context, args: list[str]) -> None:
    if not args:
        raise UsageError("say what to do: js, status or stop", f"usage: {FULL_USAGE}")
    if args[0] == "status":
        job = current_job(ctx)
        ctx.ui.show(describe(job.poll()) if job else "no fine-tuning run yet; start one with /finetune js")
        return
    if args[0] == "stop":
        job = current_job(ctx)
        if job is None or not job.running:
            raise UsageError("no fine-tuning run is going", "start one with /finetune js")
        job.stop()
        ctx.ui.show(stop_note(job.poll()))
        return
    from finetune import job as jobs

    running = current_job(ctx, args[0] if args[0] in NAMES else "js")
    if running is not None and running.running and running.stopping:
        ctx.ui.show("waiting for the stopping run to save its checkpoint…")
        running.wait(timeout=STOP_WAIT)
    if running is not None and running.running:
        raise UsageError("a fine-tuning run is already going", "follow it with /finetune status or end it with /finetune stop")
    config, fresh = parse(args, session_base(ctx))
    note = plan_note(config, fresh)
    job = jobs.start(config, fresh=fresh, background=True)
    ctx.extras["finetune_job"] = job
    ctx.ui.show(f"fine-tuning {config.base} on JavaScript from {config.data}: {note}, in the background "
                f"(at low priority, pausing while the chat answers). /finetune status follows it, /finetune stop "
                f"stops it with a checkpoint; when it is done, /model {config.name} chats with it.")
    if started := ctx.extras.get("finetune_started"):
        started(job)


def stop_note(progress: Any) -> str:
    """What a stop keeps: a checkpoint only once training has begun (or one from before a resume)."""
    if progress.phase == "training":
        return "stopping after the current step; it saves a checkpoint and /finetune js resumes from it"
    if progress.checkpoint:
        return (f"stopping before training goes on; {os.path.basename(progress.checkpoint)} is kept and "
                "/finetune js resumes from it")
    return "stopping before training began: there is no checkpoint yet, so /finetune js starts from the beginning"


def describe(progress: Any) -> str:
    """The status line, plus what to do next when the run has ended."""
    text = progress.line()
    if (sharing := progress.sharing()) and not progress.finished:
        text += f"\n{sharing}"
    if progress.phase == "done":
        text += "\nthe model is ready: /model js (a completion model: give it code to continue)"
    elif progress.phase == "stopped" and progress.checkpoint:
        text += f"\n/finetune js resumes from {os.path.basename(progress.checkpoint)}"
    elif progress.phase == "stopped":
        text += "\nno checkpoint was saved: /finetune js starts from the beginning"
    elif progress.phase == "failed" and progress.message and progress.message not in text:
        text += f"\n{progress.message}"
    return text


def main(argv: list[str]) -> int:
    """``parrot finetune js ...``: the same run in the foreground, with a progress line on stderr."""
    from backends.loading import DEFAULT_MODEL
    from finetune import job as jobs
    from finetune.job import attach

    from ..finetune_progress import ForegroundProgress

    if not argv or "-h" in argv or "--help" in argv:  # also `parrot finetune js --help`
        help_text = build_parser(DEFAULT_MODEL, "parrot finetune").format_help()
        help_text += "\nalso: parrot finetune status | stop\n"
        if not argv:
            print(f"parrot finetune: say what to do: js, status or stop (usage: parrot {FULL_USAGE.lstrip('/')})",
                  file=sys.stderr)
            return 2
        print(help_text, end="")
        return 0
    if argv[0] in ("status", "stop"):
        job = attach("js")
        if job is None:
            print("no fine-tuning run yet", file=sys.stderr)
            return 1
        if argv[0] == "stop":
            job.stop()
        print(describe(job.poll()))
        return 0
    config, fresh = parse(argv, DEFAULT_MODEL)
    plan_note(config, fresh)  # a run that would lose checkpoints is a question, asked before anything starts
    job = jobs.start(config, fresh=fresh)  # the foreground run has the machine: all cores, no pauses
    view = ForegroundProgress(sys.stderr)
    interrupted = False
    try:
        while True:
            try:
                for event in job.read():
                    view.event(event, job.progress)
                if job.progress.finished:
                    break
                time.sleep(0.2)
            except KeyboardInterrupt:
                if interrupted:  # a second Ctrl-C leaves the run to stop on its own
                    break
                interrupted = True
                view.note("stopping after the current step…")
                job.stop()
    finally:
        view.close()
    progress = job.wait(timeout=60) if not interrupted else job.poll()
    print(describe(progress), file=sys.stderr)
    if progress.phase == "done":
        return 0
    return 130 if interrupted else 1
