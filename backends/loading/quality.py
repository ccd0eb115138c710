"""What quantization costs a model, measured once: perplexity on a fixed code text, quantized weights
against the full-precision ones.

The text ships with parrot (``held_out_code.txt``, written for it, so no model was trained on it).
Its first ``TOKENS`` tokens go through the model three or four ways -- the reference (bf16 weights;
for a GGUF file, the file's own weights, as llama.cpp runs them), int4 (with an 8-bit output head),
int8, and where the head can be held in 4 bits, int4 with a 4-bit head ("int4-head") -- and each
perplexity is set against the reference's. ``--quantize auto`` then runs int4 where that costs at most
``LIMITS["int4"]``, with the 4-bit head where that, too, stays within it; else int8 within
``LIMITS["int8"]``, else full precision; the load line and /settings say which, and what it costs.

The check runs once per model, in a background thread, while the decoder rests (``lean.activity``):
one matrix product at a time, so a reply waits for one product at most. No full-precision copy of
the model is built: the reference (and a layout not in use) is read one product at a time from the
source -- the mapped GGUF file, or the transformers model -- when the pass reaches it. The result is
kept beside the fast-start copies (``FILE_NAME``), where the next load's plan reads it.
"""

from __future__ import annotations

import atexit
import json
import math
import threading
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator

from .. import paths
from .source import ModelSource

if TYPE_CHECKING:
    from .models import LoadedModel

HELD_OUT = Path(__file__).with_name("held_out_code.txt")
TOKENS = 256
METHODS = ("int4", "int8")
HEAD4 = "int4-head"  # int4 with a 4-bit output head (``lean.quantize.head_method``), measured apart
# Perplexity cost allowed for each layout. 3% is about what llama.cpp's Q4_0 costs a 7B model against
# f16 on wikitext, the 4-bit cost people accept when they pick a 4-bit file; int8 should cost nearly nothing.
LIMITS = {"int4": 0.03, "int8": 0.01}
# v2 measures a 4-bit output head as well: a result from before is measured again, once.
FILE_NAME = "quality-v2.json"


@dataclass(frozen=True)
class Quality:
    """Perplexities of the held-out text under the reference and each quantized layout."""

    reference: str  # what the layouts are set against: "bf16" or "the file's weights"
    tokens: int
    perplexity: dict[str, float]  # "reference", "int4", "int8", and "int4-head" where it was measured

    def cost(self, method: str) -> float:
        """How much higher ``method``'s perplexity is than the reference's (0.004 = +0.4%)."""
        return self.perplexity[method] / self.perplexity["reference"] - 1.0

    def choice(self) -> str:
        """The smallest layout within its limit, else "none" (full precision)."""
        return next((m for m in METHODS if self.cost(m) <= LIMITS[m]), "none")

    def head4(self) -> bool:
        """Whether int4 is chosen and a 4-bit output head, too, stays within int4's limit."""
        return self.choice() == "int4" and HEAD4 in self.perplexity and self.cost(HEAD4) <= LIMITS["int4"]

    def summary(self) -> str:
        """Every layout's cost, for /settings."""
        costs = ", ".join(f"{m} {_percent(self.cost(m))}" for m in METHODS)
        if HEAD4 in self.perplexity:
            costs += f", int4 with a 4-bit head {_percent(self.cost(HEAD4))}"
        return f"{costs} against {self.reference} ({self.tokens} tokens of parrot's code sample)"


def weights_note(method: str, asked: str, quality: Quality | None, pending: bool, head4: bool = False) -> str | None:
    """What the load line and status bar say about the weights: their layout, and what it costs (and,
    where ``auto`` chose a larger layout, what int4 would have cost). ``head4``: int4 with a 4-bit head."""
    if method == "none":  # said only where the check chose it (not where it was asked for, or fp32)
        if asked != "auto" or quality is None or quality.choice() != "none":
            return None
        return f"bf16 weights (int4 would cost {_percent(quality.cost('int4'))})"
    label = "int4 weights and head" if head4 and method == "int4" else f"{method} weights"
    if quality is None:
        return f"{label}, perplexity cost measured when idle" if pending else label
    note = f"{label}, perplexity {_percent(quality.cost(HEAD4 if head4 and HEAD4 in quality.perplexity else method))}"
    if asked == "auto" and method != "int4":
        note += f" (int4 would cost {_percent(quality.cost('int4'))})"
    return note


def _percent(cost: float) -> str:
    return f"{100 * cost:+.1f}%"


def quality_file(source: ModelSource) -> Path:
    from .cache import cache_dir

    folder = cache_dir(source) or paths.converted_models_dir() / f"hub-{source.location.replace('/', '--')}"
    return folder / FILE_NAME


