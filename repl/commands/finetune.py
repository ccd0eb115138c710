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
NAMES = ("js",)  # what can be fine-tuned: the name is also the model preset the result becomes


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # argparse would print and exit the whole chat
        raise UsageError(message, f"usage: {FULL_USAGE}")


def build_parser(default_base: str, prog: str = "finetune", add_help: bool = False) -> argparse.ArgumentParser:
    """The options of ``/finetune js`` and ``parrot finetune js``, with their defaults in the help."""
    from finetune.train import RunConfig

    defaults = RunConfig()
    parser = _Parser(prog=prog, add_help=add_help, formatter_class=argparse.ArgumentDefaultsHelpFormatter,
                     description="Fine-tune a model on JavaScript; Ctrl-C stops with a checkpoint, "
                                 "running it again resumes.")
    parser.add_argument("name", choices=NAMES, help="what to fine-tune for (the result becomes the model js)")
    parser.add_argument("--steps", type=int, default=defaults.steps, help="training steps (at least 1)")
    parser.add_argument("--data", default=defaults.data, help="hub (codeparrot/github-code) or a folder of .js files")
    parser.add_argument("--base", default=default_base, help="the model to start from")
    parser.add_argument("--block", type=int, default=defaults.block, help="tokens per training block (at least 2)")
    parser.add_argument("--lr", type=float, default=defaults.learning_rate, help="learning rate")
    parser.add_argument("--max-files", type=int, help="use at most this many files")
    parser.add_argument("--fresh", action="store_true", help="start over instead of resuming from a checkpoint")
    return parser


def parse(args: list[str], default_base: str) -> tuple[Any, bool]:
    """``js --steps 50 --data DIR`` -> (RunConfig, fresh)."""
    from finetune.train import RunConfig

    defaults = RunConfig()
    options = build_parser(default_base).parse_args(args)
    if options.steps < 1:
        raise UsageError(f"--steps must be at least 1, not {options.steps}", f"usage: {FULL_USAGE}")
    if options.block < 2:
        raise UsageError(f"--block must be at least 2, not {options.block}", f"usage: {FULL_USAGE}")
    if not options.lr > 0 or options.lr != options.lr or options.lr == float("inf"):
        raise UsageError(f"--lr must be a positive number, not {options.lr}", f"usage: {FULL_USAGE}")
    if options.max_files is not None and options.max_files < 1:
        raise UsageError(f"--max-files must be at least 1, not {options.max_files}", f"usage: {FULL_USAGE}")
    if options.data != "hub" and not options.data.endswith(".parquet") and not os.path.isdir(os.path.expanduser(options.data)):
        raise UsageError(f"no such folder: {options.data}", "give --data hub or a folder of .js files")
    config = RunConfig(name=options.name, base=options.base, data=options.data, steps=options.steps,
                       block=options.block, learning_rate=options.lr, max_files=options.max_files,
                       save_steps=max(1, min(defaults.save_steps, options.steps // 4 or 1)))
    return config, options.fresh


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
        ctx.ui.show("stopping after the current step; a checkpoint is kept and /finetune js resumes from it")
        return
    from finetune import job as jobs

    config, fresh = parse(args, session_base(ctx))
    running = current_job(ctx, config.name)
    if running is not None and running.running:
        raise UsageError("a fine-tuning run is already going", "follow it with /finetune status or end it with /finetune stop")
    job = jobs.start(config, fresh=fresh)
    ctx.extras["finetune_job"] = job
    ctx.ui.show(f"fine-tuning {config.base} on JavaScript from {config.data}: {config.steps} steps of "
                f"{config.block} tokens, in the background. /finetune status follows it, /finetune stop "
                f"stops it (a checkpoint is kept); when it is done, /model {config.name} chats with it.")
    if started := ctx.extras.get("finetune_started"):
        started(job)


def describe(progress: Any) -> str:
    """The status line, plus what to do next when the run has ended."""
    text = progress.line()
    if progress.phase == "done":
        text += "\nthe model is ready: /model js (a completion model: give it code to continue)"
    elif progress.phase == "stopped":
        text += "\n/finetune js resumes from the last checkpoint"
    elif progress.phase == "failed" and progress.message and progress.message not in text:
        text += f"\n{progress.message}"
    return text


def main(argv: list[str]) -> int:
    """``parrot finetune js ...``: the same run in the foreground, with a progress line on stderr."""
    from backends.loading import DEFAULT_MODEL
    from finetune import job as jobs
    from finetune.job import attach

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
    job = jobs.start(config, fresh=fresh)
    interrupted = False
    shown = ""
    while True:
        try:
            progress = job.poll()
            line = progress.line()
            if line != shown:
                _show_line(line)
                shown = line
            if progress.finished:
                break
            time.sleep(0.5)
        except KeyboardInterrupt:
            if interrupted:  # a second Ctrl-C leaves the run to stop on its own
                break
            interrupted = True
            job.stop()
    if sys.stderr.isatty():
        sys.stderr.write("\n")
    progress = job.wait(timeout=60) if not interrupted else job.poll()
    final = describe(progress)
    # The progress line is on screen already; add it only if it changed, then what to do next.
    if rest := (final if not final.startswith(shown) else final[len(shown):].lstrip("\n")):
        print(rest, file=sys.stderr)
    if progress.phase == "done":
        return 0
    return 130 if interrupted else 1


def _show_line(line: str) -> None:
    # On a terminal the line rewrites itself; in a log each update is its own line.
    if sys.stderr.isatty():
        sys.stderr.write("\r\x1b[2K" + line)
    else:
        sys.stderr.write(line + "\n")
    sys.stderr.flush()
