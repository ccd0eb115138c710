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

import torch

QUANTIZE_CHOICES = ("none", "int8", "int4")
INT4_GROUP = 32  # the block size of GGUF's Q4 formats: the embedded model's weights re-quantize closely
INT4_INNER_K_TILES = 2


def _with_bias(tensors: dict[str, torch.Tensor], bias: torch.Tensor | None) -> dict[str, torch.Tensor]:
    return tensors if bias is None else {**tensors, "bias": bias}


class Dense:
    """``x @ weight.T (+ bias)`` in the weight's own dtype."""

    kind = "dense"

    def __init__(self, weight: torch.Tensor, bias: torch.Tensor | None = None) -> None:
        self.weight, self.bias = weight, bias

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.linear(x, self.weight, self.bias)

    def tensors(self) -> dict[str, torch.Tensor]:
        return _with_bias({"weight": self.weight}, self.bias)


class Int8:
    """Symmetric int8 per output row; activations must be bf16 (fp32 falls off the fast kernel)."""

    kind = "int8"

    def __init__(self, q: torch.Tensor, scale: torch.Tensor, bias: torch.Tensor | None = None) -> None:
        self.q, self.scale, self.bias = q, scale, bias

    @classmethod
    def quantize(cls, weight: torch.Tensor, bias: torch.Tensor | None = None) -> "Int8":
        w = weight.detach().float()
        scale = w.abs().amax(dim=1).clamp(min=1e-8) / 127.0
        q = torch.round(w / scale[:, None]).clamp(-127, 127).to(torch.int8).contiguous()
        return cls(q, scale.to(torch.bfloat16), None if bias is None else bias.detach().to(torch.bfloat16))

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        y = torch.ops.aten._weight_int8pack_mm(x, self.q, self.scale)
        return y if self.bias is None else y + self.bias

    def tensors(self) -> dict[str, torch.Tensor]:
        return _with_bias({"q": self.q, "scale": self.scale}, self.bias)


class Int4:
    """Asymmetric int4 per group of ``INT4_GROUP`` inputs (min/max scaling), bf16 scales and zeros."""

    kind = "int4"

    def __init__(self, packed: torch.Tensor, scales_and_zeros: torch.Tensor, bias: torch.Tensor | None = None) -> None:
        self.packed, self.scales_and_zeros, self.bias = packed, scales_and_zeros, bias

    @classmethod
    def quantize(cls, weight: torch.Tensor, bias: torch.Tensor | None = None) -> "Int4":
        n, k = weight.shape
        w = weight.detach().float().reshape(n, k // INT4_GROUP, INT4_GROUP)
        low, high = w.amin(dim=-1, keepdim=True), w.amax(dim=-1, keepdim=True)
        scale = (high - low).clamp(min=1e-8) / 15.0
        q = torch.round((w - low) / scale).clamp(0, 15).to(torch.int32).reshape(n, k)
        zero = low + 8 * scale  # the kernel dequantizes as (q - 8) * scale + zero
        scales_and_zeros = torch.cat([scale, zero], dim=-1).transpose(0, 1).contiguous().to(torch.bfloat16)
        return cls(torch.ops.aten._convert_weight_to_int4pack_for_cpu(q, INT4_INNER_K_TILES), scales_and_zeros,
                   None if bias is None else bias.detach().to(torch.bfloat16))

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        y = torch.ops.aten._weight_int4pack_mm_for_cpu(x, self.packed, INT4_GROUP, self.scales_and_zeros)
        return y if self.bias is None else y + self.bias

    def tensors(self) -> dict[str, torch.Tensor]:
        return _with_bias({"packed": self.packed, "scales_and_zeros": self.scales_and_zeros}, self.bias)


Matmul = Dense | Int8 | Int4
KINDS = {cls.kind: cls for cls in (Dense, Int8, Int4)}


def supports(method: str, weight: torch.Tensor) -> bool:
    """Whether ``method`` can take this weight: int4 needs whole groups along the input dimension."""
    if method == "int4":
        return weight.shape[1] % INT4_GROUP == 0 and weight.shape[0] % 8 == 0
    return True


def matmul_for(weight: torch.Tensor, method: str, bias: torch.Tensor | None = None) -> Matmul:
    """The product ``x @ weight.T (+ bias)`` under quantization ``method`` (dense where it does not apply)."""
    if method == "int8":
        return Int8.quantize(weight, bias)
    if method == "int4" and supports("int4", weight):
        return Int4.quantize(weight, bias)
    return Dense(weight.detach(), None if bias is None else bias.detach())


def from_tensors(kind: str, tensors: dict[str, torch.Tensor]) -> Matmul:
    """Rebuild a product saved with ``.tensors()``."""
    return KINDS[kind](**tensors)
