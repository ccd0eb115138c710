"""The app under hostile input: a /model that cannot load says one thing, after trying; a prompt cut
to the window is told in a notice and the status bar; Ctrl-C cancels the token dialog."""

from __future__ import annotations

import asyncio

from tests.support.app_helpers import screen_text
from tests.support.hostile_modes import SIZE, run_mode


def test_a_failed_model_switch_says_one_thing(tmp_path, model_args):
    outcome = run_mode("app", [f"/model {tmp_path / 'does-not-exist'}"], model_args)
    assert outcome.running
    said = [m for m in outcome.messages if "does-not-exist" in m] + \
        [line for line in outcome.out.splitlines() if "conversation is kept" in line]
    assert not any("conversation is kept" in m for m in said), said  # no claim that the switch worked
    assert any("no such folder" in m for m in outcome.messages), outcome.messages


def test_a_cut_prompt_is_told_in_a_notice_and_the_status_bar(model_args):
    outcome = run_mode("app", ["word " * 2000], model_args, timeout=240)
    assert any("context window" in m for m in outcome.messages), outcome.messages
    assert "prompt cut to fit" in outcome.out.splitlines()[-1]


def test_ctrl_c_cancels_the_token_dialog(tiny_llama, memory_keyring):
    from backends.settings import GenerationSettings
    from repl.app.chat_app import ChatApp
    from repl.app.widgets import SecretScreen
    from tests.support.app_helpers import type_text, wait_until

    async def scenario():
        app = ChatApp("local", str(tiny_llama), GenerationSettings(greedy=True, max_new_tokens=2), {"device": "cpu"})
        async with app.run_test(size=SIZE, notifications=True) as pilot:
            await type_text(pilot, "/login")
            await pilot.press("enter")
            await wait_until(pilot, lambda: isinstance(app.screen, SecretScreen))
            await pilot.press("ctrl+c")
            await wait_until(pilot, lambda: not isinstance(app.screen, SecretScreen), timeout=10)
            await wait_until(pilot, lambda: "login cancelled" in screen_text(app))
            assert app.is_running

    asyncio.run(scenario())
