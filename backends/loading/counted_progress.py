"""Progress lines that carry their numbers, so that a screen can draw a bar instead of printing text.

A line is still a plain string (``converting a.gguf: 40% (110 of 273 tensors)``) for the modes that
print it; ``fraction`` is there for the ones that draw. transformers reports its GGUF conversion only
through a tqdm bar, which parrot keeps off (it would scribble over the app's screen), so
``counting_gguf_tensors`` counts the tensors that conversion walks instead.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from typing import Any, Callable, Iterable, Iterator


class CountedProgress(str):
    """``what: P% (done of total unit)``, with the numbers kept."""

    done: int
    total: int

    def __new__(cls, what: str, done: int, total: int, unit: str) -> "CountedProgress":
        percent = f"{100 * done // total}%" if total else "…"
        line = super().__new__(cls, f"{what}: {percent} ({done} of {total} {unit})")
        line.done, line.total = done, total
        return line

    @property
    def fraction(self) -> float:
        return self.done / self.total if self.total else 0.0


STEPS = 20  # reports over a conversion
_patching = threading.Lock()  # the module attribute below is swapped by one conversion at a time


@contextmanager
def counting_gguf_tensors(what: str, report: Callable[[str], None]) -> Iterator[None]:
    """While inside, transformers' GGUF conversion reports each percent of its tensors to ``report``."""
    from transformers import modeling_gguf_pytorch_utils as gguf_utils

    original = getattr(gguf_utils, "tqdm", None)
    if original is None:  # a transformers that converts differently: no numbers, the plain line stays
        yield
        return

    def counted(items: Iterable[Any], *args: Any, **kwargs: Any) -> Iterator[Any]:
        items = list(items)
        shown = -1
        for done, item in enumerate(items):
            if STEPS * done // len(items) != shown:  # a few lines, not one a tensor: a mode may print each
                shown = STEPS * done // len(items)
                report(CountedProgress(what, done, len(items), "tensors"))
            yield item
        report(CountedProgress(what, len(items), len(items), "tensors"))

    with _patching:
        gguf_utils.tqdm = counted
        try:
            yield
        finally:
            gguf_utils.tqdm = original
