"""Tiny GGUF files written with the gguf package, and the transformers model that holds the same weights.

Every matrix is stored in one chosen block type with random codes and scales of a sensible size (so
any block type can be written, including the K types gguf cannot quantize to); the reference model
gets exactly the weights ``gguf.quants.dequantize`` reads from those blocks. Llama's query and key
rows are written the way llama.cpp's converter writes them (``converter_permute``), norms and biases
as float32. The tokenizer is a byte-level BPE trained on the spot, written as llama.cpp's metadata.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from gguf import GGML_QUANT_SIZES, GGUFWriter, quants
from gguf import GGMLQuantizationType as Kind

from tests.support.tiny_models import CHATML, train_tokenizer

# Byte offsets and ranges of each block type's float16 scale fields: weights come out within ~0.3.
SCALES = {
    Kind.Q4_0: [(0, -0.04, 0.04)], Kind.Q4_1: [(0, 0.0, 0.04), (2, -0.3, 0.0)],
    Kind.Q5_0: [(0, -0.02, 0.02)], Kind.Q5_1: [(0, 0.0, 0.02), (2, -0.3, 0.0)],
    Kind.Q8_0: [(0, -0.0025, 0.0025)], Kind.Q4_K: [(0, 0.0, 0.0006), (2, 0.0, 0.004)],
    Kind.Q5_K: [(0, 0.0, 0.0003), (2, 0.0, 0.004)], Kind.Q6_K: [(208, -0.00008, 0.00008)],
}
SIZES = dict(hidden=256, intermediate=512, layers=2, heads=4, kv_heads=2)  # K blocks need rows of 256


def random_blocks(rows: int, columns: int, kind: Kind, rng: np.random.Generator) -> np.ndarray:
    """Raw bytes of a [rows, columns] tensor in ``kind``: random codes, scales from ``SCALES``."""
    block, size = GGML_QUANT_SIZES[kind]
    raw = rng.integers(0, 256, (rows, columns // block * size), dtype=np.uint8)
    blocks = raw.reshape(-1, size)
    for offset, low, high in SCALES[kind]:
        values = rng.uniform(low, high, blocks.shape[0]).astype(np.float16)
        blocks[:, offset:offset + 2] = values.view(np.uint8).reshape(-1, 2)
    return raw


def converter_permute(weights: np.ndarray, heads: int) -> np.ndarray:
    """llama.cpp's ``LlamaModel.permute``: the rows of each head as its rotary kernel pairs them."""
    return weights.reshape(heads, 2, weights.shape[0] // heads // 2, *weights.shape[1:]).swapaxes(1, 2).reshape(weights.shape)


def unpermute(weights: np.ndarray, heads: int) -> np.ndarray:
    """The inverse of ``converter_permute``: back to transformers' row order."""
    return weights.reshape(heads, weights.shape[0] // heads // 2, 2, *weights.shape[1:]).swapaxes(1, 2).reshape(weights.shape)


def write_tiny_gguf(path: Path, model_type: str = "llama", kind: Kind = Kind.Q4_0, seed: int = 0,
                    embedding_kind: Kind | None = None, sizes: dict | None = None,
                    reference: bool = True) -> torch.nn.Module | None:
    """Write a tiny ``model_type`` (llama, qwen2, qwen3, gpt2) with its matrices in ``kind`` to ``path``;
    return the transformers model (float32) holding the same weights (None without ``reference``:
    the model's shapes are then all that is built)."""
    from transformers import AutoConfig, AutoModelForCausalLM

    rng = np.random.default_rng(seed)
    tokenizer = train_tokenizer(["<|endoftext|>", "<|im_start|>", "<|im_end|>"], vocab_size=400)
    sizes = {**SIZES, **(sizes or {})}
    vocab = max(len(tokenizer), sizes.get("vocab", 0))  # a larger table than the tokenizer, as Qwen's files pad it
    h, inter, layers, heads, kv_heads = (sizes[k] for k in ("hidden", "intermediate", "layers", "heads", "kv_heads"))
    if model_type == "gpt2":
        config = AutoConfig.for_model("gpt2", vocab_size=vocab, n_positions=256, n_embd=h, n_layer=layers, n_head=heads,
                                      n_inner=2 * inter, activation_function="gelu_new",
                                      scale_attn_by_inverse_layer_idx=False, eos_token_id=2, bos_token_id=0)
    else:
        config = AutoConfig.for_model(model_type, vocab_size=vocab, hidden_size=h, intermediate_size=inter,
                                      num_hidden_layers=layers, num_attention_heads=heads, num_key_value_heads=kv_heads,
                                      head_dim=h // heads, max_position_embeddings=256, rope_theta=10000.0,
                                      rms_norm_eps=1e-6, tie_word_embeddings=True, eos_token_id=2, bos_token_id=0)
    with torch.device("cpu" if reference else "meta"):
        model = AutoModelForCausalLM.from_config(config).float().eval()
    writer = GGUFWriter(str(path), model_type)
    _metadata(writer, model_type, config, tokenizer)
    for name, parameter in model.named_parameters():
        target = _gguf_name(name, model_type)
        if target is None:  # a head tied to the embedding
            continue
        shape = tuple(parameter.shape)
        conv1d = model_type == "gpt2" and len(shape) == 2 and "wte" not in name and "wpe" not in name
        if len(shape) == 1 or "wpe" in name:  # norms, biases, GPT-2's position table: float32
            data = (1.0 + 0.1 * rng.standard_normal(shape) if "norm" in target and target.endswith("weight")
                    else 0.1 * rng.standard_normal(shape)).astype(np.float32)
            values = data
            if model_type == "llama" and target.endswith(("attn_q.bias", "attn_k.bias")):
                values = unpermute(data, heads if "attn_q" in target else kv_heads)
            writer.add_tensor(target, data)
        else:
            rows, columns = (shape[1], shape[0]) if conv1d else shape
            block_kind = (embedding_kind or kind) if target == "token_embd.weight" else kind
            raw = random_blocks(rows, columns, block_kind, rng)
            writer.add_tensor(target, raw, raw_dtype=block_kind)
            if not reference:
                continue
            values = quants.dequantize(raw, block_kind)
            if model_type == "llama" and target.endswith(("attn_q.weight", "attn_k.weight")):
                values = unpermute(values, heads if "attn_q" in target else kv_heads)
            if conv1d:
                values = values.T
        if reference:
            with torch.no_grad():
                parameter.copy_(torch.from_numpy(np.ascontiguousarray(values)))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    if not reference:
        return None
    model.tie_weights()
    return model


def _metadata(writer: GGUFWriter, model_type: str, config, tokenizer) -> None:
    if model_type == "gpt2":
        writer.add_block_count(config.n_layer)
        writer.add_context_length(config.n_positions)
        writer.add_embedding_length(config.n_embd)
        writer.add_feed_forward_length(config.n_inner)
        writer.add_head_count(config.n_head)
        writer.add_layer_norm_eps(config.layer_norm_epsilon)
    else:
        writer.add_block_count(config.num_hidden_layers)
        writer.add_context_length(config.max_position_embeddings)
        writer.add_embedding_length(config.hidden_size)
        writer.add_feed_forward_length(config.intermediate_size)
        writer.add_head_count(config.num_attention_heads)
        writer.add_head_count_kv(config.num_key_value_heads)
        writer.add_key_length(config.head_dim)
        writer.add_value_length(config.head_dim)
        writer.add_layer_norm_rms_eps(config.rms_norm_eps)
        writer.add_rope_freq_base(10000.0)
    vocab = tokenizer.backend_tokenizer.get_vocab()
    tokens = sorted(vocab, key=vocab.get)
    special = set(tokenizer.all_special_tokens) | {"<|endoftext|>", "<|im_start|>", "<|im_end|>"}
    merges = [" ".join(pair) if isinstance(pair, (list, tuple)) else pair
              for pair in json.loads(tokenizer.backend_tokenizer.to_str())["model"]["merges"]]
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre("gpt2")
    writer.add_token_list(tokens)
    writer.add_token_types([3 if token in special else 1 for token in tokens])
    writer.add_token_merges(merges)
    writer.add_bos_token_id(vocab["<|endoftext|>"])
    writer.add_eos_token_id(vocab["<|im_end|>"])
    writer.add_chat_template(CHATML)


LLAMA_NAMES = {"self_attn.q_proj": "attn_q", "self_attn.k_proj": "attn_k", "self_attn.v_proj": "attn_v",
               "self_attn.o_proj": "attn_output", "mlp.gate_proj": "ffn_gate", "mlp.up_proj": "ffn_up",
               "mlp.down_proj": "ffn_down", "input_layernorm": "attn_norm", "post_attention_layernorm": "ffn_norm",
               "self_attn.q_norm": "attn_q_norm", "self_attn.k_norm": "attn_k_norm"}
GPT2_NAMES = {"ln_1": "attn_norm", "attn.c_attn": "attn_qkv", "attn.c_proj": "attn_output", "ln_2": "ffn_norm",
              "mlp.c_fc": "ffn_up", "mlp.c_proj": "ffn_down"}


def _gguf_name(name: str, model_type: str) -> str | None:
    """llama.cpp's name for a transformers parameter (None: the tied head)."""
    stem, _, leaf = name.rpartition(".")
    if model_type == "gpt2":
        top = {"transformer.wte": "token_embd", "transformer.wpe": "position_embd", "transformer.ln_f": "output_norm"}
        if stem in top:
            return f"{top[stem]}.{leaf}"
        if stem.startswith("transformer.h."):
            index, _, part = stem.removeprefix("transformer.h.").partition(".")
            return f"blk.{index}.{GPT2_NAMES[part]}.{leaf}"
        return None
    top = {"model.embed_tokens": "token_embd", "model.norm": "output_norm"}
    if stem in top:
        return f"{top[stem]}.{leaf}"
    if stem.startswith("model.layers."):
        index, _, part = stem.removeprefix("model.layers.").partition(".")
        return f"blk.{index}.{LLAMA_NAMES[part]}.{leaf}"
    return None
