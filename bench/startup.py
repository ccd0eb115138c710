"""Start-up times: ``parrot --help``, the app's first paint and a ready model, each against its baseline.

    .venv/bin/python bench/startup.py [--runs 5] [--home DIR] [--model smollm2]

Each row is a fresh process, timed from spawn to exit; rows are interleaved (one of each per round)
and medians reported. "imports torch" says whether torch or transformers got imported at all.
The model rows use the embedded model (or ``--model``); the first use converts it and writes the
fast-start copy, so the bench loads it once before timing.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

HEAVY = "print('imports torch:', any(m in sys.modules for m in ('torch', 'transformers')))"

# name -> (python code, baseline name or None)
ROWS: dict[str, tuple[str, str | None]] = {
    "python -c pass": ("pass", None),
    "import textual.app": ("import textual.app", None),
    "import torch": ("import torch", None),
    "import torch, transformers": ("import torch, transformers; from transformers import AutoModelForCausalLM", None),
    "parrot --help": ("import sys, contextlib, io\nfrom repl.cli.main import main\n"
                      "with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):\n"
                      "    main(['--help'])\n" + HEAVY,
                      "python -c pass"),
    "app first paint": ("import asyncio, os, tempfile\nos.environ['PARROT_HOME'] = tempfile.mkdtemp()\n"
                        "from bench.first_paint import first_paint\nasyncio.run(first_paint(MODEL))",
                        "import textual.app"),
    "model ready (parrot)": ("import sys\nfrom backends.local.backend import LocalBackend\n"
                             "LocalBackend(MODEL, device='cpu').load()\n" + HEAVY,
                             "import torch, transformers"),
    "model ready (transformers, before)": ("import sys\nfrom backends.loading.models import load, resolve\n"
                                           "load(resolve(MODEL), 'cpu', 'float32', quantize='none', lean=False)\n"
                                           + HEAVY, "import torch, transformers"),
}


def run(code: str) -> tuple[float, str]:
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        return float("nan"), (done.stderr.strip().splitlines() or ["failed"])[-1]
    return seconds, done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--home", help="PARROT_HOME for the converted-model cache (default: the user's)")
    parser.add_argument("--model", default="smollm2", help="what the model rows load: a preset or a folder")
    args = parser.parse_args()
    if args.home:
        os.environ["PARROT_HOME"] = args.home
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ["PYTHONPATH"] = str(ROOT)
    rows = {name: (f"MODEL = {args.model!r}\n{code}", baseline) for name, (code, baseline) in ROWS.items()}
    run(rows["model ready (parrot)"][0])  # converts once and writes the fast-start copy
    times: dict[str, list[float]] = {name: [] for name in rows}
    notes: dict[str, str] = {}
    for _ in range(args.runs):
        for name, (code, _) in rows.items():
            seconds, note = run(code)
            times[name].append(seconds)
            notes[name] = note
    medians = {name: statistics.median(values) for name, values in times.items()}
    print(f"\nprocess spawn to exit, medians of {args.runs} interleaved runs ({os.cpu_count()} CPUs)")
    header = f"{'what':<36} {'seconds':>8} {'baseline':<28} {'x baseline':>10}  {'note'}"
    print(header)
    print("-" * len(header))
    for name, (_, baseline) in rows.items():
        ratio = f"{medians[name] / medians[baseline]:.2f}" if baseline else ""
        print(f"{name:<36} {medians[name]:>8.2f} {baseline or '':<28} {ratio:>10}  {notes.get(name, '')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
