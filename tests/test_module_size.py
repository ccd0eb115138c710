"""No module of parrot's own packages grows past a few hundred lines (a longer one is usually two ideas)."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("repl", "backends", "finetune")
MAX_LINES = 350


def test_every_module_is_at_most_350_lines():
    sizes = {str(path.relative_to(ROOT)): len(path.read_text(encoding="utf-8").splitlines())
             for package in PACKAGES for path in sorted((ROOT / package).rglob("*.py"))}
    assert len(sizes) > 50  # the packages were found (a wrong root would pass with nothing to check)
    too_long = {name: lines for name, lines in sizes.items() if lines > MAX_LINES}
    assert not too_long, f"modules over {MAX_LINES} lines (split them by idea): {too_long}"


def test_the_app_shell_stays_a_shell():
    """repl/app/chat_app.py composes the parts and routes what they say; the work lives in the parts."""
    lines = len((ROOT / "repl" / "app" / "chat_app.py").read_text(encoding="utf-8").splitlines())
    assert lines <= 150, f"repl/app/chat_app.py has {lines} lines: move what it does into a part of its own"
