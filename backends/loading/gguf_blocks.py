"""GGUF's block types decoded with torch, as integer codes with a scale and offset per 32 weights.

Most block types store each weight as an integer code ``q`` that maps to ``a * q + b``, with ``a``
and ``b`` shared by a run of 32 consecutive weights in a row: Q4_0, Q4_1, Q5_0, Q5_1, Q8_0 (blocks
of 32), Q4_K and Q5_K (sub-blocks of 32). ``affine`` returns exactly that; ``floats`` computes the
weights from it, operation for operation as ``gguf.quants.dequantize`` does (the reference, which
the tests compare against bit for bit; it runs in numpy on one thread, several times slower). Q6_K
(a scale per 16 weights) and plain float tensors are only read as ``floats``.

Runs of 32 weights with one scale are also the layout of the lean decoder's int4 product, so the
4-bit types (Q4_0, Q4_1, Q4_K) become int4 weights with their codes unchanged (``int4_codes``), and
codes of more bits become 4-bit codes of the same run.
"""

from __future__ import annotations

import numpy as np
import torch
from gguf import GGML_QUANT_SIZES
from gguf import GGMLQuantizationType as Kind

FLOAT_KINDS = {Kind.F32: torch.float32, Kind.F16: torch.float16, Kind.BF16: torch.bfloat16}
FOUR_BIT = (Kind.Q4_0, Kind.Q4_1, Kind.Q4_K)
AFFINE = (*FOUR_BIT, Kind.Q5_0, Kind.Q5_1, Kind.Q8_0, Kind.Q5_K)
READABLE = (*FLOAT_KINDS, *AFFINE, Kind.Q6_K)
GROUP = 32  # weights per scale in every affine type, and in the int4 product


def _blocks(raw: torch.Tensor, kind: Kind) -> torch.Tensor:
    """Rows of raw bytes as one block per row: [rows * blocks per row, bytes per block]."""
    return raw.reshape(-1, GGML_QUANT_SIZES[kind][1])


