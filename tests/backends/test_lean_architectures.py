"""The lean decoder against transformers, per architecture, on tiny random models: greedy tokens,
step probabilities, perplexity, the fast-start copy, and the weight-shape checks."""

import math

import pytest
import torch

from backends.base import Message
from backends.lean import LeanDecoder, supported_config
from backends.lean.decoder import rms_norm_as_layer_norm
from backends.loading.models import load, resolve
from backends.local.backend import LocalBackend
from backends.local.decoding import decode
from backends.settings import GenerationSettings
from tests.support.tiny_models import build_tiny_gpt2, build_tiny_llama, build_tiny_qwen, jittered

GREEDY = GenerationSettings(greedy=True, max_new_tokens=40)
TEXT = "def add(a, b):\n    return a + b\n\nfunction hello(name) {\n  console.log('Hello ' + name);\n}\n"
BUILDERS = {
    "llama": build_tiny_llama,
    "qwen2": lambda folder: build_tiny_qwen(folder, "qwen2"),
    "qwen3": lambda folder: build_tiny_qwen(folder, "qwen3"),
    "gpt2": build_tiny_gpt2,  # codeparrot-small's config, scaled down
}


@pytest.fixture(scope="module", params=list(BUILDERS))
def folder(request, tmp_path_factory):
    return jittered(BUILDERS[request.param](tmp_path_factory.mktemp(f"tiny-{request.param}")))


@pytest.fixture(scope="module")
def loaded(folder):
    return load(resolve(str(folder)), "cpu", "float32", quantize="none")


def prompt(loaded, text="def add(a, b):"):
    return torch.tensor([loaded.tokenizer(text, add_special_tokens=False).input_ids])


def steps(decoder, loaded, text="def add(a, b):"):
    return list(decode(decoder, prompt(loaded, text), GREEDY, eos_ids=set(), window=loaded.window))


def test_each_architecture_gets_a_lean_decoder(loaded, folder):
    assert isinstance(loaded.fast, LeanDecoder)
    assert loaded.fast.shape.arch == loaded.model.config.model_type


@pytest.mark.parametrize("text", ["def add(a, b):", "Hello, world!", "for i in range(10):"])
def test_fp32_greedy_tokens_and_probabilities_equal_transformers(loaded, text):
    fast, hf = steps(loaded.fast, loaded, text), steps(loaded.model, loaded, text)
    assert [s.token_id for s in fast] == [s.token_id for s in hf]
    for a, b in zip(fast, hf):
        assert a.prob == pytest.approx(b.prob, rel=1e-3, abs=1e-5)


@torch.inference_mode()
def test_perplexity_equals_transformers(loaded):
    ids = prompt(loaded, TEXT)
    targets = ids[0, 1:]

    def ppl(logits):
        return math.exp(torch.nn.functional.cross_entropy(logits[:-1], targets).item())

    fast = loaded.fast(ids, loaded.fast.new_cache(ids.shape[-1]), every_position=True)
    reference = loaded.model(input_ids=ids).logits[0].float()
    torch.testing.assert_close(fast, reference, rtol=1e-4, atol=1e-4)
    assert ppl(fast) == pytest.approx(ppl(reference), rel=1e-5)


def test_a_second_start_runs_from_the_fast_start_copy_and_writes_the_same(folder):
    messages = [Message("user", "def add(a, b):")]
    first = LocalBackend(str(folder), device="cpu", dtype="float32", quantize="none")
    expected = first.stream(messages, GREEDY).finish()
    second = LocalBackend(str(folder), device="cpu", dtype="float32", quantize="none")
    assert type(second.load().tokenizer).__name__ == "LightTokenizer", "the second start uses the ready copy"
    assert second.load().fast.shape == first.load().fast.shape
    assert second.stream(messages, GREEDY).finish() == expected


def test_a_weight_of_the_wrong_shape_is_refused_by_name(tiny_llama):
    model = load(resolve(str(tiny_llama)), "cpu", "float32", quantize="none", lean=False).model
    layer = model.model.layers[1].self_attn
    layer.k_proj.weight = torch.nn.Parameter(layer.k_proj.weight[:-1].clone())
    with pytest.raises(AssertionError, match=r"layers\.1\.k_proj\.weight: expected shape"):
        LeanDecoder.from_model(model)


@pytest.mark.parametrize("config", [
    {"model_type": "gpt2", "n_embd": 64, "n_head": 4, "n_layer": 2, "n_positions": 64, "vocab_size": 100,
     "activation_function": "relu"},
    {"model_type": "qwen2", "hidden_size": 64, "num_attention_heads": 4, "num_hidden_layers": 2,
     "intermediate_size": 128, "vocab_size": 100, "rms_norm_eps": 1e-6, "use_sliding_window": True},
    {"model_type": "llama", "hidden_size": 64, "num_attention_heads": 4, "num_hidden_layers": 2,
     "intermediate_size": 128, "vocab_size": 100, "rms_norm_eps": 1e-6, "rope_scaling": {"rope_type": "dynamic"}},
    {"model_type": "mamba"},
])
def test_architectures_it_does_not_cover_keep_transformers_forward(config):
    assert not supported_config(config)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_rms_norm_as_layer_norm_equals_rms_norm(dtype):
    generator = torch.Generator().manual_seed(0)
    x = (torch.randn(7, 576, generator=generator) * 3 + 1).to(dtype)  # a row mean LayerNorm alone would take away
    weight = (torch.rand(576, generator=generator) + 0.5).to(dtype)
    fused = rms_norm_as_layer_norm(x, torch.cat((weight, weight)), 1e-5, 576)
    plain = torch.nn.functional.rms_norm(x.float(), (576,), weight.float(), 1e-5)
    assert fused.dtype == dtype and fused.is_contiguous()
    # float32 agrees to rounding; bf16 rounds once where F.rms_norm rounds twice: within one bf16 step.
    tolerance = {"rtol": 1e-5, "atol": 1e-5} if dtype == torch.float32 else {"rtol": 2 ** -7, "atol": 2 ** -7}
    torch.testing.assert_close(fused.float(), plain, **tolerance)
