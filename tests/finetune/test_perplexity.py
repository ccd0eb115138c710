"""parrot eval ppl: perplexity on the held-out files fine-tuning never trains on."""

from __future__ import annotations

import math
import re

from finetune.data import load_corpus
from finetune.packing import pack
from finetune.scoring import token_logprobs
from tests.support.helpers import run_parrot
from tests.support.js_corpus import js_class, write_package


def test_parrot_eval_ppl_scores_exactly_the_held_out_blocks(tmp_path, tiny_gpt2, tiny_gpt2_backend, parrot_home):
    write_package(tmp_path / "lib", "MIT", {f"f{i}.js": js_class(i) for i in range(80)})
    result = run_parrot(["eval", "ppl", "--data", str(tmp_path), "-m", str(tiny_gpt2), "--block", "32",
                         "--max-blocks", "5"], env={"PARROT_HOME": str(parrot_home)})
    assert result.returncode == 0, result.stderr.decode()
    found = re.search(r"perplexity (\d+\.\d+) .* on (\d+) tokens in (\d+) blocks of 32 from (\d+) held-out files",
                      result.stdout.decode())
    assert found, result.stdout.decode()
    # The same figure by hand: the held-out side of the training split, packed as training packs it.
    loaded = tiny_gpt2_backend.load()
    held_out = [d.text for d in load_corpus(str(tmp_path), eval_share=0.05).eval]
    blocks = pack(held_out, loaded.tokenizer, 32, 5)
    total = sum(token_logprobs(loaded.model, ids, 1).total_logprob for ids in blocks)
    tokens = sum(len(ids) - 1 for ids in blocks)
    assert int(found[2]) == tokens and int(found[3]) == len(blocks) and int(found[4]) == len(held_out) > 0
    assert math.isclose(float(found[1]), math.exp(-total / tokens), rel_tol=1e-3)


def test_parrot_eval_ppl_refuses_a_missing_folder_in_one_line(tmp_path):
    result = run_parrot(["eval", "ppl", "--data", str(tmp_path / "nope")])
    assert result.returncode == 2
    assert result.stderr.decode().count("\n") == 1 and "no such folder" in result.stderr.decode()
