"""Does a faster configuration still write the same text? Agreement and perplexity against fp32.

    .venv/bin/python bench/quality.py [--tokens 64] [--home DIR]

The reference is transformers' own float32 forward. For each parrot configuration: greedy replies
to fixed chat prompts (tokens identical before the first difference, and the share of positions
with the same token), and perplexity on held-out text the model did not write (Python's own
textwrap.py source and argparse's documentation, first 512 tokens each). The check that picks a
model's layout at load time (``backends.loading.quality``) measures the perplexity part alone, once
per model; this bench adds the greedy agreement, on the embedded model.
"""

from __future__ import annotations

import argparse
import argparse as argparse_module
import inspect
import math
import os
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PROMPTS = [
    "Write a Python function that adds two numbers.",
    "Write a Python function that checks whether a number is prime.",
    "What is a list comprehension in Python? Give an example.",
    "Explain what a hash table is in two sentences.",
    "Write a JavaScript function that reverses a string.",
    "How do I read a file line by line in Python?",
]
CONFIGS = {"parrot fp32": ("float32", "none"), "parrot bf16": ("bfloat16", "none"),
           "parrot int8": ("bfloat16", "int8"), "parrot int4": ("bfloat16", "int4")}


def held_out(tokenizer, length: int = 512) -> list[list[int]]:
    texts = [inspect.getsource(textwrap), argparse_module.__doc__ or ""]
    return [tokenizer(t, add_special_tokens=False).input_ids[:length] for t in texts]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tokens", type=int, default=64)
    parser.add_argument("--home", help="PARROT_HOME for the converted-model cache (default: the user's)")
    args = parser.parse_args()
    if args.home:
        os.environ["PARROT_HOME"] = args.home
    import torch

    from backends.loading.models import load, resolve
    from backends.local.decoding import decode
    from backends.settings import GenerationSettings

    settings = GenerationSettings(greedy=True, max_new_tokens=args.tokens)
    reference = load(resolve("smollm2"), "cpu", "float32", quantize="none", lean=False)
    tokenizer = reference.tokenizer
    prompts = [tokenizer(tokenizer.apply_chat_template([{"role": "user", "content": p}], tokenize=False,
                                                       add_generation_prompt=True),
                         add_special_tokens=False).input_ids for p in PROMPTS]
    texts = held_out(tokenizer)

    def greedy(decoder) -> list[list[int]]:
        return [[s.token_id for s in decode(decoder, torch.tensor([ids]), settings, eos_ids=reference.eos_ids,
                                            window=reference.window)] for ids in prompts]

    @torch.inference_mode()
    def perplexity(logits_of) -> float:
        nll = count = 0.0
        for ids in texts:
            logits = logits_of(torch.tensor([ids]))[:-1]
            nll += torch.nn.functional.cross_entropy(logits, torch.tensor(ids[1:]), reduction="sum").item()
            count += len(ids) - 1
        return math.exp(nll / count)

    expected = greedy(reference.model)
    rows = [("transformers fp32 (reference)", 1.0, 1.0,
             perplexity(lambda ids: reference.model(input_ids=ids).logits[0].float()))]
    for name, (dtype, method) in CONFIGS.items():
        loaded = load(resolve("smollm2"), "cpu", dtype, quantize=method)
        got = greedy(loaded.fast)
        prefix = same = total = 0
        for a, b in zip(expected, got):
            prefix += next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))
            same += sum(x == y for x, y in zip(a, b))
            total += max(len(a), len(b))
        ppl = perplexity(lambda ids: loaded.fast(ids, loaded.fast.new_cache(ids.shape[-1]), every_position=True))
        rows.append((name, prefix / total, same / total, ppl))
        del loaded
    print(f"\nSmolLM2-135M-Instruct: greedy replies to {len(PROMPTS)} chat prompts ({args.tokens} tokens at most) "
          f"against transformers fp32; perplexity on {sum(map(len, texts))} held-out tokens")
    header = f"{'configuration':<32} {'same prefix':>11} {'same tokens':>11} {'perplexity':>10}"
    print(header)
    print("-" * len(header))
    for name, prefix, same, ppl in rows:
        print(f"{name:<32} {prefix:>11.0%} {same:>11.0%} {ppl:>10.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
