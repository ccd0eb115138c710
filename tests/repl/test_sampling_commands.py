"""/temp /top_p /top_k /max /seed /repeat /stop /greedy /sample: validation with ranges, and their effect."""

import pytest

from backends.errors import SettingsError, UsageError
from backends.settings import GenerationSettings
from repl import commands
from repl.chat.session import Session
from tests.support.recording_ui import RecordingUI


@pytest.fixture(scope="module")
def session(tiny_llama):
    return Session(backend_name="local", model=str(tiny_llama), device="cpu")


@pytest.fixture
def ui(session):
    session.settings = GenerationSettings()
    return RecordingUI()


def run(line, session, ui):
    commands.run(line, commands.Context(session, ui))
    return ui.texts[-1].strip()


@pytest.mark.parametrize("line, allowed", [
    ("/temp 7", "use a number from 0 to 5"),
    ("/temp -0.1", "use a number from 0 to 5"),
    ("/temp warm", "use a number from 0 to 5"),
    ("/temp nan", "use a number from 0 to 5"),
    ("/top_p 0", "use a number greater than 0 and at most 1"),
    ("/top_p 1.5", "use a number greater than 0 and at most 1"),
    ("/top_k -1", "use a whole number from 0 to 100000"),
    ("/top_k 2.5", "use a whole number from 0 to 100000"),
    ("/max 0", "use a whole number from 1 to 32768"),
    ("/max 40000", "use a whole number from 1 to 32768"),
    ("/seed -1", "use a whole number from 0 to 2**63-1, or none"),
    ("/seed lucky", "use a whole number from 0 to 2**63-1, or none"),
    ("/repeat 0.1", "use a number from 0.5 to 3"),
    ("/repeat 4", "use a number from 0.5 to 3"),
    ('/stop ""', "use a comma-separated list of non-empty strings, or none"),
    ("/greedy now", "use on or off (true or false)"),
])
def test_out_of_range_values_are_refused_with_the_allowed_range(session, ui, line, allowed):
    before = session.settings
    with pytest.raises(SettingsError) as caught:
        run(line, session, ui)
    assert caught.value.hint == allowed
    assert session.settings == before, "a refused value changes nothing"


@pytest.mark.parametrize("line", ["/temp 0.1 0.2", "/greedy on off", "/sample please", "/max 1 2"])
def test_wrong_number_of_arguments_names_the_usage(session, ui, line):
    with pytest.raises(UsageError) as caught:
        run(line, session, ui)
    assert "usage: /" in str(caught.value)


@pytest.mark.parametrize("line, name, value, shown", [
    ("/temp 0.2", "temperature", 0.2, "temperature = 0.2 (was 0.7)"),
    ("/top_p 0.5", "top_p", 0.5, "top_p = 0.5 (was 0.9)"),
    ("/top_k 0", "top_k", 0, "top_k = 0 (was 50)"),
    ("/max 64", "max_new_tokens", 64, "max_new_tokens = 64 (was 256)"),
    ("/seed 42", "seed", 42, "seed = 42 (was none)"),
    ("/repeat 1.3", "repetition_penalty", 1.3, "repetition_penalty = 1.3 (was default)"),
    ("/greedy", "greedy", True, "greedy = true (was false)"),
    ("/greedy on", "greedy", True, "greedy = true (was false)"),
    ("/greedy off", "greedy", False, "greedy = false (unchanged)"),
    ("/temp 2", "temperature", 2.0, "temperature = 2 (was 0.7)"),  # as typed, not 2.0
    (r'/stop "\n\n" ### café', "stop", ("\n\n", "###", "café"), r"stop = '\n\n', '###', 'café' (was none)"),
])
def test_each_setting_command_changes_its_setting(session, ui, line, name, value, shown):
    assert run(line, session, ui) == shown
    assert getattr(session.settings, name) == value


def test_without_a_value_a_command_shows_current_default_and_range(session, ui):
    run("/top_k 7", session, ui)
    assert run("/top_k", session, ui) == (
        "top_k = 7 (default 50; a whole number from 0 to 100000): "
        "sample only from the k most likely tokens; 0 turns it off")
    assert run("/stop", session, ui).startswith("stop = none (default none;")


