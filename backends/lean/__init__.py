"""Lean decoders: a short forward pass over fused (optionally quantized) weights for the
architectures small code and chat models use -- Llama (SmolLM2), Qwen2 (Qwen2.5-Coder), Qwen3 and
GPT-2 (codeparrot) -- one structure with per-architecture parts. Models outside them keep
transformers' forward."""

from __future__ import annotations

from typing import Any

from .decoder import PREFILL_CHUNK, KVCache, LeanDecoder
from .shape import Shape, shape_from_config

__all__ = ["PREFILL_CHUNK", "KVCache", "LeanDecoder", "Shape", "shape_from_config", "supported",
           "supported_config"]


def supported_config(config: dict[str, Any]) -> bool:
    """Whether a model with this config (``config.json`` as a dict) runs on the lean decoder."""
    return shape_from_config(config) is not None


def supported(model: Any) -> bool:
    """``supported_config`` for a loaded transformers model (rotary models need their rotary module)."""
    shape = shape_from_config(model.config.to_dict())
    return shape is not None and (shape.positions != "rope" or hasattr(getattr(model, "model", None), "rotary_emb"))
