"""Bad settings, as flags and as commands: one line and a hint (never the whole usage, never a Python
repr), exit 2 where there is one, the chat going on; and prompts that look like commands."""

from __future__ import annotations

import io

import pytest

from tests.support.hostile_modes import MODES, assert_one_line, run_mode, seed_conversation, stored_turns

FLAGS = {
    "temperature-word": (["-t", "warm"], "temperature"),
    "temperature-range": (["-t", "9"], "temperature"),
    "temperature-nan": (["-t", "nan"], "temperature"),
    "top-p-zero": (["--top-p", "0"], "top_p"),
    "top-k-negative": (["--top-k", "-1"], "top_k"),
    "max-tokens-zero": (["-n", "0"], "max_new_tokens"),
    "max-tokens-huge": (["-n", "99999999999999999999"], "max_new_tokens"),
    "seed-negative": (["--seed", "-5"], "seed"),
    "penalty-inf": (["--repetition-penalty", "inf"], "repetition_penalty"),
    "empty-stop": (["--stop", ""], "stop"),
    "device": (["--device", "tpu"], "device"),
    "device-absent": (["--device", "cuda:7"], "device"),
    "unknown-flag": (["--temprature", "1"], "unrecognized"),
}


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("case", FLAGS)
def test_a_bad_flag_value_is_one_line_and_exit_2(case, mode, tiny_llama):
    flags, needle = FLAGS[case]
    outcome = run_mode(mode, ["hello"], ["-m", str(tiny_llama), "--device", "cpu", *flags]
                       if not case.startswith("device") else ["-m", str(tiny_llama), *flags])
    # A device is checked as the arguments are read, in every mode, not when the model loads.
    line = assert_one_line(outcome, needle, code=2)
    assert "usage:" not in outcome.text, outcome.text  # not the whole usage before the error
    assert "('" not in line and "<" not in line


COMMANDS = {
    "/set temp=nan": "temperature", "/temp warm": "temperature", "/max 99999999999": "max_new_tokens",
    "/set stop=,": "stop", "/seed -1": "seed", "/set warmth=1": "unknown setting", "/set temp": "KEY=VALUE",
    "/top_k 1e9": "top_k", "/device tpu": "unknown device", "/device cuda:7": "device cuda:7", "/history -3": "at least 1", "/export pdf": "md or jsonl",
    '/system "unclosed': "close the quote", "/nosuchcommand": "unknown command",
}


@pytest.mark.parametrize("mode", ["app", "plain", "script"])
@pytest.mark.parametrize("command", COMMANDS)
def test_a_bad_command_is_one_line_and_the_chat_goes_on(command, mode, model_args):
    conversation = seed_conversation()
    outcome = run_mode(mode, [command, "/model"], [*model_args, "--continue"])
    line = assert_one_line(outcome, COMMANDS[command], code=2 if mode == "script" else None)
    assert "('" not in line and "'turns'" not in line, line
    if mode == "app":
        assert outcome.running
    if mode == "plain":
        assert outcome.code == 0 and "model:" in outcome.out  # the next line ran
    assert stored_turns(conversation) == [("user", "keep me"), ("assistant", "kept")]


@pytest.mark.parametrize("mode", ["script", "plain"])
def test_a_block_that_starts_with_a_slash_is_a_prompt(mode, model_args):
    outcome = run_mode(mode, ['"""', "/quit is what I typed", "and more", '"""'], model_args)
    assert outcome.code == 0, outcome.text
    assert stored_turns()[0] == ("user", "/quit is what I typed\nand more")


def test_login_in_plain_does_not_leave_the_prompt_masked(tiny_llama, memory_keyring):
    from prompt_toolkit.input import create_pipe_input
    from prompt_toolkit.output import DummyOutput

    from backends.settings import GenerationSettings
    from repl.chat.session import Session
    from repl.modes.plain import PlainRepl

    out = io.StringIO()
    session = Session("local", str(tiny_llama), GenerationSettings(greedy=True, max_new_tokens=2), device="cpu")
    with create_pipe_input() as pipe:
        repl = PlainRepl(session, input=pipe, output=DummyOutput(), out=out)
        pipe.send_text("/login\rhf_abcdefghijklmnopqrstuvwxyz0123\r/model\r\x04")
        assert repl.run() == 0
    assert not repl.prompts.is_password  # the next prompts are shown as typed
    assert "model:" in out.getvalue() and "hf_abcdefghijklmnop" not in out.getvalue()


def test_finetune_bad_steps_names_only_steps(model_args):
    from tests.support.helpers import run_parrot

    result = run_parrot(["finetune", "js", "--steps", "-5"])
    err = result.stderr.decode()
    assert result.returncode == 2 and "--steps must" in err and "--block must" not in err, err
    outcome = run_mode("script", ["/finetune js --steps -5"], model_args)
    line = assert_one_line(outcome, "--steps", code=2)
    assert "--block must" not in line


@pytest.mark.parametrize("argv", [["finetune", "--help"], ["finetune", "js", "--help"]])
def test_finetune_help_describes_the_options(argv):
    from tests.support.helpers import run_parrot

    result = run_parrot(argv)
    out = result.stdout.decode()
    assert result.returncode == 0, result.stderr.decode()
    assert "--steps" in out and "training steps" in out and "default" in out


def test_tokenizer_training_failure_in_a_script_is_an_error(tmp_path, model_args):
    empty = tmp_path / "empty"
    empty.mkdir()
    outcome = run_mode("script", [f"/tokenizer train --data {empty} --wait"], model_args)
    assert outcome.code in (1, 2), outcome.text
    assert_one_line(outcome, "line 1")
    assert "tokenizer" not in outcome.out.lower() or "saved" not in outcome.out.lower()
