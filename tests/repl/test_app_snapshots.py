"""Snapshots of the app's main screens at 80x24 and 120x40 (pytest-textual-snapshot).

A change of layout shows up as a diff against the SVG files in ``__snapshots__``; after looking at
the report, ``pytest tests/repl/test_app_snapshots.py --snapshot-update`` accepts it. The screens come
from a scripted backend and a ticking clock (tests/support/scripted_backend.py), so they depend on
neither a model's words nor the machine's speed.
"""

from __future__ import annotations

import os
import threading
import time

import pytest

from backends.loading.counted_progress import CountedProgress
from backends.settings import GenerationSettings
from finetune.progress import JobProgress
from repl.app.chat_app import ChatApp
from repl.app.finetune_panel import show_panel
from repl.app.prompt_input import PromptInput
from tests.support.app_helpers import register_backend, type_text, wait_until
from tests.support.scripted_backend import ScriptedBackend, use_scripted_backend

SIZES = [pytest.param((80, 24), id="80x24"), pytest.param((120, 40), id="120x40")]
BRANCHED_AT = 1_800_000_000.0  # 2027-01-15 08:00 UTC


@pytest.fixture(autouse=True)
def scripted(monkeypatch):
    use_scripted_backend(monkeypatch)


@pytest.fixture
def utc():
    """Times of day shown in UTC, whatever the machine's zone."""
    zone = os.environ.get("TZ")
    os.environ["TZ"] = "UTC"
    time.tzset()
    yield
    if zone is None:
        del os.environ["TZ"]
    else:
        os.environ["TZ"] = zone
    time.tzset()


def make_app(backend: str = "scripted") -> ChatApp:
    return ChatApp(backend, None, GenerationSettings(), {})


async def settle(pilot) -> None:
    """The app at rest: the model loaded, nothing streaming or queued, the cursor steady."""
    app = pilot.app
    await wait_until(pilot, lambda: app.loader.since is None and not app.replying and app.bridge.idle)
    app.query_one(PromptInput).cursor_blink = False
    await pilot.pause()


async def send(pilot, line: str) -> None:
    await type_text(pilot, line)
    await pilot.press("enter")
    await pilot.pause()
    await settle(pilot)


async def ask(pilot) -> None:
    await settle(pilot)
    await send(pilot, "reverse a string in python")
    await wait_until(pilot, lambda: len(pilot.app.session.conversation.turns) == 2)
    await settle(pilot)


@pytest.mark.parametrize("size", SIZES)
def test_welcome(snap_compare, size):
    assert snap_compare(make_app(), terminal_size=size, run_before=settle)


@pytest.mark.parametrize("size", SIZES)
def test_a_streamed_reply_with_code(snap_compare, size):
    assert snap_compare(make_app(), terminal_size=size, run_before=ask)


@pytest.mark.parametrize("size", SIZES)
def test_help_from_its_top(snap_compare, size):
    async def run_before(pilot):
        await settle(pilot)
        await send(pilot, "/help")
        await pilot.press("ctrl+home")  # the top of the help, from the keyboard alone

    assert snap_compare(make_app(), terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES)
def test_branches(snap_compare, size, utc):
    async def run_before(pilot):
        await ask(pilot)
        await send(pilot, "/retry")
        await settle(pilot)
        # The "when" column, the same on every run: every turn moved to BRANCHED_AT, keeping their order.
        conversation = pilot.app.session.conversation
        turns = {id(t): t for t in conversation.turns + [t for b in conversation.branches for t in b.turns]}
        first = min(t.created for t in turns.values())
        for turn in turns.values():
            turn.created += BRANCHED_AT - first
        for branch in conversation.branches:
            branch.created = BRANCHED_AT
        await send(pilot, "/branches")

    assert snap_compare(make_app(), terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES)
def test_compare(snap_compare, size):
    async def run_before(pilot):
        await settle(pilot)
        await send(pilot, "/compare scripted:alpha scripted:beta reverse a string")
        await wait_until(pilot, lambda: pilot.app.status.work is None)

    assert snap_compare(make_app(), terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES)
def test_probs_with_the_pick_keys(snap_compare, size):
    async def run_before(pilot):
        await ask(pilot)
        await send(pilot, "/probs 2")
        await wait_until(pilot, lambda: pilot.app.focused is pilot.app.chat)

    assert snap_compare(make_app(), terminal_size=size, run_before=run_before)


class FixedJob:
    """A fine-tuning run caught at one moment (the panel polls anything with ``poll()``)."""

    def poll(self) -> JobProgress:
        return JobProgress(phase="training", step=42, max_steps=120, loss=1.734,
                           losses=[2.9, 2.6, 2.4, 2.2, 2.1, 1.95, 1.9, 1.8, 1.76, 1.734],
                           tokens_per_second=212.0, seconds_left=380.0, perplexity_before=15.2)


@pytest.mark.parametrize("size", SIZES)
def test_finetune_panel(snap_compare, size):
    async def run_before(pilot):
        await ask(pilot)
        await show_panel(pilot.app, FixedJob())
        await pilot.pause()

    assert snap_compare(make_app(), terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES)
def test_attachment_line(snap_compare, size, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "helpers.py").write_text("def triple(x):\n    return 3 * x\n")

    async def run_before(pilot):
        await settle(pilot)
        await type_text(pilot, "what does @helpers.py do")
        await wait_until(pilot, lambda: "left in the window" in str(pilot.app.query_one("#attachments").render()))

    assert snap_compare(make_app(), terminal_size=size, run_before=run_before)


class FirstStartBackend(ScriptedBackend):
    """A first start caught while it converts the embedded model, as the loading code reports it."""

    def __init__(self, model=None, progress=None, **options) -> None:
        super().__init__(model or "smollm2", **options)
        self.progress = progress
        self.gate = threading.Event()

    def load(self) -> None:
        self.progress(CountedProgress("converting SmolLM2-135M-Instruct.Q4_1.gguf", 110, 273, "tensors"))
        self.gate.wait(30)


@pytest.mark.parametrize("size", SIZES)
def test_first_start(snap_compare, size, monkeypatch):
    made = register_backend(monkeypatch, "first-start", FirstStartBackend)

    async def run_before(pilot):
        await wait_until(pilot, lambda: "converting" in str(pilot.app.status.load_message))
        pilot.app.query_one(PromptInput).cursor_blink = False
        await pilot.pause()

    try:
        assert snap_compare(make_app("first-start"), terminal_size=size, run_before=run_before)
    finally:
        for backend in made:
            backend.gate.set()
