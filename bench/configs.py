"""The configurations bench/decode.py measures: engine, model and options of each row."""

from __future__ import annotations

AUTO = {"dtype": "auto", "quantize": "auto"}
CODEPARROT, QWEN2 = {"model": "codeparrot-small"}, {"model": "qwen2.5-coder-0.5b"}
QWEN15, QWEN7, TINY = {"model": "qwen2.5-coder-1.5b"}, {"model": "qwen2.5-coder-7b"}, {"model": "tiny-qwen2"}
# Rows on a GGUF file the bench writes for the model (``bench.gguf_models``); "load": also timed from
# process start to ready, with its peak memory (``bench.load_probe``).
Q4_K_M, Q4_0 = {"gguf": "Q4_K_M"}, {"gguf": "Q4_0"}

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
    "qwen2 parrot gguf": ("parrot", {**QWEN2, **AUTO, **Q4_K_M, "load": True}),
    "qwen2 parrot gguf, torch int4 kernel": ("parrot", {**QWEN2, **AUTO, **Q4_K_M, "native": False}),
    "qwen2 llama.cpp Q4_K_M": ("llamacpp", {**QWEN2, **Q4_K_M, "load": True}),
    "qwen2 llama.cpp Q4_K_M 1 thread": ("llamacpp", {**QWEN2, **Q4_K_M, "threads": 1}),
    "qwen2 llama.cpp Q4_0": ("llamacpp", {**QWEN2, **Q4_0}),
    "qwen1.5b parrot gguf": ("parrot", {**QWEN15, **AUTO, **Q4_K_M}),
    "qwen1.5b parrot gguf, torch int4 kernel": ("parrot", {**QWEN15, **AUTO, **Q4_K_M, "native": False}),
    "qwen1.5b llama.cpp Q4_K_M": ("llamacpp", {**QWEN15, **Q4_K_M}),
    "qwen1.5b llama.cpp Q4_K_M 1 thread": ("llamacpp", {**QWEN15, **Q4_K_M, "threads": 1}),
    "qwen7b parrot gguf": ("parrot", {**QWEN7, **AUTO, **Q4_K_M, "load": True}),
    "qwen7b llama.cpp Q4_K_M": ("llamacpp", {**QWEN7, **Q4_K_M, "load": True}),
    "tiny parrot gguf": ("parrot", {**TINY, **AUTO, **Q4_K_M, "load": True}),
    "tiny llama.cpp Q4_K_M": ("llamacpp", {**TINY, **Q4_K_M, "load": True}),
}
# Run only when named with --only: the 7B shape (a 4.7 GB file, written once in about half an hour;
# a heavy row, measured once), and the tiny shape the smoke test runs.
OPTIONAL = {"qwen7b parrot gguf", "qwen7b llama.cpp Q4_K_M", "tiny parrot gguf", "tiny llama.cpp Q4_K_M"}
BASELINES = {"smollm2": "hf generate fp32", "codeparrot-small": "codeparrot hf fp32",
             "qwen2.5-coder-0.5b": "qwen2 hf fp32"}
PREFILL = ("parrot default", "llama.cpp", "llama.cpp 1 thread", "hf generate fp32")  # the prefill table's engines


def model_of(name: str) -> str:
    return CONFIGS[name][1].get("model", "smollm2")
