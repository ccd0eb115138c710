"""The app's keys come from one table: its bindings, and the welcome line that names them."""

from __future__ import annotations

from repl.app.chat_app import WELCOME, ChatApp
from repl.app.keys import KEYS
from repl.app.line_fit import cut, fact, fit
from tests.conftest import ROOT


def test_every_bound_key_comes_from_the_table_and_has_an_action():
    assert {(b.key, b.action) for b in ChatApp.BINDINGS} == {(k.keys, k.action) for k in KEYS if k.action}
    for key in KEYS:
        if key.action:
            assert callable(getattr(ChatApp, "action_" + key.action.split("(")[0], None)), key


def test_the_welcome_line_names_the_keys_the_table_marks():
    named = [k for k in KEYS if k.welcome]
    assert named and all(f"{k.label} {k.does}" in WELCOME for k in named)
    assert [WELCOME.index(k.label) for k in named] == sorted(WELCOME.index(k.label) for k in named)
    assert "`/help` lists commands" in WELCOME


def test_the_readme_key_table_names_every_listed_key():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    table = readme[readme.index("| key | does |"):]
    table = table[:table.index("\n\n")]
    for key in KEYS:
        if key.listed:
            assert key.label in table, key.label


def test_no_key_needs_alt_with_a_digit():
    """Alt-digit arrives as Esc and the digit (Textual reads it as a macOS Option character)."""
    assert not [k for k in KEYS if any(name.startswith("alt+") and name[-1].isdigit() for name in k.keys.split(","))]


def status_facts() -> list:
    return [fact("local", priority=1), fact("smollm2", priority=7, drop=False),
            fact("bfloat16", "bf16", priority=2), fact("sample temp 0.7", "temp 0.7", priority=5),
            fact("ctx 120/8192", priority=9, drop=False), fact("23.5 tok/s", priority=8),
            fact("replying (Esc stops)", "replying", priority=10, drop=False)]


def test_the_status_line_gives_way_by_priority():
    widths = {200: "local · smollm2 · bfloat16 · sample temp 0.7 · ctx 120/8192 · 23.5 tok/s · replying (Esc stops)",
              85: "smollm2 · bf16 · sample temp 0.7 · ctx 120/8192 · 23.5 tok/s · replying (Esc stops)",
              70: "smollm2 · temp 0.7 · ctx 120/8192 · 23.5 tok/s · replying (Esc stops)",
              60: "smollm2 · ctx 120/8192 · 23.5 tok/s · replying (Esc stops)",
              30: "smollm2 · ctx 120/8192 · repl…"}  # what cannot give way is cut at the end
    for width, expected in widths.items():
        assert fit(status_facts(), width).plain == expected
    assert cut("SmolLM2-135M-Instruct", 12) == "SmolLM2-…uct"  # both ends of a name say most
