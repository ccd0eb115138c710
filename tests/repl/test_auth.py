"""/login, /logout and `parrot login|logout` as a person uses them, and pipe mode with -b openai."""

from __future__ import annotations

import os
import sys

import pexpect
import pytest

from backends.errors import BackendError, UsageError
from repl import commands
from repl.chat.session import Session
from repl.commands import Context
from tests.support.helpers import ROOT, run_parrot
from tests.support.openai_server import answer, status
from tests.support.screen_ui import ScreenUI

FAKE = "hf_FakeTokenForTests0123456789"
TESTS = str(ROOT)  # where tests.support imports from, for a subprocess


@pytest.fixture
def openai_session(server):
    return Session("openai", "test", base_url=server.url + "/v1")


def test_slash_login_status_logout(openai_session, memory_keyring):
    ui = ScreenUI([FAKE, None])
    ctx = Context(openai_session, ui)
    commands.run("/login --status", ctx)
    commands.run("/login", ctx)
    commands.run("/login --status", ctx)
    commands.run("/login", ctx)
    commands.run("/logout", ctx)
    shown = ui.text()
    assert ui.prompts == ["Hugging Face token (input hidden): "] * 2
    assert "no Hugging Face token: run `parrot login` (or /login), or set HF_TOKEN" in shown
    assert "token saved in the OS keyring" in shown and "token from the OS keyring" in shown
    assert "login cancelled; nothing was stored" in shown
    assert "removed the Hugging Face token from the OS keyring" in shown
    assert FAKE not in shown
    with pytest.raises(UsageError, match="never typed on the command line"):
        commands.run(f"/login {FAKE}", ctx)
    assert "/login" in commands.completions("/log")[0]


def test_slash_login_for_a_server_key_is_sent_to_that_server_only(openai_session, server, memory_keyring):
    ui = ScreenUI(["sk-local-key"])
    ctx = Context(openai_session, ui)
    commands.run(f"/login --base-url {server.url}/v1", ctx)
    assert f"for http://127.0.0.1:{server.server_address[1]}; it is sent to that server only" in ui.text()
    openai_session.ask("hi").finish()
    assert server.posts()[-1].headers["Authorization"] == "Bearer sk-local-key"


def test_slash_login_without_a_keyring_names_the_choices(openai_session, no_keyring):
    ctx = Context(openai_session, ScreenUI([FAKE]))
    with pytest.raises(BackendError, match=r"no OS keyring .*keyrings\.alt.*HF_TOKEN"):
        commands.run("/login", ctx)


def test_a_base_url_that_is_not_http_is_refused_in_one_line(openai_session, memory_keyring):
    ctx = Context(openai_session, ScreenUI([FAKE]))
    with pytest.raises(UsageError, match="ftp://x is not a valid http"):
        commands.run("/login --base-url ftp://x", ctx)
    result = run_parrot(["login", "--status", "--base-url", "localhost:8000"])
    assert result.returncode == 2 and result.stdout == b""
    assert result.stderr.decode() == ("parrot: localhost:8000 is not a valid http(s) URL "
                                      "(use e.g. --base-url http://127.0.0.1:8000/v1)\n")


def keyring_env(hf_home, backend: str = "tests.support.memory_keyring.MemoryKeyring") -> dict[str, str]:
    path = os.pathsep.join([TESTS, os.environ.get("PYTHONPATH", "")])
    return {"PYTHON_KEYRING_BACKEND": backend, "PYTHONPATH": path, "HF_HOME": str(hf_home)}


def test_parrot_login_reads_a_piped_token_and_status_never_prints_it(hf_home):
    result = run_parrot(["login"], stdin=f"{FAKE}\n".encode(), env=keyring_env(hf_home))
    assert result.returncode == 0, result.stderr
    assert result.stdout.decode().startswith("token saved in the OS keyring")
    result = run_parrot(["login", "--status"], env={**keyring_env(hf_home), "HF_TOKEN": FAKE})
    assert result.stdout.decode() == "token from the HF_TOKEN environment variable\n"
    assert FAKE not in (result.stdout + result.stderr).decode()


def test_parrot_login_on_a_machine_without_keyring(hf_home):
    env = keyring_env(hf_home, "keyring.backends.fail.Keyring")
    result = run_parrot(["login"], stdin=f"{FAKE}\n".encode(), env=env)
    assert result.returncode == 1
    assert result.stderr.decode() == ("parrot: no OS keyring is available on this machine, so the token was not "
                                      "saved (install a keyring backend (`pip install keyrings.alt` stores it in a "
                                      "file) or set HF_TOKEN in the environment)\n")
    result = run_parrot(["logout"], env=env)
    assert result.returncode == 1 and "keyrings.alt" in result.stderr.decode()


def test_parrot_login_in_a_terminal_does_not_echo(hf_home):
    env = {**os.environ, **keyring_env(hf_home), "PYTHONPATH": os.pathsep.join([TESTS, str(ROOT)])}
    child = pexpect.spawn(sys.executable, ["-m", "repl", "login"], cwd=str(ROOT), env=env, timeout=60)
    child.expect_exact("Hugging Face token (input hidden): ")
    child.sendline(FAKE)
    child.expect(pexpect.EOF)
    output = child.before.decode()
    assert "token saved in the OS keyring" in output and FAKE not in output


def test_pipe_mode_with_the_openai_backend(server):
    server.queue(answer(["Hello", " from the server"]))
    result = run_parrot(["-b", "openai", "--base-url", f"{server.url}/v1", "-m", "test", "-p", "hi"],
                        env={"HF_TOKEN": FAKE})
    assert result.returncode == 0, result.stderr
    assert result.stdout.decode() == "Hello from the server\n"
    assert server.posts()[0].body["messages"] == [{"role": "user", "content": "hi"}]
    assert "Authorization" not in server.posts()[0].headers  # the HF token is not this server's


def test_pipe_mode_failure_is_one_line_and_exit_code_1(server):
    server.queue(status(404, {"error": "The model `test` does not exist."}))
    server.models = ["served-model"]
    result = run_parrot(["-b", "openai", "--base-url", f"{server.url}/v1", "-m", "test", "-p", "hi"])
    assert result.returncode == 1
    assert result.stderr.decode() == (f"parrot: test is not served by {server.url}/v1 (404): The model `test` does "
                                      "not exist. (models served there include: served-model; pick one with -m MODEL)\n")


def test_a_token_on_the_command_line_is_refused_without_echo(hf_home):
    result = run_parrot(["login", FAKE], env=keyring_env(hf_home))
    assert result.returncode == 2
    assert FAKE not in (result.stdout + result.stderr).decode()
    assert "takes no token on the command line" in result.stderr.decode()
