"""The chat app's first paint, for bench/startup.py: build the app, paint one screen, exit at once.

The model starts loading in a background thread on mount; leaving with ``os._exit`` right after
the first screen means the process's lifetime is spawn-to-first-paint, not the model's load time.
"""

from __future__ import annotations

import os
import sys


async def first_paint() -> None:
    from backends.settings import GenerationSettings
    from repl.app import ChatApp

    app = ChatApp("local", "smollm2", GenerationSettings(), {"device": "cpu"})
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        heavy = any(m in sys.modules for m in ("torch", "transformers"))
        print(f"torch imported by first paint: {heavy}", flush=True)
        os._exit(0)
