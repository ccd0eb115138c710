"""Chat speed while a fine-tuning run goes on in the background: as it was, and yielding to the chat.

    python bench/chat_during_training.py                  # smollm2 chat, smollm2 training on npm's tree
    python bench/chat_during_training.py --rounds 3 --tokens 64
    python bench/chat_during_training.py --chat-model DIR --base DIR --data DIR --block 32 --quiet-seconds 1

Two background runs train at once-started and are then taken in turns with SIGSTOP/SIGCONT, so each
round measures, on the same machine load, one chat reply (greedy, fixed prompt) with:

- ``idle``: no training running (the baseline);
- ``before``: the run as it used to start: ``OMP_NUM_THREADS`` = cores - 1, normal priority, no pauses;
- ``after``: the run as ``/finetune js`` starts it now: every core, priority +10, held still
  (SIGSTOP by ``finetune.chat_pause``) while the reply streams (the chat marks it, as
  ``repl.replies`` does).

It reports chat tokens/s per condition (median of rounds, and the ratio to idle), and each run's
training tokens/s while the chat is quiet: ``after`` with the chat quiet is also what the foreground
``parrot finetune`` gets (every core), ``before`` what one thread gave.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT)]

PROMPT = "Write a JavaScript function that checks whether a string is a palindrome, and explain it."


def chat_speed(backend, tokens: int, mark: bool) -> float:
    from backends.base import Message
    from backends.settings import GenerationSettings
    from finetune.yielding import chat_replying

    settings = GenerationSettings(greedy=True, max_new_tokens=tokens)
    with chat_replying() if mark else _nothing():
        reply = backend.stream([Message("user", PROMPT)], settings)
        reply.finish()
    return reply.stats.completion_tokens / reply.stats.seconds


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def training_speed(job, seconds: float) -> float | None:
    """Median tokens/s of the steps the run finishes within ``seconds`` with the chat quiet."""
    job.read()
    deadline, speeds = time.monotonic() + seconds, []
    while time.monotonic() < deadline:
        for event in job.read():
            if event.get("event") == "step" and event.get("tokens_per_second"):
                speeds.append(event["tokens_per_second"])
        time.sleep(0.5)
    return statistics.median(speeds) if speeds else None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--chat-model", default="smollm2")
    parser.add_argument("--base", default="smollm2", help="what the background runs train")
    parser.add_argument("--data", default="/usr/lib/node_modules")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--tokens", type=int, default=64)
    parser.add_argument("--quiet-seconds", type=float, default=40.0, help="training measured this long per run")
    parser.add_argument("--block", type=int, help="tokens per training block (default: the run's own)")
    args = parser.parse_args()
    os.environ.setdefault("PARROT_HOME", tempfile.mkdtemp(prefix="parrot-bench-"))

    from backends.local.backend import LocalBackend
    from finetune import job as jobs
    from finetune.train import RunConfig

    backend = LocalBackend(args.chat_model, device="cpu")
    backend.load()
    chat_speed(backend, 8, mark=False)  # warm-up
    config = dict(base=args.base, data=args.data, steps=100_000, save_steps=100_000, eval_blocks=1,
                  **({"block": args.block} if args.block else {}))
    cores = os.cpu_count() or 2
    os.environ["OMP_NUM_THREADS"] = str(max(1, cores - 1))  # how runs used to start
    before = jobs.start(RunConfig(name="bench-before", **config))
    del os.environ["OMP_NUM_THREADS"]
    after = jobs.start(RunConfig(name="bench-after", **config), background=True)
    runs = {"before": before, "after": after}
    try:
        deadline = time.monotonic() + 900
        while time.monotonic() < deadline and not all(j.poll().step >= 1 for j in runs.values()):
            if any(j.progress.finished for j in runs.values()):
                raise SystemExit(f"a run ended: {[j.progress.message for j in runs.values()]}")
            time.sleep(1)
        for job in runs.values():
            os.kill(job.pid, signal.SIGSTOP)
        chat: dict[str, list[float]] = {"idle": [], "before": [], "after": []}
        train: dict[str, list[float]] = {"before": [], "after": []}
        for _ in range(args.rounds):
            chat["idle"].append(chat_speed(backend, args.tokens, mark=False))
            for name, job in runs.items():
                os.kill(job.pid, signal.SIGCONT)
                if speed := training_speed(job, args.quiet_seconds):
                    train[name].append(speed)
                chat[name].append(chat_speed(backend, args.tokens, mark=True))
                os.kill(job.pid, signal.SIGSTOP)
        threads = {name: job.poll().threads for name, job in runs.items()}
    finally:
        for job in runs.values():
            os.kill(job.pid, signal.SIGCONT)
            job.stop()
            job.wait(timeout=120)

    print(f"{cores} cores; chat {args.chat_model}, {args.tokens} greedy tokens; training {args.base} on "
          f"{args.data}; {args.rounds} interleaved rounds (load average now {os.getloadavg()[0]:.1f})")
    idle = statistics.median(chat["idle"])
    print(f"{'condition':<34}{'chat tok/s':>11}{'vs idle':>9}{'training tok/s (chat quiet)':>29}")
    for name, label in (("idle", "no training"),
                        ("before", f"before: {threads['before']} thread(s), nice 0, no pause"),
                        ("after", f"after: {threads['after']} thread(s), nice +10, held")):
        speed = statistics.median(chat[name])
        trained = f"{statistics.median(train[name]):.0f}" if train.get(name) else "-"
        print(f"{label:<34}{speed:>11.1f}{speed / idle:>9.2f}{trained:>29}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
