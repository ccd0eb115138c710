"""The shape of a decoder-only model as the lean decoder needs it, read from a transformers config.

One typed record per model (as nanoGPT's ``GPTConfig``): the sizes, and the few switches in which
the supported architectures differ -- RMSNorm or LayerNorm, rotary or learned positions, a gated
SiLU or a GELU MLP, which products carry biases, RMSNorm on queries and keys (Qwen3), attention
scaled by the inverse layer index (GPT-2 / codeparrot). A config outside these is not supported and
keeps transformers' own forward.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

# Rotary variants whose frequencies do not change with the sequence length.
STATIC_ROPE = {"default", "linear", "llama3"}
# GELU with the tanh approximation, under the names transformers gives it.
TANH_GELU = {"gelu_new", "gelu_pytorch_tanh"}


@dataclass(frozen=True)
class Shape:
    """Sizes and per-architecture switches of one model."""

    arch: str
    layers: int
    hidden: int
    heads: int
    kv_heads: int
    head_dim: int
    intermediate: int
    vocab: int
    max_positions: int
    eps: float
    norm: str = "rms"  # "rms" (Llama, Qwen) or "layer" (GPT-2, with biases)
    positions: str = "rope"  # "rope" or "learned" (GPT-2's wpe table)
    mlp: str = "gated_silu"  # "gated_silu": down(silu(gate) * up); "gelu": down(gelu_tanh(up))
    qkv_bias: bool = False
    out_bias: bool = False
    mlp_bias: bool = False
    qk_norm: bool = False  # Qwen3: RMSNorm over each head of the queries and keys, before rotation
    scaled: bool = True  # scores divided by sqrt(head_dim)
    inverse_layer_scale: bool = False  # GPT-2's scale_attn_by_inverse_layer_idx: also by (layer + 1)
    rope_scaling: float = 1.0  # the rotary module's attention_scaling (1 unless long-context scaling)

    def attention_scale(self, layer: int) -> float:
        scale = self.head_dim ** -0.5 if self.scaled else 1.0
        return scale / (layer + 1) if self.inverse_layer_scale else scale


def _rope_type(config: dict[str, Any]) -> str:
    return (config.get("rope_parameters") or config.get("rope_scaling") or {}).get("rope_type", "default")


def _full_attention_only(config: dict[str, Any]) -> bool:
    layer_types = config.get("layer_types") or []
    return not config.get("use_sliding_window", False) and all(t == "full_attention" for t in layer_types)


def _llama_like(config: dict[str, Any]) -> Shape | None:
    arch = config["model_type"]
    if config.get("hidden_act", "silu") != "silu" or _rope_type(config) not in STATIC_ROPE:
        return None
    if not _full_attention_only(config):
        return None
    heads = config["num_attention_heads"]
    attention_bias = bool(config.get("attention_bias", False))
    return Shape(
        arch=arch, layers=config["num_hidden_layers"], hidden=config["hidden_size"], heads=heads,
        kv_heads=config.get("num_key_value_heads") or heads,
        head_dim=config.get("head_dim") or config["hidden_size"] // heads,
        intermediate=config["intermediate_size"], vocab=config["vocab_size"],
        max_positions=config.get("max_position_embeddings", 2048), eps=float(config["rms_norm_eps"]),
        # Qwen2 always has biases on q, k and v and none on o; Llama and Qwen3 follow attention_bias.
        qkv_bias=True if arch == "qwen2" else attention_bias,
        out_bias=False if arch == "qwen2" else attention_bias,
        mlp_bias=bool(config.get("mlp_bias", False)) if arch == "llama" else False,
        qk_norm=arch == "qwen3")


def _gpt2(config: dict[str, Any]) -> Shape | None:
    if config.get("activation_function", "gelu_new") not in TANH_GELU or config.get("add_cross_attention"):
        return None
    hidden, heads = config["n_embd"], config["n_head"]
    # reorder_and_upcast_attn only changes how transformers rounds the scores in half precision;
    # the lean decoder's attention accumulates in float32 anyway.
    return Shape(
        arch="gpt2", layers=config["n_layer"], hidden=hidden, heads=heads, kv_heads=heads, head_dim=hidden // heads,
        intermediate=config.get("n_inner") or 4 * hidden, vocab=config["vocab_size"],
        max_positions=config["n_positions"], eps=float(config.get("layer_norm_epsilon", 1e-5)), norm="layer",
        positions="learned", mlp="gelu", qkv_bias=True, out_bias=True, mlp_bias=True,
        scaled=bool(config.get("scale_attn_weights", True)),
        inverse_layer_scale=bool(config.get("scale_attn_by_inverse_layer_idx", False)))


ARCHITECTURES: dict[str, Callable[[dict[str, Any]], Shape | None]] = {
    "llama": _llama_like, "qwen2": _llama_like, "qwen3": _llama_like, "gpt2": _gpt2}


def shape_from_config(config: dict[str, Any]) -> Shape | None:
    """The shape of a model from its config (``config.json`` or ``config.to_dict()``), or None when
    the lean decoder does not cover it."""
    reader = ARCHITECTURES.get(config.get("model_type", ""))
    try:
        return reader(config) if reader else None
    except KeyError:  # a config missing a size it needs: not ours to guess
        return None
