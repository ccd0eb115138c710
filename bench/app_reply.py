"""How the chat app streams: decode speed inside the app against the backend alone, and how long
Esc takes to stop a reply. One model, one process, runs interleaved so that both sides see the
same machine load.

    python bench/app_reply.py [--model smollm2] [--runs 3] [--tokens 64]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from backends.base import Message  # noqa: E402
from backends.settings import GenerationSettings  # noqa: E402
from repl.app.chat_app import ChatApp  # noqa: E402

PROMPT = "Write a Python function that adds two numbers, then explain it."


async def measure(model: str, runs: int, tokens: int) -> None:
    settings = GenerationSettings(greedy=True, max_new_tokens=tokens)
    app = ChatApp("local", model, settings, {"device": "cpu"})
    direct, inside, cancel = [], [], []
    async with app.run_test(size=(100, 30)) as pilot:
        while app.loader.since is not None:
            await pilot.pause(0.05)
        backend = app.session.backend
        for _ in range(runs):
            reply = backend.stream([Message("user", PROMPT)], settings, threading.Event())
            reply.finish()
            direct.append(reply.stats.tokens_per_second or 0.0)
            for stop_early in (False, True):
                await pilot.press(*"/new")
                await pilot.press("enter")
                await pilot.pause(0.2)
                app.query_one("#prompt").text = PROMPT
                await pilot.press("enter")
                while stop_early and app.replying and not app._reply_widget.markdown.source:
                    await pilot.pause(0.01)
                if stop_early:
                    await pilot.pause(0.3)
                    started = time.perf_counter()
                    await pilot.press("escape")
                while app.replying:
                    await pilot.pause(0.005)
                if stop_early:
                    cancel.append(time.perf_counter() - started)
                else:
                    inside.append(app.session.conversation.turns[-1].stats.tokens_per_second or 0.0)
    base = statistics.median(direct)
    print(f"model {model}, {runs} runs, {tokens} new tokens, greedy, medians")
    print(f"{'what':<34}{'value':>12}{'ratio':>8}")
    print(f"{'backend alone (baseline)':<34}{base:>8.1f} tok/s{1:>8.2f}")
    print(f"{'inside the app, streamed Markdown':<34}{statistics.median(inside):>8.1f} tok/s"
          f"{statistics.median(inside) / base:>8.2f}")
    print(f"{'Esc to reply stopped':<34}{statistics.median(cancel) * 1000:>9.0f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="smollm2")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--tokens", type=int, default=64)
    args = parser.parse_args()
    asyncio.run(measure(args.model, args.runs, args.tokens))


if __name__ == "__main__":
    main()
