"""Smoke test of bench/decode.py's GGUF rows and load table, on the tiny Qwen2 shape: the bench writes
the GGUF file with llama.cpp's converter, parrot and llama.cpp decode it, and both loads are timed.
No speed is asserted here (see the bench itself); only that every part still runs and reports."""

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CONVERTER = ROOT / ".venv" / "llama.cpp-converter" / "convert_hf_to_gguf.py"

pytestmark = pytest.mark.skipif(importlib.util.find_spec("llama_cpp") is None or not CONVERTER.exists(),
                                reason="llama.cpp and its converter are not installed (make bench-deps)")


def test_the_gguf_rows_and_the_load_table_run_on_a_tiny_model(tmp_path):
    done = subprocess.run(
        [sys.executable, "bench/decode.py", "--only", "tiny parrot gguf", "tiny llama.cpp Q4_K_M", "--tokens", "4",
         "--runs", "1", "--prefill", "--batch", "0", "--load-runs", "1", "--home", str(tmp_path)],
        cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-2000:]
    out = done.stdout
    assert re.search(r"^tiny parrot gguf\s+tiny-qwen2\s+\d+\.\d\s+\d+\.\d\s+\d+\s+\d+\s+-\s+\d+\.\d\d", out, re.M), out
    assert re.search(r"^tiny llama\.cpp Q4_K_M\s+tiny-qwen2\s+\d+\.\d", out, re.M), out
    for load in (r"tiny parrot gguf\s+first", r"tiny parrot gguf\s+later", r"tiny llama\.cpp Q4_K_M\s+load"):
        assert re.search(rf"^{load}\s+\d+\.\d\d\s+\d+\s+\d+", out, re.M), out
    assert (tmp_path / "cache" / "bench-models" / "tiny-qwen2" / "tiny-qwen2-Q4_K_M.gguf").exists()
