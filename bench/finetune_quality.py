"""Does a fine-tuned JavaScript model stop, and does it loop? Base vs fine-tuned, in one run.

    python bench/finetune_quality.py                          # smollm2 vs js on /usr/lib/node_modules
    python bench/finetune_quality.py --base smollm2 --tuned js --data DIR --max-new 128

Both models continue the same fixed JavaScript prompts as raw text (completion mode, as the app
runs ``js``), greedy and sampled (the chat's default sampling settings, a fixed seed per prompt),
prompts interleaved between the models; ``greedy-1.0`` is greedy without the repetition penalty that
completion mode adds. Per model and mode it reports:

- repeated 4-grams: the share of the continuation's token 4-grams that occurred earlier in it
  (0 for text that never repeats itself; a loop drives it towards 1);
- loops: how often the continuation went round in a loop (``backends.loop_guard``'s rule: 48 tokens
  in a row repeat those 1 to 64 before them), which the app's loop guard then ends (``cut``);
  ``greedy-1.0`` and ``no-guard`` decode without the guard, to show how often it is needed;
- ends: how often the continuation ended before the token limit, by EOS, by closing the top-level
  block (the app's rule for completion models) or by the loop guard, and by EOS alone;
- held-out perplexity on packed blocks of the held-out files (the split the training run uses);
- EOS rank at the end of held-out files: where EOS ranks among next-token candidates right after a
  file's last token (1 = the model's first choice; a model that learned to stop ranks it high).
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT)]

from backends.local.loop_guard import ends_in_loop  # noqa: E402  (after the path is set)

PROMPTS = [
    "function add(a, b) {",
    "const fs = require('fs');\n\nfunction readJson(path) {",
    "class Stack {\n  constructor() {",
    "module.exports = function debounce(fn, wait) {",
    "async function fetchAll(urls) {",
    "'use strict';\n\nconst path = require('path');\n\nfunction resolveHome(file) {",
    "function isPlainObject(value) {",
    "const { promisify } = require('util');\n\nconst sleep = (ms) => {",
]


def repeated_4grams(ids: list[int]) -> float:
    grams = [tuple(ids[i:i + 4]) for i in range(len(ids) - 3)]
    return (len(grams) - len(set(grams))) / len(grams) if grams else 0.0


def continue_code(loaded, prompt: str, settings, seed: int, guard: bool = True) -> dict:
    """One continuation as the app produces it for a completion model: EOS or the block's end stop it."""
    import torch

    from backends.local.decoding import decode, make_generator
    from backends.local.stop_rule import StopRule
    from backends.local.text_stream import Detokenizer

    ids = loaded.tokenizer(prompt, add_special_tokens=False).input_ids
    stop, detok = StopRule.for_reply(settings, loaded.eos_ids, loaded.window, completion_prompt=prompt), \
        Detokenizer(loaded.tokenizer)
    if not guard:
        stop.guard = None
    out, ending, started = [], "limit", time.perf_counter()
    generator = make_generator(None if settings.is_greedy else seed, torch.device(loaded.device))
    for step in decode(loaded.decoder, torch.tensor([ids], device=loaded.device), settings, stop=stop,
                       generator=generator):
        if stop.is_end(step.token_id):
            ending = "eos"
            break
        out.append(step.token_id)
        stop.text(detok.push(step.token_id))
        if stop.ended:
            ending = "block"
            break
    if stop.reason == "loop":
        ending = "loop"
    return {"ids": out, "ending": ending, "seconds": time.perf_counter() - started}


def held_out(loaded, corpus, block_size: int, blocks: int, files: int) -> tuple[float, list[int]]:
    """Perplexity on packed held-out blocks, and EOS's rank after each of the first held-out files."""
    import torch

    from finetune.packing import pack

    model = loaded.model
    losses = []
    with torch.no_grad():
        for ids in pack((d.text for d in corpus.eval), loaded.tokenizer, block_size, blocks):
            batch = torch.tensor([ids])
            losses.append(float(model(input_ids=batch, labels=batch).loss))
        eos = next(iter(loaded.eos_ids))
        ranks = []
        for doc in corpus.eval[:files]:
            ids = loaded.tokenizer(doc.text, add_special_tokens=False).input_ids[-(block_size - 1):]
            logits = model(input_ids=torch.tensor([ids])).logits[0, -1]
            ranks.append(int((logits > logits[eos]).sum()) + 1)
    return math.exp(statistics.mean(losses)), ranks


