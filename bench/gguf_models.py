"""GGUF files of the bench's synthetic models, written by the bench itself, so that llama.cpp and parrot
run the very same weights.

A model of the real architecture and size with seeded random weights (``engines.SYNTHETIC``) is
written as a transformers folder a tensor at a time (never the whole model in memory: the 7B shape
has 15 GB of bf16 weights), with the embedded model's tokenizer. llama.cpp's own converter (in the
llama-cpp-python sdist, unpacked by ``make bench-deps``) turns it into a bf16 GGUF, and
``llama_cpp.llama_model_quantize`` into the block types asked for (Q4_K_M, Q4_0, ...). The files are
kept under the cache folder and written once; the intermediate folder is removed, and so is a large
bf16 file.
"""

from __future__ import annotations

import ctypes
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CONVERTER = ROOT / ".venv" / "llama.cpp-converter" / "convert_hf_to_gguf.py"
SHARD_BYTES = 2 << 30
# The bf16 file is kept for quantizing to another block type later, unless it is this large (the 7B
# shape's is 15 GB).
KEPT_BYTES = 4 << 30

# The converter knows tokenizers by a hash of their pre-tokenizer's output; the embedded model's,
# rebuilt from its GGUF metadata, hashes differently from its original repo's, so it is named here.
CONVERT = (
    "import sys\n"
    "sys.path.insert(0, {folder!r})\n"
    "import convert_hf_to_gguf as convert\n"
    "from conversion import base\n"
    "base.TextModel.get_vocab_base_pre = lambda self, tokenizer: 'smollm'\n"
    "sys.argv = ['convert_hf_to_gguf.py', *sys.argv[1:]]\n"
    "convert.main()\n"
)


def gguf_path(model: str, kind: str) -> Path:
    """The bench's GGUF file of ``model`` in block type ``kind``, written first if it is not there."""
    from backends import paths

    folder = paths.cache_dir() / "bench-models" / model
    target = folder / f"{model}-{kind}.gguf"
    if target.exists():
        return target
    if not CONVERTER.exists():
        raise ImportError("llama.cpp's converter", name="llama.cpp converter (make bench-deps)")
    import llama_cpp  # noqa: F401  (the quantizer; ImportError: not installed)

    full = folder / f"{model}-bf16.gguf"
    if not full.exists():
        hf = folder / "hf"
        write_folder(model, hf)
        print(f"converting {model} with llama.cpp's converter", file=sys.stderr)
        subprocess.run([sys.executable, "-c", CONVERT.format(folder=str(CONVERTER.parent)), str(hf),
                        "--outtype", "bf16", "--outfile", str(full)], check=True, capture_output=True)
        shutil.rmtree(hf)
    print(f"quantizing {model} to {kind}", file=sys.stderr)
    # In a process of its own: llama.cpp reports every tensor on the C library's stderr.
    subprocess.run([sys.executable, __file__, str(full), str(target), kind], check=True, capture_output=True)
    if full.stat().st_size > KEPT_BYTES:
        full.unlink()
    return target


def quantize(source: Path, target: Path, kind: str) -> None:
    """``llama_model_quantize`` from Python, on every core (atomic: a stopped run leaves nothing)."""
    import llama_cpp

    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = getattr(llama_cpp, f"LLAMA_FTYPE_MOSTLY_{kind}")
    params.nthread = os.cpu_count() or 1
    partial = target.with_suffix(".partial")
    if llama_cpp.llama_model_quantize(str(source).encode(), str(partial).encode(), ctypes.byref(params)) != 0:
        raise RuntimeError(f"llama.cpp could not quantize {source.name} to {kind}")
    partial.rename(target)


def write_folder(model: str, folder: Path) -> None:
    """A transformers folder of ``model`` (config, safetensors shards, tokenizer), one tensor at a time,
    with transformers' own initialisation: normal(0, 0.02) matrices, unit norms, zero biases."""
    import torch
    from safetensors.torch import save_file
    from transformers import AutoConfig, AutoModelForCausalLM

    from bench.engines import SYNTHETIC, embedded_tokenizer

    model_type, sizes = SYNTHETIC[model]
    config = AutoConfig.for_model(model_type, **sizes)
    with torch.device("meta"):
        skeleton = AutoModelForCausalLM.from_config(config)
    shapes = {name: tuple(p.shape) for name, p in skeleton.named_parameters()}
    config.architectures = [type(skeleton).__name__]  # what the converter picks its model class by
    folder.mkdir(parents=True, exist_ok=True)
    generator = torch.Generator().manual_seed(0)
    shard: dict[str, torch.Tensor] = {}
    index: dict[str, str] = {}

    def flush() -> None:
        name = f"model-{len(set(index.values())) + 1:05d}.safetensors"
        save_file(shard, str(folder / name), metadata={"format": "pt"})
        index.update({tensor: name for tensor in shard})
        shard.clear()

    for name, shape in shapes.items():
        if len(shape) == 2:
            tensor = (torch.randn(shape, generator=generator) * 0.02).to(torch.bfloat16)
        else:
            tensor = (torch.ones if name.endswith("norm.weight") else torch.zeros)(shape, dtype=torch.bfloat16)
        shard[name] = tensor
        if sum(t.numel() * 2 for t in shard.values()) >= SHARD_BYTES:
            flush()
    if shard:
        flush()
    (folder / "model.safetensors.index.json").write_text(json.dumps({"metadata": {}, "weight_map": index}))
    config.dtype = "bfloat16"
    config.save_pretrained(folder)
    embedded_tokenizer().save_pretrained(folder)


if __name__ == "__main__":
    quantize(Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3])
