"""The status bar claims only what was seen: a sampling temperature once the server was seen to sample,
and a ctx count that is exact where a tokenizer or the server gave one, never smaller for a longer
conversation, and counted again after a switch of backend."""

from __future__ import annotations

import re

from backends.settings import GenerationSettings
from repl.app.chat_app import ChatApp
from tests.support.app_helpers import screen_text, type_text, wait_until
from tests.support.server_personas import Persona, llama_cpp_python, transformers_serve

SIZE = (170, 40)


def status_line(app) -> str:
    return screen_text(app).splitlines()[-1]


def ctx(app) -> str:
    found = re.search(r"ctx (~?\d+)/", status_line(app))
    return found.group(1) if found else ""


async def send(pilot, text: str) -> None:
    turns = len(pilot.app.session.conversation.turns)
    await type_text(pilot, text)
    await pilot.press("enter")
    await wait_until(pilot, lambda: not pilot.app.replying and len(pilot.app.session.conversation.turns) >= turns + 2
                     or text.startswith("/") and not _busy(pilot.app))
    await pilot.pause(0.1)


def _busy(app) -> bool:
    return any(not w.is_finished for w in app.workers if w.group in ("command", "reply", "load"))


def app_for(server, persona, settings=GenerationSettings(temperature=1.5, max_new_tokens=30)) -> ChatApp:
    server.persona = persona
    return ChatApp("openai", "m", settings, {"base_url": f"{server.url}/v1"})


async def test_transformers_serve_is_caught_ignoring_temperature_and_the_claim_goes(server):
    app = app_for(server, transformers_serve(seconds_per_token=0.03))
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        assert "sample temp 1.5 (unverified)" in status_line(app)
        await send(pilot, "tell me a story")
        assert app.session.backend.sampling.done.wait(10)
        await wait_until(pilot, lambda: "temperature ignored by the server" in status_line(app))
        assert "sample temp" not in status_line(app)
        await send(pilot, "/settings")
        assert re.search(r"sampling\s+ignored: two replies at temperature 1.5", screen_text(app))
        said = [str(n.message) for n in app._notifications if "ignores temperature" in str(n.message)]
        assert len(said) == 1, [str(n.message) for n in app._notifications]


async def test_a_server_seen_to_sample_is_claimed_without_a_caveat(server):
    app = app_for(server, Persona(logprobs=False, usage=False, seconds_per_token=0.03))
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await send(pilot, "tell me a story")
        assert app.session.backend.sampling.done.wait(10)
        await send(pilot, "and another")
        assert "sample temp 1.5 ·" in status_line(app) and "unverified" not in status_line(app)


async def test_without_usage_the_estimate_never_falls_as_the_conversation_grows(server):
    # llama-cpp-python sends no usage in its stream; the first reply is many short pieces (code), then short ones.
    code = " ".join("x" for _ in range(120))
    answers = iter([code, "ok then", "fine", "yes"])
    app = app_for(server, llama_cpp_python(text_for=lambda body: next(answers)),
                  GenerationSettings(greedy=True, max_new_tokens=200))
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        shown = []
        for prompt in ("write code", "thanks", "ok", "bye"):
            await send(pilot, prompt)
            shown.append(ctx(app))
        counts = [int(c.lstrip("~")) for c in shown]
        assert all(c.startswith("~") for c in shown), shown  # estimated, and marked so
        assert counts == sorted(counts) and counts[0] >= 120, shown  # at least the 120 pieces of the first reply


async def test_switching_to_the_local_model_counts_the_conversation_with_its_tokenizer(server, tiny_llama):
    settings = GenerationSettings(greedy=True, max_new_tokens=8)
    app = ChatApp("local", str(tiny_llama), settings, {"device": "cpu"})
    server.persona = Persona()  # counts words: far from what the tiny model's tokenizer says
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await wait_until(pilot, lambda: getattr(app.session.backend, "is_loaded", False) and not _busy(app))
        await send(pilot, "hello there")
        await send(pilot, f"/backend openai {server.url}/v1 m")
        await send(pilot, "and now a server answers this prompt")
        server_count = app.session.conversation.turns[-1].stats
        assert ctx(app) == str(server_count.prompt_tokens + server_count.completion_tokens)
        await send(pilot, "/backend local")
        await wait_until(pilot, lambda: getattr(app.session.backend, "is_loaded", False) and not _busy(app))
        backend = app.session.backend
        expected = len(backend.prompt_ids(app.session.conversation.messages, app.session.settings)[0])
        await wait_until(pilot, lambda: ctx(app) == str(expected))
