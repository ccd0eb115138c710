"""A Hub download in the Textual app: progress in the status bar, Esc stops it, the chat stays usable."""

from __future__ import annotations

from backends.settings import GenerationSettings
from repl.app.chat_app import ChatApp
from tests.support.app_helpers import screen_text, type_text, wait_until


async def test_esc_stops_a_download_and_the_chat_goes_on(hub, hub_in_process, tiny_chat_repo, tiny_llama):
    repo = hub.add_repo("org/tiny", tiny_chat_repo)
    hub.faults.delay, hub.faults.paths = 0.4, ("/blobs/",)  # the weights come slowly, from the CDN
    app = ChatApp("local", "org/tiny", GenerationSettings(greedy=True, max_new_tokens=4), {"device": "cpu"})
    async with app.run_test(size=(120, 30), notifications=True) as pilot:
        await wait_until(pilot, lambda: "downloading org/tiny:" in screen_text(app))
        assert "Esc stops the download" in screen_text(app)
        await pilot.press("escape")
        await wait_until(pilot, lambda: app.loader.since is None)
        assert any("the download of org/tiny was cancelled" in n.message for n in app._notifications)
        weights = hub_in_process / "models--org--tiny" / "blobs" / repo.files["model.safetensors"].sha256
        assert not weights.exists() and not list(weights.parent.glob("*.incomplete"))
        hub.faults.delay = 0
        await type_text(pilot, f"/model {tiny_llama}")  # the chat is usable: switch and talk
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.loader.since is None and app.session.model == str(tiny_llama))
        await type_text(pilot, "hi")
        await pilot.press("enter")
        await wait_until(pilot, lambda: len(app.session.conversation.turns) == 2 and not app.replying)
