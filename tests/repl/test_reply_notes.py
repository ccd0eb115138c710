"""What a reply needs to tell, told where it belongs: a prompt cut to the window before the reply begins
(stderr in plain and script modes), and a setting the server ignores, once (stderr, against real HTTP)."""

from __future__ import annotations

import io

from prompt_toolkit.input import create_pipe_input
from prompt_toolkit.output import DummyOutput

from backends.settings import GenerationSettings
from repl.chat.session import Session
from repl.modes.plain import PlainRepl
from repl.modes.script import ScriptRunner

LONG = "word " * 2000  # far over the tiny model's 256-token window
SAMPLED = GenerationSettings(temperature=1.0, seed=3, max_new_tokens=12)  # greedy, the tiny model writes blanks


def test_a_script_tells_a_cut_prompt_on_stderr_before_the_reply(tiny_llama):
    session = Session("local", str(tiny_llama), SAMPLED, device="cpu")
    both = io.StringIO()
    assert ScriptRunner(session, both, both).run([LONG]) == 0
    answer = session.conversation.turns[-1].message.content
    assert answer.strip()
    shown = both.getvalue()
    assert shown.startswith("parrot: the conversation is longer than the model's context window"), shown[:200]
    assert shown.index("context window") < shown.index(answer.strip()[:5])


def test_plain_tells_a_cut_prompt_on_stderr_before_the_reply(tiny_llama):
    session = Session("local", str(tiny_llama), SAMPLED, device="cpu")
    out, err, both = io.StringIO(), io.StringIO(), io.StringIO()
    with create_pipe_input() as pipe:
        pipe.send_text(f"{LONG}\r\x04")
        assert PlainRepl(session, input=pipe, output=DummyOutput(), out=out, err=err).run() == 0
    assert "context window" in err.getvalue() and "context window" not in out.getvalue()
    with create_pipe_input() as pipe:  # the same session again, both streams in one: the order they came in
        pipe.send_text(f"{LONG}\r\x04")
        PlainRepl(session, input=pipe, output=DummyOutput(), out=both, err=both).run()
    answer = session.conversation.turns[-1].message.content.strip()
    shown = both.getvalue()
    assert answer and shown.index("context window") < shown.index(answer[:5]), shown[-400:]


def test_a_server_ignoring_temperature_is_told_once_on_stderr(server):
    from tests.support.helpers import run_parrot
    from tests.support.openai_server import decoding

    server.queue(*[decoding(30, sample=False) for _ in range(2)])
    result = run_parrot(["--script", "-", "-b", "openai", "-m", "test", "--base-url", f"{server.url}/v1",
                         "-t", "1.5", "-n", "40"], stdin=b"first\nsecond\n")
    err = result.stderr.decode()
    assert result.returncode == 0, err
    assert err.count("ignores temperature") == 1, err
    assert "ignores temperature" not in result.stdout.decode()
