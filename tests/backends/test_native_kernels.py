"""parrot's own kernels for quantized products (backends/lean/native.py): the same numbers as torch's
kernels on the same weights (4-bit for any number of rows, 8-bit for one), a build that fails leaving
torch's kernels in place, and the output head: 8-bit, its rows the token table, a GGUF file's 4-bit
head kept."""

import subprocess
import sys
import warnings
from pathlib import Path

import pytest
import torch
from gguf import GGMLQuantizationType as Kind
from gguf import quants
from transformers import AutoConfig, AutoModelForCausalLM

from backends.lean import LeanDecoder, native, shape_from_config
from backends.lean.quantize import INT4_GROUP, Int4, Int8, blocks_of_64, head_method
from backends.loading.gguf_file import GgufFile, gguf_config
from backends.loading.gguf_weights import read_weights
from tests.support.tiny_gguf import write_tiny_gguf

ROOT = Path(__file__).resolve().parents[2]
WHY_NOT = native.unavailable()
needs_kernel = pytest.mark.skipif(WHY_NOT is not None, reason=f"parrot's int4 kernel cannot run here: {WHY_NOT}")


def torch_product(m: Int4, x: torch.Tensor) -> torch.Tensor:
    return torch.ops.aten._weight_int4pack_mm_for_cpu(x, m.packed, INT4_GROUP, m.group_scales())


@needs_kernel
@pytest.mark.parametrize("rows, columns", [(64, 32), (128, 96), (320, 256), (1024, 896)])
@pytest.mark.parametrize("count", [1, 3, 40])  # a token, a batch of replies, a prompt
def test_products_equal_torchs_kernel_on_the_same_weights(rows, columns, count):
    kernel = native.wait_until_built(timeout=120)
    assert kernel is not None, native._state.get("why")
    torch.manual_seed(rows + columns)
    m = Int4.quantize(torch.randn(rows, columns) * 0.05)
    for scale in (1.0, 30.0):  # ordinary activations and large ones (an outlier channel)
        x = (torch.randn(count, columns) * scale).to(torch.bfloat16)
        ours, theirs = m(x).float(), torch_product(m, x).float()
        assert ours.shape == theirs.shape == (count, rows) and m.scales_by_block is not None
        # The same weights, summed in another order: bf16 output rounding apart.
        assert torch.allclose(ours, theirs, rtol=2 ** -7, atol=2 ** -7 * theirs.abs().max().item())
        # ... and the product with the weights the rows give back, computed in float.
        dequantized = m[torch.arange(rows)].float()
        assert torch.allclose(ours, x.float() @ dequantized.T, rtol=2 ** -7, atol=2 ** -6 * theirs.abs().max().item())


@needs_kernel
@pytest.mark.parametrize("rows, columns", [(8, 64), (200, 576), (1024, 896)])
def test_one_row_int8_products_equal_torchs_kernel(rows, columns):
    assert native.wait_until_built(timeout=120) is not None
    torch.manual_seed(rows)
    m = Int8.quantize(torch.randn(rows, columns) * 0.05, bias=torch.randn(rows))
    assert m.kernel is not None
    for scale in (1.0, 30.0):
        x = (torch.randn(1, columns) * scale).to(torch.bfloat16)
        theirs = (torch.ops.aten._weight_int8pack_mm(x, m.q, m.scale) + m.bias).float()
        ours = m(x).float()
        assert torch.allclose(ours, theirs, rtol=2 ** -7, atol=2 ** -7 * theirs.abs().max().item())
    # Rows not in eights, or several rows of x: torch's kernel.
    assert Int8.quantize(torch.randn(12, 64)).kernel is None
    many = torch.randn(3, columns, dtype=torch.bfloat16)
    assert torch.equal(m(many), torch.ops.aten._weight_int8pack_mm(many, m.q, m.scale) + m.bias)


@needs_kernel
def test_the_traced_step_runs_the_kernel_and_a_copy_keeps_its_scales_by_block():
    native.wait_until_built(timeout=120)
    m = Int4.quantize(torch.randn(128, 64))
    x = torch.randn(1, 64, dtype=torch.bfloat16)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the branch on one row is fixed at trace time, as the decoder wants
        graph = torch.jit.trace(lambda t: m(t), (x,), check_trace=False)
    assert "parrot::int4_rows_mm" in str(graph.graph)
    assert torch.equal(graph(x), m(x))
    again = Int4(**m.tensors())
    assert set(m.tensors()) == {"packed", "scales_by_block"} and torch.equal(again(x), m(x))
    # A copy with torch's order of scales (written where the kernel was not built yet) is read as well.
    old = Int4(m.packed, m.group_scales())
    assert torch.equal(old(x), m(x))


