"""Property-based: every slash-command and every command-line flag fed random text (unicode, control
characters, NULs, quotes, huge numbers, very long strings). Whatever it is given, parrot answers or
refuses in one line, exits with a code that means something, leaves the stored conversation as it was
and changes no file outside its data folder (but the one a /save or /export names).

The number of examples is bounded so that the suite stays fast; ``PARROT_EXAMPLES`` raises it for a
longer hunt.
"""

from __future__ import annotations

import contextlib
import io
import os
import signal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from backends.errors import ParrotError
from backends.settings import GenerationSettings
from repl import commands
from repl.chat.session import Session
from repl.commands.context import Background, Context
from repl.commands.table import COMMANDS
from repl.history.store import HistoryStore
from repl.views.terminal_text import error_line
from tests.support.hostile_modes import seed_conversation, stored_turns
from tests.support.recording_ui import RecordingUI

EXAMPLES = int(os.environ.get("PARROT_EXAMPLES", "20"))
CHECKS = settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                  suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

# Text a person (or a paste, or a script) could put on one line: anything but a line break.
ONE_LINE = st.characters(blacklist_categories=("Cs",), blacklist_characters="\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029")
HOSTILE = st.one_of(
    st.text(ONE_LINE, max_size=40),
    st.text(st.sampled_from("\x00\x1b\x07\x9b[]'\"\\ ~/.*?-=:,;%$`é東🦜"), max_size=30),
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
    st.sampled_from(["nan", "inf", "-0", "1e309", "0x10", "²", "١٢", "--", "-", "none", "js", "'", '"',
                     "~nouser/x"]),
    st.text(ONE_LINE, min_size=2000, max_size=6000),
)
WORDS = st.lists(HOSTILE, min_size=1, max_size=4).map(" ".join)
# Commands that would start hours of work when given nothing more (a fine-tune, a full evaluation).
LONG_WORK = {("finetune", "js"), ("eval", "humaneval")}


def snapshot(folder: Path, skip: Path) -> dict[str, tuple[int, int]]:
    """Every file under ``folder`` but ``skip`` (the data folder): size and modification time."""
    found = {}
    for root, dirs, files in os.walk(folder):
        dirs[:] = [d for d in dirs if Path(root, d) != skip]
        for name in files:
            path = Path(root, name)
            with contextlib.suppress(OSError):
                info = path.lstat()
                found[str(path)] = (info.st_size, info.st_mtime_ns)
    return found


class ScriptUI(RecordingUI):
    """The command UI as a script has it; a reply that a command asks for is only recorded."""

    def __init__(self) -> None:
        super().__init__()
        self.replies_asked = 0

    def generate(self, branch=None) -> None:
        self.replies_asked += 1


@pytest.fixture
def chat(tiny_llama, tmp_path, parrot_home, monkeypatch, memory_keyring):
    """A session on the tiny model with one stored conversation, in a scratch working folder."""
    work = tmp_path / "cwd"
    work.mkdir()
    (work / "kept.txt").write_text("a file that must stay as it is\n")
    monkeypatch.chdir(work)
    conversation = seed_conversation()
    store = HistoryStore()
    session = Session("local", str(tiny_llama), GenerationSettings(greedy=True, max_new_tokens=2), device="cpu")
    store.attach(session)
    session.conversation = store.load(conversation)
    yield session, conversation, tmp_path, parrot_home
    store.close()


def check_command(chat, line: str) -> None:
    session, conversation, tmp_path, parrot_home = chat
    before = snapshot(tmp_path, parrot_home)
    ui = ScriptUI()
    context = Context(session, ui, background=Background(errors=[]))
    try:
        commands.run(line, context)
    except ParrotError as error:
        shown = error_line(str(error))
        assert "\n" not in shown and "Traceback" not in shown and "<class " not in shown, shown
        assert len(shown) < 600, f"an error of {len(shown)} characters"
    context.background.wait()
    for error in context.background.errors or []:
        assert "unexpectedly" not in str(error), str(error)
    if ui.quit_called:  # /quit: the session would end here; nothing else to see
        return
    assert stored_turns(conversation) == [("user", "keep me"), ("assistant", "kept")]
    changed = {path for path, stamp in snapshot(tmp_path, parrot_home).items() if before.get(path) != stamp}
    changed |= set(before) - set(snapshot(tmp_path, parrot_home))
    name = line.split()[0][1:]
    if name in ("save", "export"):  # they write the file they are given, and nothing else
        assert len(changed) <= 1, changed
    else:
        assert not changed, changed


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_a_command_with_random_arguments_answers_or_refuses_in_one_line(name, chat):
    @CHECKS
    @given(WORDS)
    def check(text: str) -> None:
        words = text.split()
        assume(words)  # without arguments a command does its work (/retry, /undo): that is no hostile input
        assume(tuple(words[:2]) not in LONG_WORK and not (len(words) == 1 and (name, words[0]) in LONG_WORK))
        if name in ("save", "export"):  # a path of its own choosing would write anywhere on the disk
            assume(all("/" not in w and not w.startswith("~") and ".." not in w for w in words))
        check_command(chat, f"/{name} {text}")

    check()


# -- flags ---------------------------------------------------------------------------------------------

def flags_of(parser) -> list[str]:
    """Every option of ``parser`` that takes a value."""
    return sorted(a.option_strings[-1] for a in parser._actions if a.option_strings and a.nargs != 0
                  and a.option_strings[-1] != "--help")


