"""Packing against the course notebook's pad-to-max-length pipeline, on the same JavaScript files.

    python bench/finetune.py                       # smollm2 on /usr/lib/node_modules, 4 timed steps each
    python bench/finetune.py --model tiny --steps 20

The notebook tokenizes each file alone, truncates it to 1,024 tokens, pads it to 1,024 with
pad = eos and lets DataCollatorForLanguageModeling build the labels (every pad, and so every EOS,
becomes -100). parrot packs the same files into 1,024-token blocks separated by EOS. Both train the
same model with the same optimizer, batch 1, steps interleaved so that both see the same machine
load. "Useful" tokens are positions whose label is learned: not padding.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]


def load_model(name: str, length: int):
    """A preset/folder through parrot's loading, or ``tiny``: a small GPT-2 built from a config."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if name == "tiny":
        from tests.support.tiny_models import build_tiny_gpt2

        folder = build_tiny_gpt2(Path(tempfile.mkdtemp(prefix="tiny-gpt2-")), n_positions=length)
        return AutoModelForCausalLM.from_pretrained(folder), AutoTokenizer.from_pretrained(folder)
    from backends.loading.models import load, resolve

    loaded = load(resolve(name), device="cpu", dtype="float32", progress=lambda t: print(t, file=sys.stderr))
    return loaded.model, loaded.tokenizer


def notebook_batches(texts: list[str], tokenizer, length: int):
    """The notebook: one file per row, truncated and padded to ``length``, pad = eos, MLM collator."""
    from transformers import DataCollatorForLanguageModeling

    tokenizer.pad_token = tokenizer.eos_token
    collator = DataCollatorForLanguageModeling(tokenizer, mlm=False)
    encoded = tokenizer(texts, truncation=True, max_length=length, padding="max_length")
    for i in range(len(texts)):
        yield collator([{"input_ids": encoded["input_ids"][i], "attention_mask": encoded["attention_mask"][i]}])


def packed_batches(texts: list[str], tokenizer, length: int):
    from finetune.packing import PackedDataset, pack

    dataset = PackedDataset(pack(texts, tokenizer, length))
    for i in range(len(dataset)):
        yield {k: v.unsqueeze(0) for k, v in dataset[i].items()}


def useful(batch) -> int:
    # The model shifts labels by one: the first position of each row is never a target.
    return int((batch["labels"][:, 1:] != -100).sum())


def corpus_figures(texts: list[str], tokenizer, length: int) -> dict:
    """Exact, over every training file: what each pipeline would train on in one pass."""
    lengths = [len(ids) for ids in tokenizer(texts, add_special_tokens=False).input_ids]
    total = sum(lengths)
    kept_notebook = sum(min(n, length) for n in lengths)
    return {"files": len(texts), "tokens": total, "median_file_tokens": statistics.median(lengths),
            "notebook_steps": len(texts), "notebook_useful": kept_notebook,
            "notebook_truncated": total - kept_notebook,
            "packed_steps": (total + len(texts)) // length, "packed_useful": (total + len(texts)) // length * length}


def time_steps(model, batches: dict, steps: int) -> dict:
    """Interleave the pipelines' steps; return seconds and useful tokens per pipeline."""
    import torch

    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-5)
    model.train()
    results = {name: {"seconds": [], "useful": [], "positions": []} for name in batches}
    iterators = {name: iter(it) for name, it in batches.items()}
    for step in range(steps + 1):  # step 0 warms up allocators and caches, and is not counted
        for name, iterator in iterators.items():
            batch = next(iterator)
            started = time.perf_counter()
            loss = model(**batch).loss
            loss.backward()
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            if step:
                results[name]["seconds"].append(time.perf_counter() - started)
                results[name]["useful"].append(useful(batch))
                results[name]["positions"].append(batch["input_ids"].numel())
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="smollm2", help="preset, folder, or tiny")
    parser.add_argument("--data", default="/usr/lib/node_modules", help="folder of .js files, or hub")
    parser.add_argument("--steps", type=int, default=4, help="timed steps per pipeline")
    parser.add_argument("--length", type=int, default=1024, help="max_length / block size")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    args = parser.parse_args(argv)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    import torch

    from finetune.data import load_corpus

    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model, tokenizer = load_model(args.model, args.length)
    corpus = load_corpus(args.data)
    texts = [d.text for d in corpus.train]
    random.Random(0).shuffle(texts)  # the timed steps then see files of every size, as training does
    figures = corpus_figures(texts, tokenizer, args.length)
    timed = time_steps(model, {"notebook (pad to 1024, pad=eos)": notebook_batches(texts, tokenizer, args.length),
                               "parrot (packed, EOS learned)": packed_batches(texts, tokenizer, args.length)},
                       args.steps)

    print(f"\n{args.model} on {args.data}: {figures['files']} training files, {figures['tokens']:,} tokens "
          f"(median file {figures['median_file_tokens']:.0f} tokens); sequence length {args.length}; "
          f"{args.steps} timed steps each, batch 1, fp32, torch threads {torch.get_num_threads()}\n")
    header = f"{'pipeline':<34}{'useful tok/step':>16}{'padding':>9}{'s/step':>8}{'tok/s':>8}{'useful tok/s':>14}"
    print(header)
    print("-" * len(header))
    rows = {}
    for name, r in timed.items():
        per_step = statistics.median(r["seconds"])
        useful_step = statistics.mean(r["useful"])
        positions = statistics.mean(r["positions"])
        rows[name] = (useful_step, per_step, positions / per_step, useful_step / per_step)
        print(f"{name:<34}{useful_step:>16,.0f}{1 - useful_step / positions:>9.0%}{per_step:>8.2f}"
              f"{positions / per_step:>8,.0f}{useful_step / per_step:>14,.0f}")
    (nb, pk) = rows.values()
    print(f"{'ratio parrot / notebook':<34}{pk[0] / nb[0]:>15.2f}x{'':>9}{pk[1] / nb[1]:>7.2f}x"
          f"{pk[2] / nb[2]:>7.2f}x{pk[3] / nb[3]:>13.2f}x")
    nb_rate = figures["notebook_useful"] / max(1, figures["notebook_steps"])
    pk_rate = figures["packed_useful"] / max(1, figures["packed_steps"])
    print(f"\none pass over all {figures['files']} files: notebook {figures['notebook_steps']:,} steps, learns "
          f"{figures['notebook_useful']:,} tokens ({figures['notebook_useful'] / figures['tokens']:.0%}; "
          f"{figures['notebook_truncated']:,} cut off by truncation; no EOS) = {nb_rate:,.0f} per step; "
          f"parrot {figures['packed_steps']:,} steps, learns {figures['packed_useful']:,} tokens "
          f"= {pk_rate:,.0f} per step ({pk_rate / nb_rate:.2f}x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
