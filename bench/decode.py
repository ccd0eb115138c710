"""Decode speed on the embedded model: parrot's local backend against transformers and llama.cpp.

    .venv/bin/python bench/decode.py [--tokens 128] [--runs 3] [--home DIR] [--only NAME ...]

Every configuration runs in its own worker process (so peak memory is its own), all loaded first;
then the runs are interleaved (one run of each configuration per round) and medians are reported,
so that a noisy neighbour slows every configuration alike. All engines get the same prompt token
ids (a ~40-token chat prompt) and produce exactly ``--tokens`` greedy tokens, end of text ignored.
tokens/s counts the tokens after the first (prefill excluded); TTFT is call to first token.
llama.cpp (llama-cpp-python on the same GGUF file) is optional: ``make bench-deps`` installs it.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from backends.loading import load, resolve  # noqa: E402  (light: torch and transformers load lazily)

MESSAGES = [
    {"role": "system", "content": "You are a helpful assistant for programmers."},
    {"role": "user", "content": "Write a Python function that checks whether a number is prime, then explain it."},
]

# name -> (engine, options, description)
CONFIGS: dict[str, tuple[str, dict, str]] = {
    "parrot fp32": ("parrot", {"dtype": "float32", "quantize": "none"}, "parrot, float32"),
    "parrot bf16": ("parrot", {"dtype": "bfloat16", "quantize": "none"}, "parrot, bfloat16"),
    "parrot int8": ("parrot", {"dtype": "bfloat16", "quantize": "int8"}, "parrot, int8 weights, bf16 activations"),
    "parrot int4": ("parrot", {"dtype": "bfloat16", "quantize": "int4"}, "parrot, int4 weights (group 32), int8 head"),
    "parrot int8 1 thread": ("parrot", {"dtype": "bfloat16", "quantize": "int8", "threads": 1},
                             "parrot, int8, one torch thread"),
    "parrot default": ("parrot", {"dtype": "auto", "quantize": "auto"}, "parrot, automatic choice"),
    "hf generate fp32": ("generate", {"dtype": "float32"}, "transformers generate, float32"),
    "hf generate bf16": ("generate", {"dtype": "bfloat16"}, "transformers generate, bfloat16"),
    "notebook no-cache": ("nocache", {"dtype": "float32"}, "notebook loop, no KV cache, float32"),
    "llama.cpp": ("llamacpp", {}, "llama.cpp, Q4_1 GGUF"),
}


# -- worker side -----------------------------------------------------------------------------------

def peak_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def rss_mb() -> float:
    """Resident memory now (after loading and generating): what the model costs while chatting."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def prepare(engine: str, options: dict):
    """Load one engine; return run(prompt_ids, tokens) -> (ttft seconds, total seconds, token ids)."""
    if engine == "llamacpp":
        from llama_cpp import Llama  # optional, bench only

        source = resolve("smollm2")
        llm = Llama(model_path=str(Path(source.location) / source.gguf_file), n_ctx=1024,
                    n_threads=os.cpu_count(), verbose=False)

        def run_llamacpp(ids: list[int], tokens: int):
            started, first, out = time.perf_counter(), None, []
            llm.reset()
            for token in llm.generate(ids, top_k=1, temp=0.0, repeat_penalty=1.0, reset=True):
                first = first or time.perf_counter()
                out.append(token)
                if len(out) == tokens:
                    break
            return first - started, time.perf_counter() - started, out

        return run_llamacpp

    import torch

    if "threads" in options:
        torch.set_num_threads(options["threads"])
    if engine == "parrot":
        from backends.fast_start import load_for_chat

        # As the chat loads it: from the fast-start copy (written by a first load, see --warm).
        loaded = load_for_chat(resolve("smollm2"), "cpu", options["dtype"], options["quantize"])
        from backends.decoding import decode
        from backends.settings import GenerationSettings

        settings = GenerationSettings(greedy=True, max_new_tokens=10_000)

        def run_parrot(ids: list[int], tokens: int):
            started, first, out = time.perf_counter(), None, []
            # The backend's own loop; EOS is ignored so that every engine produces the same count.
            for step in decode(loaded.decoder, torch.tensor([ids]), settings.updated(max_new_tokens=tokens),
                               eos_ids=set(), window=loaded.window):
                first = first or time.perf_counter()
                out.append(step.token_id)
            return first - started, time.perf_counter() - started, out

        return run_parrot
    model = load(resolve("smollm2"), "cpu", options["dtype"], quantize="none", lean=False).model
    if engine == "generate":
        from transformers.generation.streamers import BaseStreamer

        class FirstToken(BaseStreamer):
            def __init__(self):
                self.calls, self.first = 0, None

            def put(self, value):
                self.calls += 1
                if self.calls == 2:  # the first put is the prompt
                    self.first = time.perf_counter()

            def end(self):
                pass

        def run_generate(ids: list[int], tokens: int):
            streamer = FirstToken()
            started = time.perf_counter()
            out = model.generate(torch.tensor([ids]), attention_mask=torch.ones(1, len(ids), dtype=torch.long),
                                 do_sample=False, max_new_tokens=tokens, min_new_tokens=tokens, streamer=streamer)
            return streamer.first - started, time.perf_counter() - started, out[0, len(ids):].tolist()

        return run_generate

    @torch.inference_mode()
    def run_nocache(ids: list[int], tokens: int):
        # The course notebook's greedy loop: the whole sequence goes back in at every step.
        started, first, sequence = time.perf_counter(), None, torch.tensor([ids])
        for _ in range(tokens):
            next_id = model(input_ids=sequence, use_cache=False).logits[:, -1, :].argmax(-1, keepdim=True)
            sequence = torch.cat([sequence, next_id], dim=-1)
            first = first or time.perf_counter()
        return first - started, time.perf_counter() - started, sequence[0, len(ids):].tolist()

    return run_nocache


