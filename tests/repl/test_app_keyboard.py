"""The app from the keyboard alone: scrolling, moving the focus, the pick keys after /probs N, Ctrl-Y,
a burst of lines in one terminal write, a failed command, and the status bar on a narrow terminal."""

from __future__ import annotations

from textual import events

from backends.settings import GenerationSettings
from repl.app.chat_app import ChatApp
from repl.app.prompt_input import PromptInput
from repl.app.widgets import Note
from tests.support.app_helpers import HeldBackend, register_backend, screen_text, type_text, wait_until
from tests.support.scripted_backend import use_scripted_backend

NARROW = (80, 24)


def scripted_app(monkeypatch, **settings) -> ChatApp:
    use_scripted_backend(monkeypatch)
    return ChatApp("scripted", None, GenerationSettings().updated(**settings), {})


async def idle(pilot) -> None:
    app = pilot.app
    await wait_until(pilot, lambda: app.loader.since is None and not app.replying and app.bridge.idle)
    await pilot.pause()


async def send(pilot, line: str) -> None:
    await type_text(pilot, line)
    await pilot.press("enter")
    await idle(pilot)


def status_line(app) -> str:
    return screen_text(app).splitlines()[-1]


def burst(app, text: str) -> None:
    """Keys as the terminal driver posts them after one read of several lines: all at once, no pause."""
    for char in text:
        app.post_message(events.Key("enter", None) if char == "\n" else
                         events.Key("space" if char == " " else char, char))


async def test_page_keys_scroll_the_chat_while_the_input_keeps_the_focus(monkeypatch):
    app = scripted_app(monkeypatch)
    async with app.run_test(size=NARROW) as pilot:
        await idle(pilot)
        await send(pilot, "/help")
        await type_text(pilot, "draft")
        log, prompt = app.chat, app.query_one(PromptInput)
        await wait_until(pilot, lambda: log.max_scroll_y > 0 and log.scroll_y == log.max_scroll_y)
        bottom = log.scroll_y
        for key in ("pageup", "shift+pageup", "ctrl+pageup", "alt+pageup"):
            before = log.scroll_y
            await pilot.press(key)
            await wait_until(pilot, lambda: log.scroll_y < before)
        before = log.scroll_y
        await pilot.press("ctrl+up")
        await wait_until(pilot, lambda: log.scroll_y == before - 3)
        await pilot.press("ctrl+home")
        await wait_until(pilot, lambda: log.scroll_y == 0)
        assert "Enter sends" in screen_text(app)  # the top of the chat, with the top of /help under it
        await pilot.press("pagedown", "ctrl+down")
        await wait_until(pilot, lambda: log.scroll_y > 0)
        await pilot.press("ctrl+end")
        await wait_until(pilot, lambda: log.scroll_y == bottom)
        assert app.focused is prompt and prompt.text == "draft"  # nothing typed was touched


async def test_tab_moves_to_the_log_and_typing_there_goes_back_to_the_input(monkeypatch):
    app = scripted_app(monkeypatch)
    async with app.run_test(size=NARROW) as pilot:
        await idle(pilot)
        await send(pilot, "/help")
        prompt = app.query_one(PromptInput)
        await pilot.press("tab")  # nothing to complete in an empty input
        assert app.focused is app.chat
        assert "typing goes to the input" in status_line(app)
        await pilot.press("home")  # the log's own keys scroll it
        await wait_until(pilot, lambda: app.chat.scroll_y == 0)
        await pilot.press("h", "i")
        assert app.focused is prompt and prompt.text == "hi"
        assert "typing goes to the input" not in status_line(app)
        await pilot.press("tab")  # the input's text has no completion: to the log again
        assert app.focused is app.chat
        await pilot.press("escape")
        assert app.focused is prompt and prompt.text == "hi"
        await pilot.press("tab")
        app.post_message(events.Paste("more"))  # a paste in the log lands in the input too
        await wait_until(pilot, lambda: prompt.text == "himore")
        assert app.focused is prompt
        prompt.clear()
        await pilot.press("tab")
        burst(app, "/temp 0.4\n/top_k 3\n")  # lines written while the log has the focus: none lost
        await pilot.pause()
        await idle(pilot)
        assert (app.session.settings.temperature, app.session.settings.top_k) == (0.4, 3)
        assert app.focused is prompt and prompt.text == ""


