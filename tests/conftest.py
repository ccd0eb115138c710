"""Shared fixtures: an isolated PARROT_HOME for every test, and tiny real models built once."""

from __future__ import annotations

import builtins
import contextlib
import dis
import importlib
import signal
import sys
import types
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

from tests.support.tiny_models import build_tiny_gpt2, build_tiny_llama

# Fixtures for a local HTTP server, keyrings and a Hub-shaped server, for every test that names them.
pytest_plugins = ["tests.support.hosted_fixtures", "tests.support.hub_fixtures"]

# A shell that starts the tests in the background (`make test &`) ignores SIGINT for them, and an ignored
# signal stays ignored in every program they start: the tests that press Ctrl-C would see nothing happen.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.fixture(autouse=True)
def parrot_home(tmp_path, monkeypatch) -> Path:
    """Every test gets its own parrot folders and never touches the real home or the Hub."""
    home = tmp_path / "parrot-home"
    monkeypatch.setenv("PARROT_HOME", str(home))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TOKENIZERS_PARALLELISM", "false")
    for name in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    return home


@pytest.fixture(scope="session")
def tiny_gpt2(tmp_path_factory) -> Path:
    return build_tiny_gpt2(tmp_path_factory.mktemp("tiny-gpt2"))


@pytest.fixture(scope="session")
def tiny_llama(tmp_path_factory) -> Path:
    return build_tiny_llama(tmp_path_factory.mktemp("tiny-llama"))


@pytest.fixture(scope="session")
def tiny_llama_backend(tiny_llama):
    """A loaded chat backend, shared: loading is the slow part, generation is cheap."""
    from backends.local.backend import LocalBackend

    backend = LocalBackend(str(tiny_llama), device="cpu")
    backend.load()
    return backend


@pytest.fixture(scope="session")
def tiny_gpt2_backend(tiny_gpt2):
    from backends.local.backend import LocalBackend

    backend = LocalBackend(str(tiny_gpt2), device="cpu")
    backend.load()
    return backend


# -- the fast lane ----------------------------------------------------------------------------------
# `make test-fast` runs every test not marked slow. A test is slow when it starts another program (a
# subprocess, a pseudo-terminal, a training run in the background) or loads the embedded model (converted
# on its first load in each PARROT_HOME, ~20 s). Which tests do is read from their code, so that a new test
# is marked with no list of tests to keep: the test, its fixtures and every function or class under tests/
# that they name are read instruction by instruction, and a test that reaches one of these is marked.
STARTS_A_PROGRAM = ("subprocess", "pexpect", "pty", "multiprocessing", "os.fork", "os.forkpty", "os.system",
                    "os.popen", "os.posix_spawn", "os.posix_spawnp", "asyncio.create_subprocess_exec",
                    "asyncio.create_subprocess_shell", "finetune.job.start")
TRAINING_COMMANDS = ("/finetune", "/tokenizer train")  # typed into a chat, these train in the background
EMBEDDED_MODEL = "smollm2"  # the embedded model's name, as a test passes it to a loader
TESTS = ROOT / "tests"


@pytest.hookimpl(tryfirst=True)  # before -m reads the marks
def pytest_collection_modifyitems(items) -> None:
    """Mark slow each test that starts a program, trains in the background or loads the embedded model."""
    reached: dict = {}
    for item in items:
        if item.get_closest_marker("slow") is None and _slow(_reached_by(item, reached)):
            item.add_marker(pytest.mark.slow)


def _slow(reached: tuple[set[str], set[str]]) -> bool:
    names, texts = reached
    return (any(name == p or name.startswith(p + ".") for name in names for p in STARTS_A_PROGRAM)
            or any(text.startswith(TRAINING_COMMANDS) for text in texts) or EMBEDDED_MODEL in texts)


