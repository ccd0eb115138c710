"""The app tells what a reply needs told: a prompt cut to the window, before the answer; a setting
the server ignores, once, with the status bar no longer claiming it."""

from __future__ import annotations

from backends.settings import GenerationSettings
from repl.app.chat_app import ChatApp
from tests.support.app_helpers import screen_text, type_text, wait_until
from tests.support.openai_server import decoding

SIZE = (160, 36)


def status_line(app) -> str:
    return screen_text(app).splitlines()[-1]


async def send(pilot, text: str, turns: int) -> None:
    if len(text) > 200:  # pasted, as a person would: typing it key by key takes minutes
        from repl.app.prompt_input import PromptInput

        pilot.app.query_one(PromptInput).text = text
    else:
        await type_text(pilot, text)
    await pilot.press("enter")
    await wait_until(pilot, lambda: not pilot.app.replying and len(pilot.app.session.conversation.turns) == turns)
    await pilot.pause()


async def test_a_server_that_ignores_temperature_is_told_once_and_the_status_bar_stops_claiming_it(server):
    server.queue(*[decoding(30, sample=False) for _ in range(2)])
    app = ChatApp("openai", "test", GenerationSettings(temperature=1.5, max_new_tokens=40),
                  {"base_url": f"{server.url}/v1"})
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        assert "sample temp 1.5" in status_line(app)
        await send(pilot, "first", 2)
        await send(pilot, "second", 4)
        said = [str(n.message) for n in app._notifications if "ignores temperature" in str(n.message)]
        assert len(said) == 1, [str(n.message) for n in app._notifications]
        assert "sample temp" not in status_line(app) and "temperature ignored by the server" in status_line(app)


async def test_a_cut_prompt_is_told_before_the_answer(tiny_llama):
    app = ChatApp("local", str(tiny_llama), GenerationSettings(temperature=1.0, seed=3, max_new_tokens=40),
                  {"device": "cpu"})
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await send(pilot, "word " * 2000, 2)
        cut = [n for n in app._notifications if "context window" in str(n.message)]
        assert len(cut) == 1, [str(n.message) for n in app._notifications]
        answer = app.session.conversation.turns[1]
        assert cut[0].raised_at < answer.created, "told before the answer was complete, not after it"
        assert "prompt cut to fit" in status_line(app)
