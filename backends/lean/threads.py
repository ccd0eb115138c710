"""How many threads a decoding step should use, chosen by measuring, again and again.

A decoding step is a few hundred small products; with one torch thread per core, every product waits
for its slowest thread, so one busy process elsewhere on the machine (a test run, a compiler) stalls
each of them: on two cores the rate falls ten times while one thread alone keeps most of its speed.
On an idle machine more threads are faster. Which is true changes from minute to minute, so the
tuner times a few steps with each choice, decodes with the fastest, and checks again later: every
CYCLE steps, at once when steps turn slow, and at the start of a reply that comes after a pause (one
thread's steps do not get faster when the other program ends, so only a new probe can see that).
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from typing import Iterator

import torch

PROBE = 6  # steps timed per choice (the first after a switch is not counted)
CYCLE = 256  # steps between two probes
MARGIN = 1.1  # more threads must be this much faster to be kept: a probe of a losing choice costs
SLOWER = 2.0  # steps this much slower than the probe found, SLOW_STEPS in a row: the load changed, probe now
SLOW_STEPS = 3
STALE = 1.0  # seconds since the last probe after which a new reply measures again first


class ThreadTuner:
    """Wraps each decoding step: ``with tuner: step()`` runs it with the thread count chosen now."""

    def __init__(self, most: int | None = None) -> None:
        most = most or torch.get_num_threads()
        self.choices = sorted({1, most})
        self.best = most
        self._step = 0
        self._times: dict[int, list[float]] = {n: [] for n in self.choices}
        self._current = self._started = 0.0
        self._limit = float("inf")  # a step slower than this counts as slow (set by each probe)
        self._slow = 0
        self._probed_at = -float("inf")  # when the last probe chose

    @property
    def _probe_steps(self) -> int:
        """Steps at the start of each cycle that probe: PROBE for each choice."""
        return PROBE * len(self.choices)

    def _probing(self) -> bool:
        return self._step % CYCLE < self._probe_steps

    def _probe_again(self, at: int = 0) -> None:
        """Start a new cycle (its probe first), forgetting what was measured."""
        self._step, self._slow = at, 0
        self._times = {n: [] for n in self.choices}

    def _planned(self) -> int:
        """The choice for the step about to run: a probe at the start of each cycle, else the best."""
        position = self._step % CYCLE
        block = position // PROBE
        return self.choices[block] if block < len(self.choices) else self.best

    def __enter__(self) -> "ThreadTuner":
        threads = self._planned()
        if threads != torch.get_num_threads():
            torch.set_num_threads(threads)
            self._current = -1  # this step pays for the switch: not counted
        else:
            self._current = threads
        self._started = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        seconds = time.perf_counter() - self._started
        probing = self._probing()
        if self._current > 0 and probing:
            self._times[self._current].append(seconds)
        elif not probing and len(self.choices) > 1:
            self._slow = self._slow + 1 if seconds > self._limit else 0
            if self._slow >= SLOW_STEPS:  # e.g. another program took a core: measure again at once
                self._probe_again(at=-1)  # the count moves on to 0 below
        self._step += 1
        if self._step % CYCLE == self._probe_steps and all(self._times.values()):
            costs = {n: _typical(times) for n, times in self._times.items()}
            # Fewest threads unless more are clearly faster (probing the other choice is what it costs).
            self.best = min(self.choices, key=lambda n: costs[n] * (MARGIN if n > 1 else 1.0))
            # Slow: twice the probe's time, or with more threads slower than one thread was.
            self._limit = SLOWER * costs[self.best]
            if self.best > 1:
                self._limit = min(self._limit, costs[1])
            self._times = {n: [] for n in self.choices}
            self._probed_at = time.perf_counter()
            if torch.get_num_threads() != self.best:
                torch.set_num_threads(self.best)

    def use_best(self) -> None:
        """For work that is not timed (a prompt's prefill): the choice the last probe found fastest.
        A prefill starts a reply: if the last probe is stale, the reply's first steps probe again,
        and the prefill takes every thread, as the first reply's does."""
        if len(self.choices) == 1:
            return
        threads = self.best
        if time.perf_counter() - self._probed_at > STALE and not self._probing():
            self._probe_again()
            threads = self.choices[-1]
        if torch.get_num_threads() != threads:
            torch.set_num_threads(threads)


def _typical(times: list[float]) -> float:
    """A choice's step time: the mean, which counts the stalls a busy core causes (often half the
    steps) as throughput does, without the single slowest step (an interrupt, a page fault)."""
    kept = sorted(times)[:-1] if len(times) > 2 else times
    return sum(kept) / len(kept)


@contextmanager
def thread_count_kept() -> Iterator[None]:
    """Around one whole decode: the tuner may leave torch at one thread, which is a setting of the
    whole process; whatever runs next (a training step, another model's forward) gets the count it had."""
    threads = torch.get_num_threads()
    try:
        yield
    finally:
        if torch.get_num_threads() != threads:
            torch.set_num_threads(threads)
