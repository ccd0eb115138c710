"""Evaluation that scales out: requests in flight and programs running side by side, sized by one option.

A model served by vLLM, TGI or SGLang answers many requests at once, and one request at a time leaves
it idle. ``run`` keeps up to ``requests`` generations in flight and checks each finished one's outputs
in up to ``sandboxes`` sandbox processes at once. The caller's jobs put every result in its own place
and give every sample the seed it would have had alone, so a run's report, pass@k included, is the same
at any concurrency; only the time changes.

Stopping: a cancel lets the generations in flight finish and be checked, and starts nothing new; a
failure or Ctrl-C (``KeyboardInterrupt``) cuts the generations in flight too (``halt``) and is raised.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Iterable

Check = Callable[[], None]  # runs one output in the sandbox and records it
Job = Callable[[threading.Event], list[Check]]  # generates (cut short when the event is set); returns checks


def run(jobs: Iterable[Job], *, requests: int, sandboxes: int, cancel: threading.Event | None = None) -> None:
    """Run every job with ``requests`` in flight and their checks ``sandboxes`` at a time; return when all are
    done (or, after a cancel, when those begun are); raise the first failure."""
    jobs = list(jobs)
    if not jobs:
        return
    halt = threading.Event()
    lock = threading.Lock()
    failures: list[BaseException] = []
    outstanding = [len(jobs)]  # jobs not yet generated, plus checks not yet run
    all_done = threading.Event()
    stopped = (lambda: cancel.is_set()) if cancel is not None else (lambda: False)
    checking = ThreadPoolExecutor(max(1, sandboxes), thread_name_prefix="parrot-sandbox")
    asking = ThreadPoolExecutor(max(1, requests), thread_name_prefix="parrot-request")

    def finished(count: int = 1) -> None:
        with lock:
            outstanding[0] -= count
            if outstanding[0] <= 0:
                all_done.set()

    def failed(error: BaseException) -> None:
        with lock:
            failures.append(error)
        halt.set()

    def check(step: Check) -> None:
        try:
            if not halt.is_set():
                step()
        except BaseException as error:  # noqa: BLE001  handed to the waiting thread, which raises it
            failed(error)
        finally:
            finished()

    def ask(job: Job) -> None:
        steps: list[Check] = []
        try:
            if not (halt.is_set() or stopped()):
                steps = job(halt)
        except BaseException as error:  # noqa: BLE001  handed to the waiting thread, which raises it
            failed(error)
        if halt.is_set():
            steps = []  # an output cut short is not judged
        with lock:
            outstanding[0] += len(steps)
        for step in steps:
            checking.submit(check, step)
        finished()

    try:
        for job in jobs:
            asking.submit(ask, job)
        while not all_done.wait(0.1):  # a timed wait, so Ctrl-C reaches this thread
            pass
    except BaseException:
        halt.set()
        asking.shutdown(wait=False, cancel_futures=True)
        checking.shutdown(wait=False, cancel_futures=True)
        raise
    asking.shutdown()
    checking.shutdown()
    if failures:
        raise failures[0]
