"""The speed a person sees: one prompt answered by the backend alone, by ``parrot --plain`` and by the
chat app (under Pilot, and on a real pseudo-terminal), in interleaved rounds, with one ratio table.

    python bench/app_reply.py [--model smollm2] [--rounds 3] [--tokens 128] [--long 2000]

Each round asks every way once, so all of them see the same machine load. The app under Pilot runs
three times a round: with the lean decoder's thread tuner (as parrot runs), and with the thread
count fixed at one and at every core, to show whether the tuner's choice is right beside the UI.
A long reply (``--long`` tokens, 0 skips it) compares the speed of its first and last 200 tokens,
alone and in the app. Key echo and Esc are timed while a reply streams: on the pseudo-terminal from
the bytes sent to what comes back, under Pilot from the key event to the input or the reply ending.
Under Pilot the app's own thread is this one, so its CPU time a token is the cost of the screen.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from textual import events  # noqa: E402

from backends.base import Message  # noqa: E402
from backends.lean.threads import ThreadTuner  # noqa: E402
from backends.settings import GenerationSettings  # noqa: E402
from bench.terminal_session import ESC_KEYS, TerminalParrot  # noqa: E402
from repl.app.chat_app import ChatApp  # noqa: E402
from repl.app.reply_view import ReplyStream  # noqa: E402

PROMPT = "Write a Python function that checks whether a number is prime, then explain it."
LONG_PROMPT = ("Write a long, detailed tutorial on ten sorting algorithms in Python, with a complete code "
               "example and an explanation for each one.")
SIZE = (120, 40)


class PilotApp:
    """The chat app under Pilot, in this process; its backend also answers alone."""

    def __init__(self, app: ChatApp, pilot) -> None:
        self.app, self.pilot = app, pilot
        self.backend = app.session.backend
        self.decoder = getattr(self.backend.load(), "fast", None)  # the lean decoder, if the model has one
        self.arrived: list[float] = []  # when each piece of the reply now streaming reached the screen's buffer
        feed = ReplyStream.feed

        def timed(stream: ReplyStream, text: str) -> None:
            self.arrived.append(time.perf_counter())
            feed(stream, text)

        ReplyStream.feed = timed  # type: ignore[method-assign]  (this process is the bench's own)

    def threads(self, count: int | None) -> None:
        """Decode with the thread tuner (None) or a fixed number of torch threads."""
        import torch

        if self.decoder is None:
            return
        self.decoder.threads = ThreadTuner() if count is None else None
        torch.set_num_threads(count or os.cpu_count() or 1)

    def chosen(self) -> int | None:
        tuner = getattr(self.decoder, "threads", None)
        return tuner.best if tuner is not None else None

    def alone(self, prompt: str, tokens: int) -> tuple[float, list[float]]:
        """The backend without any UI: its tok/s, and when each piece arrived."""
        settings = self.app.session.settings.updated(max_new_tokens=tokens)
        reply, arrived = self.backend.stream([Message("user", prompt)], settings, threading.Event()), []
        for _ in reply:
            arrived.append(time.perf_counter())
        return reply.stats.tokens_per_second or 0.0, arrived

    async def _ask(self, prompt: str, tokens: int) -> float:
        app, pilot = self.app, self.pilot
        app.session.settings = app.session.settings.updated(max_new_tokens=tokens)
        await pilot.press(*"/new", "enter")
        await pilot.pause(0.2)
        app.query_one("#prompt").text = prompt
        started = time.perf_counter(), time.thread_time()
        await pilot.press("enter")
        return started

    async def reply(self, prompt: str, tokens: int) -> tuple[tuple[float, float, float], list[float]]:
        """The reply's tok/s, seconds from Enter to the whole reply on screen and the UI thread's CPU
        milliseconds a token (this thread runs the app); and when each piece arrived."""
        self.arrived = []
        started, cpu = await self._ask(prompt, tokens)
        while self.app.replying:
            await asyncio.sleep(0.005)
        seen, cpu = time.perf_counter() - started, time.thread_time() - cpu
        stats = self.app.session.conversation.turns[-1].stats
        return (stats.tokens_per_second or 0.0, seen, 1000 * cpu / max(1, stats.completion_tokens)), self.arrived

    async def echo_and_stop(self, prompt: str, after: float, tokens: int) -> tuple[float, float | None]:
        """While a reply streams: seconds until a typed key is in the input, then until Esc has ended the reply."""
        app = self.app
        await self._ask(prompt, tokens)
        await asyncio.sleep(after)
        field = app.query_one("#prompt")
        started = time.perf_counter()
        app._driver.send_message(events.Key("x", "x"))  # as the terminal driver delivers a key
        while "x" not in field.text:
            await asyncio.sleep(0.001)
        echo = time.perf_counter() - started
        field.text = ""
        if not app.replying:
            return echo, None
        started = time.perf_counter()
        app._driver.send_message(events.Key("escape", "\x1b"))  # not pilot.press: it also waits for idle
        while app.replying:
            await asyncio.sleep(0.001)
        return echo, time.perf_counter() - started


def window_rates(arrived: list[float], window: int) -> tuple[float, float] | None:
    """Pieces a second over the first and the last ``window`` pieces (the first piece starts the clock);
    None for a reply too short to have both."""
    if len(arrived) < 2 * window + 1:
        return None
    first = (window - 1) / (arrived[window] - arrived[1])
    last = (window - 1) / (arrived[-1] - arrived[-window])
    return first, last


async def measure(args) -> dict:
    results: dict[str, list] = {}

    def add(name: str, value) -> None:
        results.setdefault(name, []).append(value)

    terminals = {"plain": TerminalParrot(args.model, args.tokens, plain=True, size=SIZE),
                 "app": TerminalParrot(args.model, args.tokens, plain=False, size=SIZE)}
    app = ChatApp("local", args.model, GenerationSettings(greedy=True, max_new_tokens=args.tokens), {"device": "cpu"})
    try:
        async with app.run_test(size=SIZE) as pilot:
            while app.loader.since is not None:
                await pilot.pause(0.05)
            inside = PilotApp(app, pilot)
            inside.alone(PROMPT, 8)  # warm-up
            cores = os.cpu_count() or 1
            for _ in range(args.rounds):
                add("backend alone", (inside.alone(PROMPT, args.tokens)[0], None, None))
                add("parrot --plain, pty", terminals["plain"].reply(PROMPT))
                inside.threads(None)
                add("app, Pilot", (await inside.reply(PROMPT, args.tokens))[0])
                add("tuner chose", inside.chosen())
                add("app, pty", terminals["app"].reply(PROMPT))
                for count in sorted({1, cores}):
                    inside.threads(count)
                    add(f"app, Pilot, {count} thread(s) fixed", (await inside.reply(PROMPT, args.tokens))[0])
                inside.threads(None)
                echo, stop = await inside.echo_and_stop(PROMPT, 0.5, args.stop_tokens)
                add("key echo, Pilot", echo)
                add("Esc to stopped, Pilot", stop)
                for esc in ESC_KEYS:
                    echo, stop = terminals["app"].echo_and_stop(PROMPT, esc, 0.5, args.stop_tokens)
                    add("key echo, app pty", echo)
                    add(f"Esc ({esc}) to stopped, app pty", stop)
                add("Ctrl-C to stopped, --plain pty", terminals["plain"].echo_and_stop(PROMPT, "bare", 0.5,
                                                                                      args.stop_tokens)[1])
            if args.long:
                for _ in range(args.long_rounds):
                    add("long: backend alone", window_rates(inside.alone(LONG_PROMPT, args.long)[1], args.window))
                    add("long: app, Pilot",
                        window_rates((await inside.reply(LONG_PROMPT, args.long))[1], args.window))
    finally:
        for terminal in terminals.values():
            terminal.close()
    return results


def median(values) -> float | None:
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def report(args, results: dict) -> None:
    print(f"\nmodel {args.model}, {args.tokens} new tokens, greedy, {args.rounds} interleaved round(s), medians; "
          f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")
    print(f"prompt: {PROMPT!r}; terminal {SIZE[0]}x{SIZE[1]}\n")
    speeds = {name: median(v[0] for v in values) for name, values in results.items()
              if values and isinstance(values[0], tuple) and not name.startswith("long")}
    seen = {name: median(v[1] for v in results[name]) for name in speeds}
    ui = {name: median(v[2] for v in results[name] if len(v) > 2) for name in speeds}
    plain, alone = speeds["parrot --plain, pty"], speeds["backend alone"]
    print(f"{'what':<40}{'tok/s':>8}{'x --plain':>11}{'x backend':>11}{'Enter to done':>15}{'UI ms/token':>13}")
    for name, speed in speeds.items():
        label = name + (f" (tuner chose {median(results['tuner chose']):.0f})" if name == "app, Pilot" and
                        median(results.get("tuner chose", [None])) else "")
        done = f"{seen[name]:>13.2f} s" if seen[name] is not None else ""
        cost = f"{ui[name]:>13.2f}" if ui[name] is not None else ""
        print(f"{label:<40}{speed:>8.1f}{speed / plain:>11.2f}{speed / alone:>11.2f}{done:>15}{cost}")
    print(f"\n{'while a reply streams':<40}{'median':>8}{'worst':>11}")
    for name, values in results.items():
        if values and not isinstance(values[0], tuple) and name != "tuner chose" and not name.startswith("long"):
            kept = [v for v in values if v is not None]
            worst = f"{max(kept) * 1000:>8.0f} ms" if kept else "reply ended first"
            middle = f"{median(kept) * 1000:>5.0f} ms" if kept else ""
            print(f"{name:<40}{middle:>8}{worst:>11}")
    if args.long:
        print(f"\nlong reply: up to {args.long} tokens of {LONG_PROMPT[:40]!r}…, tok/s of its first and last "
              f"{args.window}")
        print(f"{'what':<40}{'first':>8}{'last':>8}{'last/first':>11}")
        for name in ("long: backend alone", "long: app, Pilot"):
            kept = [v for v in results[name] if v is not None]
            if not kept:
                print(f"{name[6:]:<40}{'the reply ended too soon':>27}")
                continue
            first, last = median(v[0] for v in kept), median(v[1] for v in kept)
            print(f"{name[6:]:<40}{first:>8.1f}{last:>8.1f}{last / first:>11.2f}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="smollm2")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--tokens", type=int, default=128)
    parser.add_argument("--stop-tokens", type=int, default=1000, help="the limit of the replies Esc stops")
    parser.add_argument("--long", type=int, default=2000, help="tokens of the long reply (0: none)")
    parser.add_argument("--long-rounds", type=int, default=1)
    parser.add_argument("--window", type=int, default=200, help="tokens at each end of the long reply")
    args = parser.parse_args()
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    if args.long and args.long < 2 * args.window + 1:
        parser.error("--long must be 0 or at least twice --window, plus one")
    report(args, asyncio.run(measure(args)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
