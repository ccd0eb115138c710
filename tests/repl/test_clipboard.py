"""/copy says where the text went: a clipboard tool, tmux's paste buffer, or only the terminal's request."""

from __future__ import annotations

import os
import shutil
import subprocess
import time

import pytest

from backends.errors import UsageError
from repl.modes.clipboard import copy_text


@pytest.fixture
def bare_desktop(monkeypatch, tmp_path):
    """No display, no tmux, and a PATH with no clipboard tool on it (only what the tests put there)."""
    for name in ("DISPLAY", "WAYLAND_DISPLAY", "TMUX"):
        monkeypatch.delenv(name, raising=False)
    tools = tmp_path / "bin"
    tools.mkdir()
    monkeypatch.setenv("PATH", f"{tools}{os.pathsep}{os.path.dirname(shutil.which('sh'))}")
    return tools


def test_only_the_terminals_request_is_not_called_copied(bare_desktop):
    sent: list[str] = []
    said = copy_text("hello", sent.append)
    assert sent == ["hello"]
    assert said.startswith("sent 5 characters to the terminal's clipboard (OSC 52)")
    assert "tmux" in said and "install wl-copy, xclip or xsel" in said


def test_with_no_terminal_and_no_tool_nothing_is_claimed(bare_desktop):
    with pytest.raises(UsageError, match="could not copy 5 characters"):
        copy_text("hello", None)


def test_an_installed_clipboard_tool_takes_the_text(bare_desktop, monkeypatch, tmp_path):
    # An xclip that writes what it is given where the test can read it, as the real one hands it to X.
    got = tmp_path / "clipboard"
    xclip = bare_desktop / "xclip"
    xclip.write_text(f'#!/bin/sh\n[ "$1 $2" = "-selection clipboard" ] || exit 1\ncat > "{got}"\n')
    xclip.chmod(0o755)
    monkeypatch.setenv("DISPLAY", ":0")
    said = copy_text("def f():\n    pass\n", lambda text: None)
    assert got.read_text() == "def f():\n    pass\n"
    assert said == "copied 18 characters to the clipboard (xclip)"


def test_a_tool_that_fails_is_not_claimed(bare_desktop, monkeypatch):
    xclip = bare_desktop / "xclip"
    xclip.write_text("#!/bin/sh\necho 'Error: Can\\'t open display' >&2\nexit 1\n")
    xclip.chmod(0o755)
    monkeypatch.setenv("DISPLAY", ":0")
    assert copy_text("hello", lambda text: None).startswith("sent 5 characters to the terminal's clipboard")


@pytest.mark.skipif(shutil.which("tmux") is None, reason="needs tmux")
def test_inside_tmux_the_paste_buffer_gets_it(bare_desktop, monkeypatch, tmp_path):
    socket = tmp_path / "tmux.sock"
    tmux = shutil.which("tmux", path=os.environ.get("PATH", "") + os.pathsep + "/usr/bin:/bin")
    os.symlink(tmux, bare_desktop / "tmux")
    subprocess.run([tmux, "-S", str(socket), "-f", "/dev/null", "new-session", "-d", "-s", "t", "sleep 60"],
                   check=True)
    try:
        monkeypatch.setenv("TMUX", f"{socket},{os.getpid()},0")  # what tmux sets inside its panes
        said = copy_text("print('hi')", lambda text: None)
        buffer = subprocess.run([tmux, "-S", str(socket), "show-buffer"], capture_output=True, text=True, timeout=10)
        assert buffer.stdout == "print('hi')"
        assert said == "copied 11 characters to tmux's paste buffer (prefix ] pastes it)"
    finally:
        subprocess.run([tmux, "-S", str(socket), "kill-server"], check=False)
        time.sleep(0.1)


def test_the_plain_repl_copies_with_the_tool_and_says_so(bare_desktop, monkeypatch, tmp_path, tiny_llama):
    import io

    from prompt_toolkit.input import create_pipe_input
    from prompt_toolkit.output import DummyOutput

    from backends.settings import GenerationSettings
    from repl.modes.plain import run_plain

    got = tmp_path / "clipboard"
    xsel = bare_desktop / "xsel"
    xsel.write_text(f'#!/bin/sh\ncat > "{got}"\n')
    xsel.chmod(0o755)
    monkeypatch.setenv("DISPLAY", ":0")
    out = io.StringIO()  # not a terminal: no OSC 52 request, the tool alone
    with create_pipe_input() as pipe:
        pipe.send_text("hello\r/copy\r\x04")
        run_plain("local", str(tiny_llama), GenerationSettings(temperature=1.0, seed=3, max_new_tokens=12),
                  {"device": "cpu"}, input=pipe, output=DummyOutput(), out=out)
    answer = got.read_text()
    assert answer and f"copied {len(answer)} characters to the clipboard (xsel)" in out.getvalue()
