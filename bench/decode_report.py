"""bench/decode.py's tables: decode, batch and prefill, each row against its same-run references."""

from __future__ import annotations

import os
import statistics

from bench.configs import BASELINES, CONFIGS, model_of


def rate(run: dict) -> float:
    return (len(run["ids"]) - 1) / (run["total"] - run["ttft"])


def llamacpp_reference(summary: dict, model: str) -> dict | None:
    """The llama.cpp row a model's rows are set against: on its Q4_K_M file (what people download;
    the embedded model has its own file only), at the thread count that was faster in this run (on
    a busy machine, often one thread)."""
    rows = {name: row for name, row in summary.items() if CONFIGS[name][0] == "llamacpp" and model_of(name) == model}
    q4_k_m = {name: row for name, row in rows.items() if CONFIGS[name][1].get("gguf") == "Q4_K_M"}
    return max((q4_k_m or rows).values(), key=lambda row: row["tok_s"], default=None)


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
    fp32 = summary.get("parrot fp32") or summary.get("hf generate fp32")
    width = max([24, *map(len, summary)])
    header = (f"{'configuration':<{width}} {'model':<18} {'tok/s':>7} {'best':>6} {'TTFT ms':>8} {'RSS MB':>7} "
              f"{'x baseline':>10} {'x llama.cpp':>11} {'TTFT/l.cpp':>10} {'RSS/l.cpp':>9} {'same as fp32':>12}")
    if busy and any(busy.values()):
        header += f" {'hog tok/s':>9} {'hog best':>8} {'hog/quiet':>9}"
    print(header + "\n" + "-" * len(header))
    for name, row in summary.items():
        model = model_of(name)
        base = summary.get(BASELINES.get(model, ""))
        ref = llamacpp_reference(summary, model) if CONFIGS[name][0] != "llamacpp" else None
        same = "-"
        if model == "smollm2" and fp32 and CONFIGS[name][0] != "llamacpp":
            pairs = list(zip(row["ids"], fp32["ids"]))
            same = f"{next((i for i, (a, b) in enumerate(pairs) if a != b), len(pairs))}/{len(pairs)}"
        line = (f"{name:<{width}} {model:<18} {row['tok_s']:>7.1f} {row['best']:>6.1f} {row['ttft_ms']:>8.0f} "
                f"{row['rss_mb']:>7.0f} {_ratio(row['tok_s'], base and base['tok_s']):>10} "
                f"{_ratio(row['tok_s'], ref and ref['tok_s']):>11} {_ratio(row['ttft_ms'], ref and ref['ttft_ms']):>10} "
                f"{_ratio(row['rss_mb'], ref and ref['rss_mb']):>9} {same:>12}")
        if busy.get(name):
            hog = statistics.median(map(rate, busy[name]))
            line += f" {hog:>9.1f} {max(map(rate, busy[name])):>8.1f} {hog / row['tok_s']:>9.2f}"
        print(line)
    if any(CONFIGS[name][0] == "llamacpp" for name in summary):
        print("x llama.cpp, TTFT/l.cpp, RSS/l.cpp: against the same model's faster llama.cpp Q4_K_M row of this run "
              "(the embedded model: its own file).")
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
        print_prefill(prefill, args)
    if "notebook no-cache" in summary:
        print(f"notebook no-cache: capped at {args.nocache_tokens} tokens (it slows down quadratically).")


def print_prefill(prefill: dict, args) -> None:
    print(f"\nprefill: a code prompt of N tokens, one token out, medians of {max(1, args.runs // 2)} runs in "
          f"fresh workers; peak: highest resident memory during the call; x llama.cpp: against its faster row")
    width = max([24, *(len(name) for name, _ in prefill)])
    header = f"{'configuration':<{width}} {'tokens':>6} {'tok/s':>7} {'TTFT ms':>8} {'peak MB':>8} {'x llama.cpp':>11}"
    print(header + "\n" + "-" * len(header))
    for (name, size), runs in prefill.items():
        if not runs:
            continue
        seconds = statistics.median(r["ttft"] for r in runs)
        ref_rate = max((size / statistics.median(r["ttft"] for r in runs_) for (other, n), runs_ in prefill.items()
                        if n == size and runs_ and CONFIGS[other][0] == "llamacpp"), default=None)
        print(f"{name:<{width}} {size:>6} {size / seconds:>7.1f} {1000 * seconds:>8.0f} "
              f"{max(r['peak_mb'] for r in runs):>8.0f} {_ratio(size / seconds, ref_rate):>11}")


def _ratio(value: float, reference: float | None) -> str:
    return f"{value / reference:.2f}" if reference else "-"
