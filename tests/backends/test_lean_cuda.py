"""The lean decoders on a CUDA GPU in bf16 against transformers on the same GPU (skipped without one)."""

import pytest
import torch

from backends.loading.models import load, resolve
from backends.local.decoding import decode
from backends.settings import GenerationSettings
from tests.support.tiny_models import build_tiny_qwen, jittered

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
GREEDY = GenerationSettings(greedy=True, max_new_tokens=24)


@pytest.mark.parametrize("arch", ["llama", "qwen3", "gpt2"])
def test_lean_decoder_on_cuda_in_bf16_agrees_with_transformers(arch, tiny_llama, tiny_gpt2, tmp_path):
    folder = {"llama": tiny_llama, "gpt2": tiny_gpt2}.get(arch) or jittered(build_tiny_qwen(tmp_path, arch))
    loaded = load(resolve(str(folder)), "cuda", "bfloat16", quantize="auto")
    assert loaded.fast is not None and loaded.fast.device.type == "cuda" and loaded.quantize == "none"
    ids = torch.tensor([loaded.tokenizer("def add(a, b):", add_special_tokens=False).input_ids], device="cuda")
    fast = [s.token_id for s in decode(loaded.fast, ids, GREEDY, eos_ids=set(), window=loaded.window)]
    hf = [s.token_id for s in decode(loaded.model, ids, GREEDY, eos_ids=set(), window=loaded.window)]
    # bf16 rounds differently in the two passes: most of the greedy prefix must agree.
    agree = next((i for i, (a, b) in enumerate(zip(fast, hf)) if a != b), len(fast))
    assert agree >= len(fast) // 2, f"{arch}: only {agree}/{len(fast)} tokens agree"
