"""Bad config files: every mode refuses in one line that names config.toml, exit 2, nothing stored lost."""

from __future__ import annotations

import pytest

from tests.support.hostile_modes import MODES, assert_one_line, run_mode, seed_conversation, stored_turns

CASES = {
    "generation-not-a-table": (b"generation = 5\n", ("generation", "table")),
    "model-a-number": (b"model = 42\n", ("model", "string")),
    "not-toml": (b"model = \n", ("not valid TOML",)),
    "not-utf8": (b'model = "\xff\xfe"\n', ("not valid UTF-8",)),
    "unknown-key": (b'colour = "red"\n', ("unknown key", "colour")),
    "bad-setting": (b'[generation]\ntemperature = "hot"\n', ("temperature",)),
    "setting-out-of-range": (b"[generation]\ntop_p = 7\n", ("top_p",)),
    "unknown-setting": (b"[generation]\nwarmth = 1\n", ("unknown setting",)),
    "bad-device": (b'device = "tpu"\n', ("device", "unknown device tpu")),
    "absent-device": (b'device = "cuda:7"\n', ("device cuda:7",)),
    "bad-base-url": (b'base_url = "http://[::1"\n', ("base_url", "not a valid http(s) URL")),
}


def write_config(parrot_home, data: bytes) -> None:
    folder = parrot_home / "config"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.toml").write_bytes(data)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("case", CASES)
def test_a_bad_config_is_one_line_naming_the_file(case, mode, parrot_home, model_args):
    conversation = seed_conversation()
    data, needles = CASES[case]
    write_config(parrot_home, data)
    outcome = run_mode(mode, ["hello"], model_args)
    line = assert_one_line(outcome, *needles, code=2)
    assert "config.toml" in line
    assert stored_turns(conversation) == [("user", "keep me"), ("assistant", "kept")]


@pytest.mark.parametrize("mode", ["script", "oneshot", "plain"])
@pytest.mark.parametrize("kind", ["folder", "fifo", "huge"])
def test_a_config_that_is_not_a_small_regular_file_is_refused(kind, mode, parrot_home, model_args):
    import os

    path = parrot_home / "config" / "config.toml"
    path.parent.mkdir(parents=True)
    if kind == "folder":
        path.mkdir()
    elif kind == "fifo":
        os.mkfifo(path)  # reading it would wait forever for a writer
    else:
        with open(path, "wb") as handle:
            handle.truncate(200 * 1024 * 1024)  # sparse: costs no disk
    outcome = run_mode(mode, ["hello"], model_args, timeout=60)
    assert_one_line(outcome, "config", code=2)
