"""Every bench in bench/ runs: once, on a tiny model, in a subprocess as a person starts it.

A bench that breaks (a renamed attribute, a moved module) fails here instead of on the day someone
needs its figures. The figures themselves are not checked: a tiny model's speed means nothing.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.js_corpus import js_class, write_package
from tests.support.tiny_models import build_tiny_llama

ROOT = Path(__file__).resolve().parent.parent.parent


def run_bench(script: str, *args: str, timeout: float = 600) -> str:
    """Run ``bench/<script>`` with ``args``; its standard output, once it has exited cleanly."""
    done = subprocess.run([sys.executable, str(ROOT / "bench" / script), *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=timeout, env={**os.environ, "TQDM_DISABLE": "1"})
    assert done.returncode == 0, f"bench/{script} failed:\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}"
    return done.stdout


@pytest.fixture(scope="module")
def js_files(tmp_path_factory) -> Path:
    """Forty small MIT-licensed JavaScript files: enough for a training run and a held-out share."""
    root = tmp_path_factory.mktemp("node_modules")
    write_package(root / "mit-pkg", "MIT", {f"lib/file{i}.js": js_class(i) for i in range(40)})
    return root


@pytest.fixture(scope="module")
def roomy_llama(tmp_path_factory) -> Path:
    """The tiny chat model with room for a long reply after a long prompt."""
    return build_tiny_llama(tmp_path_factory.mktemp("roomy-llama"), max_positions=1024)


def test_app_reply_bench_runs(roomy_llama):
    out = run_bench("app_reply.py", "--model", str(roomy_llama), "--rounds", "1", "--tokens", "8",
                    "--stop-tokens", "64", "--long", "41", "--window", "20")
    for row in ("backend alone", "parrot --plain, pty", "app, Pilot", "app, pty", "1 thread(s) fixed",
                "key echo, app pty", "Esc (csi-u) to stopped, app pty", "long reply"):
        assert row in out, row


def test_aoti_step_bench_runs(tiny_llama):
    out = run_bench("aoti_step.py", "--model", str(tiny_llama), "--runs", "1", "--tokens", "4")
    assert "aoti" in out and "eager" in out and "x eager" in out


def test_chat_during_training_bench_runs(tiny_llama, tiny_gpt2, js_files):
    out = run_bench("chat_during_training.py", "--chat-model", str(tiny_llama), "--base", str(tiny_gpt2),
                    "--data", str(js_files), "--rounds", "1", "--tokens", "4", "--block", "32",
                    "--quiet-seconds", "1")
    assert "no training" in out and "vs idle" in out


def test_finetune_bench_runs(js_files):
    out = run_bench("finetune.py", "--model", "tiny", "--data", str(js_files), "--steps", "1", "--length", "64")
    assert "ratio parrot / notebook" in out


def test_finetune_quality_bench_runs(tiny_gpt2, js_files):
    out = run_bench("finetune_quality.py", "--base", str(tiny_gpt2), "--tuned", str(tiny_gpt2), "--data",
                    str(js_files), "--max-new", "8", "--prompts", "1", "--block", "32", "--eval-blocks", "1",
                    "--eos-files", "2")
    assert "held-out ppl" in out and "perplexity ratio tuned/base" in out


def test_first_paint_runs(tiny_llama):
    code = f"import asyncio\nfrom bench.first_paint import first_paint\nasyncio.run(first_paint({str(tiny_llama)!r}))"
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 0, done.stderr[-3000:]
    assert "torch/transformers in sys.modules at first paint:" in done.stdout  # it painted, and left


def test_startup_bench_runs(tiny_llama):
    out = run_bench("startup.py", "--runs", "1", "--model", str(tiny_llama))
    rows = {line.split("  ")[0]: line for line in out.splitlines()}
    for row in ("parrot --help", "app first paint", "model ready (parrot)"):
        assert row in rows and "nan" not in rows[row], out


def test_kernels_bench_runs():
    from backends.lean import native

    if native.unavailable() is not None:
        pytest.skip(f"parrot's kernels cannot run here: {native.unavailable()}")
    out = run_bench("quantized_kernels.py", "--rows", "1", "3", "--runs", "1", "--shapes", "128x64")
    lines = [line.split() for line in out.splitlines() if line.strip().startswith("128x64")]
    assert [(line[1], line[2]) for line in lines] == [("1", "int4"), ("1", "int8"), ("3", "int4")]
