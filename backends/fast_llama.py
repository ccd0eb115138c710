"""A lean forward pass for Llama-architecture models (SmolLM2, Llama), for decoding on a CPU.

transformers' LlamaForCausalLM runs about 45 small tensor operations per layer per token (separate
q/k/v and gate/up products, an RMSNorm spelled out in seven steps, rotary embeddings re-computed,
a mask built, the cache grown by concatenation). At batch size 1 on a small model each operation's
fixed cost, not the arithmetic, sets the pace. This pass reads the same weights (q/k/v and gate/up
fused into one product each, optionally quantized by ``backends.quantize``), uses a preallocated
cache, and needs about 15 operations per layer. Models it does not cover keep transformers' forward.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

from .quantize import Matmul, matmul_for


def supported(model: Any) -> bool:
    """Plain Llama layers only: no biases, no sliding window, a known rotary embedding."""
    config = model.config
    return (getattr(config, "model_type", None) == "llama"
            and not getattr(config, "attention_bias", False) and not getattr(config, "mlp_bias", False)
            and getattr(config, "hidden_act", "silu") == "silu"
            and hasattr(getattr(model, "model", None), "rotary_emb"))


@dataclass
class _Layer:
    norm1: torch.Tensor
    qkv: Matmul
    out: Matmul
    norm2: torch.Tensor
    gate_up: Matmul
    down: Matmul


def _fuse(model_dtype_linears: list[torch.nn.Linear], method: str) -> Matmul:
    """One product for several linears that read the same input (their weights stacked by rows).

    Unquantized, the modules' parameters become views of the stacked weight, so memory is not doubled.
    """
    weight = torch.cat([linear.weight.detach() for linear in model_dtype_linears])
    if method == "none":
        start = 0
        for linear in model_dtype_linears:
            rows = linear.weight.shape[0]
            linear.weight.data = weight[start:start + rows]
            start += rows
    return matmul_for(weight, method)


class FastLlama:
    """Decode-only forward of a transformers Llama model: ``logits = fast(ids, cache, position)``."""

    def __init__(self, model: Any, quantize: str = "none") -> None:
        config = model.config
        self.quantize = quantize
        weight_dtype = model.get_input_embeddings().weight.dtype
        # The packed int8/int4 kernels take bf16 activations; unquantized, compute in the weights' dtype.
        self.dtype = torch.bfloat16 if quantize != "none" else weight_dtype
        self.heads = config.num_attention_heads
        self.kv_heads = config.num_key_value_heads
        self.head_dim = getattr(config, "head_dim", None) or config.hidden_size // self.heads
        self.hidden = config.hidden_size
        self.eps = config.rms_norm_eps
        inner = model.model
        self.embed = inner.embed_tokens.weight.detach()
        self.norm = inner.norm.weight.detach().to(self.dtype)
        self.layers = []
        for layer in inner.layers:
            attn, mlp = layer.self_attn, layer.mlp
            self.layers.append(_Layer(
                layer.input_layernorm.weight.detach().to(self.dtype),
                _fuse([attn.q_proj, attn.k_proj, attn.v_proj], quantize),
                matmul_for(attn.o_proj.weight.detach(), quantize),
                layer.post_attention_layernorm.weight.detach().to(self.dtype),
                _fuse([mlp.gate_proj, mlp.up_proj], quantize),
                matmul_for(mlp.down_proj.weight.detach(), quantize),
            ))
        # The output head is the largest single matrix; GGUF files keep it at 8 bits, so never lower.
        self.lm_head = matmul_for(model.lm_head.weight.detach(), "int8" if quantize != "none" else "none")
        self.rotary = inner.rotary_emb
        self.window = 0
        self.cos = self.sin = torch.empty(0)

    def _rope_table(self, length: int) -> None:
        # transformers' own rotary module computes the table, so every rope scaling variant stays right.
        if length <= self.window:
            return
        positions = torch.arange(length, device=self.embed.device)[None]
        probe = torch.empty(0, dtype=torch.float32, device=self.embed.device)
        cos, sin = self.rotary(probe, positions)
        self.cos, self.sin = cos[0].to(self.dtype)[:, None, :], sin[0].to(self.dtype)[:, None, :]
        self.window = length

    def new_cache(self, length: int) -> "KVCache":
        """An empty cache for ``length`` positions (prompt plus reply)."""
        self._rope_table(length)
        shape = (len(self.layers), self.kv_heads, length, self.head_dim)
        return KVCache(torch.empty(shape, dtype=self.dtype, device=self.embed.device),
                       torch.empty(shape, dtype=self.dtype, device=self.embed.device))

    def __call__(self, ids: torch.Tensor, cache: "KVCache") -> torch.Tensor:
        """Logits (float32, shape [1, vocab]) of the token after ``ids`` ([1, T]), appending to ``cache``."""
        count, start = ids.shape[-1], cache.length
        end = start + count
        heads, kv_heads, dim = self.heads, self.kv_heads, self.head_dim
        group = heads // kv_heads
        x = self.embed[ids[0]].to(self.dtype)
        cos, sin = self.cos[start:end], self.sin[start:end]
        half = dim // 2
        for index, layer in enumerate(self.layers):
            h = F.rms_norm(x, (self.hidden,), layer.norm1, self.eps)
            qkv = layer.qkv(h).view(count, heads + 2 * kv_heads, dim)
            # Rotate queries and keys together: x * cos + rotate_half(x) * sin.
            qk = qkv[:, :heads + kv_heads]
            rotated = torch.cat((-qk[..., half:], qk[..., :half]), dim=-1)
            qk = qk * cos + rotated * sin
            keys, values = cache.keys[index], cache.values[index]
            keys[:, start:end] = qk[:, heads:].transpose(0, 1)
            values[:, start:end] = qkv[:, heads + kv_heads:].transpose(0, 1)
            if count == 1:
                # One new token sees every cached position: group the query heads that share a
                # key/value head into one batch row, so no repeat of keys and no mask is needed.
                q = qk[0, :heads].view(kv_heads, group, dim)
                attn = F.scaled_dot_product_attention(q, keys[:, :end], values[:, :end])
            else:
                q = qk[:, :heads].transpose(0, 1)
                attn = F.scaled_dot_product_attention(
                    q, keys[:, :end].repeat_interleave(group, 0), values[:, :end].repeat_interleave(group, 0),
                    attn_mask=_causal_mask(count, start, x.device))
            x = x + layer.out(attn.reshape(heads, count, dim).transpose(0, 1).reshape(count, heads * dim))
            h = F.rms_norm(x, (self.hidden,), layer.norm2, self.eps)
            gate, up = layer.gate_up(h).chunk(2, dim=-1)
            x = x + layer.down(F.silu(gate) * up)
        cache.length = end
        last = F.rms_norm(x[-1:], (self.hidden,), self.norm, self.eps)
        return self.lm_head(last).float()


def _causal_mask(count: int, start: int, device: torch.device) -> torch.Tensor:
    """Query i (at position start + i) sees keys 0 .. start + i."""
    rows = torch.arange(count, device=device)[:, None] + start
    return torch.arange(start + count, device=device)[None, :] <= rows


@dataclass
class KVCache:
    """Keys and values of every layer, preallocated: [layers, kv_heads, positions, head_dim]."""

    keys: torch.Tensor
    values: torch.Tensor
    length: int = 0
