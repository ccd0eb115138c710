"""The app's keys come from one table: its bindings, and the welcome line that names them."""

from __future__ import annotations

from repl.app.chat_app import WELCOME, ChatApp
from repl.app.keys import KEYS


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
