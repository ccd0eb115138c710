"""Switching backends mid-conversation in the Textual app and the plain REPL: local -> openai/hf -> local."""

from __future__ import annotations

import io

from prompt_toolkit.input import create_pipe_input
from prompt_toolkit.output import DummyOutput

from backends.settings import GenerationSettings
from repl.app.chat_app import ChatApp
from repl.app.prompt_input import PromptInput
from repl.history.store import HistoryStore
from repl.modes.plain import run_plain
from tests.support.app_helpers import screen_text, type_text, wait_until
from tests.support.openai_server import answer, status

FAKE = "hf_AppTokenForTests0123456789ab"
SIZE = (110, 36)
CTRL_D = "\x04"


async def send(pilot, text: str) -> None:
    await type_text(pilot, text)
    await pilot.press("enter")


async def test_app_switches_to_http_backends_and_back(tiny_llama, server, memory_keyring, parrot_home):
    options = {"device": "cpu", "base_url": f"{server.url}/v1", "router_url": server.url}
    app = ChatApp("local", str(tiny_llama), GenerationSettings(greedy=True, max_new_tokens=8), options)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await send(pilot, "def add(a, b):")
        await wait_until(pilot, lambda: len(app.session.conversation.turns) == 2 and not app.replying)
        local_answer = app.session.conversation.turns[1].message.content

        await send(pilot, "/backend openai test")
        await wait_until(pilot, lambda: app.session.backend_name == "openai")
        await send(pilot, "/set repetition_penalty=1.3")
        server.queue(answer(["It adds", " two numbers."]))
        await send(pilot, "what does it do?")
        await wait_until(pilot, lambda: len(app.session.conversation.turns) == 4 and not app.replying)
        assert "It adds two numbers." in screen_text(app)
        # A setting the server cannot take is said once, not dropped in silence.
        await wait_until(pilot, lambda: any("the OpenAI chat API has no such setting" in n.message
                                            for n in app._notifications))  # the toast wraps on screen
        assert server.posts()[-1].body["messages"][:2] == [
            {"role": "user", "content": "def add(a, b):"}, {"role": "assistant", "content": local_answer}]

        await send(pilot, "/login")  # the token is typed into a password field
        await pilot.pause(0.2)
        await type_text(pilot, FAKE)
        assert "Hugging Face token (input hidden)" in screen_text(app) and FAKE not in screen_text(app)
        await pilot.press("enter")
        await wait_until(pilot, lambda: memory_keyring.passwords.get(("parrot", "huggingface")) == FAKE)
        await send(pilot, "/backend hf org/coder")
        await wait_until(pilot, lambda: app.session.backend_name == "hf")
        server.queue(answer(["Hosted", " answer."]))
        await send(pilot, "and from the router?")
        await wait_until(pilot, lambda: len(app.session.conversation.turns) == 6 and not app.replying)
        assert server.posts()[-1].headers["Authorization"] == f"Bearer {FAKE}"
        assert len(server.posts()[-1].body["messages"]) == 5

        server.queue(status(401, {"error": f"token {FAKE} is not valid"}))
        await send(pilot, "once more")
        await wait_until(pilot, lambda: "refused the token (401)" in screen_text(app))
        await wait_until(pilot, lambda: not app.replying)
        prompt_input = app.query_one(PromptInput)
        assert prompt_input.text == "once more"  # handed back to the person, who deletes it
        prompt_input.text = ""

        await send(pilot, f"/backend local {tiny_llama}")
        await wait_until(pilot, lambda: app.session.backend_name == "local")
        await send(pilot, "thanks")
        await wait_until(pilot, lambda: len(app.session.conversation.turns) == 8 and not app.replying)
        screen = screen_text(app)
        turns = app.session.conversation.turns
        assert [t.stats.backend for t in turns if t.stats] == ["local", "openai", "hf", "local"]
        assert FAKE not in screen
    stored = HistoryStore().load(HistoryStore().last_id())
    assert [t.message.content for t in stored.turns][3] == "It adds two numbers."
    assert all(FAKE.encode() not in p.read_bytes() for p in parrot_home.rglob("*") if p.is_file())


def test_plain_repl_switches_to_openai_and_back(tiny_llama, server):
    server.queue(answer(["From", " the server."]))
    out = io.StringIO()
    script = f"hello\r/backend openai test\rwhat now?\r/backend local {tiny_llama}\rthanks\r{CTRL_D}"
    with create_pipe_input() as pipe:
        pipe.send_text(script)
        code = run_plain("local", str(tiny_llama), GenerationSettings(greedy=True, max_new_tokens=8),
                         {"device": "cpu", "base_url": f"{server.url}/v1"}, input=pipe, output=DummyOutput(), out=out)
    assert code == 0
    assert "From the server." in out.getvalue()
    store = HistoryStore()
    turns = store.load(store.last_id()).turns
    assert [t.message.role for t in turns] == ["user", "assistant"] * 3
    assert [t.stats.backend for t in turns if t.stats] == ["local", "openai", "local"]
    assert server.posts()[0].body["messages"][0] == {"role": "user", "content": "hello"}


async def test_a_model_that_fails_to_load_keeps_the_one_that_worked(tiny_llama, parrot_home):
    app = ChatApp("local", str(tiny_llama), GenerationSettings(greedy=True, max_new_tokens=4), {"device": "cpu"})
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await wait_until(pilot, lambda: app.loader.since is None)
        await send(pilot, "/model ./no-such-model-folder")
        await wait_until(pilot, lambda: any("still using" in n.message for n in app._notifications))
        assert app.session.model == str(tiny_llama)
        await send(pilot, "def add(a, b):")
        await wait_until(pilot, lambda: len(app.session.conversation.turns) == 2 and not app.replying)
        assert app.session.conversation.turns[1].stats.finish_reason != "error"