async def test_after_probs_a_digit_branches_with_that_alternative(tiny_llama):
    app = ChatApp("local", str(tiny_llama), GenerationSettings(greedy=True, max_new_tokens=6), {"device": "cpu"})
    async with app.run_test(size=NARROW) as pilot:
        await idle(pilot)
        await send(pilot, "2")  # a digit typed in the input is text
        assert app.session.conversation.turns[0].message.content == "2"
        old = app.session.conversation.turns[-1]
        await send(pilot, "/probs 1")
        await wait_until(pilot, lambda: app.focused is app.chat)  # the view's keys are live
        assert "press K now" in screen_text(app) and "1-5 branch at #1" in status_line(app)
        await pilot.press("2")
        await wait_until(pilot, lambda: app.session.conversation.turns[-1] is not old)
        await idle(pilot)
        new = app.session.conversation.turns[-1]
        assert [t.token_id for t in new.tokens[:1]] == [t.token_id for t in old.tokens[:1]]
        assert new.tokens[1].token_id == old.tokens[1].top_ids[1]  # the second alternative, forced
        assert app.query_one(PromptInput).text == ""  # the digit was a key, not text
        assert len(app.session.conversation.branches) == 1  # the old reply is kept as a branch


async def test_keys_typed_in_the_log_after_probs_go_to_the_input(tiny_llama):
    app = ChatApp("local", str(tiny_llama), GenerationSettings(greedy=True, max_new_tokens=6), {"device": "cpu"})
    async with app.run_test(size=NARROW) as pilot:
        await idle(pilot)
        await send(pilot, "hello")
        await send(pilot, "/probs 0")
        await wait_until(pilot, lambda: app.focused is app.chat)
        turns = list(app.session.conversation.turns)
        await pilot.press("w", "6")  # a letter leaves the log; after it, digits are text again
        assert app.query_one(PromptInput).text == "w6" and app.focused is app.query_one(PromptInput)
        assert app.session.conversation.turns == turns


async def test_ctrl_y_copies_the_last_answer_from_the_input(monkeypatch):
    for name in ("DISPLAY", "WAYLAND_DISPLAY", "TMUX"):
        monkeypatch.delenv(name, raising=False)
    app = scripted_app(monkeypatch)
    async with app.run_test(size=NARROW) as pilot:
        await idle(pilot)
        await send(pilot, "reverse a string")
        await pilot.press("ctrl+y")  # the input's own Ctrl-Y would be "redo"
        answer = app.session.conversation.turns[-1].message.content
        await wait_until(pilot, lambda: app.clipboard == answer)
        await wait_until(pilot, lambda: f"sent {len(answer)} characters to the terminal's clipboard"
                         in " ".join(screen_text(app).split()))


async def test_a_burst_of_lines_runs_every_one_in_order(monkeypatch):
    app = scripted_app(monkeypatch)
    async with app.run_test(size=NARROW) as pilot:
        await idle(pilot)
        burst(app, "/temp 0.3\n/top_k 5\n/max 50\n")
        await pilot.pause()
        await idle(pilot)
        settings = app.session.settings
        assert (settings.temperature, settings.top_k, settings.max_new_tokens) == (0.3, 5, 50)
        burst(app, "/temp 0.2\nreverse a string\n/max 40\n")  # a prompt between commands waits its turn
        await pilot.pause()
        await wait_until(pilot, lambda: len(app.session.conversation.turns) == 2)
        await idle(pilot)
        turn = app.session.conversation.turns[-1]
        assert turn.settings.temperature == 0.2 and turn.settings.max_new_tokens == 50
        assert app.session.settings.max_new_tokens == 40
        assert "waiting" not in status_line(app)


