"""Files in a prompt: /file and @path, what is refused, what is stored, what /retry re-sends."""

from __future__ import annotations

import json
import os
import socket
import threading

import pytest

from backends.base import Message
from backends.errors import UsageError
from backends.settings import GenerationSettings
from repl import commands
from repl.chat.attachment_budget import measure
from repl.chat.attachments import (
    MAX_BYTES,
    Attachment,
    AttachmentError,
    compose,
    expand,
    mentions,
    path_completions,
    read_attachment,
    word_to_complete,
)
from repl.chat.session import Session
from repl.commands.context import Context
from repl.history.store import HistoryStore
from tests.support.helpers import run_parrot
from tests.support.recording_ui import RecordingUI


def refused(path) -> str:
    with pytest.raises(AttachmentError) as caught:
        read_attachment(str(path))
    message = str(caught.value)
    assert "\n" not in message  # one line
    return message


# -- what is refused -----------------------------------------------------------------------------

def test_a_directory_is_refused_with_a_glob_to_use_instead(tmp_path):
    assert "is a folder, not a regular file" in refused(tmp_path) and f"/file {tmp_path}/*.py" in refused(tmp_path)


def test_a_binary_file_is_refused(tmp_path):
    path = tmp_path / "image.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR")
    assert "is a binary file" in refused(path)


def test_a_file_that_is_not_utf8_is_refused(tmp_path):
    path = tmp_path / "latin1.txt"
    path.write_bytes("café naïve".encode("latin-1"))
    assert "is not UTF-8 text" in refused(path)


def test_an_unreadable_file_is_refused():
    # /proc/self/mem is a regular file that fails on read (EIO) even for root, who reads any chmod-000 file.
    assert "cannot read /proc/self/mem" in refused("/proc/self/mem")


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_a_file_without_read_permission_is_refused(tmp_path):
    path = tmp_path / "secret.py"
    path.write_text("x = 1\n")
    path.chmod(0)
    assert "cannot read" in refused(path)


def test_a_fifo_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)  # nobody writes to it: opening it for reading would block forever
    assert "is a pipe (FIFO), not a regular file" in refused(fifo)


def test_a_device_that_never_ends_is_refused():
    assert "/dev/zero is a character device, not a regular file" in refused("/dev/zero")


def test_a_socket_is_refused(tmp_path):
    path = tmp_path / "s.sock"
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(path))
    try:
        assert "is a socket, not a regular file" in refused(path)
    finally:
        server.close()


