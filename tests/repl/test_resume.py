"""Taking a conversation up again (--continue, /load) brings back what it was made with: the backend, the
model and the settings of its last reply, said in one line; the command line's own flags win; files come
back named, not pasted; every mode does it the same way."""

from __future__ import annotations

import io

from prompt_toolkit.input import create_pipe_input
from prompt_toolkit.output import DummyOutput

from backends.settings import GenerationSettings
from repl.app.chat_app import ChatApp
from repl.chat.setup import Resume
from repl.history.store import HistoryStore
from repl.modes.plain import run_plain
from tests.support.app_helpers import screen_text, wait_until
from tests.support.helpers import run_parrot


def script(*args: str, text: str):
    return run_parrot(["--script", "-", "--device", "cpu", *args], stdin=text.encode())


def last_reply():
    store = HistoryStore()
    try:
        return store.load(store.last_id()).turns[-1]
    finally:
        store.close()


def test_continue_answers_with_the_model_and_settings_the_conversation_was_made_with(tiny_gpt2):
    made = script("-m", str(tiny_gpt2), "-t", "0.3", "--top-k", "7", "-n", "5", text="function add(a, b) {\n")
    assert made.returncode == 0, made.stderr.decode()
    again = script("-c", text="/settings\nclass A {\n")  # no flags: the config's default model otherwise
    err = again.stderr.decode()
    assert again.returncode == 0, err
    assert f"continuing conversation 1: {tiny_gpt2} on local; temperature 0.3, top_k 7, max_new_tokens 5" in err
    reply = last_reply()
    assert reply.stats.model == str(tiny_gpt2)
    assert (reply.settings.temperature, reply.settings.top_k, reply.settings.max_new_tokens) == (0.3, 7, 5)
    assert reply.settings.repetition_penalty == 1.1  # the completion model's own default, not carried as set


def test_flags_given_with_continue_win_and_the_line_says_which(tiny_gpt2, tiny_llama):
    script("-m", str(tiny_gpt2), "-t", "0.3", "-n", "5", text="function add(a, b) {\n")
    again = script("-c", "-m", str(tiny_llama), "-t", "1", text="hello\n")
    err = again.stderr.decode()
    assert again.returncode == 0, err
    assert f"{tiny_llama} on local; temperature 1, max_new_tokens 5; as given: model, temperature" in err
    reply = last_reply()
    assert reply.stats.model == str(tiny_llama) and reply.settings.temperature == 1.0


def test_load_restores_and_a_model_that_is_gone_is_said_not_used(tiny_gpt2, tmp_path):
    import shutil

    gone = tmp_path / "gone-model"
    shutil.copytree(tiny_gpt2, gone)
    script("-m", str(gone), "-n", "4", text="function add(a, b) {\n")
    shutil.rmtree(gone)
    result = script("-m", str(tiny_gpt2), "-n", "3", text="/new\n/load 1\n/model\n")
    out = result.stdout.decode()
    assert result.returncode == 0, result.stderr.decode()
    assert f"{gone} on local is not available" in out and f"answering with {tiny_gpt2} on local" in out
    assert f"model: {tiny_gpt2} (local)" in out  # the chat goes on with the model that works


def test_the_plain_repl_continues_on_the_stored_model(tiny_gpt2, tiny_llama):
    script("-m", str(tiny_gpt2), "--greedy", "-n", "4", text="function add(a, b) {\n")
    out = io.StringIO()
    with create_pipe_input() as pipe:
        pipe.send_text("/model\r\x04")
        code = run_plain("local", str(tiny_llama), GenerationSettings(), {"device": "cpu"}, resume=Resume(),
                         input=pipe, output=DummyOutput(), out=out)
    shown = out.getvalue()
    assert code == 0 and f"continuing conversation 1: 2 messages, {tiny_gpt2} on local; max_new_tokens 4, greedy true" in shown
    assert f"model: {tiny_gpt2} (local)" in shown


async def test_the_app_continues_with_files_named_and_what_it_restored(tiny_llama, tmp_path):
    path = tmp_path / "helpers.py"
    path.write_text("def helper():\n    return 'a long body'\n")
    made = script("-m", str(tiny_llama), "-t", "0.4", "-n", "4", text=f"/file {path}\nwhat does it do\n")
    assert made.returncode == 0, made.stderr.decode()
    app = ChatApp("local", None, GenerationSettings(), {"device": "cpu"}, resume=Resume())
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: "continuing conversation 1" in screen_text(app))
        screen = screen_text(app)
        assert "what does it do" in screen and f"attached: {path}" in screen
        assert "a long body" not in screen  # named, not pasted in full
        assert f"{tiny_llama} on local; temperature 0.4" in screen
        assert app.session.model == str(tiny_llama) and app.session.settings.temperature == 0.4
        await wait_until(pilot, lambda: app.loader.since is None)
