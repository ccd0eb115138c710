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

from .quantize import Matmul, from_tensors, matmul_for

# Rotary variants whose frequencies do not change with the sequence length.
STATIC_ROPE = {"default", "linear", "llama3"}
# Prompt tokens per prefill step: large enough that the products run as matrix-matrix kernels,
# small enough that one chunk's attention scores (heads x chunk x prompt) stay in the megabytes.
PREFILL_CHUNK = 256


def supported_config(config: dict[str, Any]) -> bool:
    """Plain Llama layers only: no biases, SiLU, rotary frequencies fixed at load time."""
    rope = (config.get("rope_parameters") or config.get("rope_scaling") or {}).get("rope_type", "default")
    return (config.get("model_type") == "llama" and not config.get("attention_bias", False)
            and not config.get("mlp_bias", False) and config.get("hidden_act", "silu") == "silu"
            and rope in STATIC_ROPE)


def supported(model: Any) -> bool:
    """``supported_config`` for a loaded transformers model."""
    return supported_config(model.config.to_dict()) and hasattr(getattr(model, "model", None), "rotary_emb")


@dataclass
class _Layer:
    norm1: torch.Tensor
    qkv: Matmul
    out: Matmul
    norm2: torch.Tensor
    gate_up: Matmul
    down: Matmul


def _fuse(linears: list[torch.nn.Linear], method: str) -> Matmul:
    """One product for several linears that read the same input (their weights stacked by rows)."""
    return matmul_for(torch.cat([linear.weight.detach() for linear in linears]), method)


LAYER_PARTS = ("qkv", "out", "gate_up", "down")


