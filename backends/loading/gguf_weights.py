"""The lean decoder's weights read straight from a GGUF file, one tensor at a time.

Each product is repacked from the file's blocks into the lean decoder's layout, a slice of rows at a
time, so no float copy of the model (or of its largest matrix) ever exists:

- ``int4``: every product in 4 bits, in groups of 32 inputs. Q4_0, Q4_1 and Q4_K keep their codes and
  scales (exact up to the scales' rounding to bfloat16); Q5_0, Q5_1, Q8_0 and Q5_K codes are mapped
  to 4 bits within each group; Q6_K and float tensors are quantized from their values.
- ``int8``: the 4-bit types as above (they lose nothing), every other product in int8 per row.
- ``none``: dense, in the computation's dtype (a full-precision copy: only when asked for).

The output head stays at 8 bits unless the file has it in 4 (as llama.cpp runs it;
``quantize.head_method`` says why); the token table is a tied head's own rows (int8, or int4 where
they can be read back), else int8 rows. Llama files hold their query and key rows in the order
llama.cpp's rotary kernel wants (pairs interleaved); they are put back in transformers' order.
"""

from __future__ import annotations

import ctypes

import torch

from ..lean.quantize import (
    INT4_GROUP,
    Dense,
    Int4,
    Int8,
    LazyRows,
    Matmul,
    blocks_of_64,
    head_method,
    int4_codes,
    round_trip,
    table_rows,
)
from ..lean.shape import Shape
from ..lean.weights import Around, Layer, Norm, Weights
from .gguf_blocks import AFFINE, FOUR_BIT, floats
from .gguf_blocks import int4_codes as block_int4_codes
from .gguf_file import GgufFile

# Weights decoded at a time. Small enough that a slice's temporaries stay in the CPU's caches and
# are reused by the allocator rather than mapped afresh: 16x faster than slices of 4M weights (1.1
# against 17 s to repack a 0.5B file on a busy 2-core machine).
WEIGHTS_PER_SLICE = 1 << 20
# Rows of a large int4 product packed at a time (a multiple of the packing's blocks of 64 rows).
INT4_ROWS_AT_ONCE = 8192


def read_weights(file: GgufFile, shape: Shape, method: str, dtype: torch.dtype,
                 around: Around | None = None, head4: bool = False) -> Weights:
    """The lean decoder's weights of ``file`` under ``method`` (int4, int8 or none). With ``around``,
    every product (and the token table) is read from the file only when used (the quality check)."""
    reader = _Reader(file, shape, method, dtype, around, head4)
    layers = [reader.layer(i) for i in range(shape.layers)]
    head_name = "output.weight" if "output.weight" in file.tensors else "token_embd.weight"
    head = reader.product([head_name], head=True)
    if around is not None:
        table = _table_layout(file, method, head_name, head4)
        embed: torch.Tensor | Int8 | Int4 = _FileRows(file, "token_embd.weight", table, dtype)
    elif method == "none":
        embed = reader.floats("token_embd.weight").to(dtype)
    elif table_rows(head) and head_name == "token_embd.weight":
        embed = head  # type: ignore[assignment]
    else:  # rows are read one by one: int8, whatever the head's layout
        embed = reader.product(["token_embd.weight"], layout="int8")
    positions = reader.floats("position_embd.weight").to(dtype) if shape.positions == "learned" else None
    norm = reader.norm("output_norm")
    weights = Weights(embed, positions, norm, layers, head, _inv_freq(file, shape) if shape.positions == "rope" else None)
    if around is None:
        return_free_memory()
    return weights


def return_free_memory() -> None:
    """Hand the memory freed by the repacking's slices back to the system. glibc keeps freed blocks of
    a few MB for reuse (what makes small slices fast), about 30 MB after a model's repacking, counted
    in the process's resident size until trimmed. Elsewhere than glibc, nothing to do."""
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


