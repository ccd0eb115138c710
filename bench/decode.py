"""Decode speed: parrot's local backend against transformers and llama.cpp, in one run.

    .venv/bin/python bench/decode.py [--tokens 128] [--runs 3] [--only NAME ...] [--hog]
                                     [--prefill 1000 4000] [--batch 4] [--home DIR]

Every configuration runs in its own worker process (so its memory is its own), all loaded first;
then the runs are interleaved (one run of each configuration per round) and medians are reported,
so that a noisy neighbour slows every configuration alike. All engines get the same prompt token
ids (a ~40-token chat prompt) and produce exactly ``--tokens`` greedy tokens, end of text ignored.
tokens/s counts the tokens after the first (prefill excluded); TTFT is call to first token.
SmolLM2 rows are the embedded model; the codeparrot-small and Qwen2.5-Coder-0.5B rows are those
models' architectures at full size with random weights (speed only), each against transformers.

Tables: decode; prefill of long prompts (tokens/s and the peak resident memory during the call, in
fresh workers); ``--batch N``: N sampled replies in one batch against N one after another;
``--hog``: every decode run is repeated beside a CPU-bound process, quiet and busy rates side by side.
llama.cpp (llama-cpp-python on the same GGUF file) is optional: ``make bench-deps`` installs it.
Start to ready from the cache: bench/startup.py.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

MESSAGES = [
    {"role": "system", "content": "You are a helpful assistant for programmers."},
    {"role": "user", "content": "Write a Python function that checks whether a number is prime, then explain it."},
]
AUTO = {"dtype": "auto", "quantize": "auto"}
CODEPARROT, QWEN2 = {"model": "codeparrot-small"}, {"model": "qwen2.5-coder-0.5b"}

# name -> (engine, options); the model is SmolLM2 unless the options name another.
CONFIGS: dict[str, tuple[str, dict]] = {
    "parrot default": ("parrot", AUTO),
    "parrot fp32": ("parrot", {"dtype": "float32", "quantize": "none"}),
    "parrot bf16": ("parrot", {"dtype": "bfloat16", "quantize": "none"}),
    "parrot int8": ("parrot", {"dtype": "bfloat16", "quantize": "int8"}),
    "parrot int4": ("parrot", {"dtype": "bfloat16", "quantize": "int4"}),
    "parrot default 1 thread": ("parrot", {**AUTO, "threads": 1}),
    "parrot default untraced": ("parrot", {**AUTO, "traced": False}),
    "hf generate fp32": ("generate", {"dtype": "float32"}),
    "hf generate bf16": ("generate", {"dtype": "bfloat16"}),
    "notebook no-cache": ("nocache", {"dtype": "float32"}),
    "llama.cpp": ("llamacpp", {}),
    "llama.cpp 1 thread": ("llamacpp", {"threads": 1}),
    "codeparrot parrot": ("parrot", {**CODEPARROT, **AUTO}),
    "codeparrot hf fp32": ("generate", {**CODEPARROT, "dtype": "float32"}),
    "qwen2 parrot": ("parrot", {**QWEN2, **AUTO}),
    "qwen2 hf fp32": ("generate", {**QWEN2, "dtype": "float32"}),
}
BASELINES = {"smollm2": "hf generate fp32", "codeparrot-small": "codeparrot hf fp32",
             "qwen2.5-coder-0.5b": "qwen2 hf fp32"}
PREFILL = ("parrot default", "llama.cpp", "llama.cpp 1 thread", "hf generate fp32")  # the prefill table's engines
HOG = "while True: pass"  # one busy core, at the bench's own priority


def model_of(name: str) -> str:
    return CONFIGS[name][1].get("model", "smollm2")


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

    from backends.loading.models import load, resolve

    tokenizer = load(resolve("smollm2"), "cpu", "float32", quantize="none").tokenizer
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
        self.process = subprocess.Popen([sys.executable, __file__, "--worker", name, "--ctx", str(ctx)],
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT)
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
    names = args.only or list(CONFIGS)
    unknown = [n for n in names if n not in CONFIGS]
    if unknown:
        parser.error(f"unknown configuration {', '.join(unknown)}; choose from {', '.join(CONFIGS)}")
    load_before = os.getloadavg()
    # In a child (which also converts the GGUF and writes the fast-start copy once, before any
    # worker starts): a child inherits its parent's peak memory, so the driver never holds a model.
    done = subprocess.run([sys.executable, __file__, "--prompt-ids", "--prefill", *map(str, args.prefill)],
                          cwd=ROOT, capture_output=True, text=True, check=True)
    prompts = json.loads(done.stdout.strip().splitlines()[-1])
    ids = prompts["chat"]
    for name in names:  # the fast-start copies first, so that workers load as the chat does
        if CONFIGS[name][0] == "parrot" and model_of(name) == "smollm2":
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
    prefill = run_prefill([n for n in PREFILL if n in names], prompts["long"], args)
    print_tables(quiet, busy, batch, prefill, workers, ids, args, load_before)
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


def rate(run: dict) -> float:
    return (len(run["ids"]) - 1) / (run["total"] - run["ttft"])


def print_tables(quiet, busy, batch, prefill, workers, ids, args, load_before) -> None:
    print(f"\n{len(ids)}-token chat prompt, {args.tokens} greedy tokens, medians of {args.runs} interleaved runs, "
          f"{os.cpu_count()} CPUs; load average {load_before[0]:.2f} before, {os.getloadavg()[0]:.2f} after")
    for name, work in workers.items():
        if work.why:
            print(f"{name}: {work.why}" + ("; its completed runs are in the table" if quiet.get(name) else ""))
    rows = {name: runs for name, runs in quiet.items() if runs}
    summary = {name: {"tok_s": statistics.median(map(rate, runs)), "best": max(map(rate, runs)),
                      "ttft_ms": 1000 * statistics.median(r["ttft"] for r in runs), "rss_mb": runs[-1]["rss_mb"],
                      "peak_mb": max(r["peak_mb"] for r in runs), "ids": runs[0]["ids"]} for name, runs in rows.items()}
    # The reference is llama.cpp at its fastest thread count in this run (on a busy machine, one thread).
    cpp = [row for name, row in summary.items() if CONFIGS[name][0] == "llamacpp"]
    ref = max(cpp, key=lambda row: row["tok_s"]) if cpp else None
    fp32 = summary.get("parrot fp32") or summary.get("hf generate fp32")
    header = (f"{'configuration':<24} {'model':<18} {'tok/s':>7} {'best':>6} {'TTFT ms':>8} {'RSS MB':>7} "
              f"{'x baseline':>10} {'x llama.cpp':>11} {'TTFT/l.cpp':>10} {'RSS/l.cpp':>9} {'same as fp32':>12}")
    if busy and any(busy.values()):
        header += f" {'hog tok/s':>9} {'hog best':>8} {'hog/quiet':>9}"
    print(header + "\n" + "-" * len(header))
    for name, row in summary.items():
        model = model_of(name)
        base = summary.get(BASELINES[model])
        smol = model == "smollm2" and ref
        same = "-"
        if model == "smollm2" and fp32 and CONFIGS[name][0] != "llamacpp":
            pairs = list(zip(row["ids"], fp32["ids"]))
            same = f"{next((i for i, (a, b) in enumerate(pairs) if a != b), len(pairs))}/{len(pairs)}"
        line = (f"{name:<24} {model:<18} {row['tok_s']:>7.1f} {row['best']:>6.1f} {row['ttft_ms']:>8.0f} "
                f"{row['rss_mb']:>7.0f} {_ratio(row['tok_s'], base and base['tok_s']):>10} "
                f"{_ratio(row['tok_s'], smol and ref['tok_s']):>11} {_ratio(row['ttft_ms'], smol and ref['ttft_ms']):>10} "
                f"{_ratio(row['rss_mb'], smol and ref['rss_mb']):>9} {same:>12}")
        if busy.get(name):
            hog = statistics.median(map(rate, busy[name]))
            line += f" {hog:>9.1f} {max(map(rate, busy[name])):>8.1f} {hog / row['tok_s']:>9.2f}"
        print(line)
    if ref:
        print("x llama.cpp, TTFT/l.cpp, RSS/l.cpp: against the faster llama.cpp row of this run.")
    if "llama.cpp" in workers and "llama.cpp" not in summary:
        print("llama.cpp: not measured (llama-cpp-python is not installed; `make bench-deps` installs it)")
    print("tok/s: median; best: the fastest run. x baseline: against transformers fp32 generate of the same model.")
    print("same as fp32: greedy tokens identical to parrot fp32 before the first difference.")
    print("RSS: resident memory after the runs (what the model costs while chatting).")
    if busy and any(busy.values()):
        print("hog: the same runs beside one CPU-bound process (`python -c 'while True: pass'`, same priority).")
    if batch:
        batched = statistics.median(b["batched"] for b in batch)
        sequential = statistics.median(b["sequential"] for b in batch)
        total = args.batch * args.batch_tokens
        print(f"\nbatch (parrot default, sampled): {args.batch} replies of {args.batch_tokens} tokens, medians of "
              f"{len(batch)}\n{'one batch':<22} {total / batched:>7.1f} tok/s {batched:>6.2f} s\n"
              f"{'one after another':<22} {total / sequential:>7.1f} tok/s {sequential:>6.2f} s  "
              f"(batch {sequential / batched:.2f}x)")
    if prefill:
        print(f"\nprefill: a code prompt of N tokens, one token out, medians of {max(1, args.runs // 2)} runs in "
              f"fresh workers; peak: highest resident memory during the call; x llama.cpp: against its faster row")
        header = f"{'configuration':<24} {'tokens':>6} {'tok/s':>7} {'TTFT ms':>8} {'peak MB':>8} {'x llama.cpp':>11}"
        print(header + "\n" + "-" * len(header))
        for (name, size), runs in prefill.items():
            if not runs:
                continue
            seconds = statistics.median(r["ttft"] for r in runs)
            ref_rate = max((size / statistics.median(r["ttft"] for r in runs_) for (other, n), runs_ in prefill.items()
                            if n == size and runs_ and CONFIGS[other][0] == "llamacpp"), default=None)
            print(f"{name:<24} {size:>6} {size / seconds:>7.1f} {1000 * seconds:>8.0f} "
                  f"{max(r['peak_mb'] for r in runs):>8.0f} {_ratio(size / seconds, ref_rate):>11}")
    if "notebook no-cache" in summary:
        print(f"notebook no-cache: capped at {args.nocache_tokens} tokens (it slows down quadratically).")


def _ratio(value: float, reference: float | None) -> str:
    return f"{value / reference:.2f}" if reference else "-"


if __name__ == "__main__":
    sys.exit(main())