class FastLlama:
    """Decode-only forward of a transformers Llama model: ``logits = fast(ids, cache)``."""

    def __init__(self, shape: dict[str, Any], embed: torch.Tensor, norm: torch.Tensor, layers: list[_Layer],
                 lm_head: Matmul, inv_freq: torch.Tensor, quantize: str) -> None:
        self.shape, self.quantize = shape, quantize
        self.dtype = norm.dtype
        self.heads, self.kv_heads = shape["heads"], shape["kv_heads"]
        self.head_dim, self.hidden, self.eps = shape["head_dim"], shape["hidden"], shape["eps"]
        self.embed, self.norm, self.layers, self.lm_head = embed, norm, layers, lm_head
        self.inv_freq = inv_freq
        self.window = 0
        self.cos = self.sin = torch.empty(0)

    @classmethod
    def from_model(cls, model: Any, quantize: str = "none") -> "FastLlama":
        """Read (and quantize) the weights of a transformers Llama model; the model is left as it was."""
        config = model.config
        weight_dtype = model.get_input_embeddings().weight.dtype
        # The packed int8/int4 kernels take bf16 activations; unquantized, compute in the weights' dtype.
        dtype = torch.bfloat16 if quantize != "none" else weight_dtype
        heads = config.num_attention_heads
        shape = {"heads": heads, "kv_heads": config.num_key_value_heads, "hidden": config.hidden_size,
                 "head_dim": getattr(config, "head_dim", None) or config.hidden_size // heads,
                 "eps": float(config.rms_norm_eps), "scaling": float(model.model.rotary_emb.attention_scaling)}
        inner = model.model
        layers = []
        for layer in inner.layers:
            attn, mlp = layer.self_attn, layer.mlp
            layers.append(_Layer(
                layer.input_layernorm.weight.detach().to(dtype),
                _fuse([attn.q_proj, attn.k_proj, attn.v_proj], quantize),
                matmul_for(attn.o_proj.weight, quantize),
                layer.post_attention_layernorm.weight.detach().to(dtype),
                _fuse([mlp.gate_proj, mlp.up_proj], quantize),
                matmul_for(mlp.down_proj.weight, quantize),
            ))
        # The output head is the largest single matrix; GGUF files keep it at 8 bits, so never lower.
        lm_head = matmul_for(model.lm_head.weight, "int8" if quantize != "none" else "none")
        return cls(shape, inner.embed_tokens.weight.detach().to(dtype), inner.norm.weight.detach().to(dtype),
                   layers, lm_head, inner.rotary_emb.inv_freq.detach().float().clone(), quantize)

    def export(self) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
        """Tensors and a JSON-able description, for ``from_export`` (a ready-to-run copy on disk)."""
        tensors = {"embed": self.embed, "norm": self.norm, "inv_freq": self.inv_freq}
        kinds = {"lm_head": self.lm_head.kind}
        for name, tensor in self.lm_head.tensors().items():
            tensors[f"lm_head.{name}"] = tensor
        for index, layer in enumerate(self.layers):
            tensors[f"{index}.norm1"], tensors[f"{index}.norm2"] = layer.norm1, layer.norm2
            for part in LAYER_PARTS:
                matmul = getattr(layer, part)
                kinds[part] = matmul.kind
                for name, tensor in matmul.tensors().items():
                    tensors[f"{index}.{part}.{name}"] = tensor
        # Shared storage (a bf16 model's embedding is its tied output head) cannot be saved twice.
        tensors = {name: tensor.contiguous().clone() for name, tensor in tensors.items()}
        return tensors, {"shape": self.shape, "kinds": kinds, "layers": len(self.layers), "quantize": self.quantize}

    @classmethod
    def from_export(cls, tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> "FastLlama":
        kinds = meta["kinds"]

        def part(prefix: str, kind: str) -> Matmul:
            return from_tensors(kind, {name.removeprefix(prefix): t for name, t in tensors.items()
                                       if name.startswith(prefix)})

        layers = [_Layer(tensors[f"{i}.norm1"], part(f"{i}.qkv.", kinds["qkv"]), part(f"{i}.out.", kinds["out"]),
                         tensors[f"{i}.norm2"], part(f"{i}.gate_up.", kinds["gate_up"]),
                         part(f"{i}.down.", kinds["down"])) for i in range(meta["layers"])]
        return cls(meta["shape"], tensors["embed"], tensors["norm"], layers, part("lm_head.", kinds["lm_head"]),
                   tensors["inv_freq"], meta["quantize"])

    def _rope_table(self, length: int) -> None:
        # As transformers' rotary module computes it, from its own inverse frequencies (already
        # adjusted for linear/llama3 scaling): cos and sin of position * frequency, halves repeated.
        if length <= self.window:
            return
        freqs = torch.arange(length, dtype=torch.float32)[:, None] * self.inv_freq[None, :]
        angles = torch.cat((freqs, freqs), dim=-1)
        scaling = self.shape["scaling"]
        self.cos = (angles.cos() * scaling).to(self.dtype)[:, None, :]
        self.sin = (angles.sin() * scaling).to(self.dtype)[:, None, :]
        self.window = length

    def new_cache(self, length: int) -> "KVCache":
        """An empty cache for ``length`` positions (prompt plus reply)."""
        self._rope_table(length)
        shape = (len(self.layers), self.kv_heads, length, self.head_dim)
        return KVCache(torch.empty(shape, dtype=self.dtype, device=self.embed.device),
                       torch.empty(shape, dtype=self.dtype, device=self.embed.device))

    def __call__(self, ids: torch.Tensor, cache: "KVCache", every_position: bool = False) -> torch.Tensor:
        """Logits (float32, [1, vocab]) of the token after ``ids`` ([1, T]), appending to ``cache``;
        with ``every_position``, the logits after each of the T tokens ([T, vocab], for perplexity).

        A long prompt goes through in chunks of ``PREFILL_CHUNK`` tokens, each attending to the cache
        so far: the attention scores of one chunk (chunk x prompt) are the largest temporary, so memory
        grows linearly with the prompt instead of with its square."""
        outputs = []
        for begin in range(0, ids.shape[-1], PREFILL_CHUNK):
            x = self._forward(ids[:, begin:begin + PREFILL_CHUNK], cache)
            if every_position:
                outputs.append(self._head(x))
        return torch.cat(outputs) if every_position else self._head(x[-1:])

    def _head(self, x: torch.Tensor) -> torch.Tensor:
        return self.lm_head(F.rms_norm(x, (self.hidden,), self.norm, self.eps)).float()

    def _forward(self, ids: torch.Tensor, cache: "KVCache") -> torch.Tensor:
        """Hidden states after the last layer for ``ids`` ([1, T]), appending their keys and values."""
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
                # enable_gqa: query heads share their key/value head without a repeated copy of the cache.
                q = qk[:, :heads].transpose(0, 1)
                attn = F.scaled_dot_product_attention(q, keys[:, :end], values[:, :end],
                                                      attn_mask=_causal_mask(count, start, x.device),
                                                      enable_gqa=group > 1)
            x = x + layer.out(attn.reshape(heads, count, dim).transpose(0, 1).reshape(count, heads * dim))
            h = F.rms_norm(x, (self.hidden,), layer.norm2, self.eps)
            gate, up = layer.gate_up(h).chunk(2, dim=-1)
            x = x + layer.down(F.silu(gate) * up)
        cache.length = end
        return x


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