async def test_a_failed_command_stays_in_the_log_and_comes_back_to_the_input(monkeypatch):
    app = scripted_app(monkeypatch)
    async with app.run_test(size=NARROW) as pilot:
        await idle(pilot)
        await send(pilot, "/temp 9")
        prompt = app.query_one(PromptInput)
        assert prompt.text == "/temp 9"
        note = app.query(Note).last()
        drawn = " ".join(note.render_line(y).text for y in range(note.size.height))
        assert "/temp 9" in drawn and "from 0 to 5" in drawn
        await pilot.pause(0.5)
        assert note.is_attached and "/temp 9" in screen_text(app)  # not a notification that fades
        prompt.clear()
        burst(app, "/top_k -1\n/top_k x\n")  # two failures: both stay in the log, the first comes back
        await pilot.pause()
        await idle(pilot)
        shown = " ".join(screen_text(app).split())
        assert "/top_k -1" in shown and "/top_k x" in shown and prompt.text == "/top_k -1"


async def test_status_bar_keeps_what_matters_on_a_narrow_terminal(monkeypatch):
    app = scripted_app(monkeypatch)
    async with app.run_test(size=NARROW) as pilot:
        await idle(pilot)
        await send(pilot, "reverse a string")
        line = status_line(app).strip()
        stats = app.session.conversation.turns[-1].stats
        assert f"ctx {stats.prompt_tokens + stats.completion_tokens}/8192" in line
        assert f"{stats.tokens_per_second:.1f} tok/s" in line
        assert len(line) <= 78 and "scripted-coder" in line


async def test_status_bar_says_replying_in_full_at_120_columns(tiny_llama, monkeypatch):
    made = register_backend(monkeypatch, "held", HeldBackend)
    app = ChatApp("held", str(tiny_llama), GenerationSettings(greedy=True, max_new_tokens=8), {"device": "cpu"})
    async with app.run_test(size=(120, 40)) as pilot:
        await idle(pilot)
        await type_text(pilot, "hello")
        await pilot.press("enter")
        await wait_until(pilot, lambda: made[0].first_chunk.is_set() and app.replying)
        await pilot.pause()
        assert status_line(app).rstrip().endswith("replying (Esc stops)")
        await pilot.press("escape")
        await idle(pilot)


async def test_esc_stops_the_reply_and_the_lines_waiting_behind_it(tiny_llama, monkeypatch):
    made = register_backend(monkeypatch, "held", HeldBackend)
    app = ChatApp("held", str(tiny_llama), GenerationSettings(greedy=True, max_new_tokens=8), {"device": "cpu"})
    async with app.run_test(size=NARROW) as pilot:
        await idle(pilot)
        burst(app, "hello\n")
        await wait_until(pilot, lambda: made[0].first_chunk.is_set() and app.replying)
        app.bridge.run("/temp 0.5")  # as a line of the same burst that came in behind the prompt
        await pilot.pause()
        assert app.bridge.waiting == 1 and "1 waiting" in status_line(app)
        await pilot.press("escape")
        await idle(pilot)
        assert app.session.settings.temperature != 0.5
        assert "not sent (Esc): /temp 0.5" in screen_text(app)


async def test_escape_sequences_in_the_input_are_drawn_as_symbols_and_sent_as_they_are(monkeypatch):
    app = scripted_app(monkeypatch)
    async with app.run_test(size=NARROW) as pilot:
        await idle(pilot)
        prompt = app.query_one(PromptInput)
        pasted = "/load /tmp/\x1b]0;retitled\x07x.json \x9b1m"
        prompt.text = pasted  # as a paste puts it there (and as a failed command comes back)
        await pilot.pause()
        lines = [prompt.render_line(y) for y in range(prompt.size.height)]
        drawn = "".join(line.text for line in lines)
        assert "␛]0;retitled" in drawn and not any(c in drawn for c in "\x1b\x07\x9b")
        assert all(line.cell_length == prompt.size.width for line in lines)  # the box keeps its width
        await pilot.press("enter")
        await idle(pilot)
        assert prompt.text == pasted  # the failed command comes back exactly as it was