def main() -> int:
    from backends.settings import GenerationSettings

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base", default="smollm2")
    parser.add_argument("--tuned", default="js")
    parser.add_argument("--data", default="/usr/lib/node_modules")
    parser.add_argument("--max-new", type=int, default=GenerationSettings().max_new_tokens,
                        help="the token limit of each continuation (default: the app's)")
    parser.add_argument("--block", type=int, default=256, help="tokens per held-out block")
    parser.add_argument("--eval-blocks", type=int, default=32)
    parser.add_argument("--eos-files", type=int, default=40)
    parser.add_argument("--prompts", type=int, default=len(PROMPTS), help="use the first N prompts")
    parser.add_argument("--show", action="store_true", help="print each continuation")
    parser.add_argument("--no-guard", action="store_true", help="add greedy without the loop guard")
    args = parser.parse_args()

    from backends.loading.models import load, resolve
    from finetune.data import load_corpus

    models = {label: load(resolve(name), device="cpu", dtype="float32")
              for label, name in (("base", args.base), ("tuned", args.tuned))}
    for loaded in models.values():
        loaded.tokenizer.chat_template = None  # both continue raw JavaScript
    # As the app decodes a completion model (its repetition penalty), and greedy without it for reference.
    modes = {"greedy": GenerationSettings(greedy=True, max_new_tokens=args.max_new).for_mode("completion"),
             "sampled": GenerationSettings(max_new_tokens=args.max_new).for_mode("completion"),
             "greedy-1.0": GenerationSettings(greedy=True, max_new_tokens=args.max_new, repetition_penalty=1.0)}
    unguarded = {"greedy-1.0"}
    if args.no_guard:
        modes["no-guard"] = modes["greedy"]
        unguarded.add("no-guard")
    results: dict[tuple[str, str], list[dict]] = {}
    prompts = PROMPTS[: args.prompts]
    for number, prompt in enumerate(prompts):  # interleaved: both models see the same machine load
        for mode, settings in modes.items():
            for label, loaded in models.items():
                result = continue_code(loaded, prompt, settings, seed=1000 + number, guard=mode not in unguarded)
                results.setdefault((label, mode), []).append(result)
                if args.show:
                    text = loaded.tokenizer.decode(result["ids"])
                    print(f"--- {label} {mode} [{result['ending']}]\n{prompt}{text}\n", file=sys.stderr)

    corpus = load_corpus(args.data, eval_share=0.05)
    quality = {label: held_out(loaded, corpus, args.block, args.eval_blocks, args.eos_files)
               for label, loaded in models.items()}

    print(f"{len(prompts)} prompts, limit {args.max_new} tokens; held-out: {len(corpus.eval)} files, "
          f"{args.eval_blocks} blocks of {args.block}")
    print(f"{'model':<24}{'mode':<12}{'rep. 4-grams':>13}{'loops':>7}{'cut':>6}{'ends':>7}{'by EOS':>8}{'tokens':>8}{'tok/s':>7}")
    names = {"base": args.base, "tuned": args.tuned}
    for (label, mode), runs in results.items():
        ended = sum(r["ending"] != "limit" for r in runs) / len(runs)
        by_eos = sum(r["ending"] == "eos" for r in runs) / len(runs)
        tokens = statistics.mean(len(r["ids"]) for r in runs)
        speed = sum(len(r["ids"]) for r in runs) / sum(r["seconds"] for r in runs)
        rep = statistics.mean(repeated_4grams(r["ids"]) for r in runs)
        loops = sum(r["ending"] == "loop" or ends_in_loop(r["ids"]) for r in runs) / len(runs)
        cut = sum(r["ending"] == "loop" for r in runs) / len(runs)
        print(f"{names[label]:<24}{mode:<12}{rep:>13.1%}{loops:>7.0%}{cut:>6.0%}{ended:>7.0%}{by_eos:>8.0%}{tokens:>8.0f}{speed:>7.1f}")
    print(f"\n{'model':<24}{'held-out ppl':>13}{'EOS rank median':>17}{'EOS top-1':>11}{'EOS top-5':>11}")
    for label, (perplexity, ranks) in quality.items():
        print(f"{names[label]:<24}{perplexity:>13.2f}{statistics.median(ranks):>17.0f}"
              f"{sum(r == 1 for r in ranks) / len(ranks):>11.0%}{sum(r <= 5 for r in ranks) / len(ranks):>11.0%}")
    base_ppl, tuned_ppl = quality["base"][0], quality["tuned"][0]
    print(f"\nperplexity ratio tuned/base: {tuned_ppl / base_ppl:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
