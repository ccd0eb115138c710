"""Weight-only quantized matrix products for CPU decoding, on PyTorch's own packed kernels.

Decoding one token reads every weight once, so at batch size 1 the bytes per weight set the pace.
Weights are stored as int8 (one scale per output row) or int4 (a scale and zero per group of 32
inputs) and multiplied by bf16 activations with ``torch.ops.aten._weight_int8pack_mm`` and
``_weight_int4pack_mm_for_cpu`` -- the kernels torchao calls on CPU -- without torchao's tensor
subclass, whose dispatch costs more per call than the product itself at this size. Activations stay
in bf16: unlike torch.ao's deprecated dynamic quantization, which also rounds activations to int8 and
degrades the text, only the weights lose precision.
"""

from __future__ import annotations

from typing import Callable

import torch

QUANTIZE_CHOICES = ("none", "int8", "int4")
INT4_GROUP = 32  # the block size of GGUF's Q4 formats: the embedded model's weights re-quantize closely
INT4_INNER_K_TILES = 2

Matmul = Callable[[torch.Tensor], torch.Tensor]


def dense(weight: torch.Tensor) -> Matmul:
    """``x @ weight.T`` in the weight's own dtype."""
    return lambda x: torch.nn.functional.linear(x, weight)


def int8_weight_only(weight: torch.Tensor) -> Matmul:
    """Symmetric int8 per output row; activations must be bf16 (fp32 falls off the fast kernel)."""
    w = weight.detach().float()
    scale = (w.abs().amax(dim=1).clamp(min=1e-8) / 127.0)
    q = torch.round(w / scale[:, None]).clamp(-127, 127).to(torch.int8).contiguous()
    scale = scale.to(torch.bfloat16)
    return lambda x: torch.ops.aten._weight_int8pack_mm(x, q, scale)


def int4_weight_only(weight: torch.Tensor, group: int = INT4_GROUP) -> Matmul:
    """Asymmetric int4 per group of ``group`` inputs (min/max scaling), bf16 scales and zeros."""
    n, k = weight.shape
    w = weight.detach().float().reshape(n, k // group, group)
    low, high = w.amin(dim=-1, keepdim=True), w.amax(dim=-1, keepdim=True)
    scale = (high - low).clamp(min=1e-8) / 15.0
    q = torch.round((w - low) / scale).clamp(0, 15).to(torch.int32).reshape(n, k)
    # The kernel dequantizes as (q - 8) * scale + zero.
    zero = low + 8 * scale
    scales_and_zeros = torch.cat([scale, zero], dim=-1).transpose(0, 1).contiguous().to(torch.bfloat16)
    packed = torch.ops.aten._convert_weight_to_int4pack_for_cpu(q, INT4_INNER_K_TILES)
    return lambda x: torch.ops.aten._weight_int4pack_mm_for_cpu(x, packed, group, scales_and_zeros)


def supports(method: str, weight: torch.Tensor) -> bool:
    """Whether ``method`` can take this weight: int4 needs whole groups along the input dimension."""
    if method == "int4":
        return weight.shape[1] % INT4_GROUP == 0 and weight.shape[0] % 8 == 0
    return True


def matmul_for(weight: torch.Tensor, method: str) -> Matmul:
    """The product ``x @ weight.T`` under quantization ``method`` (falls back to dense when unsupported)."""
    if method == "int8":
        return int8_weight_only(weight)
    if method == "int4" and supports("int4", weight):
        return int4_weight_only(weight)
    return dense(weight)