def _half(blocks: torch.Tensor, offset: int) -> torch.Tensor:
    """The float16 at byte ``offset`` of each block, as float32: [blocks, 1]. (Every block type's size
    is even, so the blocks read as float16 in place, with no copy of the column first.)"""
    return blocks.view(torch.float16)[:, offset // 2:offset // 2 + 1].float()


def _nibbles(packed: torch.Tensor, groups: int = 1) -> torch.Tensor:
    """GGUF's 4-bit packing: in each run of 16 bytes, the low nibbles are weights 0-15, the high 16-31."""
    runs = packed.reshape(-1, groups, 1, 16)
    codes = torch.empty((runs.shape[0], groups, 2, 16), dtype=torch.uint8)
    torch.bitwise_and(runs, 15, out=codes[:, :, :1])
    torch.bitwise_right_shift(runs, 4, out=codes[:, :, 1:])
    return codes.view(runs.shape[0], -1)


def _k_scales(packed: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The 6-bit scales and mins of the 8 sub-blocks of a Q4_K/Q5_K block (12 bytes), as floats."""
    low, mid, high = packed.reshape(-1, 3, 4).unbind(1)
    scales = torch.cat((low & 63, (high & 15) | ((low >> 2) & 48)), dim=-1)
    mins = torch.cat((mid & 63, (high >> 4) | ((mid >> 2) & 48)), dim=-1)
    return scales.float(), mins.float()


def _k_codes(packed: torch.Tensor) -> torch.Tensor:
    """The 4-bit codes of a K block (128 bytes): each 32-byte run gives two sub-blocks of 32."""
    runs = packed.reshape(-1, 4, 1, 32)
    codes = torch.empty((runs.shape[0], 4, 2, 32), dtype=torch.uint8)
    torch.bitwise_and(runs, 15, out=codes[:, :, :1])
    torch.bitwise_right_shift(runs, 4, out=codes[:, :, 1:])
    return codes.view(-1, 256)


def _bits(packed: torch.Tensor) -> torch.Tensor:
    """The bits of each row of bytes, little-endian (bit j of byte i is element 8 i + j), as 0 or 1.
    numpy's ``unpackbits`` does this in one loop, 5x faster than shifting a broadcast copy in torch."""
    return torch.from_numpy(np.unpackbits(packed.numpy(), axis=1, bitorder="little"))


def affine(raw: torch.Tensor, kind: Kind) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Codes ([rows, columns], uint8; int8 for Q8_0) and per-run ``a``, ``b`` ([rows, columns / 32],
    float32) of ``raw`` ([rows, bytes per row]): weight = a * code + b."""
    rows = raw.shape[0]
    blocks = _blocks(raw, kind)
    if kind in (Kind.Q4_0, Kind.Q5_0, Kind.Q8_0):  # d * (q - offset), offset 8, 16 or 0
        a = _half(blocks, 0)
        if kind == Kind.Q4_0:
            codes, offset = _nibbles(blocks[:, 2:]), 8
        elif kind == Kind.Q5_0:
            codes, offset = _nibbles(blocks[:, 6:]) | (_bits(blocks[:, 2:6]) << 4), 16
        else:
            codes, offset = blocks[:, 2:].contiguous().view(torch.int8), 0
        b = -offset * a
    elif kind in (Kind.Q4_1, Kind.Q5_1):  # d * q + m
        a, b = _half(blocks, 0), _half(blocks, 2)
        codes = _nibbles(blocks[:, 4:]) if kind == Kind.Q4_1 else _nibbles(blocks[:, 8:]) | (_bits(blocks[:, 4:8]) << 4)
    elif kind in (Kind.Q4_K, Kind.Q5_K):  # d * scale_j * q - dmin * min_j, in 8 sub-blocks of 32
        d, dmin = _half(blocks, 0), _half(blocks, 2)
        scales, mins = _k_scales(blocks[:, 4:16])
        a, b = d * scales, -(dmin * mins)
        if kind == Kind.Q4_K:
            codes = _k_codes(blocks[:, 16:])
        else:  # a fifth bit per weight: bit j of byte l belongs to weight l of sub-block j
            fifth = _bits(blocks[:, 16:48]).view(-1, 32, 8).transpose(1, 2) << 4
            codes = _k_codes(blocks[:, 48:]) | fifth.reshape(-1, 256)
    else:
        raise ValueError(f"{kind.name} has no codes of one scale per {GROUP} weights")
    return codes.reshape(rows, -1), a.reshape(rows, -1), b.reshape(rows, -1)


def floats(raw: torch.Tensor, kind: Kind) -> torch.Tensor:
    """The weights of ``raw`` ([rows, bytes per row]) as float32 [rows, columns], as gguf dequantizes them."""
    rows = raw.shape[0]
    if kind in FLOAT_KINDS:
        return raw.contiguous().view(FLOAT_KINDS[kind]).float().reshape(rows, -1)
    if kind == Kind.Q6_K:
        return _q6_k(_blocks(raw, kind)).reshape(rows, -1)
    if kind not in AFFINE:
        raise ValueError(f"parrot does not read GGUF block type {kind.name}")
    codes, a, b = affine(raw, kind)
    # gguf writes d * (q - 8) where this is d * q - 8 * d: with d a float16 and q small, both products
    # and the exact result fit a float32's 24 bits, so the two spellings give the same float.
    return (a[:, :, None] * codes.view(rows, -1, GROUP).float() + b[:, :, None]).reshape(rows, -1)


def int4_codes(raw: torch.Tensor, kind: Kind) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """4-bit codes (uint8 0..15, [rows, columns]) with a scale and zero per 32 columns, in the int4
    product's convention: weight = (code - 8) * scale + zero.

    The 4-bit types keep their codes (exact). The 5-bit types drop their lowest bit: code ``q`` becomes
    ``q >> 1`` standing for ``2 * (q >> 1) + 0.5``, off by half a step of the file's own grid either
    way -- less than re-quantizing each run of 32 between its extremes would be off, and bit operations
    alone. Q8_0 codes are re-quantized between each run's lowest and highest code."""
    codes, a, b = affine(raw, kind)
    if kind in FOUR_BIT:
        return codes, a, b + 8 * a
    if kind in (Kind.Q5_0, Kind.Q5_1, Kind.Q5_K):  # weight = 2a * (q >> 1) + b + a / 2
        return codes >> 1, 2 * a, b + 16.5 * a
    runs = codes.view(codes.shape[0], -1, GROUP).to(torch.int16)  # Q8_0: a difference of two codes can pass 127
    low, high = runs.amin(dim=-1, keepdim=True), runs.amax(dim=-1, keepdim=True)
    span = (high - low).squeeze(-1).float()
    step = 15.0 / span.clamp(min=1)
    four = ((runs - low).float() * step[:, :, None]).round_().to(torch.uint8).view(codes.shape)
    scale = a * span / 15
    return four, scale, a * low.squeeze(-1).float() + b + 8 * scale


def _q6_k(blocks: torch.Tensor) -> torch.Tensor:
    """Q6_K: 6-bit codes (4 low bits in 128 bytes, 2 high bits in 64) with an int8 scale per 16 weights."""
    low = blocks[:, :128].reshape(-1, 2, 1, 64)
    low = torch.cat((low & 15, low >> 4), dim=2).reshape(-1, 256)
    high = blocks[:, 128:192].reshape(-1, 2, 1, 32) >> torch.tensor([0, 2, 4, 6], dtype=torch.uint8).view(1, 1, 4, 1)
    codes = (low | ((high & 3) << 4).reshape(-1, 256)).to(torch.int8) - 32
    scales = blocks[:, 192:208].contiguous().view(torch.int8).float() * _half(blocks, 208)
    return (scales[:, :, None] * codes.float().reshape(-1, 16, 16)).reshape(-1, 256)
