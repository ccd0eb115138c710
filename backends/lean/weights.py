"""Copy a transformers model's weights into the lean decoder's layout, checking every shape.

As nanoGPT's ``from_pretrained`` does, each tensor is asserted against the shape the config promises
before it is copied, so that a checkpoint that does not fit fails at load time with the tensor's name,
not later as a wrong answer. Products that read the same input are stacked into one matrix (q/k/v;
gate/up), and GPT-2's Conv1D weights, stored [in, out], are transposed to [out, in].
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Callable

import torch

from .quantize import Int4, Int8, Lazy, LazyRows, Matmul, head_method, matmul_for, round_trip, table_rows
from .shape import Shape


@dataclass
class Norm:
    weight: torch.Tensor
    bias: torch.Tensor | None = None  # LayerNorm only

    @cached_property
    def doubled(self) -> torch.Tensor:
        """The weight twice over, for ``rms_norm_as_layer_norm`` (made on first use)."""
        return torch.cat((self.weight, self.weight))


@dataclass
class Layer:
    norm1: Norm
    qkv: Matmul
    out: Matmul
    norm2: Norm
    up: Matmul  # gate and up stacked for a gated MLP
    down: Matmul
    q_norm: torch.Tensor | None = None  # Qwen3
    k_norm: torch.Tensor | None = None


@dataclass
class Weights:
    embed: torch.Tensor | Int8 | Int4  # a table, or quantized rows (shared with a tied quantized head)
    positions: torch.Tensor | None  # learned position table (GPT-2)
    norm: Norm
    layers: list[Layer]
    head: Matmul
    inv_freq: torch.Tensor | None  # rotary frequencies (None with learned positions)


PARTS = ("qkv", "out", "up", "down")


def _checked(tensor: torch.Tensor, shape: tuple[int, ...], name: str) -> torch.Tensor:
    assert tuple(tensor.shape) == shape, f"{name}: expected shape {shape}, found {tuple(tensor.shape)}"
    return tensor.detach()


Around = Callable[[], AbstractContextManager[Any]]


class _Reader:
    """Checks and converts tensors for one model: dtype of the computation, quantization method.
    With ``around``, products are built only when called (``quantize.Lazy``), inside ``around()``."""

    def __init__(self, shape: Shape, dtype: torch.dtype, method: str, around: Around | None = None,
                 head4: bool = False) -> None:
        self.shape, self.dtype, self.method, self.around, self.head4 = shape, dtype, method, around, head4

    def tensor(self, tensor: torch.Tensor, shape: tuple[int, ...], name: str) -> torch.Tensor:
        return _checked(tensor, shape, name).to(self.dtype)

    def norm(self, module: Any, size: int, name: str) -> Norm:
        bias = getattr(module, "bias", None) if self.shape.norm == "layer" else None
        return Norm(self.tensor(module.weight, (size,), f"{name}.weight"),
                    None if bias is None else self.tensor(bias, (size,), f"{name}.bias"))

    def matmul(self, parts: list[tuple[torch.Tensor, torch.Tensor | None, tuple[int, int], str]],
               with_bias: bool) -> Matmul:
        """One product for several [out, in] weights that read the same input, stacked by rows."""
        if self.around is not None:
            return Lazy(lambda: _Reader(self.shape, self.dtype, self.method).matmul(parts, with_bias), self.around)
        weights = [self.tensor(w, shape, f"{name}.weight") for w, _, shape, name in parts]
        bias = None
        if with_bias:
            bias = torch.cat([self.tensor(b, (shape[0],), f"{name}.bias") for _, b, shape, name in parts])
        weight = weights[0] if len(weights) == 1 else torch.cat(weights)
        return matmul_for(weight, self.method, bias)


def _linear(module: Any, shape: tuple[int, int], name: str) -> tuple[torch.Tensor, Any, tuple[int, int], str]:
    return module.weight, getattr(module, "bias", None), shape, name


def _conv1d(module: Any, shape: tuple[int, int], name: str) -> tuple[torch.Tensor, Any, tuple[int, int], str]:
    # transformers' Conv1D keeps weights as [in, out]; the products here take [out, in].
    return _checked(module.weight, (shape[1], shape[0]), f"{name}.weight").t().contiguous(), module.bias, shape, name


def read_llama_like(model: Any, shape: Shape, dtype: torch.dtype, method: str, around: Around | None = None,
                    head4: bool = False) -> Weights:
    """Llama, Qwen2 and Qwen3: rotary positions, RMSNorm, gated SiLU MLP. ``head4``: a 4-bit output head
    where ``head_method`` allows it."""
    read = _Reader(shape, dtype, method, around, head4)
    hidden, dim, inter = shape.hidden, shape.head_dim, shape.intermediate
    q_size, kv_size = shape.heads * dim, shape.kv_heads * dim
    inner = model.model
    assert len(inner.layers) == shape.layers, f"expected {shape.layers} layers, found {len(inner.layers)}"
    layers = []
    for i, layer in enumerate(inner.layers):
        attn, mlp, at = layer.self_attn, layer.mlp, f"layers.{i}"
        layers.append(Layer(
            read.norm(layer.input_layernorm, hidden, f"{at}.input_layernorm"),
            read.matmul([_linear(attn.q_proj, (q_size, hidden), f"{at}.q_proj"),
                         _linear(attn.k_proj, (kv_size, hidden), f"{at}.k_proj"),
                         _linear(attn.v_proj, (kv_size, hidden), f"{at}.v_proj")], shape.qkv_bias),
            read.matmul([_linear(attn.o_proj, (hidden, q_size), f"{at}.o_proj")], shape.out_bias),
            read.norm(layer.post_attention_layernorm, hidden, f"{at}.post_attention_layernorm"),
            read.matmul([_linear(mlp.gate_proj, (inter, hidden), f"{at}.gate_proj"),
                         _linear(mlp.up_proj, (inter, hidden), f"{at}.up_proj")], shape.mlp_bias),
            read.matmul([_linear(mlp.down_proj, (hidden, inter), f"{at}.down_proj")], shape.mlp_bias),
            read.tensor(attn.q_norm.weight, (dim,), f"{at}.q_norm") if shape.qk_norm else None,
            read.tensor(attn.k_norm.weight, (dim,), f"{at}.k_norm") if shape.qk_norm else None,
        ))
    embed, head = _embedding_and_head(model, read)
    return Weights(embed, None, read.norm(inner.norm, hidden, "norm"), layers, head,
                   inner.rotary_emb.inv_freq.detach().float().clone())


def read_gpt2(model: Any, shape: Shape, dtype: torch.dtype, method: str, around: Around | None = None,
              head4: bool = False) -> Weights:
    """GPT-2 (codeparrot): learned positions, LayerNorm with biases, GELU MLP, Conv1D weights."""
    read = _Reader(shape, dtype, method, around, head4)
    hidden, inter = shape.hidden, shape.intermediate
    body = model.transformer
    assert len(body.h) == shape.layers, f"expected {shape.layers} layers, found {len(body.h)}"
    layers = []
    for i, block in enumerate(body.h):
        at = f"h.{i}"
        layers.append(Layer(
            read.norm(block.ln_1, hidden, f"{at}.ln_1"),
            read.matmul([_conv1d(block.attn.c_attn, (3 * hidden, hidden), f"{at}.attn.c_attn")], True),
            read.matmul([_conv1d(block.attn.c_proj, (hidden, hidden), f"{at}.attn.c_proj")], True),
            read.norm(block.ln_2, hidden, f"{at}.ln_2"),
            read.matmul([_conv1d(block.mlp.c_fc, (inter, hidden), f"{at}.mlp.c_fc")], True),
            read.matmul([_conv1d(block.mlp.c_proj, (hidden, inter), f"{at}.mlp.c_proj")], True),
        ))
    embed, head = _embedding_and_head(model, read)
    return Weights(embed, read.tensor(body.wpe.weight, (shape.max_positions, hidden), "wpe"),
                   read.norm(body.ln_f, hidden, "ln_f"), layers, head, None)


class QuantizedRows:
    """A token table's rows as quantizing them under ``layout`` gives them back, made as they are
    indexed (the quality check: no quantized copy of the whole table is made)."""

    def __init__(self, table: torch.Tensor, layout: str, dtype: torch.dtype) -> None:
        self.table, self.layout, self.dtype = table, layout, dtype

    def __getitem__(self, ids: torch.Tensor) -> torch.Tensor:
        return round_trip(self.table[ids.reshape(-1)], self.layout).to(self.dtype).reshape(*ids.shape, -1)


def _embedding_and_head(model: Any, read: _Reader) -> tuple[torch.Tensor | Int8 | Int4, Matmul]:
    """The token table and the output head. The head is the largest single matrix; it is quantized
    as ``head_method`` says (8 bits unless a 4-bit head was asked for and fits). Quantized, the table
    is the head's own rows when they are tied (one copy for both), else int8 rows of its own."""
    sizes = (read.shape.vocab, read.shape.hidden)
    table = _checked(model.get_input_embeddings().weight, sizes, "embed_tokens")
    output = _checked(model.get_output_embeddings().weight, sizes, "lm_head")
    method = head_method(read.method, *sizes, read.head4)

    def head(begin: int = 0, end: int = read.shape.vocab) -> Matmul:
        return matmul_for(output[begin:end].to(read.dtype), method)

    tied = output.data_ptr() == table.data_ptr()
    if read.around is not None:
        layout = method if tied else "int8"
        rows = table.to(read.dtype) if method == "none" else QuantizedRows(table, layout, read.dtype)
        return rows, LazyRows(head, read.shape.vocab, read.around)
    built = head()
    if method == "none":
        return table.to(read.dtype), built
    return (built if tied and table_rows(built) else Int8.quantize(table)), built


READERS = {"llama": read_llama_like, "qwen2": read_llama_like, "qwen3": read_llama_like, "gpt2": read_gpt2}
