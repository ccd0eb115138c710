"""Speed options, correctness side: dtype and quantization choices, the lean decoder's output,
quantized agreement, the fast-start copy, and what /settings shows. No timings here (see bench/)."""

import io

import pytest
import torch

from backends.base import Message
from backends.errors import ModelUnavailable, UsageError
from backends.loading.models import ModelSource, load, resolve
from backends.loading.plan import choose_quantize, dtype_name
from backends.local.backend import LocalBackend
from backends.local.decoding import decode
from backends.settings import GenerationSettings

GREEDY = GenerationSettings(greedy=True, max_new_tokens=40)
SMOLLM2 = ModelSource("smollm2", "gguf", "/nowhere", "model.gguf")
OTHER = ModelSource("my-model", "folder", "/nowhere")


def greedy_ids(decoder, loaded, text="def add(a, b):", settings=GREEDY):
    ids = torch.tensor([loaded.tokenizer(text, add_special_tokens=False).input_ids])
    return [s.token_id for s in decode(decoder, ids, settings, eos_ids=set(), window=loaded.window)]


@pytest.mark.parametrize("flags, expected", [
    ({"avx2", "avx512f", "avx512_bf16"}, "bfloat16"),  # Zen 4, Cooper Lake and later Xeons
    ({"avx2", "amx_bf16", "amx_tile"}, "bfloat16"),  # Sapphire Rapids
    ({"fp", "asimd", "bf16"}, "bfloat16"),  # Arm v8.6+
    ({"avx2", "avx512f"}, "float32"),  # bf16 would be emulated: slower than fp32
    (set(), "float32"),
])
def test_auto_dtype_is_bf16_only_where_the_cpu_computes_it(flags, expected):
    assert dtype_name("auto", "cpu", flags) == expected


def test_an_explicit_dtype_wins_and_a_wrong_one_says_what_is_allowed():
    assert dtype_name("fp32", "cpu", {"avx512_bf16"}) == "float32"
    assert dtype_name("bf16", "cpu", set()) == "bfloat16"
    with pytest.raises(UsageError, match="float32"):
        dtype_name("int3", "cpu", set())


def test_auto_quantizes_every_covered_model_in_bf16_on_the_cpu_int4_until_checked():
    assert choose_quantize("auto", SMOLLM2, "cpu", "bfloat16", fast_ok=True) == "int4"
    assert choose_quantize("auto", OTHER, "cpu", "bfloat16", fast_ok=True) == "int4"
    assert choose_quantize("auto", SMOLLM2, "cpu", "float32", fast_ok=True) == "none"
    assert choose_quantize("auto", SMOLLM2, "cuda", "bfloat16", fast_ok=False) == "none"
    assert choose_quantize("int4", OTHER, "cpu", "float32", fast_ok=True) == "int4"  # asked for: allowed
    with pytest.raises(ModelUnavailable, match="--quantize none"):
        choose_quantize("int8", OTHER, "cpu", "bfloat16", fast_ok=False)
    with pytest.raises(UsageError, match="int8"):
        choose_quantize("int2", OTHER, "cpu", "bfloat16", fast_ok=True)


def test_the_lean_decoder_writes_what_transformers_writes(tiny_llama):
    loaded = load(resolve(str(tiny_llama)), "cpu", "float32", quantize="none")
    assert loaded.fast is not None
    long = GREEDY.updated(max_new_tokens=60)
    assert greedy_ids(loaded.fast, loaded, settings=long) == greedy_ids(loaded.model, loaded, settings=long)
    # Probabilities too: the lean decoder's logits match transformers' at every step.
    ids = torch.tensor([loaded.tokenizer("Hello, world!", add_special_tokens=False).input_ids])
    fast_steps = list(decode(loaded.fast, ids, GREEDY, eos_ids=set(), window=loaded.window))
    hf_steps = list(decode(loaded.model, ids, GREEDY, eos_ids=set(), window=loaded.window))
    for fast, hf in zip(fast_steps, hf_steps):
        assert fast.prob == pytest.approx(hf.prob, rel=1e-3, abs=1e-5)


@pytest.mark.parametrize("method", ["int8", "int4"])
def test_quantized_greedy_output_stays_close_to_full_precision(tiny_llama, method):
    full = load(resolve(str(tiny_llama)), "cpu", "float32", quantize="none")
    quantized = load(resolve(str(tiny_llama)), "cpu", "bfloat16", quantize=method)
    assert quantized.quantize == method
    prompts = ["def add(a, b):", "Hello, world!", "The quick brown fox", "for i in range(10):"]
    agree = total = 0
    for prompt in prompts:
        a = greedy_ids(full.fast, full, prompt, GREEDY.updated(max_new_tokens=16))
        b = greedy_ids(quantized.fast, quantized, prompt, GREEDY.updated(max_new_tokens=16))
        agree += next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), len(a))
        total += len(a)
    # A random tiny model's top tokens are close calls, so a little drift is expected; most must agree.
    assert agree / total >= 0.5, f"{method}: only {agree}/{total} tokens agree before the first difference"


def test_describe_and_settings_show_the_active_dtype_and_quantization(tiny_llama):
    from rich.console import Console

    from repl.commands.core import settings_table

    backend = LocalBackend(str(tiny_llama), device="cpu", dtype="bfloat16", quantize="int8")
    assert backend.describe().quantize is None  # nothing is claimed before the model loads
    backend.load()
    facts = backend.describe()
    assert facts.dtype == "bfloat16" and facts.quantize == "int8"
    out = io.StringIO()
    Console(file=out, width=200).print(settings_table(GenerationSettings(), facts))
    assert "quantize" in out.getvalue() and "int8" in out.getvalue() and "bfloat16" in out.getvalue()


def test_a_second_start_reads_the_ready_copy_and_answers_the_same(tiny_llama):
    messages = [Message("system", "Be brief."), Message("user", "def add(a, b):")]
    first = LocalBackend(str(tiny_llama), device="cpu", dtype="bfloat16", quantize="int8")
    first_text = first.stream(messages, GREEDY).finish()
    check = first.load().check  # its perplexity figure, which the second start reads (None: measured before)
    assert check is None or check.done.wait(120)
    second = LocalBackend(str(tiny_llama), device="cpu", dtype="bfloat16", quantize="int8")
    loaded = second.load()
    assert type(loaded.tokenizer).__name__ == "LightTokenizer", "the second start uses the ready copy"
    assert second.stream(messages, GREEDY).finish() == first_text
    assert second.describe() == first.describe()
    # The light tokenizer renders and encodes exactly as the transformers tokenizer does.
    full = first.load().tokenizer
    chat = [m.to_dict() for m in messages]
    for kwargs in ({"add_generation_prompt": True}, {"continue_final_message": True}):
        expected = full.apply_chat_template(chat, tokenize=False, **kwargs)
        assert loaded.tokenizer.apply_chat_template(chat, tokenize=False, **kwargs) == expected
        assert (loaded.tokenizer(expected, add_special_tokens=False).input_ids
                == full(expected, add_special_tokens=False).input_ids)
    # Anything beyond chatting falls through to the full model and tokenizer, loaded on demand.
    assert loaded.tokenizer.convert_ids_to_tokens([1]) == full.convert_ids_to_tokens([1])
    assert loaded.model.config.model_type == "llama"
