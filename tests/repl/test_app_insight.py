"""/tokens, /probs, /tokenizer and the setting commands in the Textual app, the plain REPL and scripts."""

from __future__ import annotations

from backends.settings import GenerationSettings
from repl.app.chat_app import ChatApp
from tests.support.app_helpers import screen_text, type_text, wait_until
from tests.support.helpers import run_parrot

SIZE = (110, 48)


async def send(pilot, text: str) -> None:
    await type_text(pilot, text)
    await pilot.press("enter")


async def test_tokens_and_probs_show_in_the_app(tiny_llama):
    settings = GenerationSettings(greedy=True, max_new_tokens=6)
    app = ChatApp("local", str(tiny_llama), settings, {"device": "cpu"})
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await wait_until(pilot, lambda: app.loader.since is None)
        await send(pilot, "/tokens Hello world")
        await wait_until(pilot, lambda: "-token context window" in screen_text(app))
        screen = screen_text(app)
        assert f"tokenizer {tiny_llama}" in screen
        assert "␣" in screen, "the leading space of a byte-level token is visible"
        count = len(app.session.backend.tokenizer("Hello world", add_special_tokens=False).input_ids)
        assert f"{count} tokens of the 256-token context window" in screen

        await send(pilot, "Tell me about parrots")
        await wait_until(pilot, lambda: not app.replying and len(app.session.conversation.turns) == 2)
        await send(pilot, "/probs 0")
        await wait_until(pilot, lambda: "position 0:" in screen_text(app))
        turn = app.session.conversation.turns[-1]
        screen = screen_text(app)
        assert f"{len(turn.tokens)} tokens, mean probability" in screen
        assert f"{turn.tokens[0].prob:.1%}" in screen and "chosen" in screen

        await send(pilot, "/temp 9")
        await wait_until(pilot, lambda: "temperature = 9 is not allowed" in screen_text(app))
        assert app.session.settings.temperature == settings.temperature


async def test_tokenizer_training_reports_from_the_background_in_the_app(tiny_llama, tmp_path):
    from tests.support.tiny_models import CORPUS

    (tmp_path / "corpus.txt").write_text("".join(CORPUS), encoding="utf-8")
    app = ChatApp("local", str(tiny_llama), GenerationSettings(greedy=True), {"device": "cpu"})
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await send(pilot, f"/tokenizer train --data {tmp_path / 'corpus.txt'} --vocab 300 --name mine")
        await wait_until(pilot, lambda: "tokenizer 'mine' is ready" in screen_text(app))
        assert "training in the background" in screen_text(app)
        await send(pilot, "/tokens --tokenizer mine 2026")
        await wait_until(pilot, lambda: "4 tokens" in screen_text(app))


def test_scripts_print_tokens_and_probs_as_plain_text(tiny_llama):
    script = f"/tokens --tokenizer {tiny_llama} Hello world\n/max 4\nHello\n/probs 0\n"
    result = run_parrot(["--script", "-", "-m", str(tiny_llama), "--device", "cpu", "--greedy"], stdin=script.encode())
    assert result.returncode == 0, result.stderr.decode()
    out = result.stdout.decode()
    assert "\x1b[" not in out, "no colour codes when the output is not a terminal"
    assert "#  token" in out and "tokens of the 256-token context window" in out
    assert "max_new_tokens = 4 (was 256)" in out
    assert "position 0:" in out and "chosen" in out


def test_plain_repl_prints_tokens_probs_and_settings(tiny_llama):
    import io

    from prompt_toolkit.input import create_pipe_input
    from prompt_toolkit.output import DummyOutput

    from repl.modes.plain import run_plain

    out = io.StringIO()
    lines = ["/tokens Hello world", "/temp 0", "/top_p 2", "Hello", "/probs 0", "\x04"]
    with create_pipe_input() as pipe:
        pipe.send_text("\r".join(lines))
        code = run_plain("local", str(tiny_llama), GenerationSettings(max_new_tokens=4), {"device": "cpu"},
                         input=pipe, output=DummyOutput(), out=out)
    shown = out.getvalue()
    assert code == 0
    assert "#  token" in shown and "tokens of the 256-token context window" in shown
    assert "temperature = 0 (was 0.7); 0 means greedy" in shown
    assert "top_p = 2 is not allowed (use a number greater than 0 and at most 1)" in shown
    assert "position 0:" in shown and "chosen" in shown