def test_a_file_over_the_size_limit_is_refused(tmp_path):
    path = tmp_path / "big.py"
    path.write_text("x = 1\n" * (MAX_BYTES // 6 + 1))
    assert "over the 256.0 KiB limit" in refused(path)


def test_a_missing_file_is_refused(tmp_path):
    assert f"no such file: {tmp_path}/nope.py" in refused(tmp_path / "nope.py")


# -- what goes into the message ------------------------------------------------------------------

def test_a_file_goes_in_as_its_name_and_a_fenced_block_in_its_language(tmp_path):
    path = tmp_path / "add.py"
    path.write_text("def add(a, b):\n    return a + b\n")
    attachment = read_attachment(str(path))
    assert attachment.block() == f"{path}:\n```python\ndef add(a, b):\n    return a + b\n```"
    assert compose("explain this", [attachment]) == attachment.block() + "\n\nexplain this"
    assert attachment.record() == {"path": str(path), "size": 32, "sha256": attachment.sha256}
    assert len(attachment.sha256) == 64


def test_a_file_that_holds_fences_gets_a_longer_fence(tmp_path):
    path = tmp_path / "README.md"
    path.write_text("Run:\n\n```sh\nmake\n```\n")
    block = read_attachment(str(path)).block()
    assert block.splitlines()[1] == "````markdown" and block.endswith("\n````")


def test_globs_and_home_are_expanded(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "b.py").write_text("b = 2\n")
    (tmp_path / "src" / "a.py").write_text("a = 1\n")
    (tmp_path / "src" / "sub").mkdir()  # a glob's folders are skipped
    assert expand(["~/src/*"]) == [f"{tmp_path}/src/a.py", f"{tmp_path}/src/b.py"]
    assert expand(["~/src/a.py"]) == ["~/src/a.py"]  # named outright: shown as typed, read expanded
    assert read_attachment("~/src/a.py").text == "a = 1\n"
    with pytest.raises(AttachmentError, match="no file matches"):
        expand(["~/src/*.rs"])


def test_mentions_are_files_not_decorators_or_mail(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "app.py").write_text("x = 1\n")
    prompt = ("why does @app.py fail? it uses @dataclass, mail me@example.com\n"
              "```\n@app.py inside a fence stays text\n```\n@./missing.py")
    assert mentions(prompt) == ["app.py", "./missing.py"]


def test_path_completion_words_and_candidates(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "main.py").write_text("")
    (tmp_path / "setup.cfg").write_text("")
    assert word_to_complete("/file s") == "s" and word_to_complete("look at @src/m") == "src/m"
    assert word_to_complete("plain words") is None and word_to_complete("me@exa") is None
    assert path_completions("s") == ["setup.cfg", "src/"]
    assert path_completions("src/m") == ["src/main.py"]


# -- /file, the stored turn, exports -------------------------------------------------------------

def test_file_command_queues_files_and_counts_them_with_the_model_tokenizer(tiny_llama_backend, tmp_path):
    path = tmp_path / "add.py"
    path.write_text("def add(a, b):\n    return a + b\n" * 3)
    session = Session("local", str(tiny_llama_backend.model_name), GenerationSettings(max_new_tokens=8),
                      device="cpu")
    session.backend = tiny_llama_backend
    ui = RecordingUI(width=400)
    commands.run(f"/file {path}", Context(session, ui))
    block = read_attachment(str(path)).block()
    expected = len(tiny_llama_backend.tokenizer(block, add_special_tokens=False).input_ids)
    assert f"attached {path} (96 bytes): {expected:,} tokens" in ui.text
    assert "left in the window" in ui.text and "nothing cut" in ui.text
    assert [a.path for a in session.pending_files] == [str(path)]
    with pytest.raises(UsageError, match="is a folder"):
        commands.run(f"/file {path} {tmp_path}", Context(session, ui))
    assert len(session.pending_files) == 1  # a refused command queues nothing


def test_what_would_be_cut_is_what_the_backend_cuts(tiny_llama_backend, tmp_path):
    path = tmp_path / "long.py"
    path.write_text("".join(f"value_{i} = {i} * {i}\n" for i in range(200)))  # far over the 256-token window
    session = Session("local", str(tiny_llama_backend.model_name), GenerationSettings(max_new_tokens=8),
                      device="cpu")
    session.backend = tiny_llama_backend
    files = [read_attachment(str(path))]
    budget = measure(session, "explain", files)
    _, _, cut = tiny_llama_backend.prompt_ids([Message("user", compose("explain", files))], session.settings)
    assert budget.cut_tokens == cut > 0
    assert f"would cut {cut:,} tokens from the start of this prompt" in budget.line()


def test_what_is_left_is_counted_after_the_files(tiny_llama_backend, tmp_path):
    path = tmp_path / "add.py"
    path.write_text("def add(a, b):\n    return a + b\n" * 3)
    session = Session("local", str(tiny_llama_backend.model_name), GenerationSettings(max_new_tokens=8),
                      device="cpu")
    session.backend = tiny_llama_backend
    files = [read_attachment(str(path))]
    budget = measure(session, "explain", files)
    sent, _, _ = tiny_llama_backend.prompt_ids([Message("user", compose("explain", files))], session.settings)
    alone, _, _ = tiny_llama_backend.prompt_ids([Message("user", "explain")], session.settings)
    assert budget.left == budget.window - 8 - len(sent)
    assert budget.left + budget.tokens <= budget.window - 8 - len(alone) + 2  # the files are spent (2: seams)
    assert f"{budget.left:,} of 256 left in the window after them" in budget.line()


def script(model, text: str):
    return run_parrot(["--script", "-", "-m", str(model), "--device", "cpu", "--greedy", "-n", "4"],
                      stdin=text.encode())


def test_script_attaches_files_and_history_and_exports_show_them(tiny_llama, tmp_path, parrot_home):
    path = tmp_path / "util.py"
    path.write_text("def double(x):\n    return 2 * x\n")
    export = tmp_path / "chat.md"
    jsonl = tmp_path / "chat.jsonl"
    size = len(path.read_bytes())
    result = script(tiny_llama, f"/file {path}\nwhat does it do\nand @{path} again\n"
                                f"/export md {export}\n/export jsonl {jsonl}\n")
    assert result.returncode == 0, result.stderr.decode()
    assert f"attached {path} ({size} bytes)" in result.stdout.decode()
    store = HistoryStore()
    turns = store.load(store.last_id()).turns
    sha = Attachment.from_text(str(path), path.read_text()).sha256
    assert turns[0].attachments == [{"path": str(path), "size": size, "sha256": sha}]
    assert turns[0].message.content == f"{path}:\n```python\ndef double(x):\n    return 2 * x\n```\n\nwhat does it do"
    assert turns[2].attachments == turns[0].attachments  # @path, not queued again by /file
    exported = export.read_text()
    # Named with its size, not pasted in full; the prompt as typed. The JSON lines keep what the model saw.
    assert f"## user\n\n- attached `{path}` ({size} bytes)\n\nwhat does it do\n" in exported
    assert "return 2 * x" not in exported
    first = json.loads(jsonl.read_text().splitlines()[0])
    assert first["attachments"] == turns[0].attachments and "return 2 * x" in first["content"]
    shown = run_parrot(["history", str(store.last_id())], env={"PARROT_HOME": str(parrot_home)}).stdout.decode()
    assert f"attached `{path}`" in shown and "return 2 * x" not in shown
    assert store.load(store.last_id()).title == "what does it do"  # from the question, not the file
    listing = run_parrot(["history"], env={"PARROT_HOME": str(parrot_home)}).stdout.decode()
    assert "files" in listing and " 2 " in listing  # two attachments over the conversation
    store.close()


def test_a_refused_mention_stops_the_prompt_in_one_line(tiny_llama, tmp_path):
    result = script(tiny_llama, f"look at @{tmp_path}\n")
    assert result.returncode == 2
    err = result.stderr.decode().strip()
    assert err.count("\n") == 0 and f"{tmp_path} is a folder" in err


def test_retry_resends_the_content_attached_even_after_the_file_changed(server, tmp_path):
    from tests.support.openai_server import answer

    path = tmp_path / "conf.py"
    path.write_text("DEBUG = True\n")
    server.queue(answer(["first"]), answer(["second"]))
    session = Session("openai", "m", GenerationSettings(max_new_tokens=8), base_url=f"{server.url}/v1")
    from repl.chat.replies import stream_reply

    stream_reply(session, f"check @{path}", threading.Event(), lambda text: None)
    path.write_text("DEBUG = False\n")  # changed since
    ui_calls = []

    class UI(RecordingUI):
        def generate(self, branch=None) -> None:
            ui_calls.append(stream_reply(session, None, threading.Event(), lambda text: None))

    commands.run("/retry", Context(session, UI()))
    first, second = (p.body["messages"][-1]["content"] for p in server.posts())
    assert "DEBUG = True" in first and first == second
    assert session.conversation.turns[-1].message.content == "second"
