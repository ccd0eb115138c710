"""Loading a GGUF file, timed from process start to ready, with the process's peak memory.

Each run is a fresh process: parrot's first load (a fresh cache: the weights repacked, the
fast-start copy written), parrot's later load (from that copy), and llama.cpp's load, interleaved
round by round. Peak memory is the process's own high-water mark (VmHWM) when ready, and again after
a reply of ``--tokens`` tokens -- for a first load, also after the quality check that runs while the
model rests, since it runs while chatting. The tokenizer, built in a child process at a first load,
is reported on its own (its peak, ended before the model is ready).

    python bench/load_probe.py NAME FILE.gguf TOKENS IDS_JSON    # one probe; decode.py runs these
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.configs import CONFIGS  # noqa: E402


def peak_mb() -> float:
    """This process's peak resident memory (VmHWM: an exec'd process's own, unlike ru_maxrss)."""
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:")) / 1024


def probe(name: str, path: str, tokens: int, ids: list[int]) -> None:
    """Child side: load, say "ready" with the peak so far, reply, then report the peaks."""
    import resource

    engine, options = CONFIGS[name]
    if engine == "llamacpp":
        from llama_cpp import Llama

        llm = Llama(model_path=path, n_ctx=1024, n_threads=os.cpu_count(), verbose=False)
        print(json.dumps({"ready_peak_mb": peak_mb()}), flush=True)
        for count, _ in enumerate(llm.generate(ids, top_k=1, temp=0.0, repeat_penalty=1.0, reset=True), 1):
            if count == tokens:
                break
    else:
        import torch

        from backends.loading.fast_start import load_for_chat
        from backends.loading.models import resolve
        from backends.local.decoding import decode
        from backends.settings import GenerationSettings

        loaded = load_for_chat(resolve(path), "cpu", options["dtype"], options["quantize"])
        print(json.dumps({"ready_peak_mb": peak_mb()}), flush=True)
        settings = GenerationSettings(greedy=True, max_new_tokens=tokens)
        for _ in decode(loaded.decoder, torch.tensor([ids]), settings, eos_ids=set(), window=loaded.window):
            pass
        if loaded.check is not None:
            loaded.check.done.wait()
    child = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # the tokenizer's process, if any
    print(json.dumps({"chat_peak_mb": peak_mb(), "child_peak_mb": child}), flush=True)


def run_once(name: str, path: Path, home: str | None, tokens: int, ids: list[int]) -> dict | None:
    """Parent side: spawn a probe (in the cache folder ``home``, else the bench's) and time it to its
    "ready" line."""
    env = {**os.environ, **({"PARROT_HOME": home} if home else {})}
    started = time.perf_counter()
    process = subprocess.Popen([sys.executable, __file__, name, str(path), str(tokens), json.dumps(ids)],
                               stdout=subprocess.PIPE, text=True, cwd=ROOT, env=env)
    ready = process.stdout.readline()
    seconds = time.perf_counter() - started
    done = process.stdout.readline()
    process.wait()
    if not ready or not done:
        print(f"{name}: the load probe failed (exit code {process.returncode})", file=sys.stderr)
        return None
    return {"seconds": seconds, **json.loads(ready), **json.loads(done)}


def measure_loads(names: list[str], ids: list[int], args) -> dict[tuple[str, str], list[dict]]:
    """``args.load_runs`` interleaved rounds of every load of ``names``: {(name, "first"|"later"): runs}."""
    from bench.engines import gguf_file, vocab_size

    results: dict[tuple[str, str], list[dict]] = {}
    for _ in range(args.load_runs):
        for name in names:
            engine, options = CONFIGS[name]
            path = gguf_file(options)
            model_ids = [i % vocab_size(options["model"]) for i in ids]
            phases = ("first", "later") if engine == "parrot" else ("load",)
            for phase in phases:
                with tempfile.TemporaryDirectory(prefix="parrot-load-") as fresh:
                    run = run_once(name, path, fresh if phase == "first" else None, args.tokens, model_ids)
                if run:
                    results.setdefault((name, phase), []).append(run)
        print("load round done", file=sys.stderr)
    return results


def print_loads(results: dict[tuple[str, str], list[dict]], args) -> None:
    print(f"\nload: process start to ready on the GGUF file, medians of {args.load_runs} interleaved runs; peak MB: "
          f"the process's highest resident memory when ready, and after a {args.tokens}-token reply (and, for a "
          f"first load, the quality check); tokenizer MB: the peak of the first load's tokenizer process")
    header = (f"{'configuration':<28} {'load':<6} {'seconds':>7} {'peak ready':>10} {'peak chat':>9} "
              f"{'tokenizer MB':>12} {'x l.cpp s':>9} {'x l.cpp peak':>12}")
    print(header + "\n" + "-" * len(header))
    summary = {key: {field: statistics.median(r[field] for r in runs) for field in runs[0]}
               for key, runs in results.items()}
    for (name, phase), row in summary.items():
        model = CONFIGS[name][1]["model"]
        ref = next((r for (other, _), r in summary.items()
                    if CONFIGS[other][0] == "llamacpp" and CONFIGS[other][1]["model"] == model), None)
        tokenizer = f"{row['child_peak_mb']:.0f}" if phase == "first" else "-"
        print(f"{name:<28} {phase:<6} {row['seconds']:>7.2f} {row['ready_peak_mb']:>10.0f} {row['chat_peak_mb']:>9.0f} "
              f"{tokenizer:>12} {_ratio(row['seconds'], ref and ref['seconds']):>9} "
              f"{_ratio(max(row['ready_peak_mb'], row['chat_peak_mb']), ref and ref['chat_peak_mb']):>12}")


def _ratio(value: float, reference: float | None) -> str:
    return f"{value / reference:.2f}" if reference else "-"


if __name__ == "__main__":
    probe(sys.argv[1], sys.argv[2], int(sys.argv[3]), json.loads(sys.argv[4]))
