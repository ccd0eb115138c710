"""parrot's CPU kernels against torch's, on the same quantized weights, in one run.

(Not named kernels.py: a script's folder comes first on sys.path, and transformers imports a package
called ``kernels``.)

    .venv/bin/python bench/quantized_kernels.py [--rows 1 4 512] [--runs 5] [--shapes NxK ...]

For each weight shape (by default those of Qwen2.5-Coder-0.5B and 1.5B: attention, feed-forward and
the output head) and each count of input rows: the 4-bit product on parrot's kernel
(``torch.ops.parrot.int4_rows_mm``) and on torch's (``_weight_int4pack_mm_for_cpu``), the same packed
codes; for one row, also the 8-bit product (``int8_row_mm`` against ``_weight_int8pack_mm``). The best of
``--runs`` rounds, the two kernels interleaved in each. GB/s counts the weights' bytes read once: a
product larger than the CPU's caches is bound by memory, a smaller one by the arithmetic.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SHAPES = ["1152x896", "896x896", "9728x896", "896x4864", "151936x896",
          "2048x1536", "17920x1536", "1536x8960", "151936x1536"]


def best_seconds(call, runs: int, budget: float = 0.05) -> float:
    """The fastest time of one call, over ``runs`` rounds of about ``budget`` seconds each."""
    call()
    start = time.perf_counter()
    call()
    repeats = max(1, int(budget / max(time.perf_counter() - start, 1e-6)))
    best = float("inf")
    for _ in range(runs):
        start = time.perf_counter()
        for _ in range(repeats):
            call()
        best = min(best, (time.perf_counter() - start) / repeats)
    return best


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[1, 4, 512], help="rows of x (1: a token)")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--shapes", nargs="+", default=SHAPES, help="weight shapes, rows x columns")
    args = parser.parse_args()

    import torch

    from backends.lean import native
    from backends.lean.quantize import INT4_GROUP, Int4, Int8

    kernels = native.wait_until_built(timeout=300)
    if kernels is None:
        print(f"parrot's kernels cannot run here: {native.unavailable() or native._state.get('why')}")
        return 1
    print(f"{'weights':>12} {'rows':>5} {'kind':>5} {'parrot µs':>10} {'torch µs':>10} {'x torch':>8} {'GB/s':>6}")
    torch.manual_seed(0)
    for text in args.shapes:
        n, k = map(int, text.split("x"))
        weight = torch.randn(n, k) * 0.02
        four, eight = Int4.quantize(weight), Int8.quantize(weight)
        torch_order = four.group_scales()
        for rows in args.rows:
            x = torch.randn(rows, k, dtype=torch.bfloat16)
            pairs = [("int4", lambda: kernels.int4_rows_mm(x, four.packed, four.scales_by_block),
                      lambda: torch.ops.aten._weight_int4pack_mm_for_cpu(x, four.packed, INT4_GROUP, torch_order),
                      n * k * (0.5 + 4 / INT4_GROUP))]
            if rows == 1 and n % 8 == 0 and k % 64 == 0:
                pairs.append(("int8", lambda: kernels.int8_row_mm(x, eight.q, eight.scale),
                              lambda: torch.ops.aten._weight_int8pack_mm(x, eight.q, eight.scale), n * k))
            for kind, ours, theirs, size in pairs:
                times = {"ours": float("inf"), "theirs": float("inf")}
                for _ in range(args.runs):  # interleaved: a noisy moment slows both alike
                    times["ours"] = min(times["ours"], best_seconds(ours, 1))
                    times["theirs"] = min(times["theirs"], best_seconds(theirs, 1))
                print(f"{text:>12} {rows:>5} {kind:>5} {times['ours'] * 1e6:>10.0f} {times['theirs'] * 1e6:>10.0f} "
                      f"{times['theirs'] / times['ours']:>8.2f} {size / times['ours'] / 1e9:>6.1f}")
    print("x torch: torch's time over parrot's (higher is faster); GB/s: the weights' bytes over parrot's time")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