def main_flags() -> list[str]:
    from repl.cli.main import build_parser

    return flags_of(build_parser())


@contextlib.contextmanager
def signals_kept():
    """The script mode turns SIGTERM into a stop; the test process keeps its own handlers."""
    saved = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for number, handler in saved.items():
            signal.signal(number, handler)


def run_cli(argv: list[str]) -> tuple[int, list[str]]:
    from repl.cli.main import main

    err, out = io.StringIO(), io.StringIO()
    with signals_kept(), contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
        code = main(argv)
    lines = [line for line in err.getvalue().splitlines() if line.strip()]
    return code, lines


@pytest.fixture
def cli_world(tiny_llama, tmp_path, parrot_home, monkeypatch):
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)
    empty_script = tmp_path / "empty.txt"
    empty_script.write_text("")
    conversation = seed_conversation()
    return conversation, tmp_path, parrot_home, empty_script, tiny_llama


def check_cli(world, argv: list[str]) -> None:
    conversation, tmp_path, parrot_home, _, _ = world
    before = snapshot(tmp_path, parrot_home)
    code, lines = run_cli(argv)
    assert code in (0, 1, 2), (code, lines)
    problems = [line for line in lines if "Traceback" in line or "unexpectedly" in line]
    assert not problems, problems
    assert len(lines) <= 2, lines  # one line (and, for bytes that were not UTF-8, the line that says so)
    assert all(len(line) < 600 for line in lines), lines
    assert stored_turns(conversation) == [("user", "keep me"), ("assistant", "kept")]
    assert snapshot(tmp_path, parrot_home) == before


@pytest.mark.parametrize("flag", main_flags())
def test_a_chat_flag_with_random_text_is_taken_or_refused_in_one_line(flag, cli_world):
    _, _, _, empty_script, tiny_llama = cli_world

    @CHECKS
    @given(HOSTILE)
    def check(value: str) -> None:
        assume(value != "-")  # the script on stdin
        # An empty script: the flags are read, the settings layered and checked, the backend made, the history
        # opened, and nothing is generated.
        script = [] if flag == "--script" else ["--script", str(empty_script)]
        model = [] if flag in ("-m", "--model", "-b", "--backend") else ["-m", str(tiny_llama)]
        prompt = ["-p"] if flag in ("-p", "--prompt") else []
        check_cli(cli_world, [*model, *(prompt or [flag]), value, *script])

    check()


SUBCOMMAND_FLAGS = {
    "history": ["-n", "--search", "ID"],
    "tokens": ["--tokenizer", "--compare", "TEXT"],
    "tokenizer": ["--data", "--vocab", "--model", "--name"],
    "finetune": ["--steps", "--data", "--base", "--block"],
    "eval": ["--limit", "-n", "--timeout", "--compare", "--max-tokens", "-t", "--top-p", "--seed"],
    "eval ppl": ["--data", "-m", "--block", "--max-blocks"],
    "login": ["--base-url"],
}


def names_something(value: str) -> bool:
    try:
        return os.path.exists(os.path.expanduser(value))
    except ValueError:  # a NUL
        return False


def number(value: str) -> float:
    try:
        return float(value)
    except ValueError:
        return -1.0


def subcommand_argv(command: str, flag: str, value: str, world) -> list[str]:
    """The subcommand with ``flag`` set to ``value``, and whatever keeps it from starting long work."""
    _, tmp_path, _, _, tiny_llama = world
    empty = tmp_path / "empty-folder"
    empty.mkdir(exist_ok=True)
    given = [value] if flag in ("ID", "TEXT") else [flag, value]
    if command == "tokens":
        return ["tokens", *given, *([] if flag == "--tokenizer" else ["--tokenizer", str(tiny_llama)])]
    if command == "tokenizer":  # a folder with no text in it: refused once the flags are read
        return ["tokenizer", "train", *given, *([] if flag == "--data" else ["--data", str(empty)])]
    if command == "finetune":  # an empty folder: refused before any run starts
        return ["finetune", "js", *given, *([] if flag == "--data" else ["--data", str(empty)])]
    if command == "eval":  # --limit 0 is refused after the flags are read: nothing runs
        return ["eval", "humaneval", *given, *([] if flag == "--limit" else ["--limit", "0"])]
    if command == "eval ppl":
        return ["eval", "ppl", *given, *([] if flag == "--data" else ["--data", str(empty)]),
                *([] if flag == "-m" else ["-m", str(tiny_llama)])]
    if command == "login":
        return ["login", "--status", *given]
    return [command, *given]


@pytest.mark.parametrize("command,flag", [(c, f) for c, flags in SUBCOMMAND_FLAGS.items() for f in flags])
def test_a_subcommand_flag_with_random_text_is_taken_or_refused_in_one_line(command, flag, cli_world, memory_keyring):
    @CHECKS
    @given(HOSTILE)
    def check(value: str) -> None:
        if flag in ("--data", "--base", "-m", "--compare", "--tokenizer"):
            assume(value.strip() not in ("hub", "smollm2", "codeparrot", "js", "model", ".", "")
                   and not value.endswith(".parquet") and not names_something(value))  # read whole, or loaded
        if flag == "--limit":
            assume(not 1 <= number(value) <= 164)  # a run of the full model over real problems
        check_cli(cli_world, subcommand_argv(command, flag, value, cli_world))

    check()
