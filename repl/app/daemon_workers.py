"""Thread workers that never hold the app's exit: quitting wins over whatever runs.

Textual runs a thread worker on the event loop's default executor (``loop.run_in_executor(None, ...)``,
textual/worker.py), and ``asyncio.run`` ends by joining every thread of that executor
(``loop.shutdown_default_executor``), as Python's own exit joins every ThreadPoolExecutor thread. So a
quit during a long prefill, a glob over a large tree or tokenizer training waited until that work
was done: a minute or more. The work is asked to stop first (its Cancel, through the Activity), which
most of it sees within milliseconds; but a native call cannot be interrupted part-way. Workers here run
on daemon threads instead, and the executor's shutdown waits for them ``GRACE`` seconds at most (time
for a stopped reply to record what it had), then lets the process leave without them.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Callable

GRACE = 0.5  # seconds a quit waits for stopped work to end on its own


class DaemonExecutor(ThreadPoolExecutor):
    """An executor for ``loop.set_default_executor`` (which takes only a ThreadPoolExecutor) that runs each
    call on a daemon thread of its own and never waits long for them on shutdown."""

    def __init__(self, grace: float = GRACE) -> None:
        super().__init__(max_workers=1)  # its own pool is never started: submit below replaces it
        self.grace = grace
        self._running: set[threading.Thread] = set()
        self._guard = threading.Lock()

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future:
        future: Future = Future()

        def run() -> None:
            try:
                if future.set_running_or_notify_cancel():
                    try:
                        future.set_result(fn(*args, **kwargs))
                    except BaseException as error:  # noqa: BLE001  handed to whoever waits on the future
                        future.set_exception(error)
            finally:
                with self._guard:
                    self._running.discard(threading.current_thread())

        thread = threading.Thread(target=run, name="parrot-worker", daemon=True)
        with self._guard:
            self._running.add(thread)
        thread.start()
        return future

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        if wait:
            deadline = time.monotonic() + self.grace
            with self._guard:
                running = list(self._running)
            for thread in running:
                thread.join(max(0.0, deadline - time.monotonic()))
        super().shutdown(wait=False, cancel_futures=cancel_futures)
