"""Loading is decided once: one plan (device, dtype, quantization, lean or not, fast-start folder) that the
full load and the fast start both follow, and one cache key for every cached copy of a model."""

from __future__ import annotations

import dataclasses
import os

import pytest

from backends.errors import ModelUnavailable, UsageError
from backends.lean.native import kernels
from backends.loading import fast_start
from backends.loading import models as loading
from backends.loading.cache import cache_dir
from backends.loading.plan import LoadPlan, plan_load


def test_the_plan_is_frozen_and_says_everything_before_loading(tiny_llama):
    plan = plan_load(loading.resolve(str(tiny_llama)), device="cpu", dtype="bf16", quantize="int8")
    assert (plan.device, plan.dtype, plan.quantize, plan.lean) == ("cpu", "bfloat16", "int8", True)
    assert plan.fast_start is not None and plan.fast_start.parent == cache_dir(plan.source)
    # Where parrot's int4 kernel runs, a copy of its own (its 4-bit scales in the kernel's order).
    order = "-by-block" if kernels() is not None else ""
    assert plan.fast_start.name.endswith(f"bfloat16-int8{order}")
    assert plan_load(plan.source, device="cpu", dtype="bf16", quantize="none").fast_start.name.endswith("bfloat16-none")
    with pytest.raises(dataclasses.FrozenInstanceError):
        plan.dtype = "float32"  # type: ignore[misc]


def test_the_full_load_and_the_fast_start_follow_the_same_plan(tiny_llama):
    source = loading.resolve(str(tiny_llama))
    planned = plan_load(source, device="cpu", dtype="float32", quantize="none")
    first = fast_start.load_for_chat(source, device="cpu", dtype="float32", quantize="none")
    assert isinstance(first.plan, LoadPlan) and first.plan == planned
    assert (planned.fast_start / "meta.json").exists(), "the full load saved its decoder where the plan says"
    second = fast_start.load_for_chat(source, device="cpu", dtype="float32", quantize="none")
    assert type(second.tokenizer).__name__ == "LightTokenizer" and second.plan == planned
    assert (second.device, second.dtype, second.quantize) == ("cpu", "float32", "none")


def test_no_lean_decoder_means_no_fast_start_and_no_quantization(tiny_llama):
    source = loading.resolve(str(tiny_llama))
    plan = plan_load(source, device="cpu", dtype="float32", lean=False)
    assert plan.lean is False and plan.fast_start is None
    loaded = loading.load(source, device="cpu", dtype="float32", lean=False)
    assert loaded.fast is None and loaded.plan == plan


def test_a_model_without_a_known_config_is_planned_again_once_loaded(tiny_llama, tmp_path):
    source = loading.ModelSource("org/model", "hub", "org/model")
    plan = plan_load(source, device="cpu", dtype="float32")
    assert plan.lean is False and plan.fast_start is None and plan.quantize == "none"
    config = (tiny_llama / "config.json").read_text(encoding="utf-8")
    import json

    known = plan_load(source, device="cpu", dtype="float32", config=json.loads(config))
    assert known.lean is True and known.fast_start is None, "Hub ids have no parrot cache folder"


def test_bad_requests_fail_in_the_plan():
    source = loading.ModelSource("org/model", "hub", "org/model")
    with pytest.raises(UsageError, match="unknown dtype"):
        plan_load(source, device="cpu", dtype="int3")
    with pytest.raises(UsageError, match="unknown quantization"):
        plan_load(source, device="cpu", quantize="int2")
    with pytest.raises(UsageError, match="unknown device"):
        plan_load(source, device="tpu")


def test_the_cache_key_changes_when_the_weights_do(tiny_llama, tmp_path):
    import shutil

    folder = tmp_path / "model"
    shutil.copytree(tiny_llama, folder)
    source = loading.resolve(str(folder))
    before = cache_dir(source)
    assert before == cache_dir(loading.resolve(str(folder)))  # stable for the same files
    weights = next(folder.glob("*.safetensors"))
    stat = weights.stat()
    os.utime(weights, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    assert cache_dir(source) != before
    assert cache_dir(loading.ModelSource("org/model", "hub", "org/model")) is None


def test_explicit_quantization_of_an_unsupported_model_is_refused_by_the_plan(tiny_llama, tmp_path):
    source = loading.resolve(str(tiny_llama))
    with pytest.raises(ModelUnavailable, match="needs a Llama"):
        plan_load(source, device="cpu", quantize="int8", config={"model_type": "bert"})
