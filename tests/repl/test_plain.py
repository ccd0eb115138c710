"""The plain REPL driven through prompt_toolkit's pipe input, against a tiny real model."""

from __future__ import annotations

import io

from prompt_toolkit.document import Document
from prompt_toolkit.input import create_pipe_input
from prompt_toolkit.output import DummyOutput

from backends.paths import prompt_history_file
from backends.settings import GenerationSettings
from repl.commands import completions
from repl.history.store import HistoryStore
from repl.modes.plain import CommandCompleter, run_plain
from repl.views.terminal_text import neutral

CTRL_D = "\x04"


def run(model, text: str, settings: GenerationSettings | None = None, **kwargs) -> tuple[int, str]:
    out = io.StringIO()
    settings = settings or GenerationSettings(greedy=True, max_new_tokens=8)
    with create_pipe_input() as pipe:
        pipe.send_text(text)
        code = run_plain("local", str(model), settings, {"device": "cpu"},
                         input=pipe, output=DummyOutput(), out=out, **kwargs)
    return code, out.getvalue()


def test_prompt_answer_command_and_ctrl_d(tiny_llama):
    # Sampled with a fixed seed: the tiny greedy model only produces blank lines.
    settings = GenerationSettings(temperature=1.0, seed=3, max_new_tokens=30)
    code, shown = run(tiny_llama, f"hello\r/system be brief\r{CTRL_D}", settings)
    assert code == 0
    store = HistoryStore()
    conversation = store.load(store.last_id())
    answer = conversation.turns[1].message.content
    # streamed to the output, its control characters shown as symbols (the tiny model emits some)
    assert answer.strip() and neutral(answer) in shown
    assert f"{conversation.turns[1].stats.completion_tokens} tokens" in shown
    assert "system prompt: be brief" in shown
    assert "hello" in prompt_history_file().read_text()  # the prompt history file


def test_triple_quotes_make_one_multi_line_prompt(tiny_llama):
    code, _ = run(tiny_llama, '"""\rdef add(a, b):\r    return a + b\r"""\r' + CTRL_D)
    assert code == 0
    store = HistoryStore()
    turns = store.load(store.last_id()).turns
    assert turns[0].message.content == "def add(a, b):\n    return a + b"


def test_errors_are_shown_and_the_repl_goes_on(tiny_llama):
    code, shown = run(tiny_llama, f"/frobnicate\r/export pdf\r/help\r{CTRL_D}")
    assert code == 0
    assert "unknown command /frobnicate" in shown
    assert "usage: /export md|jsonl [PATH]" in shown or "use md or jsonl" in shown
    assert "/retry" in shown  # /help still ran after the errors


def test_continue_flag_resumes_the_last_conversation(tiny_llama):
    run(tiny_llama, f"first\r{CTRL_D}")
    code, shown = run(tiny_llama, f"second\r{CTRL_D}", resume=True)
    assert code == 0 and "continuing conversation" in shown
    store = HistoryStore()
    assert [t.message.content for t in store.load(store.last_id()).turns[::2]] == ["first", "second"]


def test_completion_offers_commands_from_the_table():
    found = [c.text for c in CommandCompleter().get_completions(Document("/se"), None)]
    assert found == completions("/se") and found
    found = [c.text for c in CommandCompleter().get_completions(Document("/export j"), None)]
    assert found == ["/export jsonl"]


def test_ctrl_c_stops_the_reply_and_keeps_the_partial_answer(tiny_llama, monkeypatch):
    import _thread
    import threading

    from repl.chat.session import Session
    from repl.modes.plain import PlainRepl
    from tests.support.app_helpers import HeldBackend, register_backend

    held = register_backend(monkeypatch, "held", HeldBackend)
    session = Session("held", str(tiny_llama), GenerationSettings(greedy=True, max_new_tokens=60), device="cpu")
    out = io.StringIO()

    def press_ctrl_c() -> None:
        held[0].first_chunk.wait(60)
        _thread.interrupt_main()  # what the terminal's Ctrl-C does to the main thread

    with create_pipe_input() as pipe:
        repl = PlainRepl(session, input=pipe, output=DummyOutput(), out=out)
        threading.Thread(target=press_ctrl_c, daemon=True).start()
        repl.handle("tell me a long story")
    turn = session.conversation.turns[-1]
    assert turn.stats.finish_reason == "cancelled"
    assert turn.message.content and turn.message.content in out.getvalue()
    assert "cut off: cancelled" in out.getvalue()


def test_plain_repl_attaches_at_paths_and_completes_them(tiny_llama, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "notes.md").write_text("# Notes\n\nship it\n")
    found = [c.text for c in CommandCompleter().get_completions(Document("read @no"), None)]
    assert found == ["notes.md"]
    found = [c.text for c in CommandCompleter().get_completions(Document("/file no"), None)]
    assert found == ["notes.md"]
    code, shown = run(tiny_llama, f"/file {tmp_path}\rsummarise @notes.md\r{CTRL_D}")
    assert code == 0
    assert f"{tmp_path} is a folder" in shown  # refused in one line; the REPL goes on
    store = HistoryStore()
    turn = store.load(store.last_id()).turns[0]
    assert turn.message.content == "notes.md:\n```markdown\n# Notes\n\nship it\n```\n\nsummarise @notes.md"
    assert [a["path"] for a in turn.attachments] == ["notes.md"]
