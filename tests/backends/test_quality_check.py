"""What quantization costs a model: measured once in the background while the decoder rests, stored
beside the fast-start copies, shown on the load line, in describe() (the status bar) and /settings,
and used by ``--quantize auto`` to pick int4, int8 or full precision."""

import io
import json
import re
import threading
import time

import pytest
from gguf import GGMLQuantizationType as Kind

from backends.base import Message
from backends.lean.activity import QUIET, Activity
from backends.lean.quantize import Int4, Int8, blocks_of_64
from backends.loading.models import resolve
from backends.loading.plan import plan_load
from backends.loading.quality import quality_file
from backends.local.backend import LocalBackend
from backends.settings import GenerationSettings
from tests.support.tiny_gguf import write_tiny_gguf

FIGURE = r"int4 weights, perplexity [+-]\d+\.\d%"


@pytest.fixture(scope="module")
def gguf(tmp_path_factory):
    path = tmp_path_factory.mktemp("quality") / "tiny.gguf"
    write_tiny_gguf(path, "qwen2", Kind.Q4_K, reference=False)
    return path


def loaded_backend(path, lines):
    backend = LocalBackend(str(path), device="cpu", dtype="bfloat16", progress=lines.append)
    return backend, backend.load()


def test_the_first_load_says_the_cost_is_being_measured_then_gives_it_and_stores_it(gguf):
    lines: list[str] = []
    backend, loaded = loaded_backend(gguf, lines)
    assert lines[-1] == "tiny.gguf: int4 weights, perplexity cost measured when idle"
    assert loaded.check.done.wait(120)
    assert lines[-1] == "tiny.gguf: int4 weights, perplexity cost measured when idle", \
        "said as the next reply starts, never into a prompt being typed"
    backend.stream([Message("user", "def add(a, b):")], GenerationSettings(greedy=True, max_new_tokens=2)).finish()
    assert re.fullmatch(f"tiny.gguf: {FIGURE}", lines[-1])
    facts = backend.describe()
    assert re.fullmatch(FIGURE, facts.weights)
    assert "against the file's weights" in facts.perplexity and "int8" in facts.perplexity
    stored = json.loads(quality_file(loaded.source).read_text())
    assert stored["reference"] == "the file's weights" and set(stored["perplexity"]) == {"reference", "int4", "int8"}

    again: list[str] = []
    second, loaded_again = loaded_backend(gguf, again)
    assert loaded_again.check is None, "measured once, then read"
    assert again[-1] == lines[-1] and second.describe().weights == facts.weights


def test_settings_show_the_layout_and_what_each_costs(gguf):
    from rich.console import Console

    from repl.commands.core import settings_table

    lines: list[str] = []
    backend, loaded = loaded_backend(gguf, lines)
    loaded.check is None or loaded.check.done.wait(120)
    out = io.StringIO()
    Console(file=out, width=250).print(settings_table(GenerationSettings(), backend.describe()))
    shown = out.getvalue()
    assert re.search(r"weights\s+" + FIGURE, shown) and re.search(r"perplexity\s+int4 [+-]\d", shown)


def write_result(source, int4: float, int8: float, head4: float | None = None) -> None:
    """A stored check whose int4 and int8 perplexities cost ``int4`` and ``int8`` (0.06 = +6%), and int4
    with a 4-bit head ``head4`` where given."""
    path = quality_file(source)
    path.parent.mkdir(parents=True, exist_ok=True)
    perplexity = {"reference": 10.0, "int4": 10.0 * (1 + int4), "int8": 10.0 * (1 + int8)}
    if head4 is not None:
        perplexity["int4-head"] = 10.0 * (1 + head4)
    path.write_text(json.dumps({"reference": "the file's weights", "tokens": 256, "perplexity": perplexity}))


def test_auto_takes_int8_where_int4_costs_too_much_and_says_why(gguf):
    source = resolve(str(gguf))
    write_result(source, int4=0.06, int8=0.002)
    assert plan_load(source, "cpu", "bfloat16").quantize == "int8"
    assert plan_load(source, "cpu", "bfloat16", "int4").quantize == "int4", "asked for, it is what runs"
    lines: list[str] = []
    backend, loaded = loaded_backend(gguf, lines)
    assert loaded.quantize == "int8" and loaded.check is None
    assert lines[-1] == "tiny.gguf: int8 weights, perplexity +0.2% (int4 would cost +6.0%)"
    assert backend.describe().weights == "int8 weights, perplexity +0.2% (int4 would cost +6.0%)"