class _Reader:
    def __init__(self, file: GgufFile, shape: Shape, method: str, dtype: torch.dtype, around: Around | None,
                 head4: bool = False) -> None:
        self.file, self.shape, self.method, self.dtype, self.around = file, shape, method, dtype, around
        self.head4 = head4

    def floats(self, name: str) -> torch.Tensor:
        entry = self.file.tensors[name]
        values = floats(self.file.raw(name), entry.kind).reshape(entry.shape).clone()
        self.file.release(name)
        return values

    def norm(self, prefix: str) -> Norm:
        bias = self.floats(f"{prefix}.bias").to(self.dtype) if f"{prefix}.bias" in self.file.tensors else None
        return Norm(self.floats(f"{prefix}.weight").to(self.dtype), bias)

    def layer(self, i: int) -> Layer:
        at, s = f"blk.{i}", self.shape
        if s.arch == "gpt2":
            qkv = self.product([f"{at}.attn_qkv.weight"])
        else:
            qkv = self.product([f"{at}.attn_q.weight", f"{at}.attn_k.weight", f"{at}.attn_v.weight"])
        up = [f"{at}.ffn_up.weight"] if s.mlp == "gelu" else [f"{at}.ffn_gate.weight", f"{at}.ffn_up.weight"]
        q_norm = self.floats(f"{at}.attn_q_norm.weight").to(self.dtype) if s.qk_norm else None
        k_norm = self.floats(f"{at}.attn_k_norm.weight").to(self.dtype) if s.qk_norm else None
        return Layer(self.norm(f"{at}.attn_norm"), qkv, self.product([f"{at}.attn_output.weight"]),
                     self.norm(f"{at}.ffn_norm"), self.product(up), self.product([f"{at}.ffn_down.weight"]),
                     q_norm, k_norm)

    def product(self, names: list[str], head: bool = False, rows: tuple[int, int] | None = None,
                layout: str | None = None) -> Matmul:
        """One product of the weights ``names`` stacked by rows (q/k/v; gate/up), with their biases;
        ``rows``: only that range of the stacked rows (the quality check builds products in slices);
        ``layout``: int4, int8 or dense, instead of what ``_layout`` gives the method."""
        entries = [self.file.tensors[name] for name in names]
        columns, total = entries[0].columns, sum(entry.rows for entry in entries)
        if self.around is not None:
            eager = _Reader(self.file, self.shape, self.method, self.dtype, None, self.head4)
            return LazyRows(lambda begin, end: eager.product(names, head, (begin, end)), total, self.around)
        first, last = rows or (0, total)
        count = last - first
        bias = self._bias(names)
        bias = None if bias is None else bias[first:last]
        # Decided for the whole product, so that each slice is stored as the whole would be.
        layout = layout or _layout(self.method, [entry.kind for entry in entries], head, total, columns, self.head4)
        if layout == "int4" and count > INT4_ROWS_AT_ONCE and count % 64 == 0:
            return self._int4_in_parts(names, head, first, last, bias)
        if layout == "int4":
            codes = torch.empty((count, columns), dtype=torch.uint8)
            scale, zero = (torch.empty((count, columns // INT4_GROUP)) for _ in range(2))
            for at, raw, kind in self._slices(names, rows):
                four = block_int4_codes(raw, kind) if kind in AFFINE else int4_codes(floats(raw, kind))
                for target, part in zip((codes, scale, zero), four):
                    target[at:at + raw.shape[0]] = part
            return Int4.from_codes(codes, scale, zero, bias)
        if layout == "int8":
            q, scale = torch.empty((count, columns), dtype=torch.int8), torch.empty(count, dtype=torch.bfloat16)
            for at, raw, kind in self._slices(names, rows):
                part = Int8.quantize(floats(raw, kind))
                q[at:at + raw.shape[0]], scale[at:at + raw.shape[0]] = part.q, part.scale
            return Int8(q, scale, bias)
        weight = torch.empty((count, columns), dtype=self.dtype)
        for at, raw, kind in self._slices(names, rows):
            weight[at:at + raw.shape[0]] = floats(raw, kind)
        return Dense(weight, bias)

    def _int4_in_parts(self, names: list[str], head: bool, first: int, last: int,
                       bias: torch.Tensor | None) -> Int4:
        """A large int4 product (a 4-bit output head, a 7B model's feed-forward) packed
        ``INT4_ROWS_AT_ONCE`` rows at a time into its place: its codes (a byte per weight) and the
        packing's temporaries never exist for the whole matrix (for the 4-bit head of a 0.5B model,
        200 MB of a first load's peak memory)."""
        columns = self.file.tensors[names[0]].columns
        packed = torch.empty((last - first, columns // 2), dtype=torch.uint8)
        scales = torch.empty((columns // INT4_GROUP, last - first, 2), dtype=torch.bfloat16)
        for begin in range(first, last, INT4_ROWS_AT_ONCE):
            end = min(begin + INT4_ROWS_AT_ONCE, last)
            part = self.product(names, head, (begin, end), "int4")
            assert isinstance(part, Int4)
            packed[begin - first:end - first] = part.packed
            scales[:, begin - first:end - first] = part.group_scales()
        return Int4(packed, scales, bias)

    def _bias(self, names: list[str]) -> torch.Tensor | None:
        biases = [name.replace(".weight", ".bias") for name in names]
        if not any(b in self.file.tensors for b in biases):
            return None
        parts = []
        for name, bias in zip(names, biases):
            part = self.floats(bias) if bias in self.file.tensors else torch.zeros(self.file.tensors[name].rows)
            order = self._order(bias)
            parts.append(part if order is None else part[order])
        return torch.cat(parts).to(torch.bfloat16 if self.method != "none" else self.dtype)

    def _slices(self, names: list[str], rows: tuple[int, int] | None = None):
        """(first row in the product being built, raw rows, block type) for each slice of each weight
        of the stacked ``names`` (of their stacked ``rows`` only, if given)."""
        first, last = rows or (0, sum(self.file.tensors[name].rows for name in names))
        offset = 0
        for name in names:
            entry = self.file.tensors[name]
            begin, end = max(first - offset, 0), min(last - offset, entry.rows)
            if begin < end:
                raw, order = self.file.raw(name), self._order(name)
                step = max(1, WEIGHTS_PER_SLICE // entry.columns)
                for start in range(begin, end, step):
                    stop = min(start + step, end)
                    yield offset + start - first, raw[start:stop] if order is None else raw[order[start:stop]], entry.kind
                    if order is None:  # a large table's pages go as it is read, not all at its end
                        self.file.release(name, (start, stop))
                self.file.release(name, (begin, end))
            offset += entry.rows

    def _order(self, name: str) -> torch.Tensor | None:
        """Rows of a llama query or key weight (or bias) in transformers' order: llama.cpp's converter
        interleaves the two halves of each head (row 2i + j of a head was row j * dim / 2 + i)."""
        if self.shape.arch != "llama" or not name.endswith(("attn_q.weight", "attn_k.weight", "attn_q.bias",
                                                            "attn_k.bias")):
            return None
        heads = self.shape.heads if ".attn_q." in name else self.shape.kv_heads
        dim = self.shape.head_dim
        return torch.arange(heads * dim).view(heads, dim // 2, 2).transpose(1, 2).reshape(-1)


def _layout(method: str, kinds: list, head: bool, rows: int, columns: int, head4: bool = False) -> str:
    """How one product is stored: int4, int8 or dense (see the module docstring)."""
    fits_int4 = columns % INT4_GROUP == 0 and rows % 16 == 0
    all_four_bit = all(kind in FOUR_BIT for kind in kinds)
    if method == "none":
        return "dense"
    if fits_int4 and all_four_bit:
        return "int4"
    if head:
        return head_method(method, rows, columns, head4)
    if method == "int4" and fits_int4:
        return "int4"
    return "int8"


class _FileRows:
    """A token table read from the file a few rows at a time, as it is indexed (the quality check):
    the rows ``read_weights`` would hold, quantized by rows as the table would be (``method``: the
    tied head's, else int8)."""

    def __init__(self, file: GgufFile, name: str, layout: str, dtype: torch.dtype) -> None:
        self.file, self.entry, self.layout, self.dtype = file, file.tensors[name], layout, dtype

    def __getitem__(self, ids: torch.Tensor) -> torch.Tensor:
        rows = floats(self.file.raw(self.entry.name)[ids.reshape(-1)], self.entry.kind)
        if self.layout != "dense":
            rows = round_trip(rows, self.layout)
        return rows.to(self.dtype).reshape(*ids.shape, -1)


def _table_layout(file: GgufFile, method: str, head_name: str, head4: bool = False) -> str:
    """The token table's layout as ``read_weights`` holds it: a tied head's own rows where they can be
    read back (``table_rows``), else int8 rows (dense unquantized)."""
    if method == "none":
        return "dense"
    entry = file.tensors["token_embd.weight"]
    head_layout = _layout(method, [entry.kind], True, entry.rows, entry.columns, head4)
    tied_int4 = head_name == "token_embd.weight" and head_layout == "int4"
    return "int4" if tied_int4 and entry.rows % 64 == 0 and blocks_of_64() else "int8"


def _inv_freq(file: GgufFile, shape: Shape) -> torch.Tensor:
    """Rotary frequencies as transformers computes them, with llama.cpp's scalings: linear (a factor)
    and per-frequency factors (Llama 3's, stored as the ``rope_freqs`` tensor)."""
    dim = shape.head_dim
    base = float(file.get("rope.freq_base", 10000.0))
    inv_freq = 1.0 / (base ** (torch.arange(0, dim, 2, dtype=torch.int64).float() / dim))
    if file.get("rope.scaling.type") == "linear":
        inv_freq = inv_freq / float(file.get("rope.scaling.factor", 1.0))
    if "rope_freqs.weight" in file.tensors:
        entry = file.tensors["rope_freqs.weight"]
        inv_freq = inv_freq / floats(file.raw(entry.name), entry.kind).reshape(-1)
    return inv_freq

