"""The generation settings are declared once: flags, slash shortcuts, help and aliases all come from the spec."""

import pytest

from backends.errors import UsageError
from backends.settings import ALIASES, SPECS, GenerationSettings, canonical_name, default_text
from repl import commands
from repl.cli.main import build_parser
from repl.cli.setting_flags import settings_from_args


def parsed(argv):
    return settings_from_args(GenerationSettings(), build_parser().parse_args(argv))


def test_every_declared_flag_and_shortcut_exists_with_the_specs_help():
    parser = build_parser()
    options = {flag: action for action in parser._actions for flag in action.option_strings}
    help_text = parser.format_help()
    for name, spec in SPECS.items():
        for flag in spec.flags:
            assert options[flag].dest == name
        if spec.flags and spec.kind == "value":
            assert spec.allowed in " ".join(help_text.split()), name
            assert f"default {default_text(name)}" in " ".join(help_text.split()), name
        if spec.shortcut:
            command = commands.lookup(spec.shortcut)
            assert spec.allowed in command.summary or spec.help in command.summary, name
        for alias in spec.aliases:
            assert canonical_name(alias) == name
    assert set(ALIASES) == {alias for spec in SPECS.values() for alias in spec.aliases}


def test_every_existing_flag_name_still_works():
    settings = parsed(["-t", "0.3", "--top-p", "0.5", "--top-k", "7", "-n", "12", "--repetition-penalty", "1.2",
                       "--seed", "9", "--greedy", "--stop", "END", "--stop", "###", "-s", "terse"])
    assert (settings.temperature, settings.top_p, settings.top_k, settings.max_new_tokens) == (0.3, 0.5, 7, 12)
    assert (settings.repetition_penalty, settings.seed, settings.greedy, settings.system) == (1.2, 9, True, "terse")
    assert settings.stop == ("END", "###")
    long = parsed(["--temperature", "0.1", "--max-tokens", "3", "--system", "x"])
    assert (long.temperature, long.max_new_tokens, long.system) == (0.1, 3, "x")
    assert parsed([]) == GenerationSettings(), "flags left out change nothing"


@pytest.mark.parametrize("argv, needle", [
    (["-t", "9"], "use a number from 0 to 5"),
    (["--top-k", "-1"], "use a whole number from 0 to 100000"),
    (["-n", "0"], "use a whole number from 1 to 32768"),
    (["--repetition-penalty", "0.1"], "use a number from 0.5 to 3"),
    (["--stop", ""], "use a comma-separated list of non-empty strings"),
])
def test_a_value_out_of_range_is_refused_while_the_arguments_are_read(argv, needle):
    with pytest.raises(UsageError) as caught:
        build_parser().parse_args(argv)
    assert needle in str(caught.value) and argv[0] in str(caught.value)


def test_stop_flags_read_escapes_as_the_slash_command_does():
    assert parsed(["--stop", r"\n\n", "--stop", "café"]).stop == ("\n\n", "café")
    assert parsed(["--stop", "none"]).stop == ()


def test_backend_options_come_from_one_declaration_for_flags_config_and_factories(tmp_path):
    from backends import registry
    from backends.backend_options import OPTIONS, for_backend
    from repl.cli.config import load_config

    flags = {action.dest for action in build_parser()._actions}
    assert set(OPTIONS) <= flags  # every option has its flag
    path = tmp_path / "config.toml"
    path.write_text('device = "CPU"\nquantize = "int8"\n')
    assert load_config(path).options == {"device": "cpu", "quantize": "int8"}  # checked and normalised on reading
    path.write_text('dtype = "f8"\n')
    with pytest.raises(UsageError, match=r"config.toml: dtype: unknown dtype f8"):
        load_config(path)
    given = {"device": "cpu", "base_url": "http://127.0.0.1:9/v1", "progress": print}
    assert for_backend("openai", given) == {"base_url": "http://127.0.0.1:9/v1", "progress": print}
    assert for_backend("local", given) == {"device": "cpu", "progress": print}
    assert registry.create("openai", "m", **given).base_url == "http://127.0.0.1:9/v1"
