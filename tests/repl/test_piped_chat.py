"""``cat f.py | parrot --chat "explain this"``: answered, then the chat goes on with keys from the terminal."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys

import pexpect

from repl.history.store import HistoryStore
from tests.support.helpers import ROOT

SOURCE = "def add(a, b):\n    return a + b\n"


def spawn(tiny_llama, tmp_path, *flags: str, term: str = "xterm-256color") -> pexpect.spawn:
    source = tmp_path / "add.py"
    source.write_text(SOURCE)
    command = (f"cat {shlex.quote(str(source))} | {shlex.quote(sys.executable)} -m repl --chat 'explain this' "
               f"-m {shlex.quote(str(tiny_llama))} --device cpu --greedy -n 6 {' '.join(flags)}")
    env = {**os.environ, "TERM": term, "TQDM_DISABLE": "1"}
    return pexpect.spawn("bash", ["-c", command], cwd=str(ROOT), env=env, dimensions=(30, 120),
                         encoding="utf-8", timeout=120)


def stored_turns():
    store = HistoryStore()
    try:
        return store.load(store.last_id()).turns
    finally:
        store.close()


def test_piped_chat_goes_on_in_the_plain_repl(tiny_llama, tmp_path):
    child = spawn(tiny_llama, tmp_path, "--plain", term="dumb")  # a dumb terminal: the prompt is plain "> "
    try:
        child.expect(r"> explain this  \(with stdin \(\d+ bytes\)\)")
        child.expect(r"\d+ tokens")  # the first answer
        child.expect("> ")
        child.send("and now in words\r")  # typed on the terminal: the pipe is spent
        child.expect(r"\d+ tokens")
        child.expect("> ")
        child.send("/quit\r")
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)
    assert child.exitstatus == 0
    turns = stored_turns()
    assert [t.message.role for t in turns] == ["user", "assistant", "user", "assistant"]
    assert turns[0].message.content == f"stdin:\n```\n{SOURCE.rstrip()}\n```\n\nexplain this"
    assert turns[0].attachments[0]["path"] == "stdin"
    assert turns[2].message.content == "and now in words"


def test_piped_chat_goes_on_in_the_app(tiny_llama, tmp_path):
    child = spawn(tiny_llama, tmp_path)
    try:
        child.expect("Enter sends")  # the app's first paint
        child.expect("attached: stdin")  # the first prompt was answered with the piped file
        child.send("a follow-up\r")
        child.expect("a follow-up")
        child.expect(r"\d+ tokens")
        child.send("\x11")  # Ctrl-Q
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)
    assert child.exitstatus == 0
    turns = stored_turns()
    assert [t.message.content for t in turns if t.message.role == "user"][1] == "a follow-up"


def test_piped_chat_without_a_terminal_says_so_in_one_line(tiny_llama):
    result = subprocess.run([sys.executable, "-m", "repl", "--chat", "explain", "-m", str(tiny_llama)],
                            input=SOURCE.encode(), capture_output=True, cwd=ROOT, timeout=120,
                            start_new_session=True)  # a new session has no controlling terminal
    assert result.returncode == 2
    err = result.stderr.decode().strip()
    assert err.count("\n") == 0 and "--chat" in err and "drop --chat" in err
    assert result.stdout == b""
