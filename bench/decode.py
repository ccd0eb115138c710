"""Decode speed: parrot's local backend against transformers and llama.cpp, in one run.

    .venv/bin/python bench/decode.py [--tokens 128] [--runs 3] [--only NAME ...] [--hog]
                                     [--prefill 1000 4000] [--batch 4] [--load-runs 3]
                                     [--compare CHECKOUT] [--home DIR]

Every configuration runs in its own worker process (so its memory is its own), all loaded first;
then the runs are interleaved (one run of each configuration per round) and medians are reported,
so that a noisy neighbour slows every configuration alike. All engines get the same prompt token
ids (a ~40-token chat prompt) and produce exactly ``--tokens`` greedy tokens, end of text ignored.
tokens/s counts the tokens after the first (prefill excluded); TTFT is call to first token.
SmolLM2 rows are the embedded model; the codeparrot-small and Qwen2.5-Coder rows are those models'
architectures at full size with random weights (speed only). The "gguf" rows read a GGUF file that
the bench writes once with llama.cpp's converter and quantizer, so parrot (as ``parrot -m FILE.gguf``
loads it) and llama.cpp run the very same weights; each is set against llama.cpp on the Q4_K_M file.

Tables: decode; prefill of long prompts (tokens/s and the peak resident memory during the call, in
fresh workers); ``--batch N``: N sampled replies in one batch against N one after another;
``--hog``: every decode run is repeated beside a CPU-bound process, quiet and busy rates side by side;
load: process start to ready on a GGUF file, first and later loads, with peak memory
(``bench.load_probe``). ``--compare CHECKOUT`` adds the embedded model's default row as another
checkout of parrot runs it (before and after a change, in one run). The 7B rows run only when named
(``--only "qwen7b parrot gguf" "qwen7b llama.cpp Q4_K_M"``). llama.cpp (llama-cpp-python) and its
converter are optional: ``make bench-deps`` installs them. Start to ready from the cache: bench/startup.py.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.configs import AUTO, CONFIGS, OPTIONAL, PREFILL, model_of  # noqa: E402
from bench.decode_report import print_tables  # noqa: E402

MESSAGES = [
    {"role": "system", "content": "You are a helpful assistant for programmers."},
    {"role": "user", "content": "Write a Python function that checks whether a number is prime, then explain it."},
]
HOG = "while True: pass"  # one busy core, at the bench's own priority


# -- worker side -----------------------------------------------------------------------------------

def worker(name: str, ctx: int) -> None:
    """Serve runs over stdin/stdout: one JSON line in, one JSON line out."""
    from bench.engines import PeakRss, prepare, rss_mb

    engine, options = CONFIGS[name]
    try:
        run, batch = prepare(engine, {**options, "ctx": ctx} if engine == "llamacpp" else options)
    except ImportError as error:
        print(json.dumps({"error": f"not installed: {error.name}"}), flush=True)
        return
    print(json.dumps({"ready": True, "rss_mb": rss_mb()}), flush=True)
    for line in sys.stdin:
        request = json.loads(line)
        if request.get("batch"):
            batched, sequential = batch(request["ids"], request["tokens"], request["batch"])
            print(json.dumps({"batched": batched, "sequential": sequential}), flush=True)
            continue
        with PeakRss() as peak:
            ttft, total, out = run(request["ids"], request["tokens"])
        print(json.dumps({"ttft": ttft, "total": total, "ids": out, "peak_mb": peak.peak_mb, "rss_mb": rss_mb()}),
              flush=True)


def prompt_ids(prefill: list[int]) -> dict:
    """The chat prompt's ids, and a long code prompt for the prefill, from SmolLM2's tokenizer."""
    import argparse as argparse_module
    import inspect
    import textwrap
    import typing

    from bench.engines import embedded_tokenizer

    tokenizer = embedded_tokenizer()
    text = tokenizer.apply_chat_template(MESSAGES, tokenize=False, add_generation_prompt=True)
    code = "\n".join(inspect.getsource(m) for m in (argparse_module, typing, textwrap))
    long = tokenizer(code, add_special_tokens=False).input_ids
    assert len(long) >= max(prefill, default=0), f"the prefill text has {len(long)} tokens only"
    return {"chat": tokenizer(text, add_special_tokens=False).input_ids, "long": long[:max(prefill, default=0)]}


# -- driver side -----------------------------------------------------------------------------------

class Worker:
    """One configuration's process; ``ask`` returns None once it died (reported, the bench goes on)."""

    def __init__(self, name: str, ctx: int = 1024) -> None:
        self.name, self.why = name, ""
        # A row of another checkout (--compare) is that checkout's own worker, under its own name.
        tree = Path(CONFIGS[name][1].get("tree", ROOT))
        own = CONFIGS[name][1].get("as", name)
        self.process = subprocess.Popen([sys.executable, str(tree / "bench" / "decode.py"), "--worker", own,
                                         "--ctx", str(ctx)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        text=True, cwd=tree)
        hello = self._read() or {"error": f"worker died while loading (exit code {self.process.wait()})"}
        self.why = hello.get("error", "")

    def _read(self) -> dict | None:
        line = self.process.stdout.readline()
        return json.loads(line) if line else None

    def ask(self, **request) -> dict | None:
        if self.why:
            return None
        try:
            self.process.stdin.write(json.dumps(request) + "\n")
            self.process.stdin.flush()
            answer = self._read()
        except (OSError, ValueError):
            answer = None
        if answer is None:  # crashed, killed for memory: say so, keep the other rows
            self.why = f"worker died (exit code {self.process.wait()})"
            print(f"{self.name}: {self.why}", file=sys.stderr)
        return answer

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.stdin.close()
            self.process.wait()


def start(names: list[str], ctx: int = 1024) -> dict[str, Worker]:
    workers = {}
    for name in names:  # one at a time: loading in parallel would slow every load
        workers[name] = Worker(name, ctx)
        if workers[name].why:
            print(f"{name}: skipped ({workers[name].why})", file=sys.stderr)
    return workers


def vocab_ids(ids: list[int], name: str) -> list[int]:
    from bench.engines import vocab_size

    return [i % vocab_size(model_of(name)) for i in ids]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tokens", type=int, default=128)
    parser.add_argument("--nocache-tokens", type=int, default=32, help="the quadratic loop gets fewer tokens")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--only", nargs="*", help=f"configurations to run (default: all): {', '.join(CONFIGS)}")
    parser.add_argument("--prefill", nargs="*", type=int, default=[1000, 4000], help="prompt lengths (none: skip)")
    parser.add_argument("--batch", type=int, default=4, help="samples in the batch row (0: skip)")
    parser.add_argument("--batch-tokens", type=int, default=64)
    parser.add_argument("--hog", action="store_true", help="repeat every decode run beside a CPU-bound process")
    parser.add_argument("--load-runs", type=int, default=3, help="rounds of the load table (0: skip)")
    parser.add_argument("--compare", help="another parrot checkout: its default row on the embedded model, too")
    parser.add_argument("--home", help="PARROT_HOME for the converted-model cache (default: the user's)")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--ctx", type=int, default=1024, help=argparse.SUPPRESS)
    parser.add_argument("--prompt-ids", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.home:
        os.environ["PARROT_HOME"] = args.home
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    if args.worker:
        worker(args.worker, args.ctx)
        return 0
    if args.prompt_ids:
        print(json.dumps(prompt_ids(args.prefill)))
        return 0
    names = args.only or [name for name in CONFIGS if name not in OPTIONAL]
    unknown = [n for n in names if n not in CONFIGS]
    if unknown:
        parser.error(f"unknown configuration {', '.join(unknown)}; choose from {', '.join(CONFIGS)}")
    if args.compare:
        compared = f"parrot default ({Path(args.compare).resolve().name})"
        CONFIGS[compared] = ("parrot", {**AUTO, "tree": str(Path(args.compare).resolve()), "as": "parrot default"})
        names.insert(names.index("parrot default") + 1 if "parrot default" in names else 0, compared)
    load_before = os.getloadavg()
    # In a child (which also converts the GGUF and writes the fast-start copy once, before any
    # worker starts): a child inherits its parent's peak memory, so the driver never holds a model.
    done = subprocess.run([sys.executable, __file__, "--prompt-ids", "--prefill", *map(str, args.prefill)],
                          cwd=ROOT, capture_output=True, text=True, check=True)
    prompts = json.loads(done.stdout.strip().splitlines()[-1])
    ids = prompts["chat"]
    for name in names:  # the fast-start copies (and GGUF files) first, so that workers load as the chat does
        if CONFIGS[name][0] == "parrot" and (model_of(name) == "smollm2" or "gguf" in CONFIGS[name][1]):
            Worker(name).close()
    workers = start(names)
    for name, work in workers.items():  # a first call warms caches and kernels; it is not counted
        work.ask(ids=vocab_ids(ids, name), tokens=4)
    hog = subprocess.Popen([sys.executable, "-c", HOG]) if args.hog else None
    if hog:
        hog.send_signal(signal.SIGSTOP)
    quiet: dict[str, list[dict]] = {name: [] for name in workers}
    busy: dict[str, list[dict]] = {name: [] for name in workers}
    batch: list[dict] = []
    try:
        for round_ in range(args.runs):
            for name, work in workers.items():
                tokens = args.nocache_tokens if CONFIGS[name][0] == "nocache" else args.tokens
                for runs, hogging in ((quiet, False), (busy, True)) if hog else ((quiet, False),):
                    if hogging:
                        hog.send_signal(signal.SIGCONT)
                    answer = work.ask(ids=vocab_ids(ids, name), tokens=tokens)
                    if hogging:
                        hog.send_signal(signal.SIGSTOP)
                    if answer:
                        runs[name].append(answer)
            if args.batch and "parrot default" in workers:
                answer = workers["parrot default"].ask(ids=ids, tokens=args.batch_tokens, batch=args.batch)
                if answer:
                    batch.append(answer)
            print(f"round {round_ + 1}/{args.runs} done", file=sys.stderr)
    finally:
        if hog:
            hog.kill()
            hog.wait()
        for work in workers.values():
            work.close()
    prefill = run_prefill([n for n in names if n in PREFILL or CONFIGS[n][1].get("as") in PREFILL], prompts["long"],
                          args)
    print_tables(quiet, busy, batch, prefill, workers, ids, args, load_before)
    timed = [name for name in names if CONFIGS[name][1].get("load") and not workers[name].why]
    if timed and args.load_runs:
        from bench.load_probe import measure_loads, print_loads

        print_loads(measure_loads(timed, ids, args), args)
    return 0


def run_prefill(names: list[str], long: list[int], args: argparse.Namespace) -> dict[tuple[str, int], list[dict]]:
    """Long prompts, one token out, in fresh workers (llama.cpp's context sized for the longest)."""
    if not args.prefill or not names:
        return {}
    workers = start(names, ctx=max(args.prefill) + 16)
    for work in workers.values():
        work.ask(ids=long[:64], tokens=1)
    results: dict[tuple[str, int], list[dict]] = {(n, size): [] for n in workers for size in args.prefill}
    try:
        for _ in range(max(1, args.runs // 2)):
            for size in args.prefill:
                for name, work in workers.items():
                    answer = work.ask(ids=long[:size], tokens=1)
                    if answer:
                        results[(name, size)].append(answer)
    finally:
        for work in workers.values():
            work.close()
    return results


if __name__ == "__main__":
    sys.exit(main())