def _reached_by(item, cache: dict) -> tuple[set[str], set[str]]:
    """The dotted names and the string constants that a test's code, fixtures and test helpers name."""
    names: set[str] = set()
    texts: set[str] = set()
    info = getattr(item, "_fixtureinfo", None)  # pytest's own --fixtures-per-test reads the same
    fixtures = [d.func for defs in (info.name2fixturedefs.values() if info else ()) for d in defs]
    for function in [getattr(item, "function", None), *fixtures]:
        if _under_tests(function):
            if function.__code__ not in cache:
                cache[function.__code__] = _walk(function)
            names |= cache[function.__code__][0]
            texts |= cache[function.__code__][1]
    return names, texts


def _walk(function) -> tuple[set[str], set[str]]:
    names: set[str] = set()
    texts: set[str] = set()
    todo, seen = [function], set()
    while todo:
        function = todo.pop()
        if function.__code__ in seen:
            continue
        seen.add(function.__code__)
        for name, value in _named(function.__code__, function.__globals__, texts, {}):
            names.add(name)
            todo.extend(_helpers(value))
    return names, texts


def _named(code, globals_: dict, texts: set[str], bound: dict):
    """(dotted name, object or None) for each module, function, class and attribute of one that ``code``
    loads, its nested functions included; string constants go to ``texts``."""
    last = importing = None
    for instruction in dis.get_instructions(code):
        op, arg, current = instruction.opname, instruction.argval, None
        if op in ("LOAD_GLOBAL", "LOAD_NAME"):
            value = globals_.get(arg, getattr(builtins, arg, None))
            current = (_dotted(value) or arg, value)
        elif op.startswith(("LOAD_FAST", "LOAD_DEREF", "LOAD_CLOSURE")):  # newer Pythons load two at once
            current = bound.get(arg[-1] if isinstance(arg, tuple) else arg)
        elif op == "IMPORT_NAME":
            current = importing = (arg, _module(arg))
        elif op == "IMPORT_FROM" and importing:
            current = (f"{importing[0]}.{arg}", _attribute(importing[1], arg) or _module(f"{importing[0]}.{arg}"))
        elif op in ("LOAD_ATTR", "LOAD_METHOD") and last:
            current = (f"{last[0]}.{arg}", _attribute(last[1], arg))
        elif op in ("STORE_FAST", "STORE_DEREF", "STORE_NAME") and last:
            top = last[0].split(".")[0]  # `import a.b` binds a
            bound[arg] = (top, _module(top)) if last is importing and arg == top else last
        elif op == "LOAD_CONST" and isinstance(arg, str):
            texts.add(arg)
        elif op == "LOAD_CONST" and isinstance(arg, types.CodeType):
            yield from _named(arg, globals_, texts, bound)
        if current:
            yield current
        last = current


def _dotted(value) -> str | None:
    if isinstance(value, types.ModuleType):
        return value.__name__
    module, name = getattr(value, "__module__", None), getattr(value, "__qualname__", None)
    return f"{module}.{name}" if isinstance(module, str) and isinstance(name, str) else None


def _module(name: str):
    """An imported module; the tests' own helpers are imported to be read, nothing else is."""
    if name not in sys.modules and name.startswith("tests."):
        with contextlib.suppress(ImportError):
            importlib.import_module(name)
    return sys.modules.get(name)


def _attribute(owner, name: str):
    """An attribute of a module or class (never of an instance, whose properties would run)."""
    return getattr(owner, name, None) if isinstance(owner, (types.ModuleType, type)) else None


def _helpers(value) -> list:
    """The functions to read next: ``value`` itself or a class's methods, when defined under tests/."""
    if isinstance(value, type) and _under_tests(value):
        members = [getattr(m, "__func__", m) for m in vars(value).values()]
        return [m for m in members + [getattr(m, "fget", None) for m in members] if _under_tests(m)]
    return [value] if _under_tests(value) else []


def _under_tests(value) -> bool:
    if isinstance(value, type):
        path = getattr(sys.modules.get(value.__module__), "__file__", None)
    else:
        path = getattr(getattr(value, "__code__", None), "co_filename", None)
    return path is not None and Path(path).is_relative_to(TESTS)
