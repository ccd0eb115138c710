import math

import pytest

from backends.errors import SettingsError
from backends.settings import SPECS, GenerationSettings, canonical_name


@pytest.mark.parametrize("name, value", [
    ("temperature", float("nan")), ("temperature", -0.1), ("temperature", 6.0), ("temperature", float("inf")),
    ("top_p", 0.0), ("top_p", 1.5), ("top_k", -1), ("top_k", 2.5), ("max_new_tokens", 0),
    ("max_new_tokens", 10**6), ("repetition_penalty", 0.0), ("repetition_penalty", math.nan),
    ("seed", -1), ("greedy", "yes"), ("stop", ("",)),
])
def test_invalid_values_are_refused_with_the_allowed_range(name, value):
    with pytest.raises(SettingsError) as caught:
        GenerationSettings().updated(**{name: value})
    assert name in str(caught.value)
    assert SPECS[name].allowed in str(caught.value)


def test_text_values_are_parsed_as_typed():
    s = GenerationSettings().updated_from_text(
        {"temp": "0.2", "top_p": "0.5", "max": "12", "seed": "7", "greedy": "on", "stop": "\\n,END"})
    assert (s.temperature, s.top_p, s.max_new_tokens, s.seed, s.greedy) == (0.2, 0.5, 12, 7, True)
    assert s.stop == ("\n", "END")
    assert GenerationSettings(seed=3).updated_from_text({"seed": "none"}).seed is None


def test_unparseable_text_names_the_allowed_values():
    with pytest.raises(SettingsError, match="a whole number"):
        GenerationSettings().updated_from_text({"top_k": "many"})


def test_unknown_setting_lists_the_valid_names():
    with pytest.raises(SettingsError, match="temperature"):
        canonical_name("warmth")


def test_temperature_zero_means_greedy():
    assert GenerationSettings(temperature=0).is_greedy
    assert not GenerationSettings(temperature=0.5).is_greedy
    assert GenerationSettings(greedy=True, temperature=0.9).is_greedy


def test_round_trip_through_dict():
    s = GenerationSettings(temperature=0.3, stop=("x",), seed=5)
    assert GenerationSettings.from_dict(s.to_dict()) == s


def test_stop_strings_keep_non_ascii_text_and_read_typed_escapes():
    settings = GenerationSettings().updated_from_text({"stop": r"café,東京\t,\\n"})
    assert settings.stop == ("café", "東京\t", "\\n")