def stored(source: ModelSource) -> Quality | None:
    """The check's result for ``source`` if it ran before."""
    try:
        return Quality(**json.loads(quality_file(source).read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError):
        return None


def perplexity(decoder: Any, ids: list[int]) -> float:
    """exp(mean negative log-likelihood) of each token of ``ids`` after the ones before it.

    The whole text goes through the layers at once (each lazily built product is built once); the
    output head is applied a slice of the vocabulary at a time when it is built lazily, else a few
    positions at a time, so the logits (positions x a 150k vocabulary) never exist whole."""
    import torch

    from ..lean.quantize import LazyRows

    with torch.inference_mode():
        tokens = torch.tensor([ids], device=decoder.device)
        states, targets = decoder.final_states(tokens)[:-1], tokens[0, 1:]
        head = decoder.weights.head
        if isinstance(head, LazyRows):  # log-sum-exp merged slice by slice, the targets' logits picked
            total = torch.full((len(targets),), -float("inf"))
            picked = torch.zeros(len(targets))
            for begin, logits in head.slices(states):
                logits = logits.float()
                total = torch.logaddexp(total, torch.logsumexp(logits, dim=-1))
                inside = (targets >= begin) & (targets < begin + logits.shape[-1])
                picked[inside] = logits[inside, targets[inside] - begin]
            nll = (total - picked).sum().item()
        else:
            nll = sum(torch.nn.functional.cross_entropy(head(states[i:i + 32]).float(), targets[i:i + 32],
                                                        reduction="sum").item() for i in range(0, len(targets), 32))
        return math.exp(nll / len(targets))


class Check:
    """The check for one loaded model, in a daemon thread; ``done`` is set when it ends."""

    def __init__(self, loaded: "LoadedModel", on_result: Callable[[Quality], None],
                 on_error: Callable[[str], None]) -> None:
        self.loaded, self.on_result, self.on_error = loaded, on_result, on_error
        self.done = threading.Event()
        self._thread = threading.Thread(target=self._run, name="parrot-quality-check", daemon=True)

    def start(self) -> "Check":
        atexit.register(self.stop)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Let the program end: the thread stops before its next product (the result is not stored)."""
        self.loaded.fast.activity.stopping = True
        self._thread.join(timeout=5)

    def _run(self) -> None:
        from ..lean.activity import Stopped

        try:
            quality = measure(self.loaded)
            paths.atomic_write_text(quality_file(self.loaded.source), json.dumps(quality.__dict__))
            self.on_result(quality)
        except Stopped:
            pass
        except Exception as error:  # noqa: BLE001  a failed check costs the figure, never the chat
            self.on_error(f"the perplexity check of {self.loaded.source.name} failed: {str(error).splitlines()[0]}")
        finally:
            atexit.unregister(self.stop)
            self.done.set()


def measure(loaded: "LoadedModel") -> Quality:
    """Perplexity of the held-out text under the reference and each quantized layout of ``loaded``."""
    from .gguf_weights import return_free_memory

    live = loaded.fast

    @contextmanager
    def around() -> Iterator[None]:
        """One piece of the check: while the decoder rests; what it allocated goes back after it."""
        with live.activity.spare():
            yield
        return_free_memory()

    ids = loaded.tokenizer(HELD_OUT.read_text(encoding="utf-8"), add_special_tokens=False).input_ids[:TOKENS]
    import torch

    from ..lean.quantize import head_fits_four_bits

    source, build = _weights_source(loaded)
    reference = build("none", torch.float32, around, False)
    results = {"reference": perplexity(type(live)(live.shape, reference, "none"), ids)}
    running = HEAD4 if loaded.plan.head4 else live.quantize
    layouts = [("int4", "int4", False), ("int8", "int8", False)]
    if head_fits_four_bits(live.shape.vocab, live.shape.hidden):
        layouts.append((HEAD4, "int4", True))
    for key, method, head4 in layouts:
        weights = _gated(live.weights, around) if running == key else build(method, torch.bfloat16, around, head4)
        results[key] = perplexity(type(live)(live.shape, weights, method), ids)
    return Quality(source, len(ids), results)


def _weights_source(loaded: "LoadedModel") -> tuple[str, Callable[[str, Any, Any, bool], Any]]:
    """What the reference is, and ``build(method, dtype, around, head4)``: lazily read weights in that layout.
    The reference computes in float32, so that its weights are the source's exactly (a GGUF block's
    float16 scale times its code needs more bits than bfloat16 has)."""
    shape = loaded.fast.shape
    if loaded.source.kind == "gguf":
        from .gguf_file import GgufFile, gguf_path
        from .gguf_weights import read_weights

        file = GgufFile(gguf_path(loaded.source))
        return "the file's weights", lambda method, dtype, around, head4: read_weights(file, shape, method, dtype,
                                                                                      around, head4)
    from ..lean.weights import READERS

    model = loaded.model
    return "full precision", lambda method, dtype, around, head4: READERS[shape.arch](model, shape, dtype, method,
                                                                                    around, head4)


def _gated(weights: Any, around: Any) -> Any:
    """The running decoder's own weights, each product called inside ``around``."""
    from ..lean.quantize import Lazy

    def gate(product: Any) -> Any:
        return Lazy(lambda: product, around)

    layers = [replace(layer, qkv=gate(layer.qkv), out=gate(layer.out), up=gate(layer.up), down=gate(layer.down))
              for layer in weights.layers]
    return replace(weights, layers=layers, head=gate(weights.head))
