"""The app's status bar follows the conversation: its ctx count moves with /undo, /retry, /continue, /new."""

from __future__ import annotations

from backends.settings import GenerationSettings
from repl.app.chat_app import ChatApp
from tests.support.app_helpers import screen_text, type_text, wait_until

SIZE = (140, 36)


def status_line(app) -> str:
    return screen_text(app).splitlines()[-1]


def ctx_of(turn, window: int = 256) -> str:
    return f"ctx {turn.stats.prompt_tokens + turn.stats.completion_tokens}/{window}"


async def command(pilot, text: str, done) -> None:
    await type_text(pilot, text)
    await pilot.press("enter")
    await wait_until(pilot, lambda: done() and not pilot.app.replying)
    await pilot.pause()


async def test_ctx_follows_undo_retry_continue_and_new(tiny_llama):
    settings = GenerationSettings(greedy=False, temperature=1.0, seed=5, max_new_tokens=8)
    app = ChatApp("local", str(tiny_llama), settings, {"device": "cpu"})
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        turns = app.session.conversation.turns
        await command(pilot, "first prompt", lambda: len(turns) == 2)
        first = turns[1]
        assert ctx_of(first) in status_line(app)
        await command(pilot, "a second, longer prompt than the first one", lambda: len(turns) == 4)
        second = turns[3]
        assert second.stats.prompt_tokens > first.stats.prompt_tokens
        assert ctx_of(second) in status_line(app)

        await command(pilot, "/undo", lambda: len(turns) == 2)
        await wait_until(pilot, lambda: ctx_of(first) in status_line(app))  # back to the first answer's count

        before = first.stats.completion_tokens
        await command(pilot, "/continue", lambda: turns[1].stats.completion_tokens > before)
        await wait_until(pilot, lambda: ctx_of(turns[1]) in status_line(app))

        await command(pilot, "/retry", lambda: len(turns) == 2 and turns[1] is not first)
        await wait_until(pilot, lambda: ctx_of(turns[1]) in status_line(app))

        await command(pilot, "/new", lambda: app.session.conversation.turns == [])
        await wait_until(pilot, lambda: "ctx 0/256" in status_line(app))
