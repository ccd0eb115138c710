"""/finetune: train a JavaScript model in the background while the chat goes on; ``parrot finetune``.

The run is a separate process (finetune.job); this module only parses arguments, starts, stops and
reports. A mode that can show more (the Textual app) sets ``ctx.on_finetune_started``
and gets each new job, e.g. to mount a progress panel.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from typing import Any

from backends.errors import UsageError

from .context import Context
from .table import command

USAGE = "/finetune js [OPTIONS]|status|stop"  # short: it is a column of the /help table
OPTIONS = "[--steps N] [--data hub|DIR] [--base MODEL] [--block N] [--fresh]"
FULL_USAGE = f"/finetune js {OPTIONS} | status | stop"
NAMES = ("js",)  # what can be fine-tuned: the name is also the model preset the result becomes
STOP_WAIT = 120  # seconds a new start waits for a stopping run to write its checkpoint


def usage_error(message: str, why: str | None = None) -> UsageError:
    """A usage error whose hint gives the usage as typed where it happened: ``parrot finetune`` or ``/finetune``."""
    why = f"{why}; " if why else ""
    return UsageError(message, f"{why}usage: parrot {FULL_USAGE.lstrip('/')}", f"{why}usage: {FULL_USAGE}")


def build_parser(default_base: str, prog: str = "finetune", add_help: bool = False,
                 given_only: bool = False) -> argparse.ArgumentParser:
    """The options of ``/finetune js`` and ``parrot finetune js``, from the run's dataclasses (finetune.options).

    ``given_only``: options left out are absent from the result (they resume the stopped run's values)."""
    from finetune.options import RunConfig, StartOptions, parser

    options = parser(RunConfig, StartOptions, prog=prog, add_help=add_help, usage=f"{prog} js [OPTIONS]",
                     formatter_class=OptionsHelp,
                     description="Fine-tune a model on JavaScript (the result becomes the model js); Ctrl-C stops "
                                 "with a checkpoint, running it again resumes (options left out take the stopped "
                                 "run's values).")

    def refuse(message: str) -> None:  # argparse would print and exit the whole chat
        raise usage_error(message)

    options.error = refuse  # type: ignore[method-assign]
    for action in options._actions:
        if action.dest == "name":  # the first word names the run
            action.help = argparse.SUPPRESS
        elif action.dest == "base":
            action.default = default_base
        if given_only and action.dest != "help":
            action.default = argparse.SUPPRESS
    return options


class OptionsHelp(argparse.HelpFormatter):
    """Help for options read from dataclasses: a switch shows as ``--fresh`` (HfArgumentParser also takes
    ``--fresh true``), an option once under its dashed name, and a default only where there is one."""

    def _format_action_invocation(self, action: argparse.Action) -> str:
        if not action.option_strings:
            return super()._format_action_invocation(action)
        names = [n for n in action.option_strings if "_" not in n] or action.option_strings
        if action.nargs == argparse.OPTIONAL and action.const is True:  # a bool field: a switch
            return ", ".join(names)
        return ", ".join(f"{name} {self._format_args(action, action.dest.upper())}" for name in names)

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if action.default in (None, False, argparse.SUPPRESS) or not action.option_strings:
            return text
        if text.endswith(")"):  # one pair of parentheses: "(preset, folder or Hub id; default smollm2)"
            return f"{text[:-1]}; default {action.default})"
        return f"{text} (default {action.default})"


def parse(args: list[str], default_base: str) -> tuple[Any, bool]:
    """``js --steps 50 --data DIR`` -> (RunConfig, fresh).

    A run is found by its name: options left out take the values of that run's checkpoints, so a bare
    ``/finetune js`` resumes it whatever model the chat uses now.
    """
    from dataclasses import asdict

    from backends.paths import run_dir
    from finetune.checkpoints import complete_checkpoints, saved_settings
    from finetune.options import RunConfig, check

    if not args or args[0] not in NAMES:
        raise usage_error(f"cannot fine-tune for {args[0]!r}" if args else "say what to fine-tune for",
                          f"choose {' or '.join(NAMES)}")
    name, given = args[0], vars(build_parser(default_base, given_only=True).parse_args(args[1:]))
    fresh = bool(given.pop("fresh", False))
    if "name" in given:
        raise usage_error("the run is named by its first word (js), not --name")
    try:
        check(given)
    except UsageError as error:
        raise usage_error(error.message) from None
    data = given.get("data")
    if data is not None and data != "hub" and not data.endswith(".parquet") \
            and not os.path.isdir(os.path.expanduser(data)):
        raise UsageError(f"no such folder: {data}", "give --data hub or a folder of .js files")
    defaults = RunConfig()
    resumable = not fresh and complete_checkpoints(run_dir(name))
    saved = saved_settings(name) if resumable else {}
    fallback = {**asdict(defaults), "base": default_base}
    values = {key: given[key] if key in given else saved.get(key, fallback[key]) for key in fallback if key != "name"}
    if "save_steps" not in given:  # a short run still leaves a few checkpoints behind
        values["save_steps"] = max(1, min(defaults.save_steps, values["steps"] // 4 or 1))
    return RunConfig(name=name, **values), fresh


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

    return ctx.finetune_job or attach(name)


def session_base(ctx: Context) -> str:
    """The current local model is the default base; other backends fall back to the embedded model."""
    from backends.loading.models import DEFAULT_MODEL

    if ctx.session.backend_name == "local" and ctx.session.model:
        return ctx.session.model
    return DEFAULT_MODEL


@command("finetune", USAGE, f"fine-tune a model on JavaScript in the background, then /model js; {OPTIONS}",
         group="models", arguments=("js", "status", "stop"))
def finetune_(ctx: Context, args: list[str]) -> None:
    if not args:
        raise usage_error("say what to do: js, status or stop")
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
    ctx.finetune_job = job
    ctx.ui.show(f"fine-tuning {config.base} on JavaScript from {config.data}: {note}, in the background "
                f"(at low priority, held still while the chat answers). /finetune status follows it, /finetune stop "
                f"stops it with a checkpoint; when it is done, /model {config.name} chats with it.")
    if ctx.on_finetune_started is not None:
        ctx.on_finetune_started(job)


# How a person goes on, said as they would type it where they are: in the chat or on the command line.
CHAT_WORDS = {"start": "/finetune js", "model": "/model js"}
CLI_WORDS = {"start": "parrot finetune js", "model": "parrot -m js"}


def stop_note(progress: Any, cli: bool = False) -> str:
    """What a stop keeps, as the run will say once it has stopped (``JobProgress.next_start``)."""
    start = (CLI_WORDS if cli else CHAT_WORDS)["start"]
    if progress.phase == "training":
        return f"stopping after the current step, which saves a checkpoint; {start} then resumes from it"
    if progress.max_steps and progress.step >= progress.max_steps and progress.phase in ("evaluating", "saving"):
        return "training is over: the run finishes its last evaluation and saves the model first"
    return f"stopping before training began; {start} then {progress.next_start()}"


def describe(progress: Any, cli: bool = False) -> str:
    """The status line, plus what to do next when the run has ended."""
    words = CLI_WORDS if cli else CHAT_WORDS
    text = progress.line()
    if (sharing := progress.sharing()) and not progress.finished:
        text += f"\n{sharing}"
    if progress.phase == "done":
        text += f"\nthe model is ready: {words['model']} (a completion model: give it code to continue)"
    elif progress.phase == "stopped":
        text += f"\n{words['start']} {progress.next_start()}"
    elif progress.phase == "failed" and progress.message and progress.message not in text:
        text += f"\n{progress.message}"
    return text


def main(argv: list[str]) -> int:
    """``parrot finetune js ...``: the same run in the foreground, with a progress line on stderr."""
    from backends.loading.models import DEFAULT_MODEL
    from finetune import job as jobs
    from finetune.job import attach

    from ..views.finetune_progress import ForegroundProgress

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
        if argv[0] == "status":
            print(describe(job.poll(), cli=True) if job else "no fine-tuning run yet; start one with parrot finetune js")
            return 0
        if job is None or not job.running:
            raise UsageError("no fine-tuning run is going", "start one with parrot finetune js")
        job.stop()
        print(stop_note(job.poll(), cli=True))
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
                view.note(stop_note(job.poll(), cli=True))
                job.stop()
    finally:
        view.close()
    progress = job.wait(timeout=60) if not interrupted else job.poll()
    print(describe(progress, cli=True), file=sys.stderr)
    if progress.phase == "done":
        return 0
    return 130 if interrupted else 1
