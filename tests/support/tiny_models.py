"""Tiny real transformers models built from a config, with tokenizers trained on the spot.

Shared by the tests and the benchmarks: a codeparrot-shaped GPT-2 (completion, no chat template)
and a Llama with a ChatML template (chat), each a few hundred kilobytes, saved with save_pretrained
so that they load through parrot's real loading path as local folders.
"""

from __future__ import annotations

from pathlib import Path

CORPUS = [
    "def add(a, b):\n    return a + b\n",
    "def greet(name):\n    print(f'Hello, {name}!')\n",
    "class SimpleAdder {\n  add(a, b) {\n    return a + b;\n  }\n}\n",
    "function hello(name) {\n  console.log('Hello ' + name);\n}\nmodule.exports = hello;\n",
    "import os\nimport sys\n\nfor i in range(10):\n    print(i * 2)\n",
    "The quick brown fox jumps over the lazy dog. Hello, world! Tokens are pieces of text.",
    "Überraschung: café, naïve, 東京, emoji 🦜 and tabs\tare text too.",
    "const xs = [1, 2, 3].map((x) => x * 2);\nexport default xs;\n",
] * 20

CHATML = (
    "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\n' + message['content'] }}"
    "{% if not loop.last or message['role'] != 'assistant' or add_generation_prompt %}{{ '<|im_end|>\n' }}{% endif %}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


def train_tokenizer(special_tokens: list[str], vocab_size: int = 400):
    """A byte-level BPE tokenizer (the GPT-2 / codeparrot kind) trained on CORPUS."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=special_tokens,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tokenizer.train_from_iterator(CORPUS, trainer)
    return PreTrainedTokenizerFast(tokenizer_object=tokenizer)


def build_tiny_gpt2(folder: Path, n_positions: int = 128) -> Path:
    """codeparrot-small's architecture scaled down: completion model, EOS from the tokenizer."""
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel

    tokenizer = train_tokenizer(["<|endoftext|>"])
    tokenizer.eos_token = tokenizer.bos_token = tokenizer.unk_token = "<|endoftext|>"
    config = GPT2Config(vocab_size=len(tokenizer), n_positions=n_positions, n_embd=64, n_layer=2, n_head=4,
                        activation_function="gelu_new", scale_attn_by_inverse_layer_idx=True,
                        reorder_and_upcast_attn=True, bos_token_id=tokenizer.eos_token_id,
                        eos_token_id=tokenizer.eos_token_id)
    torch.manual_seed(0)
    GPT2LMHeadModel(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def build_tiny_llama(folder: Path, max_positions: int = 256, hidden: int = 64, layers: int = 2) -> Path:
    """A Llama with a ChatML chat template, like SmolLM2 but tiny (wider and deeper where a test needs
    a prompt that takes seconds to read)."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    tokenizer = train_tokenizer(["<|endoftext|>", "<|im_start|>", "<|im_end|>"])
    tokenizer.eos_token = "<|im_end|>"
    tokenizer.bos_token = tokenizer.unk_token = tokenizer.pad_token = "<|endoftext|>"
    tokenizer.chat_template = CHATML
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=hidden, intermediate_size=2 * hidden,
                         num_hidden_layers=layers,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=max_positions,
                         eos_token_id=tokenizer.eos_token_id, bos_token_id=tokenizer.bos_token_id,
                         pad_token_id=tokenizer.pad_token_id, tie_word_embeddings=True)
    torch.manual_seed(0)
    LlamaForCausalLM(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder



def jitter(model, seed: int = 1) -> None:
    """Larger random weights and random biases and norm weights. A fresh model's tiny weights give
    near-zero attention scores and biases and norms of 0 and 1, which would let a decoder that
    scaled the scores wrongly or forgot a bias or a norm weight pass a comparison."""
    import torch

    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            parameter.add_(torch.randn(parameter.shape, generator=generator) * 0.1)


def jittered(folder: Path) -> Path:
    """Re-save the model in ``folder`` with ``jitter``ed weights."""
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(folder)
    jitter(model)
    model.save_pretrained(folder)
    return folder


def build_tiny_qwen(folder: Path, model_type: str = "qwen2", max_positions: int = 256) -> Path:
    """A Qwen2 (q/k/v biases) or Qwen3 (q/k RMSNorm, explicit head_dim) with a ChatML template."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    tokenizer = train_tokenizer(["<|endoftext|>", "<|im_start|>", "<|im_end|>"])
    tokenizer.eos_token = "<|im_end|>"
    tokenizer.bos_token = tokenizer.unk_token = tokenizer.pad_token = "<|endoftext|>"
    tokenizer.chat_template = CHATML
    extra = {"head_dim": 24} if model_type == "qwen3" else {}
    config = AutoConfig.for_model(model_type, vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128,
                                  num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                                  max_position_embeddings=max_positions, eos_token_id=tokenizer.eos_token_id,
                                  bos_token_id=tokenizer.bos_token_id, pad_token_id=tokenizer.pad_token_id,
                                  tie_word_embeddings=True, **extra)
    torch.manual_seed(0)
    AutoModelForCausalLM.from_config(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder
