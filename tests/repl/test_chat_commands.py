"""The conversation commands, run through the script runner (a real UI) against a tiny real model."""

from __future__ import annotations

import io
import json

import pytest

from backends.errors import UsageError
from backends.settings import GenerationSettings
from repl.chat.session import Session
from repl.commands.chat import code_blocks
from repl.history.store import HistoryStore
from repl.modes.script import ScriptRunner


@pytest.fixture
def chat(tiny_llama):
    session = Session("local", str(tiny_llama), GenerationSettings(greedy=True, max_new_tokens=6), device="cpu")
    store = HistoryStore()
    store.attach(session)
    out, err = io.StringIO(), io.StringIO()
    runner = ScriptRunner(session, out, err)
    yield runner, session, store, out
    store.close()


def test_undo_and_retry_rewrite_the_stored_conversation(chat):
    runner, session, store, out = chat
    assert runner.run(["first", "second", "/undo"]) == 0
    assert [t.message.content for t in session.conversation.turns][::2] == ["first"]
    assert len(store.load(session.conversation.id).turns) == 2  # the database forgot the undone turns too
    answer = session.conversation.turns[1]
    assert runner.run(["/retry"]) == 0
    assert len(session.conversation.turns) == 2 and session.conversation.turns[1] is not answer
    assert "forgot 2 message(s): second" in out.getvalue()


def test_continue_merges_into_the_stored_turn(chat):
    runner, session, store, _ = chat
    runner.run(["count to ten"])
    turn = session.conversation.turns[1]
    if turn.stats.finish_reason != "length":
        pytest.skip("the tiny model stopped by itself: nothing to continue")
    before, tokens = turn.message.content, turn.stats.completion_tokens
    assert runner.run(["/continue"]) == 0
    stored = store.load(session.conversation.id).turns
    assert len(stored) == 2
    assert stored[1].message.content == turn.message.content and turn.message.content.startswith(before)
    assert stored[1].stats.completion_tokens == turn.stats.completion_tokens > tokens


def test_stored_turns_keep_what_reproduces_them(chat):
    runner, session, store, _ = chat
    runner.run(["/set temp=0.5 seed=7 greedy=false", "hi"])
    stored = store.load(session.conversation.id).turns[1]
    assert stored.settings.seed == 7 and stored.settings.temperature == 0.5
    assert stored.stats.seed == 7 and stored.stats.prompt_tokens > 0 and stored.stats.seconds > 0
    assert stored.stats.model.endswith("tiny-llama0")


def test_save_and_load_a_file_and_switch_conversations(chat, tmp_path):
    runner, session, store, out = chat
    path = tmp_path / "saved.json"
    assert runner.run(["hello", f"/save {path}", "/new", "/history"]) == 0
    assert json.loads(path.read_text())["turns"][0]["content"] == "hello"
    assert session.conversation.turns == []
    assert "hello" in out.getvalue()  # /history lists the old conversation
    assert runner.run([f"/load {path}"]) == 0
    assert [t.message.content for t in session.conversation.turns][0] == "hello"
    loaded_id = session.conversation.id
    assert runner.run(["/load 1"]) == 0 and session.conversation.id == 1 != loaded_id


def test_export_markdown_marks_cut_off_replies(chat, tmp_path):
    runner, session, _, _ = chat
    path = tmp_path / "chat.md"
    runner.run(["hello", f"/export md {path}"])
    text = path.read_text()
    assert text.startswith("# hello") and "## user\n\nhello" in text
    if session.conversation.turns[1].cut_off:
        assert "*cut off: length*" in text


def test_copy_needs_a_clipboard_and_finds_code_blocks(chat):
    runner, session, _, out = chat
    runner.run(["hello"])
    copied: list[str] = []

    def clipboard(text: str) -> str:
        copied.append(text)
        return f"copied {len(text)} characters to the test's list"

    runner.context.clipboard = clipboard
    session.conversation.turns[1].message.content = "Here:\n```python\nx = 1\n```\nand\n```\ny = 2\n```\n"
    assert runner.run(["/copy code", "/copy"]) == 0
    assert copied == ["y = 2", session.conversation.turns[1].message.content]
    runner.context.clipboard = None
    assert runner.run(["/copy"]) == 2


def test_code_blocks_include_an_unclosed_last_fence():
    assert code_blocks("a\n```js\nlet x\n```\nb\n~~~\nraw\n") == ["let x", "raw"]


def test_wrong_arguments_print_the_usage(chat):
    runner, _, _, _ = chat
    err = runner.err
    assert runner.run(["/export"]) == 2
    assert "usage: /export md|jsonl [PATH]" in err.getvalue()
    with pytest.raises(UsageError):
        HistoryStore().load(999)


def test_a_reply_cut_off_inside_a_code_block_leaves_valid_markdown(server, tmp_path, parrot_home):
    """The fence the reply opened is closed, so the next heading is a heading, in /export md and parrot history."""
    from markdown_it import MarkdownIt

    from tests.support.helpers import run_parrot
    from tests.support.openai_server import answer

    server.queue(answer(["Here:\n", "```python\n", "def add(a, b):\n", "    return"], finish="length"),
                 answer(["Done."]))
    script = f"write add\nthanks\n/export md {tmp_path / 'chat.md'}\n/export md\n"
    result = run_parrot(["--script", "-", "-b", "openai", "--base-url", f"{server.url}/v1", "-m", "m"],
                        stdin=script.encode(), env={"PARROT_HOME": str(parrot_home)})
    assert result.returncode == 0, result.stderr.decode()
    default = parrot_home / "data" / "exports" / "conversation-1.md"
    assert f"wrote {default}" in result.stdout.decode()  # no path: its own folder, named in full
    shown = run_parrot(["history", "1"], env={"PARROT_HOME": str(parrot_home)}).stdout.decode()
    for text in ((tmp_path / "chat.md").read_text(), default.read_text(), shown):
        tokens = MarkdownIt().parse(text)
        headings = [tokens[i + 1].content for i, t in enumerate(tokens) if t.type == "heading_open" and t.tag == "h2"]
        assert headings == ["user", "assistant (m)", "user", "assistant (m)"], text
        code = [t.content for t in tokens if t.type == "fence"]
        assert code == ["def add(a, b):\n    return\n"]
        assert "*cut off: length*" in text
