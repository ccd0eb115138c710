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


def write_result(source, int4: float, int8: float) -> None:
    """A stored check whose int4 and int8 perplexities cost ``int4`` and ``int8`` (0.06 = +6%)."""
    path = quality_file(source)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"reference": "the file's weights", "tokens": 256,
                                "perplexity": {"reference": 10.0, "int4": 10.0 * (1 + int4),
                                               "int8": 10.0 * (1 + int8)}}))


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
