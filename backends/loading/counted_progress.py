"""Progress lines that carry their numbers, so that a screen can draw a bar instead of printing text.

A line is still a plain string (``loading smollm2: 40% (110 of 273 weights)``) for the modes that
print it; ``fraction`` is there for the ones that draw. transformers tells how far its loading loops
are (the weights of ``from_pretrained``, the tensors of a GGUF conversion) only through tqdm bars,
which parrot keeps off (they would scribble over the app's screen): ``counting_weights`` has those
loops report to a callback instead, for the thread that asks.
"""

from __future__ import annotations

import importlib
import threading
from contextlib import contextmanager
from typing import Any, Callable, Iterable, Iterator


class CountedProgress(str):
    """``what: P% (done of total unit)``, with the numbers kept."""

    done: int
    total: int

    def __new__(cls, what: str, done: int, total: int, unit: str,
                amount: Callable[[int], str] = str) -> "CountedProgress":
        percent = f"{100 * done // total}%" if total else "…"
        line = super().__new__(cls, f"{what}: {percent} ({amount(done)} of {amount(total)} {unit})")
        line.done, line.total = done, total
        return line

    @property
    def fraction(self) -> float:
        return self.done / self.total if self.total else 0.0


STEPS = 20  # reports over one loop: a few lines, not one a weight (a mode may print each)
# Where transformers wraps its loading loops in a bar: (module, the name it calls tqdm by).
LIBRARY_BARS = (("transformers.core_model_loading", "tqdm"), ("transformers.modeling_gguf_pytorch_utils", "tqdm"))

_asking = threading.local()  # .report: the callback of the thread that is loading, if it asked for one
_installed = threading.Lock()


@contextmanager
def counting_weights(what: str, report: Callable[[str], None] | None, unit: str = "weights") -> Iterator[None]:
    """While inside, the loading loops that this thread runs report ``what``'s progress to ``report``."""
    if report is None:
        yield
        return
    _install()
    previous = getattr(_asking, "report", None)
    _asking.report = lambda done, total: report(CountedProgress(what, done, total, unit))
    try:
        yield
    finally:
        _asking.report = previous


def _install() -> None:
    """Put a counting bar in place of the library's, once; it is the library's own bar for everyone else."""
    with _installed:
        for module_name, name in LIBRARY_BARS:
            try:
                module = importlib.import_module(module_name)
            except ImportError:  # a transformers laid out otherwise: no numbers, the plain lines stay
                continue
            original = getattr(module, name, None)
            if original is not None and not getattr(original, "counts_for_parrot", False):
                setattr(module, name, _counting_bar(original))


def _counting_bar(original: Callable[..., Any]) -> Callable[..., Any]:
    def bar(iterable: Iterable[Any] | None = None, *args: Any, **kwargs: Any) -> Any:
        report = getattr(_asking, "report", None)
        if report is None or iterable is None:
            return original(iterable, *args, **kwargs)
        return _counted(list(iterable), report)

    bar.counts_for_parrot = True  # type: ignore[attr-defined]
    return bar


def _counted(items: list[Any], report: Callable[[int, int], None]) -> Iterator[Any]:
    shown = -1
    for done, item in enumerate(items):
        if STEPS * done // len(items) != shown:
            shown = STEPS * done // len(items)
            report(done, len(items))
        yield item
    report(len(items), len(items))