@pytest.mark.skipif(not blocks_of_64(), reason="torch packs 4-bit rows its own way here")
def test_int4_rows_read_back_are_the_weights_the_product_uses():
    torch.manual_seed(1)
    m = Int4.quantize(torch.randn(192, 96))
    held = torch_product(m, torch.eye(96, dtype=torch.bfloat16)).float().T  # [192, 96]: the weights
    ids = torch.tensor([[0, 31, 32, 63], [64, 100, 160, 191]])  # both nibbles of several blocks
    rows = m[ids]
    assert rows.shape == (2, 4, 96) and rows.dtype == torch.bfloat16
    assert torch.allclose(rows.float(), held[ids], atol=2 ** -7 * held.abs().max().item())


def test_a_kernel_that_does_not_build_leaves_torchs_kernel_and_is_not_built_again(tmp_path, monkeypatch):
    monkeypatch.setattr(native, "_state", {})
    monkeypatch.setattr(native, "_folder", lambda: tmp_path)
    monkeypatch.setattr(native, "unavailable", lambda: None)
    monkeypatch.setenv("CXX", "false")  # a compiler that always fails
    assert native.wait_until_built(timeout=60) is None
    assert native.failure_path().exists() and "failed" in native._state["why"]
    assert isinstance(native._state["why"], str)
    monkeypatch.setattr(native, "_state", {})  # a later start reads the failure instead of building
    assert native.kernels() is None and "building" not in native._state
    m = Int4.quantize(torch.randn(64, 32))
    x = torch.randn(1, 32, dtype=torch.bfloat16)
    assert m.scales_by_block is None and torch.equal(m(x), torch_product(m, x))


def test_parrot_native_0_keeps_torchs_kernel(monkeypatch):
    monkeypatch.setenv("PARROT_NATIVE", "0")
    assert native.unavailable() == "PARROT_NATIVE=0"


