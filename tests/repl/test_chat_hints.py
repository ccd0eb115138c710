"""Hints inside the chat name the slash-command that fixes the problem; the command line names the flag."""

from __future__ import annotations

import io
import socket

from backends.settings import GenerationSettings
from repl.chat.session import Session
from repl.modes.script import ScriptRunner
from tests.support.openai_server import answer, status


def free_port() -> int:
    with socket.socket() as probe:  # a port nothing listens on once the probe closes
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def run(session: Session, lines: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = ScriptRunner(session, out, err).run(lines)
    return code, out.getvalue(), err.getvalue()


def test_backend_takes_the_server_url_in_the_chat(server):
    session = Session("openai", "test", GenerationSettings(), base_url=f"http://127.0.0.1:{free_port()}/v1")
    server.queue(answer(["from the", " right server"]))
    code, out, err = run(session, [f"/backend openai {server.url}/v1 test", "hello"])
    assert code == 0, err
    assert f"backend: openai at {server.url}/v1, model: test" in out and "from the right server" in out
    assert server.posts()[0].body["model"] == "test"


def test_a_refused_connection_in_the_chat_names_the_backend_command():
    port = free_port()
    session = Session("openai", "m", GenerationSettings(), base_url=f"http://127.0.0.1:{port}/v1")
    code, _, err = run(session, ["hello"])
    assert code == 1
    assert f"nothing is listening at http://127.0.0.1:{port}/v1" in err
    assert "/backend openai URL" in err and "--base-url" not in err


def test_a_refused_token_in_the_chat_names_login(server):
    server.queue(status(401, {"error": "bad key"}))
    session = Session("openai", "test", GenerationSettings(), base_url=server.url + "/v1", retries=0)
    _, _, err = run(session, ["hello"])
    assert f"/login --base-url {server.url}/v1" in err and "parrot login" not in err


def test_a_wrong_path_blames_the_path_not_the_model(server):
    server.models = None  # GET .../models answers 404 too, as on a server asked under the wrong path
    server.queue(status(404, {"error": "Not Found"}))
    session = Session("openai", "test", GenerationSettings(), base_url=server.url, retries=0)
    _, _, err = run(session, ["hello"])
    assert f"{server.url}/chat/completions and {server.url}/models answered 404" in err
    assert "the path of the base URL" in err and "under /v1" in err and "/backend openai URL" in err
    assert "test is not served" not in err


def test_no_model_and_a_missing_model_list_blames_the_path(server):
    server.models = None
    session = Session("openai", None, GenerationSettings(), base_url=server.url, retries=0)
    _, _, err = run(session, ["hello"])
    assert f"{server.url}/models answered 404" in err and "the path of the base URL" in err
    assert "is not served" not in err


def test_a_server_without_a_model_list_under_v1_still_blames_the_model(server):
    server.models = None  # the path is right (/v1); this server just lists nothing
    server.queue(status(404, {"error": "model not found"}))
    session = Session("openai", "test", GenerationSettings(), base_url=server.url + "/v1", retries=0)
    _, _, err = run(session, ["hello"])
    assert "test is not served by" in err and "may be wrong" in err


def test_only_the_openai_backend_takes_a_url(server):
    session = Session("openai", "test", GenerationSettings(), base_url=server.url + "/v1")
    code, _, err = run(session, [f"/backend hf {server.url}/v1 some/model"])
    assert code == 2 and "the hf backend takes no URL" in err and "/backend openai URL" in err
    assert session.backend_name == "openai"
