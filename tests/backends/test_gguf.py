"""GGUF files read as they are: every block type decoded as gguf does, repacked into the lean decoder's
int4/int8 weights within their rounding, every architecture answering as the dequantized model does,
the tokenizer and chat template from the metadata, and no float copy of the model on the way."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from gguf import GGMLQuantizationType as Kind
from gguf import quants

from backends.base import Message
from backends.lean import shape_from_config
from backends.lean.quantize import Int4, Int8
from backends.loading.fast_start import load_for_chat
from backends.loading.gguf_blocks import FOUR_BIT, floats, int4_codes
from backends.loading.gguf_file import GgufFile, gguf_config
from backends.loading.gguf_weights import read_weights
from backends.loading.models import resolve
from backends.local.backend import LocalBackend
from backends.local.decoding import decode
from backends.settings import GenerationSettings
from tests.support.tiny_gguf import converter_permute, random_blocks, unpermute, write_tiny_gguf
from tests.support.tiny_models import CHATML

ROOT = Path(__file__).resolve().parents[2]
KINDS = [Kind.Q4_0, Kind.Q4_1, Kind.Q5_0, Kind.Q5_1, Kind.Q8_0, Kind.Q4_K, Kind.Q5_K, Kind.Q6_K]
ARCHS = ["llama", "qwen2", "qwen3", "gpt2"]
GREEDY = GenerationSettings(greedy=True, max_new_tokens=24)
PROMPTS = ["def add(a, b):\n    return", "Hello, world!", "for i in range(10):"]
TEXT = "def add(a, b):\n    return a + b\n\nfunction hello(name) {\n  console.log('Hello ' + name);\n}\n"


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """A tiny GGUF file per architecture and block type, made on first use, with its reference model."""
    made = {}

    def make(arch: str, kind: Kind):
        if (arch, kind) not in made:
            path = tmp_path_factory.mktemp("gguf") / f"tiny-{arch}-{kind.name}.gguf"
            made[arch, kind] = path, write_tiny_gguf(path, arch, kind)
        return made[arch, kind]

    return make


@pytest.mark.parametrize("kind", KINDS)
def test_every_block_type_decodes_as_gguf_dequantizes_it(kind):
    raw = random_blocks(48, 512, kind, np.random.default_rng(1))
    assert np.array_equal(floats(torch.from_numpy(raw), kind).numpy(), quants.dequantize(raw, kind))


@pytest.mark.parametrize("kind", [k for k in KINDS if k != Kind.Q6_K])
def test_four_bit_codes_keep_4_bit_blocks_exactly_and_round_the_others_within_half_a_step(kind):
    raw = random_blocks(48, 512, kind, np.random.default_rng(2))
    expected = quants.dequantize(raw, kind)
    codes, scale, zero = int4_codes(torch.from_numpy(raw), kind)
    assert codes.max() <= 15
    weights = (codes.float() - 8) * scale.repeat_interleave(32, 1) + zero.repeat_interleave(32, 1)
    error = np.abs(weights.numpy() - expected)
    groups = expected.reshape(48, -1, 32)
    step = ((groups.max(-1) - groups.min(-1)) / 15).repeat(32, 1)  # a 4-bit step of each run of 32
    if kind in FOUR_BIT:
        assert error.max() <= 1e-6 * np.abs(expected).max()
    else:
        assert (error <= 0.5 * step + 1e-6).all()


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("method", ["int4", "int8"])
def test_repacked_products_hold_the_files_weights_within_their_rounding(files, kind, method):
    path, _ = files("qwen2", kind)
    file = GgufFile(path)
    shape = shape_from_config(gguf_config(file))
    layer = read_weights(file, shape, method, torch.bfloat16).layers[0]
    up = layer.up  # gate and up, stacked
    expected = np.concatenate([quants.dequantize(file.raw(f"blk.0.ffn_{n}.weight").numpy(), kind) for n in ("gate", "up")])
    # What the packed kernel computes for the identity is the weight matrix it holds.
    held = up(torch.eye(shape.hidden, dtype=torch.bfloat16)).float().T.numpy()
    error = np.abs(held - expected)
    groups = expected.reshape(expected.shape[0], -1, 32)
    # bf16 scales and zeros (the size of a run's largest weight) and bf16 outputs
    rounding = 2 ** -7 * np.abs(groups).max(-1).repeat(32, 1) + 2 ** -8 * np.abs(expected)
    if isinstance(up, Int4):
        step = ((groups.max(-1) - groups.min(-1)) / 15).repeat(32, 1)
        assert method == "int4" or kind in FOUR_BIT, "int8 keeps only the 4-bit types in 4 bits"
        assert (error <= (0 if kind in FOUR_BIT else 0.5 * step) + rounding).all()
    else:
        assert isinstance(up, Int8) and method == "int8" and kind not in FOUR_BIT
        assert (error <= 0.5 * np.abs(expected).max(1, keepdims=True) / 127 + rounding).all()


def test_llamas_query_and_key_rows_are_put_back_in_transformers_order():
    rows = np.arange(4 * 8 * 3).reshape(4 * 8, 3)  # 4 heads of 8 rows
    assert np.array_equal(unpermute(converter_permute(rows, 4), 4), rows)
    assert not np.array_equal(converter_permute(rows, 4), rows)


@pytest.mark.parametrize("arch", ARCHS)
@pytest.mark.parametrize("kind", [Kind.Q4_0, Kind.Q4_K, Kind.Q5_0, Kind.Q6_K])
def test_full_precision_greedy_tokens_and_probabilities_equal_the_dequantized_model(files, arch, kind):
    path, model = files(arch, kind)
    loaded = load_for_chat(resolve(str(path)), "cpu", "float32", "none")
    for prompt in PROMPTS:
        ids = loaded.tokenizer(prompt, add_special_tokens=False).input_ids
        ours = list(decode(loaded.decoder, torch.tensor([ids]), GREEDY, eos_ids=set(), window=256))
        theirs = list(decode(model, torch.tensor([ids]), GREEDY, eos_ids=set(), window=256))
        assert [s.token_id for s in ours] == [s.token_id for s in theirs]
        for a, b in zip(ours, theirs):
            assert a.prob == pytest.approx(b.prob, rel=1e-3, abs=1e-4)


@pytest.mark.parametrize("arch", ARCHS)
@pytest.mark.parametrize("kind,method", [(Kind.Q4_K, "int4"), (Kind.Q4_1, "int4"), (Kind.Q6_K, "int8"),
                                         (Kind.Q5_0, "int8")])
def test_quantized_next_token_choices_stay_close_to_the_dequantized_model(files, arch, kind, method):
    """Token by token over a fixed text (each position sees the same past, so one close call does
    not change the rest): bf16 activations over a random tiny model's close calls differ a little."""
    path, model = files(arch, kind)
    loaded = load_for_chat(resolve(str(path)), "cpu", "bfloat16", method)
    assert loaded.quantize == method
    ids = torch.tensor([loaded.tokenizer(TEXT, add_special_tokens=False).input_ids])
    with torch.inference_mode():
        ours = loaded.decoder(ids, loaded.decoder.new_cache(ids.shape[1]), every_position=True)
        theirs = model(input_ids=ids).logits[0]
    agree = (ours.argmax(-1) == theirs.argmax(-1)).float().mean().item()
    assert agree >= 0.8, f"{method} picks the reference's next token at only {agree:.0%} of positions"


