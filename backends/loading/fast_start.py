"""A ready-to-run copy of a chat model's lean decoder, so that a chat starts in about a second.

From the first load's result (``loading.load``), the lean decoder's tensors -- already fused,
quantized and in the dtype that will run -- are saved with ``torch.save`` beside a copy of the
tokenizer. Later starts map that file (``torch.load(mmap=True)``: no copy, each tensor aligned for
the packed kernels, a tensor shared by two parts stored once; no per-layer modules to build, no
re-quantizing) and tokenize with the ``tokenizers`` library alone; transformers, which takes longer
to import than torch's first use, loads only when something asks for the full model or tokenizer.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any, Callable

from .. import paths
from .light_tokenizer import LightTokenizer, tokenizer_info
from .models import LoadedModel, ModelSource, OnProgress
from .plan import LoadPlan, plan_load


def save(loaded: LoadedModel, target: Path) -> None:
    """Write the lean decoder and tokenizer of ``loaded`` (atomic: a killed run leaves nothing)."""
    import torch

    tensors, meta = loaded.fast.export()
    tokenizer = loaded.tokenizer
    meta.update(window=loaded.window, eos_ids=sorted(loaded.eos_ids), dtype=loaded.dtype,
                tokenizer=tokenizer_info(tokenizer))
    with paths.atomic_directory(target) as tmp:
        torch.save(tensors, tmp / "decoder.pt")
        tokenizer.backend_tokenizer.save(str(tmp / "tokenizer.json"))
        (tmp / "meta.json").write_text(json.dumps(meta), encoding="utf-8")


def load_ready(plan: LoadPlan, full: Callable[[], LoadedModel], full_tokenizer: Callable[[], Any]) -> LoadedModel:
    """A LoadedModel from the ready copy ``plan.fast_start``; ``full()`` loads the transformers model,
    and ``full_tokenizer()`` the transformers tokenizer, if someone needs them."""
    import torch

    from ..lean import LeanDecoder

    folder = plan.fast_start
    meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
    fast = LeanDecoder.from_export(torch.load(folder / "decoder.pt", mmap=True, weights_only=True), meta)
    tokenizer = LightTokenizer(folder / "tokenizer.json", meta["tokenizer"], full_tokenizer)
    return LoadedModel(plan, None, tokenizer, meta["window"], set(meta["eos_ids"]), fast,
                       model_loader=lambda: full().model)


def load_for_chat(source: ModelSource, device: str = "auto", dtype: str = "auto", quantize: str = "auto",
                  progress: OnProgress | None = None, cancel: threading.Event | None = None) -> LoadedModel:
    """``loading.load`` with a fast start on the CPU: the ready copy the plan names if there is one,
    else a first load (a GGUF file's weights repacked as they are, or the transformers model's) whose
    decoder is then saved there for next time. Quantized weights get their quality check."""
    from . import gguf_tokenizer
    from .gguf_file import gguf_path
    from .gguf_model import load_gguf
    from .models import load

    # A GGUF file seen for the first time: its tokenizer starts building at once, in a process of its
    # own, while this one imports torch, plans and repacks the weights.
    job = gguf_tokenizer.Job(gguf_path(source)) if source.kind == "gguf" and not _any_ready_copy(source) else None
    try:
        plan = plan_load(source, device, dtype, quantize)
    except BaseException:
        if job:
            job.cancel()
        raise
    if job and (plan.fast_start is None or (plan.fast_start / "meta.json").exists()):
        job.cancel()  # transformers' own loading after all (a GPU, an architecture the lean decoder lacks)
        job = None
    if plan.fast_start is not None and (plan.fast_start / "meta.json").exists():
        full: list[LoadedModel] = []

        def full_load() -> LoadedModel:
            if not full:  # once, for whichever of model and tokenizer is asked for first
                full.append(load(source, plan.device, plan.dtype, progress, "none", lean=False))
            return full[0]

        if source.kind == "gguf":
            tokenizer = lambda: gguf_tokenizer.build(gguf_path(source))  # noqa: E731
        else:
            tokenizer = lambda: full_load().tokenizer  # noqa: E731
        loaded = load_ready(plan, full_load, tokenizer)
    else:
        if source.kind == "gguf" and plan.fast_start is not None:  # the lean decoder on the CPU
            loaded = load_gguf(source, plan, progress, job)
        else:
            loaded = load(source, device, dtype, progress, quantize, cancel=cancel)
        target = loaded.plan.fast_start
        if target is not None and loaded.fast is not None:
            try:
                save(loaded, target)
            except OSError as error:  # a read-only cache only costs speed
                if progress:
                    progress(f"could not save a fast-start copy: {error}")
    _check_quality(loaded, progress)
    return loaded


def _any_ready_copy(source: ModelSource) -> bool:
    """Whether some fast-start copy of ``source`` exists (of whichever dtype and layout)."""
    from .cache import cache_dir
    from .plan import FAST_START_FORMAT

    folder = cache_dir(source)
    return folder is not None and any(folder.glob(f"decoder-v{FAST_START_FORMAT}-*/meta.json"))


def _check_quality(loaded: LoadedModel, progress: OnProgress | None) -> None:
    """The stored result of the quality check, or the check itself started in the background; the
    load line says what the weights are and, once known, what they cost."""
    from . import quality

    if loaded.fast is None or loaded.device != "cpu":
        return
    name = loaded.source.name
    loaded.quality = quality.stored(loaded.source)
    note = quality.weights_note(loaded.quantize, loaded.plan.asked, loaded.quality, True, loaded.plan.head4)
    if note and progress:
        progress(f"{name}: {note}")
    if loaded.quality is None and loaded.quantize != "none":
        def measured(result: quality.Quality) -> None:
            loaded.quality = result  # describe() has it at once; the line comes as the next reply starts
            note = f"{name}: {loaded.weight_facts()['weights']}"
            if loaded.plan.asked == "auto" and result.choice() != loaded.quantize:
                choice = "bf16" if result.choice() == "none" else result.choice()
                note += f"; the next start uses {choice} weights ({result.summary()})"
            elif loaded.plan.asked == "auto" and result.head4() != loaded.plan.head4:
                note += f"; the next start uses a 4-bit output head ({result.summary()})"
            if progress:
                loaded.fast.activity.at_next_call(lambda: progress(note))

        loaded.check = quality.Check(loaded, measured, progress or (lambda line: None)).start()