def worker(engine: str, options: dict) -> None:
    """Serve runs over stdin/stdout: one JSON line in (ids, tokens), one JSON line out."""
    try:
        run = prepare(engine, options)
    except ImportError as error:
        print(json.dumps({"error": f"not installed: {error.name}"}), flush=True)
        return
    print(json.dumps({"ready": True, "peak_mb": peak_mb()}), flush=True)
    for line in sys.stdin:
        request = json.loads(line)
        ttft, total, out = run(request["ids"], request["tokens"])
        print(json.dumps({"ttft": ttft, "total": total, "ids": out, "peak_mb": peak_mb(), "rss_mb": rss_mb()}),
              flush=True)


# -- driver side -----------------------------------------------------------------------------------

def prompt_ids() -> list[int]:
    """The prompt's token ids, computed in a child process: a child inherits its parent's peak memory,
    so the driver must never hold a model itself."""
    done = subprocess.run([sys.executable, __file__, "--prompt-ids"], cwd=ROOT, capture_output=True, text=True,
                          check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def _prompt_ids() -> list[int]:
    tokenizer = load(resolve("smollm2"), "cpu", "float32", quantize="none").tokenizer
    text = tokenizer.apply_chat_template(MESSAGES, tokenize=False, add_generation_prompt=True)
    return tokenizer(text, add_special_tokens=False).input_ids


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tokens", type=int, default=128)
    parser.add_argument("--nocache-tokens", type=int, default=32, help="the quadratic loop gets fewer tokens")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--home", help="PARROT_HOME for the converted-model cache (default: the user's)")
    parser.add_argument("--only", nargs="*", help=f"configurations to run (default: all): {', '.join(CONFIGS)}")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--warm", nargs=2, help=argparse.SUPPRESS)
    parser.add_argument("--prompt-ids", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.home:
        os.environ["PARROT_HOME"] = args.home
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    if args.worker:
        engine, options, _ = CONFIGS[args.worker]
        worker(engine, options)
        return 0
    if args.prompt_ids:
        print(json.dumps(_prompt_ids()))
        return 0
    if args.warm:
        from backends.fast_start import load_for_chat

        load_for_chat(resolve("smollm2"), "cpu", args.warm[0], args.warm[1])
        return 0

    ids = prompt_ids()  # also converts the GGUF once, before any worker starts
    names = args.only or list(CONFIGS)
    for name in names:  # write the fast-start copies first, so that workers load as the chat does
        if CONFIGS[name][0] == "parrot":
            options = CONFIGS[name][1]
            subprocess.run([sys.executable, __file__, "--warm", options["dtype"], options["quantize"]], cwd=ROOT,
                           check=True, capture_output=True)
    workers = {}
    for name in names:  # one at a time: loading in parallel would slow every load
        process = subprocess.Popen([sys.executable, __file__, "--worker", name], stdin=subprocess.PIPE,
                                   stdout=subprocess.PIPE, text=True, cwd=ROOT)
        hello = json.loads(process.stdout.readline() or '{"error": "worker died while loading"}')
        if "error" in hello:
            print(f"{name}: skipped ({hello['error']})", file=sys.stderr)
            process.wait()
            continue
        workers[name] = process
    results: dict[str, list[dict]] = {name: [] for name in workers}
    dead: dict[str, str] = {}
    for round_ in range(args.runs):
        for name, process in list(workers.items()):
            tokens = args.nocache_tokens if CONFIGS[name][0] == "nocache" else args.tokens
            try:
                process.stdin.write(json.dumps({"ids": ids, "tokens": tokens}) + "\n")
                process.stdin.flush()
                results[name].append(json.loads(process.stdout.readline()))
            except (OSError, ValueError):  # the worker died (crash, out of memory): report it, go on
                dead[name] = f"worker died in round {round_ + 1} (exit code {process.poll()})"
                print(f"{name}: {dead[name]}", file=sys.stderr)
                del workers[name]
        print(f"round {round_ + 1}/{args.runs} done", file=sys.stderr)
    for process in workers.values():
        process.stdin.close()
        process.wait()
    results = {name: runs for name, runs in results.items() if runs}
    for name, why in dead.items():
        print(f"{name}: {why}; its completed runs are in the table" if name in results else f"{name}: {why}")
    print_table(results, ids, args)
    return 0


def summarize(runs: list[dict]) -> dict:
    ttft = statistics.median(r["ttft"] for r in runs)
    rates = [(len(r["ids"]) - 1) / (r["total"] - r["ttft"]) for r in runs]
    return {"tok_s": statistics.median(rates), "best": max(rates), "ttft_ms": ttft * 1000,
            "peak_mb": max(r["peak_mb"] for r in runs),
            "rss_mb": runs[-1]["rss_mb"],
            "tokens": len(runs[0]["ids"]), "ids": runs[0]["ids"]}


def print_table(results: dict[str, list[dict]], ids: list[int], args: argparse.Namespace) -> None:
    rows = {name: summarize(runs) for name, runs in results.items()}
    base = rows.get("hf generate fp32")
    ref = rows.get("llama.cpp")
    fp32 = rows.get("parrot fp32") or rows.get("hf generate fp32")
    print(f"\nSmolLM2-135M-Instruct, {len(ids)}-token chat prompt, greedy, medians of {args.runs} interleaved "
          f"runs, {os.cpu_count()} CPU threads available, torch threads = default")
    header = (f"{'configuration':<20} {'tokens':>6} {'tok/s':>7} {'best':>6} {'TTFT ms':>8} {'RSS MB':>7} "
              f"{'peak MB':>8} "
              f"{'x hf fp32':>9} {'x llama.cpp':>11} {'TTFT/llama.cpp':>14} {'same as fp32':>12}")
    print(header)
    print("-" * len(header))
    for name, row in rows.items():
        speed = f"{row['tok_s'] / base['tok_s']:.2f}" if base else "-"
        versus = f"{row['tok_s'] / ref['tok_s']:.2f}" if ref else "-"
        ttft = f"{row['ttft_ms'] / ref['ttft_ms']:.2f}" if ref else "-"
        same = "-"
        if fp32 and name != "llama.cpp":
            pairs = list(zip(row["ids"], fp32["ids"]))
            first_diff = next((i for i, (a, b) in enumerate(pairs) if a != b), len(pairs))
            same = f"{first_diff}/{len(pairs)}"
        print(f"{name:<20} {row['tokens']:>6} {row['tok_s']:>7.1f} {row['best']:>6.1f} {row['ttft_ms']:>8.0f} "
              f"{row['rss_mb']:>7.0f} "
              f"{row['peak_mb']:>8.0f} "
              f"{speed:>9} {versus:>11} {ttft:>14} {same:>12}")
    if "llama.cpp" not in rows:
        print("llama.cpp: not measured (llama-cpp-python is not installed; `make bench-deps` installs it)")
    print("tok/s: median; best: the fastest run (noise from other processes only ever slows a run down).")
    print("same as fp32: greedy tokens identical to parrot fp32 before the first difference.")
    print("RSS: resident memory after the runs; peak: the process's high-water mark (loading included).")
    if "notebook no-cache" in rows:
        print(f"notebook no-cache: capped at {args.nocache_tokens} tokens (it slows down quadratically).")


if __name__ == "__main__":
    sys.exit(main())
