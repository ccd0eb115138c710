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

import functools
from contextlib import nullcontext
from typing import Any, Callable, ContextManager, Iterator

import torch

from .native import kernels

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
        # One token's product on parrot's kernel where it is built (native.py): 1.5x torch's speed on the
        # output head, the one large int8 product. It takes rows in eights and inputs in sixty-fours.
        built = kernels() if q.shape[0] % 8 == 0 and q.shape[1] % 64 == 0 and q.is_contiguous() else None
        self.kernel = built.int8_row_mm if built is not None else None

    @classmethod
    def quantize(cls, weight: torch.Tensor, bias: torch.Tensor | None = None) -> "Int8":
        w = weight.detach().float()
        scale = w.abs().amax(dim=1).clamp(min=1e-8) / 127.0
        q = torch.round(w / scale[:, None]).clamp(-127, 127).to(torch.int8).contiguous()
        return cls(q, scale.to(torch.bfloat16), None if bias is None else bias.detach().to(torch.bfloat16))

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() == 2 and x.shape[0] == 1 and self.kernel is not None:
            y = self.kernel(x, self.q, self.scale)
        else:
            y = torch.ops.aten._weight_int8pack_mm(x, self.q, self.scale)
        return y if self.bias is None else y + self.bias

    def __getitem__(self, rows: torch.Tensor) -> torch.Tensor:
        """Rows of the weight in bf16: the token embedding, stored once with a tied output head."""
        return self.q[rows].to(torch.bfloat16) * self.scale[rows].unsqueeze(-1)

    def tensors(self) -> dict[str, torch.Tensor]:
        return _with_bias({"q": self.q, "scale": self.scale}, self.bias)


