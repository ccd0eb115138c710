"""A whole session with a known fake token: it must show up in no file, no output and no traceback."""

from __future__ import annotations

import io
import logging
import threading
import traceback

import pytest
from rich.console import Console
from rich.traceback import Traceback

from backends.errors import BackendError
from repl import commands
from repl.chat.session import Session
from repl.commands import Context
from tests.support.helpers import run_parrot
from tests.support.openai_server import FakeServer, answer, status
from tests.support.screen_ui import ScreenUI

FAKE = "hf_RedactMe0123456789abcdefghij"


def render_traceback(error: BaseException) -> str:
    """The traceback as Python prints it, and as Rich (Textual) prints it with local variables."""
    console = Console(file=io.StringIO(), width=200, record=True)
    console.print(Traceback.from_exception(type(error), error, error.__traceback__, show_locals=True))
    return "".join(traceback.format_exception(error)) + console.export_text()


def test_the_token_appears_nowhere(server, memory_keyring, parrot_home, caplog, capsys, monkeypatch):
    caplog.set_level(logging.DEBUG)
    other = FakeServer("127.0.0.2")
    outputs: list[str] = []
    try:
        ui = ScreenUI([FAKE])
        session = Session("hf", "org/model", progress=outputs.append, note=outputs.append, router_url=server.url)
        ctx = Context(session, ui)
        commands.run("/login", ctx)  # stored in the keyring, read back by the backend per request
        reply = session.ask("hello")
        outputs.append(reply.finish())
        session.finish_reply(reply)
        assert server.posts()[-1].headers["Authorization"] == f"Bearer {FAKE}"

        # A server that echoes the token in its error, and one that fails mid-answer.
        server.queue(status(401, {"error": f"Invalid token {FAKE} for this model"}))
        with pytest.raises(BackendError) as refused:
            session.ask("again").finish()
        outputs += [str(refused.value), render_traceback(refused.value)]
        assert "Invalid token *** for this model" in str(refused.value)

        def echo_then_fail(h):
            h.start_sse()
            h.event({"choices": [{"delta": {"content": "partial "}}]})
            h.event({"error": {"message": f"upstream rejected Bearer {FAKE}"}})
            h.end_chunks()

        server.queue(echo_then_fail)
        reply = session.ask("more")
        with pytest.raises(BackendError) as midway:
            reply.finish()
        session.finish_reply(reply)
        outputs += [str(midway.value), render_traceback(midway.value)]

        # A redirect to another host: the answer comes from there, without the token.
        target = f"http://127.0.0.2:{other.server_address[1]}/v1/chat/completions"
        server.queue(lambda h: h.send_json(308, {}, {"Location": target}))
        outputs.append(session.ask("redirected").finish())
        assert "Authorization" not in other.posts()[-1].headers

        # Cancel in the middle.
        cancel = threading.Event()
        server.queue(answer(["a", "b", "c"]))
        reply = session.ask("stop soon", cancel)
        next(reply)
        cancel.set()
        session.finish_reply(reply)

        for line in ("/settings", "/login --status", "/help", "/logout"):
            commands.run(line, ctx)
        outputs += [ui.text(), repr(session.backend), str(session.backend.describe()), repr(session.conversation)]
        outputs += [repr(t) for t in session.conversation.turns]
    finally:
        other.stop()
    captured = capsys.readouterr()
    outputs += [captured.out, captured.err, caplog.text]
    for text in outputs:
        assert FAKE not in text
    files = [p for p in parrot_home.rglob("*") if p.is_file()]
    for path in files:
        assert FAKE.encode() not in path.read_bytes(), path


def test_pipe_mode_with_a_token_in_the_environment_prints_it_nowhere(server, parrot_home):
    server.queue(lambda h: h.send_json(500, {"error": f"crash while checking {h.headers.get('Authorization')}"}))
    result = run_parrot(["-b", "openai", "--base-url", f"{server.url}/v1", "-m", "test", "-p", "hi"],
                        env={"HF_TOKEN": FAKE})
    assert result.returncode == 1
    assert result.stderr.decode().startswith(f"parrot: {server.url}/v1 failed with 500: crash while checking None")
    assert FAKE not in (result.stdout + result.stderr).decode()
    assert all(FAKE.encode() not in p.read_bytes() for p in parrot_home.rglob("*") if p.is_file())
