"""A GGUF file loaded as it is: its config and tokenizer from the metadata, its weights repacked.

The lean decoder runs the file's own weights (``gguf_weights``), so loading needs neither
transformers' GGUF loader, which dequantizes every tensor to floats (34 s and 4 GB for a 0.5B
Q4_K_M file; a 7B file would not fit in 24 GB), nor a converted copy. The tokenizer is built by
transformers from the metadata alone (``gguf_tokenizer``), without the weights.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import gguf_tokenizer
from .gguf_file import GgufFile, gguf_config, gguf_path
from .models import LoadedModel, ModelSource, OnProgress

if TYPE_CHECKING:
    from .plan import LoadPlan


def end_ids(file: GgufFile) -> set[int]:
    """Tokens that end a reply: end of text, and end of turn where the file names one."""
    vocab = file.tensors["token_embd.weight"].rows
    ids = (file.metadata.get(f"tokenizer.ggml.{key}") for key in ("eos_token_id", "eot_token_id"))
    return {int(i) for i in ids if isinstance(i, int) and 0 <= i < vocab}


def load_gguf(source: ModelSource, plan: "LoadPlan", progress: OnProgress | None = None,
              tokenizer_job: gguf_tokenizer.Job | None = None) -> LoadedModel:
    """The lean decoder and tokenizer of a GGUF file, repacked as ``plan`` says; the transformers
    model (dequantized) loads only if something asks for it. ``tokenizer_job``: if already started."""
    import torch

    from ..lean import LeanDecoder, shape_from_config
    from ..lean.threads import thread_count_kept
    from .gguf_weights import read_weights
    from .models import load

    path = gguf_path(source)
    job = tokenizer_job or gguf_tokenizer.Job(path)  # beside the repacking: another core, its own memory
    try:
        file = GgufFile(path)
        shape = shape_from_config(gguf_config(file))
        assert shape is not None, f"{file.arch}: the plan runs the lean decoder only for covered architectures"
        if progress:
            progress(f"repacking {path.name} once into {plan.quantize} weights")
        # One thread: the tokenizer's process has the other core (two threads beside it stall each
        # other at every operation's end: 50 s against 14 s on a busy 2-core machine).
        with thread_count_kept():
            torch.set_num_threads(1)
            weights = read_weights(file, shape, plan.quantize, plan.torch_dtype, head4=plan.head4)
    except BaseException:
        job.cancel()
        raise
    decoder = LeanDecoder(shape, weights, plan.quantize)
    tokenizer = job.result()
    return LoadedModel(plan, None, tokenizer, shape.max_positions, end_ids(file), decoder,
                       model_loader=lambda: load(source, plan.device, plan.dtype, progress, "none", lean=False).model)