def int4_codes(weight: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """4-bit codes of ``weight`` ([n, k]) by min/max scaling per group of ``INT4_GROUP`` inputs, with
    the scales and zeros of ``Int4.from_codes``."""
    n, k = weight.shape
    w = weight.detach().float().reshape(n, k // INT4_GROUP, INT4_GROUP)
    low, high = w.amin(dim=-1, keepdim=True), w.amax(dim=-1, keepdim=True)
    scale = (high - low).clamp(min=1e-8) / 15.0
    codes = torch.round((w - low) / scale).clamp(0, 15).to(torch.uint8).reshape(n, k)
    scale = scale.squeeze(-1)
    return codes, scale, low.squeeze(-1) + 8 * scale


def pack_int4(codes: torch.Tensor) -> torch.Tensor:
    """4-bit codes ([n, k] uint8) in the packed layout of ``_weight_int4pack_mm_for_cpu``.

    torch's packing op takes the codes as int32 and costs, with that conversion, most of the time a
    GGUF file's repacking takes (1.4 of 1.7 s for a 0.5B model). On AVX-512 machines its layout is
    simple -- for each block of 64 rows and each input k, 32 bytes: row j in the low nibble, row
    j + 32 in the high one -- and is written here with three byte operations; the op itself packs
    anywhere that layout does not hold (``blocks_of_64`` checks it against the op once)."""
    n, k = codes.shape
    if n % 64 == 0 and blocks_of_64():
        blocks = codes.view(n // 64, 2, 32, k)
        return (blocks[:, 0] | (blocks[:, 1] << 4)).transpose(1, 2).contiguous().view(n, k // 2)
    packed = torch.empty((n, k // 2), dtype=torch.uint8)
    # A slice of rows at a time (whole blocks of 64 rows, which the op packs independently), so that
    # the int32 copy stays small enough to stay in cache.
    step = max(64, (1 << 20) // k // 64 * 64)
    for begin in range(0, n, step):
        rows = codes[begin:begin + step].to(torch.int32)
        packed[begin:begin + step] = torch.ops.aten._convert_weight_to_int4pack_for_cpu(rows, INT4_INNER_K_TILES)
    return packed


@functools.cache
def blocks_of_64() -> bool:
    """Whether this machine's packing op lays rows out in blocks of 64 as ``pack_int4`` writes them."""
    probe = torch.randint(0, 16, (128, 64), dtype=torch.uint8)
    blocks = probe.view(2, 2, 32, 64)
    ours = (blocks[:, 0] | (blocks[:, 1] << 4)).transpose(1, 2).contiguous().view(128, 32)
    return torch.equal(ours, torch.ops.aten._convert_weight_to_int4pack_for_cpu(probe.to(torch.int32), INT4_INNER_K_TILES))


class Int4:
    """Asymmetric int4 per group of ``INT4_GROUP`` inputs (min/max scaling), bf16 scales and zeros.

    The codes are packed as torch's kernel reads them. Where parrot's own kernel runs (``native``), every
    product runs on it, and the scales and zeros are held by block of 64 rows (``scales_by_block``
    [n / 64, k / 32, 64, 2]), the order it streams fastest; elsewhere torch's kernel runs, with torch's
    order (``scales_and_zeros`` [k / 32, n, 2]). On a Zen 4 core parrot's kernel took 0.45x torch's time
    for one row, and 0.96-0.99x for 2 to 512 rows (a prompt), where both are bound by the arithmetic."""

    kind = "int4"

    def __init__(self, packed: torch.Tensor, scales_and_zeros: torch.Tensor | None = None,
                 bias: torch.Tensor | None = None, scales_by_block: torch.Tensor | None = None) -> None:
        self.packed, self.bias = packed, bias
        # Rows in blocks of 64 as ``pack_int4`` writes them: what parrot's kernel and ``self[rows]`` read.
        self.rows_in_blocks = packed.shape[0] % 64 == 0 and blocks_of_64()
        built = kernels() if self.rows_in_blocks else None
        self.kernel = built.int4_rows_mm if built is not None else None
        if self.kernel is not None:
            self.scales_by_block = scales_by_block if scales_by_block is not None else _by_block(scales_and_zeros)
            self.scales_and_zeros = None
        else:
            self.scales_and_zeros = scales_and_zeros if scales_and_zeros is not None else _by_group(scales_by_block)
            self.scales_by_block = None

    @classmethod
    def quantize(cls, weight: torch.Tensor, bias: torch.Tensor | None = None) -> "Int4":
        return cls.from_codes(*int4_codes(weight), bias)

    @classmethod
    def from_codes(cls, codes: torch.Tensor, scale: torch.Tensor, zero: torch.Tensor,
                   bias: torch.Tensor | None = None) -> "Int4":
        """Pack 4-bit ``codes`` ([n, k], 0..15) whose weights are ``(code - 8) * scale + zero``, with one
        scale and zero per ``INT4_GROUP`` inputs ([n, k / INT4_GROUP]): the kernel's own convention."""
        scales_and_zeros = torch.stack((scale, zero), dim=-1).transpose(0, 1).contiguous().to(torch.bfloat16)
        return cls(pack_int4(codes), scales_and_zeros, None if bias is None else bias.detach().to(torch.bfloat16))

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        if self.scales_by_block is not None:
            y = self.kernel(x, self.packed, self.scales_by_block)
        else:
            y = torch.ops.aten._weight_int4pack_mm_for_cpu(x, self.packed, INT4_GROUP, self.scales_and_zeros)
        return y if self.bias is None else y + self.bias

    def group_scales(self) -> torch.Tensor:
        """Scales and zeros in torch's kernel's order, [k / 32, n, 2]."""
        return self.scales_and_zeros if self.scales_by_block is None else _by_group(self.scales_by_block)

    def __getitem__(self, rows: torch.Tensor) -> torch.Tensor:
        """Rows of the weight in bf16 (``rows_in_blocks`` only): the token embedding, stored once with a
        tied int4 head. Row r is nibble r // 32 % 2 of byte r % 32 in block r // 64 (see ``pack_int4``)."""
        n, k = self.packed.shape[0], self.packed.shape[1] * 2
        blocks = self.packed.view(n // 64, k, 32)
        high = (rows % 64) >= 32
        codes = blocks[rows // 64, :, rows % 32]  # [*rows, k] bytes holding each row's codes
        codes = torch.where(high.unsqueeze(-1), codes >> 4, codes & 15)
        if self.scales_by_block is not None:
            held = self.scales_by_block[rows // 64, :, rows % 64]  # [*rows, k / 32, 2]
        else:
            held = self.scales_and_zeros[:, rows].movedim(0, -2)
        return _weights_of_codes(codes, *held.unbind(-1), torch.bfloat16)

    def tensors(self) -> dict[str, torch.Tensor]:
        if self.scales_by_block is not None:
            return _with_bias({"packed": self.packed, "scales_by_block": self.scales_by_block}, self.bias)
        return _with_bias({"packed": self.packed, "scales_and_zeros": self.scales_and_zeros}, self.bias)


def _weights_of_codes(codes: torch.Tensor, scale: torch.Tensor, zero: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """The weights ``(code - 8) * scale + zero`` of 4-bit ``codes`` ([..., k]), one scale and zero per
    group of ``INT4_GROUP`` ([..., k / INT4_GROUP]), in ``dtype``."""
    grouped = codes.view(*codes.shape[:-1], -1, INT4_GROUP).to(dtype) - 8
    return (grouped * scale.unsqueeze(-1).to(dtype) + zero.unsqueeze(-1).to(dtype)).view(codes.shape)


def _by_block(scales_and_zeros: torch.Tensor) -> torch.Tensor:
    """[k / 32, n, 2] -> [n / 64, k / 32, 64, 2]"""
    groups, n, _ = scales_and_zeros.shape
    return scales_and_zeros.view(groups, n // 64, 64, 2).transpose(0, 1).contiguous()


def _by_group(scales_by_block: torch.Tensor) -> torch.Tensor:
    """[n / 64, k / 32, 64, 2] -> [k / 32, n, 2]"""
    blocks, groups, _, _ = scales_by_block.shape
    return scales_by_block.transpose(0, 1).contiguous().view(groups, blocks * 64, 2)


def head_method(method: str, rows: int, columns: int, four_bit: bool = False) -> str:
    """How the output head is quantized under ``method`` (the one place that decides): int8 rows, or
    none; int4 only where ``four_bit`` asks for it, under int4, and its rows can serve as the token table
    (``head_fits_four_bits``). A 4-bit head is the fastest (it took the Qwen2.5-Coder-1.5B shape from
    0.94x to 1.10x llama.cpp's speed), but the embedded SmolLM2's perplexity on the quality check's code
    sample rose by 5.7% with it, against -0.7% with an 8-bit head (llama.cpp keeps heads at 6 bits or
    more): the quality check measures it apart, and ``auto`` takes it only where that passes. A GGUF
    file's own 4-bit head stays 4-bit (``gguf_weights._layout``)."""
    if method == "int4" and four_bit and head_fits_four_bits(rows, columns):
        return "int4"
    return "int8" if method != "none" else "none"


def head_fits_four_bits(rows: int, columns: int) -> bool:
    """Whether a head of this shape can be held in 4 bits with its rows read back (``Int4.rows_in_blocks``)."""
    return rows % 64 == 0 and columns % INT4_GROUP == 0 and blocks_of_64()


def table_rows(product: Matmul) -> bool:
    """Whether a tied head's product can also give the token table's rows (``product[ids]``)."""
    return isinstance(product, Int8) or (isinstance(product, Int4) and product.rows_in_blocks)


def round_trip(rows: torch.Tensor, method: str) -> torch.Tensor:
    """``rows`` ([n, k]) as quantizing them by rows under ``method`` (int4 or int8) gives them back:
    the quality check's token table, read a few rows at a time."""
    if method == "int4" and rows.shape[-1] % INT4_GROUP == 0:
        return _weights_of_codes(*int4_codes(rows), torch.float32)
    table = Int8.quantize(rows)
    return table[torch.arange(rows.shape[0])]


Matmul = Dense | Int8 | Int4
KINDS = {cls.kind: cls for cls in (Dense, Int8, Int4)}


def supports(method: str, weight: torch.Tensor) -> bool:
    """Whether ``method`` can take this weight: int4 needs whole groups along the input dimension
    (and the packing op rows in multiples of 16)."""
    if method == "int4":
        return weight.shape[1] % INT4_GROUP == 0 and weight.shape[0] % 16 == 0
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


class Lazy:
    """A product built when it is called and dropped right after, inside ``around`` (a context
    manager factory): the quality check reads a whole model this way, one product at a time, so
    that a full-precision copy of it never exists and a reply can run between two products."""

    def __init__(self, build: Callable[[], Matmul], around: Callable[[], ContextManager[Any]] = nullcontext) -> None:
        self.build, self.around = build, around

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        with self.around():
            return self.build()(x)


class LazyRows:
    """A ``Lazy`` product built a slice of output rows at a time (``build(begin, end)``): the output
    head, the largest matrix, never exists whole in full precision."""

    def __init__(self, build: Callable[[int, int], Matmul], rows: int,
                 around: Callable[[], ContextManager[Any]] = nullcontext, step: int = 4096) -> None:
        self.build, self.rows, self.around, self.step = build, rows, around, step

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([part for _, part in self.slices(x)], dim=-1)

    def slices(self, x: torch.Tensor) -> Iterator[tuple[int, torch.Tensor]]:
        """(first row, ``x``'s product with that slice of rows) for each slice: a caller that reduces
        each slice at once (a loss over the vocabulary) never holds the whole output."""
        for begin in range(0, self.rows, self.step):
            with self.around():
                yield begin, self.build(begin, min(begin + self.step, self.rows))(x)