def test_the_setup_step_says_what_it_built_or_why_not():
    done = subprocess.run([sys.executable, "-c", "from backends.lean import native; native.main()"], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    if WHY_NOT is None:
        assert "parrot's CPU kernels: " in done.stdout and native.library_path().exists()
    else:
        assert f"is not built: {WHY_NOT}" in done.stdout


# -- the output head ----------------------------------------------------------------------------

def tiny_tied_model(vocab: int):
    config = AutoConfig.for_model("llama", vocab_size=vocab, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                                  num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=128,
                                  tie_word_embeddings=True)
    torch.manual_seed(0)
    return AutoModelForCausalLM.from_config(config, dtype=torch.bfloat16).eval()


@pytest.mark.parametrize("method", ["int4", "int8"])
def test_the_head_is_8_bit_unless_a_4_bit_head_is_asked_for_under_int4(method):
    decoder = LeanDecoder.from_model(tiny_tied_model(256), method)
    assert isinstance(decoder.weights.head, Int8) and decoder.weights.embed is decoder.weights.head
    assert head_method(method, 256, 64) == "int8" and head_method("none", 256, 64, True) == "none"
    assert head_method("int4", 400, 64, True) == "int8", "rows not in blocks of 64"
    four = LeanDecoder.from_model(tiny_tied_model(256), method, head4=True)
    if method == "int8" or not blocks_of_64():
        assert isinstance(four.weights.head, Int8)
        return
    head = four.weights.head
    assert isinstance(head, Int4) and four.weights.embed is head  # one copy for both
    ids = torch.tensor([[5, 70, 200]])
    reference = tiny_tied_model(256).get_input_embeddings().weight[ids].float()
    groups = reference.view(1, 3, -1, 32)
    step = ((groups.amax(-1) - groups.amin(-1)) / 15).repeat_interleave(32, -1)  # one 4-bit step per group
    assert ((four.weights.embed[ids].float() - reference).abs() <= 0.5 * step + 2 ** -6 * reference.abs().max()).all()
    again = LeanDecoder.from_export(*four.export())
    assert again.weights.head is again.weights.embed
    prompt = torch.tensor([[1, 2, 3, 4]])
    assert torch.equal(four(prompt, four.new_cache(8)), again(prompt, again.new_cache(8)))


@pytest.mark.skipif(not blocks_of_64(), reason="torch packs 4-bit rows its own way here")
@pytest.mark.parametrize("method", ["int4", "int8"])
def test_a_gguf_files_own_4_bit_table_is_the_head_and_the_table_in_one_copy(tmp_path, method):
    path = tmp_path / "padded.gguf"
    write_tiny_gguf(path, "qwen2", Kind.Q4_K, sizes={"vocab": 448}, reference=False)
    file = GgufFile(path)
    shape = shape_from_config(gguf_config(file))
    expected = torch.from_numpy(quants.dequantize(file.raw("token_embd.weight").numpy(), Kind.Q4_K))
    weights = read_weights(file, shape, method, torch.bfloat16)
    assert isinstance(weights.head, Int4) and weights.embed is weights.head
    held = weights.head(torch.eye(shape.hidden, dtype=torch.bfloat16)).float().T
    assert torch.allclose(held, expected, atol=2 ** -6 * expected.abs().max())  # Q4_K's codes, kept
    ids = torch.tensor([[3, 100, 447]])
    assert torch.allclose(weights.embed[ids].float(), held[ids[0]].unsqueeze(0), atol=2 ** -7 * expected.abs().max())
    # The fast-start copy keeps the tie and answers the same.
    decoder = LeanDecoder(shape, weights, method)
    again = LeanDecoder.from_export(*decoder.export())
    assert again.weights.head is again.weights.embed
    prompt = torch.tensor([[1, 2, 3, 4]])
    assert torch.equal(decoder(prompt, decoder.new_cache(8)), again(prompt, again.new_cache(8)))


def test_a_6_bit_table_becomes_an_8_bit_head_or_where_asked_a_4_bit_one(tmp_path):
    path = tmp_path / "six.gguf"
    write_tiny_gguf(path, "qwen2", Kind.Q4_K, embedding_kind=Kind.Q6_K, sizes={"vocab": 448}, reference=False)
    file = GgufFile(path)
    shape = shape_from_config(gguf_config(file))
    weights = read_weights(file, shape, "int4", torch.bfloat16)
    assert isinstance(weights.head, Int8) and weights.embed is weights.head
    if not blocks_of_64():
        return
    four = read_weights(file, shape, "int4", torch.bfloat16, head4=True)
    assert isinstance(four.head, Int4) and four.embed is four.head
    expected = torch.from_numpy(quants.dequantize(file.raw("token_embd.weight").numpy(), Kind.Q6_K))
    groups = expected.view(448, -1, 32)
    step = ((groups.amax(-1) - groups.amin(-1)) / 15).repeat_interleave(32, -1)
    held = four.head(torch.eye(shape.hidden, dtype=torch.bfloat16)).float().T
    assert ((held - expected).abs() <= 0.5 * step + 2 ** -6 * expected.abs().max()).all()


@needs_kernel
def test_torch_export_traces_the_kernels_by_their_output_shapes():
    native.wait_until_built(timeout=120)
    four, eight = Int4.quantize(torch.randn(128, 64)), Int8.quantize(torch.randn(64, 128))
    assert four.kernel is not None and eight.kernel is not None

    class Both(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return eight(four(x))

    x = torch.randn(1, 64, dtype=torch.bfloat16)
    exported = torch.export.export(Both(), (x,))
    text = str(exported.graph)
    assert "parrot.int4_rows_mm" in text and "parrot.int8_row_mm" in text
    assert torch.equal(exported.module()(x), Both()(x))


def test_a_damaged_library_leaves_torchs_kernels_and_says_why(tmp_path, monkeypatch):
    monkeypatch.setattr(native, "_state", {})
    monkeypatch.setattr(native, "_folder", lambda: tmp_path)
    monkeypatch.setattr(native, "unavailable", lambda: None)
    native.library_path().parent.mkdir(parents=True)
    native.library_path().write_bytes(b"not a shared library")
    assert native.kernels() is None and "does not load" in native._state["why"]
    m = Int8.quantize(torch.randn(64, 64))
    x = torch.randn(1, 64, dtype=torch.bfloat16)
    assert m.kernel is None and torch.equal(m(x), torch.ops.aten._weight_int8pack_mm(x, m.q, m.scale))
