"""/file's own glob walk: the same files glob.glob(recursive=True) finds, but bounded and stoppable."""

from __future__ import annotations

import glob
import os

import pytest

from backends.cancel import Cancel
from backends.errors import Cancelled, UsageError
from repl.chat import file_globs
from repl.chat.file_globs import expand_glob

PATTERNS = ["*.py", "src/*.py", "src/**/*.py", "**/*.js", "src/*/*", "src/**", "**/.hidden/*", "src/[ab]*.py",
            "src/?.py", ".*", "src/.*", "**/*.md", "no/such/*", "src/**/deep/**/*.txt"]


@pytest.fixture
def tree(tmp_path, monkeypatch):
    files = ["a.py", "b.js", ".dot.py", "src/a.py", "src/b.py", "src/c.txt", "src/.secret.py", "src/sub/d.py",
             "src/sub/e.js", "src/sub/deep/f.txt", "src/sub/deep/g/h.txt", "src/.hidden/i.py", ".hidden/j.py",
             "docs/README.md", "docs/x y.md"]
    for name in files:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(name)
    (tmp_path / "src" / "empty").mkdir()
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.parametrize("pattern", PATTERNS)
@pytest.mark.parametrize("where", ["relative", "absolute"])
def test_the_walk_finds_what_glob_finds(pattern, where, tree):
    pattern = pattern if where == "relative" else f"{tree}/{pattern}"
    expected = sorted(p for p in glob.glob(pattern, recursive=True) if not os.path.isdir(p))
    assert expand_glob(pattern, 100) == expected


def test_home_is_expanded_as_glob_expands_it(tree, monkeypatch):
    monkeypatch.setenv("HOME", str(tree))
    assert expand_glob("~/src/*.py", 100) == [f"{tree}/src/a.py", f"{tree}/src/b.py"]


def test_more_files_than_a_prompt_takes_stops_the_walk_with_the_count(tree):
    with pytest.raises(UsageError, match=r"\*\*/\* matches more than 3 files"):
        expand_glob("**/*", 3)


def test_a_walk_past_the_limit_of_names_is_refused(tree, monkeypatch):
    monkeypatch.setattr(file_globs, "MAX_NAMES", 5)
    with pytest.raises(UsageError, match="looks at more than 5 names"):
        expand_glob("**/nothing-*.zzz", 100)


def test_a_cancel_stops_the_walk_and_progress_is_said(tree, monkeypatch):
    cancel = Cancel()
    said: list[str] = []
    monkeypatch.setattr(file_globs, "PROGRESS_SECONDS", 0.0)

    def progress(text: str) -> None:
        said.append(text)
        cancel.set()  # stop at the next folder

    with pytest.raises(Cancelled, match="stopped expanding"):
        expand_glob("**/*.zzz", 100, cancel, progress)
    assert said and said[0].startswith("/file: looked at ") and "(Esc stops)" in said[0]


def test_a_symlink_loop_under_double_star_ends(tree):
    os.symlink(tree / "src", tree / "src" / "sub" / "loop")
    found = expand_glob(f"{tree}/src/**/*.py", 100)
    assert f"{tree}/src/sub/d.py" in found and not any("/sub/loop/" in p for p in found)
