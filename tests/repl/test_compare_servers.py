"""/compare across servers: each model named with its server's address, progress while they answer, and
tables that hold with long model names."""

from __future__ import annotations

import pytest
from rich.console import Console

from backends.reply import GenerationStats
from backends.settings import GenerationSettings
from finetune.compare import Answer
from repl.app.chat_app import ChatApp
from repl.views.comparison import side_by_side
from tests.support.app_helpers import screen_text, type_text, wait_until
from tests.support.helpers import run_parrot
from tests.support.openai_server import FakeServer
from tests.support.server_personas import Persona

LONG = "organisation-with-a-long-name/Qwen2.5-Coder-32B-Instruct-GPTQ-Int4-very-long-variant"


@pytest.fixture
def two_servers():
    first, second = FakeServer(), FakeServer()
    first.persona = Persona(text_for=lambda body: f"alpha answers as {body['model']}")
    second.persona = Persona(text_for=lambda body: f"beta answers as {body['model']}")
    yield first, second
    first.stop()
    second.stop()


def test_two_servers_each_answer_as_named_with_progress_on_the_way(two_servers, parrot_home):
    first, second = two_servers
    a, b = f"openai:alpha@{first.url}/v1", f"openai:beta@{second.url}/v1"
    result = run_parrot(["--script", "-", "--greedy"], stdin=f"/compare {a} {b} say hello\n".encode())
    out = result.stdout.decode()
    assert result.returncode == 0, result.stderr.decode()
    assert f"── {a} (" in out and f"── {b} (" in out
    assert "alpha answers as alpha" in out and "beta answers as beta" in out
    assert [p.body["model"] for p in first.posts()] == ["alpha"] and [p.body["model"] for p in second.posts()] == ["beta"]
    lines = out.splitlines()
    progress = [line for line in lines if line.startswith("/compare: ")]
    assert progress == [f"/compare: {a} is answering (1 of 2)", progress[1], f"/compare: {b} is answering (2 of 2)",
                        progress[3], "/compare: scoring each reply under both models"], progress
    assert progress[1].startswith(f"/compare: {a}: ") and " tokens in " in progress[1]
    assert out.count("cannot score") >= 4  # servers cannot score a text they did not write, and the table says so


def test_a_bare_server_address_takes_the_model_the_server_lists(two_servers, parrot_home):
    first, second = two_servers
    first.models, second.models = ["first-model"], ["second-model"]
    script = f"/compare {first.url}/v1 {second.url}/v1 hi\n"
    result = run_parrot(["--script", "-", "--greedy"], stdin=script.encode())
    out = result.stdout.decode()
    assert result.returncode == 0, result.stderr.decode()
    assert "alpha answers as first-model" in out and "beta answers as second-model" in out


def test_an_address_on_a_backend_that_takes_none_is_refused_in_one_line(parrot_home):
    result = run_parrot(["--script", "-"], stdin=b"/compare hf:org/model@http://127.0.0.1:9/v1 smollm2 hi\n")
    err = result.stderr.decode().strip()
    assert result.returncode == 2 and len(err.splitlines()) == 1
    assert "only the openai backend takes a server's address" in err and "openai:MODEL@URL" in err


def test_long_model_names_fold_inside_their_cells_at_any_width():
    stats = GenerationStats(completion_tokens=3, seconds=1.0, time_to_first_token=0.1)
    answers = [Answer(f"openai:{LONG}@http://127.0.0.1:8001/v1", "def f(): pass", stats, {}),
               Answer("smollm2", "def g(): pass", stats, {})]
    for answer in answers:
        answer.scores = {a.label: "a hosted endpoint cannot score a text it did not write" for a in answers}
    for width in (60, 100, 160):
        console = Console(width=width, record=True, color_system=None)
        console.print(side_by_side(answers))
        lines = console.export_text().splitlines()
        assert all(len(line) <= width for line in lines)
        rows = [line for line in lines if line.startswith("│") and "cannot score" in line]
        assert len(rows) >= 2 and all(row.count("cannot score") == 2 for row in rows), "\n".join(lines)


async def test_compare_in_the_app_shows_progress_and_both_columns(two_servers):
    first, second = two_servers
    a, b = f"openai:{LONG}@{first.url}/v1", f"openai:beta@{second.url}/v1"
    app = ChatApp("openai", "m", GenerationSettings(greedy=True), {"base_url": f"{first.url}/v1"})
    async with app.run_test(size=(110, 60), notifications=True) as pilot:
        await type_text(pilot, f"/compare {a} {b} hi")
        await pilot.press("enter")
        await wait_until(pilot, lambda: "mean log-probability per token" in screen_text(app))
        screen = screen_text(app)
        assert "/compare: scoring each reply under both models" in screen
        assert "alpha answers as" in screen and "beta answers as beta" in screen
        assert f"/compare: {b} is answering (2 of 2)" in screen  # told while it answered, not only at the end
