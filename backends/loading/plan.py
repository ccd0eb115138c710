"""How a model will be loaded, decided once: device, dtype, quantization, lean decoder or not, and
the cache folders (the fast-start copy of the lean decoder, the converted copy of a GGUF file).

``plan_load`` computes a ``LoadPlan`` from what was asked (``--device``, ``--dtype``, ``--quantize``)
and what the machine and the model's ``config.json`` say. ``loading.load`` follows it, and the fast
start (``fast_start.load_for_chat``) uses the same plan to find its ready copy, so the two can never
disagree about a folder or a dtype (``cache.cache_dir`` names the folder of a source's cached copies).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..devices import check_device
from ..errors import ModelUnavailable, UsageError
from .cache import cache_dir
from .source import ModelSource

FAST_START_FORMAT = 4  # bump when the fast-start copy's layout changes; old copies are then ignored


@dataclass(frozen=True)
class LoadPlan:
    """Everything decided before the weights are read."""

    source: ModelSource
    device: str  # "cpu", "cuda", "cuda:1", "mps"
    dtype: str  # "float32" | "bfloat16" | "float16"
    quantize: str  # "none" or a method of ``backends.quantize``
    lean: bool  # a lean decoder (``backends.lean``) runs the chat
    fast_start: Path | None  # the ready copy of the lean decoder (CPU only), read if there, else written
    asked: str = "auto"  # the quantization asked for (``quantize`` is what it came to)
    head4: bool = False  # int4 with a 4-bit output head: only under auto, where the quality check passed it

    @property
    def torch_dtype(self) -> Any:
        import torch

        return getattr(torch, self.dtype)


def plan_load(source: ModelSource, device: str = "auto", dtype: str = "auto", quantize: str = "auto",
              lean: bool = True, config: dict[str, Any] | None = None, flags: set[str] | None = None) -> LoadPlan:
    """The plan for loading ``source`` as asked on this machine.

    ``config`` is the model's ``config.json``; without it, the one on disk is read (a folder's, or a
    GGUF file's metadata). A model whose config is not known yet (a Hub id) gets no lean decoder in
    this plan: loading plans again once the config is there.
    """
    device = choose_device(device)
    dtype = dtype_name(dtype, device, flags)
    if config is None:
        config = _config_on_disk(source)
    if config is None:
        choose_quantize(quantize, source, device, dtype, fast_ok=True)  # only the spelling is checked here
        return LoadPlan(source, device, dtype, "none", False, None, quantize)
    from ..lean import supported_config

    fast_ok = (device == "cpu" or device.startswith("cuda")) and supported_config(config)
    method = choose_quantize(quantize, source, device, dtype, fast_ok)
    head4 = quantize == "auto" and method == "int4" and _head4_passed(source)
    runs_lean = fast_ok and lean
    base = cache_dir(source) if device == "cpu" and runs_lean else None
    name = f"decoder-v{FAST_START_FORMAT}-{dtype}-{method}{'-head4' if head4 else ''}{_scale_order(method)}"
    fast_start = base / name if base is not None else None
    return LoadPlan(source, device, dtype, method, runs_lean, fast_start, quantize, head4)


def _head4_passed(source: ModelSource) -> bool:
    """Whether the quality check passed a 4-bit output head for ``source`` (it has not run: no)."""
    from .quality import stored

    checked = stored(source)
    return checked is not None and checked.head4()


def _scale_order(method: str) -> str:
    """A quantized copy holds its 4-bit scales in the order its kernel reads (``lean.quantize.Int4``):
    parrot's, where it is built, has a copy of its own, so that neither order is converted at each load."""
    from ..lean.native import kernels

    return "-by-block" if method != "none" and kernels() is not None else ""


def _config_on_disk(source: ModelSource) -> dict[str, Any] | None:
    """The model's config before its weights load: a folder's ``config.json``, a GGUF file's metadata."""
    if source.kind == "gguf":  # read from the file's header (milliseconds)
        from .gguf_file import GgufFile, gguf_config, gguf_path

        return gguf_config(GgufFile(gguf_path(source)))
    path = Path(source.location) / "config.json"
    if source.kind != "folder" or not path.exists():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None  # loading reports a damaged config in its own words


def choose_device(requested: str = "auto") -> str:
    """cuda, then mps, then cpu, unless the user named one."""
    import torch

    if requested != "auto":
        return check_device(requested)  # checked already where it was named; a caller in code is checked here
    if torch.cuda.is_available():
        return "cuda"
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        return "mps"
    return "cpu"


DTYPES = {"float32": "float32", "fp32": "float32", "bfloat16": "bfloat16", "bf16": "bfloat16",
          "float16": "float16", "fp16": "float16"}


def cpu_flags() -> set[str]:
    """Instruction-set flags of this CPU (Linux /proc/cpuinfo; empty elsewhere)."""
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as info:
            for line in info:
                if line.startswith(("flags", "Features")):
                    return set(line.partition(":")[2].split())
    except OSError:
        pass
    return set()


def native_bf16(flags: set[str]) -> bool:
    """bf16 products run in hardware (x86 AVX512-BF16 or AMX, Arm BF16); emulated bf16 is slower than fp32."""
    return bool(flags & {"avx512_bf16", "amx_bf16", "bf16"})


def dtype_name(requested: str, device: str, flags: set[str] | None = None) -> str:
    """The weight dtype's name: bf16 on GPUs and CPUs that compute it natively, fp32 elsewhere, unless asked."""
    if requested != "auto":
        if requested not in DTYPES:
            raise UsageError(f"unknown dtype {requested!r}", f"choose auto or one of {', '.join(DTYPES)}")
        return DTYPES[requested]
    if device.startswith("cuda"):
        import torch

        return "bfloat16" if torch.cuda.is_bf16_supported() else "float32"
    if device == "cpu" and native_bf16(cpu_flags() if flags is None else flags):
        return "bfloat16"
    return "float32"


def choose_quantize(requested: str, source: ModelSource, device: str, dtype: str, fast_ok: bool) -> str:
    """Weight-only quantization for CPU decoding: as asked, or by default (``auto``) what the quality
    check chose for this model (``loading.quality``), and int4 until it has run."""
    from ..lean.quantize import QUANTIZE_CHOICES

    if requested not in ("auto", *QUANTIZE_CHOICES):
        raise UsageError(f"unknown quantization {requested!r}", f"choose auto or one of {', '.join(QUANTIZE_CHOICES)}")
    if requested == "none":
        return "none"
    if requested != "auto":
        if device != "cpu" or not fast_ok:
            raise ModelUnavailable(f"--quantize {requested} needs a Llama, Qwen2/3 or GPT-2 model on the CPU",
                                   "use --quantize none")
        return requested
    if device == "cpu" and fast_ok and dtype == "bfloat16":
        from .quality import stored

        checked = stored(source)
        return checked.choice() if checked is not None else "int4"
    return "none"
