"""A GGUF file loaded as it is: its config and tokenizer from the metadata, its weights repacked.

The lean decoder runs the file's own weights (``gguf_weights``), so loading needs neither
transformers' GGUF loader, which dequantizes every tensor to floats (34 s and 4 GB for a 0.5B
Q4_K_M file; a 7B file would not fit in 24 GB), nor a converted copy. The tokenizer is built by
transformers from the metadata alone (``gguf_tokenizer``), without the weights.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from . import gguf_tokenizer
from .gguf_file import GgufFile
from .models import LoadedModel, ModelSource, OnProgress
from .plan import LoadPlan

ROTARY_ARCHS = ("llama", "qwen2", "qwen3")


def gguf_path(source: ModelSource) -> Path:
    return Path(source.location) / (source.gguf_file or "")


def gguf_config(file: GgufFile) -> dict[str, Any]:
    """The model's config as transformers spells it (what ``lean.shape_from_config`` reads). An
    architecture parrot does not read from GGUF gets only its ``model_type``."""
    arch, get, tensors = file.arch, file.get, file.tensors
    if arch not in (*ROTARY_ARCHS, "gpt2") or "token_embd.weight" not in tensors:
        return {"model_type": arch}
    heads, hidden = get("attention.head_count"), get("embedding_length")
    sizes = {"vocab_size": tensors["token_embd.weight"].rows, "tie_word_embeddings": "output.weight" not in tensors}
    if arch == "gpt2":
        # llama.cpp's GPT-2 scales attention by 1/sqrt(head_dim) alone (no per-layer scaling).
        return {"model_type": "gpt2", "n_layer": get("block_count"), "n_embd": hidden, "n_head": heads,
                "n_inner": get("feed_forward_length"), "n_positions": get("context_length"),
                "layer_norm_epsilon": get("attention.layer_norm_epsilon", 1e-5),
                "activation_function": "gelu_new", **sizes}
    head_dim = get("attention.key_length") or hidden // heads
    kv_heads = get("attention.head_count_kv", heads)
    scaling = get("rope.scaling.type", "none")
    if get("rope.dimension_count", head_dim) != head_dim or isinstance(kv_heads, list) or scaling not in ("none", "linear"):
        return {"model_type": arch}  # partial rotary, per-layer heads, YaRN: transformers' forward
    return {"model_type": arch, "num_hidden_layers": get("block_count"), "hidden_size": hidden,
            "intermediate_size": get("feed_forward_length"), "num_attention_heads": heads,
            "num_key_value_heads": kv_heads, "head_dim": head_dim,
            "rms_norm_eps": get("attention.layer_norm_rms_epsilon", 1e-6),
            "max_position_embeddings": get("context_length", 2048), "hidden_act": "silu",
            "attention_bias": "blk.0.attn_q.bias" in tensors, "mlp_bias": "blk.0.ffn_up.bias" in tensors,
            "rope_scaling": {"rope_type": "linear" if scaling == "linear" else "default"}, **sizes}


def end_ids(file: GgufFile) -> set[int]:
    """Tokens that end a reply: end of text, and end of turn where the file names one."""
    vocab = file.tensors["token_embd.weight"].rows
    ids = (file.metadata.get(f"tokenizer.ggml.{key}") for key in ("eos_token_id", "eot_token_id"))
    return {int(i) for i in ids if isinstance(i, int) and 0 <= i < vocab}


def load_gguf(source: ModelSource, plan: LoadPlan, progress: OnProgress | None = None,
              tokenizer_job: gguf_tokenizer.Job | None = None) -> LoadedModel:
    """The lean decoder and tokenizer of a GGUF file, repacked as ``plan`` says; the transformers
    model (dequantized) loads only if something asks for it. ``tokenizer_job``: if already started."""
    import torch

    from ..lean import LeanDecoder, shape_from_config
    from ..lean.threads import thread_count_kept
    from .gguf_weights import read_weights
    from .models import load

    path = gguf_path(source)
    job = tokenizer_job or gguf_tokenizer.Job(path)  # beside the repacking: another core, its own memory
    try:
        file = GgufFile(path)
        shape = shape_from_config(gguf_config(file))
        assert shape is not None, f"{file.arch}: the plan runs the lean decoder only for covered architectures"
        if progress:
            progress(f"repacking {path.name} once into {plan.quantize} weights")
        # One thread: the tokenizer's process has the other core (two threads beside it stall each
        # other at every operation's end: 50 s against 14 s on a busy 2-core machine).
        with thread_count_kept():
            torch.set_num_threads(1)
            weights = read_weights(file, shape, plan.quantize, plan.torch_dtype)
    except BaseException:
        job.cancel()
        raise
    decoder = LeanDecoder(shape, weights, plan.quantize)
    tokenizer = job.result()
    return LoadedModel(plan, None, tokenizer, shape.max_positions, end_ids(file), decoder,
                       model_loader=lambda: load(source, plan.device, plan.dtype, progress, "none", lean=False).model)
