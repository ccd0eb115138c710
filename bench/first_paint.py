"""The chat app's first paint, for bench/startup.py: run the app headless and exit on its first frame.

Textual sends ``Ready`` once the first frame has been displayed. The model starts loading in a
background thread on mount; leaving with ``os._exit`` at ``Ready`` makes the process's lifetime
spawn-to-first-paint, whatever the loading thread is doing by then.
"""

from __future__ import annotations

import os
import sys


async def first_paint(model: str = "smollm2") -> None:
    """Start the chat app (which starts loading ``model``) and leave at its first frame."""
    from pathlib import Path

    from backends.settings import GenerationSettings
    from repl.app import chat_app as app_module
    from repl.app.chat_app import ChatApp

    class FirstPaint(ChatApp):
        # A subclass would look for its stylesheet beside this file; keep the app's own.
        CSS_PATH = str(Path(app_module.__file__).with_name("app.tcss"))

        def on_ready(self) -> None:
            heavy = [m for m in ("torch", "transformers") if m in sys.modules]
            sys.__stdout__.write(f"torch/transformers in sys.modules at first paint: {heavy or 'none'}\n")
            sys.__stdout__.flush()
            os._exit(0)

    await FirstPaint("local", model, GenerationSettings(), {"device": "cpu"}).run_async(
        headless=True, size=(100, 30))
