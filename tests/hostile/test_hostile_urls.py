"""Bad server addresses are usage errors (exit 2) in one line, wherever they are given."""

from __future__ import annotations

import pytest

from tests.support.hostile_modes import MODES, assert_one_line, run_mode

BAD = ["http://[::1", "ftp://127.0.0.1/v1", "http://", "127.0.0.1:8000", "http://127.0.0.1:99999/v1",
       "http://127.0.0.1:port/v1", "http://exa mple.com/v1"]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("url", BAD)
def test_a_bad_base_url_flag_is_a_usage_error(url, mode):
    outcome = run_mode(mode, ["hello"], ["-b", "openai", "-m", "m", "--base-url", url])
    line = assert_one_line(outcome, "not a valid http(s) URL", code=2)
    assert "usage:" not in outcome.text  # one line and a hint, not the whole usage
    assert "ValueError" not in line


@pytest.mark.parametrize("mode", ["script", "plain"])
def test_login_with_a_bad_url_is_refused_and_the_chat_goes_on(mode, model_args):
    outcome = run_mode(mode, ["/login --base-url http://[::1", "/model"], model_args)
    assert_one_line(outcome, "not a valid http(s) URL")
    if mode == "plain":
        assert outcome.code == 0 and "model:" in outcome.out  # the next line still ran


def test_login_subcommand_with_a_bad_url_exits_2():
    from tests.support.helpers import run_parrot

    result = run_parrot(["login", "--base-url", "http://[::1"])
    assert result.returncode == 2
    err = result.stderr.decode()
    assert "not a valid http(s) URL" in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