def test_auto_keeps_full_precision_where_both_cost_too_much(gguf):
    source = resolve(str(gguf))
    write_result(source, int4=0.08, int8=0.03)
    assert plan_load(source, "cpu", "bfloat16").quantize == "none"
    lines: list[str] = []
    backend, _ = loaded_backend(gguf, lines)
    assert backend.describe().weights == "bf16 weights (int4 would cost +8.0%)"


def test_a_model_from_a_folder_is_checked_against_full_precision(tiny_llama):
    lines: list[str] = []
    backend, loaded = loaded_backend(tiny_llama, lines)
    assert loaded.quantize == "int4" and loaded.check.done.wait(120)
    assert "against full precision" in backend.describe().perplexity


def test_a_reply_waits_for_one_piece_of_background_work_at_most_and_the_work_for_the_reply():
    activity, pieces, order = Activity(), [], []

    def background():
        for index in range(3):
            with activity.spare():
                pieces.append((index, time.monotonic()))
                time.sleep(0.1)

    worker = threading.Thread(target=background)
    with activity.busy():  # a reply is decoding: no piece starts
        worker.start()
        time.sleep(0.3)
        assert pieces == []
        order.append(("reply ended", time.monotonic()))
    worker.join(5)
    assert len(pieces) == 3
    assert pieces[0][1] - order[0][1] >= QUIET * 0.9, "work waits until the decoder has rested"


def test_a_chat_during_the_check_still_answers(gguf, tmp_path):
    path = tmp_path / "other.gguf"
    write_tiny_gguf(path, "llama", Kind.Q4_0, seed=3, reference=False)
    lines: list[str] = []
    backend, loaded = loaded_backend(path, lines)
    reply = backend.stream([Message("user", "def add(a, b):")], GenerationSettings(greedy=True, max_new_tokens=8))
    assert isinstance(reply.finish(), str)
    assert loaded.check.done.wait(120) and re.fullmatch(FIGURE, backend.describe().weights)


@pytest.fixture(scope="module")
def head_sized_gguf(tmp_path_factory):
    """A tiny file whose 6-bit token table (tied head) has rows in blocks of 64: a 4-bit head fits it."""
    path = tmp_path_factory.mktemp("head4") / "tiny-head.gguf"
    write_tiny_gguf(path, "qwen2", Kind.Q4_K, embedding_kind=Kind.Q6_K, sizes={"vocab": 448}, reference=False)
    return path


@pytest.mark.skipif(not blocks_of_64(), reason="torch packs 4-bit rows its own way here")
def test_the_check_measures_a_4_bit_head_apart_and_auto_takes_it_only_where_it_passes(head_sized_gguf):
    lines: list[str] = []
    backend, loaded = loaded_backend(head_sized_gguf, lines)
    assert not loaded.plan.head4 and isinstance(loaded.fast.weights.head, Int8), "8-bit until measured"
    assert loaded.check.done.wait(120)
    measured = json.loads(quality_file(loaded.source).read_text())["perplexity"]
    assert set(measured) == {"reference", "int4", "int8", "int4-head"}
    assert "int4 with a 4-bit head" in backend.describe().perplexity

    source = resolve(str(head_sized_gguf))
    write_result(source, int4=0.01, int8=0.001, head4=0.02)
    plan = plan_load(source, "cpu", "bfloat16")
    assert plan.quantize == "int4" and plan.head4 and "-head4" in plan.fast_start.name
    assert not plan_load(source, "cpu", "bfloat16", "int4").head4, "asked for int4: the 8-bit head"
    again: list[str] = []
    second, loaded_again = loaded_backend(head_sized_gguf, again)
    head = loaded_again.fast.weights.head
    assert isinstance(head, Int4) and loaded_again.fast.weights.embed is head
    assert again[-1] == "tiny-head.gguf: int4 weights and head, perplexity +2.0%"
    assert second.stream([Message("user", "hi")], GenerationSettings(greedy=True, max_new_tokens=3)).finish()

    write_result(source, int4=0.01, int8=0.001, head4=0.05)  # the head costs too much: 8 bits
    assert not plan_load(source, "cpu", "bfloat16").head4
    _, third = loaded_backend(head_sized_gguf, [])
    assert isinstance(third.fast.weights.head, Int8)