def test_temperature_zero_means_greedy_and_sample_undoes_it(session, ui):
    assert run("/temp 0", session, ui) == "temperature = 0 (was 0.7); 0 means greedy: always the most likely token"
    assert session.settings.is_greedy
    assert run("/sample", session, ui) == ("sampling: temperature = 0.7, top_p = 0.9, top_k = 50, seed = none "
                                           "(temperature was 0, set back to the default)")
    assert not session.settings.is_greedy
    run("/greedy", session, ui)
    assert run("/temp 1.2", session, ui).endswith("greedy is on, so this applies after /sample")
    run("/sample", session, ui)
    assert session.settings.temperature == 1.2 and not session.settings.is_greedy


def test_stop_none_and_seed_none_clear_them(session, ui):
    run("/stop END", session, ui)
    run("/seed 3", session, ui)
    assert run("/stop none", session, ui) == "stop = none (was 'END')"
    assert run("/seed none", session, ui) == "seed = none (was 3)"


def test_settings_reach_the_model(session, ui):
    def answer():
        reply = session.ask("Tell me about parrots")
        reply.finish()
        return session.finish_reply(reply)

    run("/max 3", session, ui)
    assert answer().stats.completion_tokens <= 3
    run("/max 12", session, ui)
    run("/seed 99", session, ui)
    run("/temp 1.5", session, ui)
    run("/new", session, ui)  # the same seed gives the same tokens for the same conversation: both start afresh
    first = answer()
    run("/new", session, ui)
    second = answer()
    assert first.stats.seed == second.stats.seed == 99
    assert [t.token_id for t in first.tokens] == [t.token_id for t in second.tokens]
    run("/greedy", session, ui)
    greedy = answer()
    assert greedy.stats.seed is None
    assert all(t.prob == pytest.approx(max(p for _, p in t.top)) for t in greedy.tokens)
    assert "temperature" in run("/settings", session, ui) and "1.5" in ui.texts[-1]


def test_text_that_looks_like_markup_is_shown_as_typed(session, ui):
    assert run('/stop "[/]" "[bold]x"', session, ui) == "stop = '[/]', '[bold]x' (was none)"
    assert run("/stop", session, ui).startswith("stop = '[/]', '[bold]x' (default none;")


def test_set_stop_keeps_accents_and_reads_escapes(session, ui):
    assert run(r"/set stop=café,\n\n,[/]", session, ui) == r"stop = 'café', '\n\n', '[/]'"  # as /stop says it
    assert session.settings.stop == ("café", "\n\n", "[/]")


def test_stop_typed_without_quotes_keeps_its_backslashes(session, ui):
    assert run(r"/stop \n\n ###", session, ui) == r"stop = '\n\n', '###' (was none)"
    assert session.settings.stop == ("\n\n", "###")


def test_settings_show_the_repetition_penalty_that_applies_and_an_explicit_one_wins(tiny_gpt2):
    completion = Session(backend_name="local", model=str(tiny_gpt2), device="cpu",
                         settings=GenerationSettings(greedy=True, max_new_tokens=2))
    ui = RecordingUI(width=200)
    completion.backend.load()

    def table_row():
        commands.run("/settings", commands.Context(completion, ui))
        return next(line for line in ui.texts[-1].splitlines() if line.startswith("repetition_penalty")).split()

    assert table_row()[1:4] == ["1.1", "(completion-model", "default)"]
    assert run("/repeat", completion, ui).startswith("repetition_penalty = 1.1 (completion-model default) (default "
                                                     "1 for chat models, 1.1 for completion models;")
    assert run("/repeat 1.0", completion, ui) == "repetition_penalty = 1 (was 1.1 (completion-model default))"
    assert table_row()[1:3] == ["1", "1"], "the value, then the default column"
    turn = completion.finish_reply(completion.ask("def add(a, b):"))
    assert turn.settings.repetition_penalty == 1.0, "an explicit 1.0 is what the model decoded with"
    run("/repeat default", completion, ui)
    turn = completion.finish_reply(completion.ask("def sub(a, b):"))
    assert turn.settings.repetition_penalty == 1.1