def test_the_tokenizer_and_chat_template_come_from_the_metadata(files, tiny_llama):
    from transformers import AutoTokenizer

    path, _ = files("qwen2", Kind.Q4_0)
    backend = LocalBackend(str(path), device="cpu")
    loaded = backend.load()
    assert loaded.is_chat and loaded.tokenizer.chat_template == CHATML
    assert loaded.eos_ids == {loaded.tokenizer.convert_tokens_to_ids("<|im_end|>")}
    original = AutoTokenizer.from_pretrained(tiny_llama)  # trained on the same text, the same way
    text = "def add(a, b):\n    return a + b\n"
    assert loaded.tokenizer(text, add_special_tokens=False).input_ids == original(text, add_special_tokens=False).input_ids
    reply = backend.stream([Message("user", "def add(a, b):")], GREEDY.updated(max_new_tokens=8)).finish()
    assert isinstance(reply, str)
    facts = backend.describe()
    assert facts.mode == "chat" and facts.quantize in ("int4", "int8")


def test_a_second_start_maps_the_repacked_copy_and_answers_the_same(files):
    path, _ = files("llama", Kind.Q4_K)
    messages = [Message("user", "def add(a, b):")]
    first = LocalBackend(str(path), device="cpu", quantize="int4")
    expected = first.stream(messages, GREEDY).finish()
    check = first.load().check  # None where an earlier load of the same file measured it already
    assert check is None or check.done.wait(120)
    second = LocalBackend(str(path), device="cpu", quantize="int4")
    loaded = second.load()
    assert type(loaded.tokenizer).__name__ == "LightTokenizer" and loaded.check is None
    assert second.stream(messages, GREEDY).finish() == expected
    assert second.describe() == first.describe()


def test_loading_a_gguf_file_builds_no_float_copy_of_the_model(tmp_path):
    """Peak memory of a fresh process while it loads a 90M-weight Q4_0 file: the repacked weights
    (5 bits a weight, 54 MB) and the slices they were made in, far below what a bfloat16 copy would
    take (173 MB) on its own."""
    path = tmp_path / "mid.gguf"
    write_tiny_gguf(path, "llama", Kind.Q4_0, sizes=dict(hidden=1024, intermediate=2816, layers=8, heads=16,
                                                         kv_heads=4), reference=False)
    weights = sum(e.rows * e.columns for e in GgufFile(path).tensors.values() if len(e.shape) == 2)
    # VmHWM, the peak resident size of this process's memory (ru_maxrss would count the parent's,
    # which an exec'd child inherits).
    script = (
        "import json\n"
        "from backends.loading.fast_start import load_for_chat\n"
        "from backends.loading.models import resolve\n"
        "import tokenizers, torch\n"
        "def peak():\n"
        "    status = open('/proc/self/status').read()\n"
        "    return int(status.split('VmHWM:')[1].split()[0]) / 1024\n"
        "before = peak()\n"
        f"loaded = load_for_chat(resolve({str(path)!r}), 'cpu', 'bfloat16', 'int4')\n"
        "print(json.dumps({'grew_mb': peak() - before}))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    grew = json.loads(done.stdout.strip().splitlines()[-1])["grew_mb"]
    repacked, bf16_copy = 5 / 8 * weights / 2 ** 20, 2 * weights / 2 ** 20
    slack = 64  # MB: a few slices of a million weights, and what the allocator keeps of them
    assert bf16_copy > repacked + slack, "the model is large enough for a float copy to show"
    assert grew < repacked + slack, f"loading grew the peak by {grew:.0f} MB for {repacked:.0f} MB of weights"
