"""Where a code continuation ends: the line that closes the top-level block, braces in strings and comments aside."""

from __future__ import annotations

import bisect
import difflib
import fnmatch
import glob
import heapq
import re
import shlex
import string
import textwrap
from pathlib import Path

import pytest

from backends.local.code_stop import BlockEnd


def cut(prompt: str, pieces: list[str]) -> str:
    """The continuation as it would be shown: the pieces up to the cut."""
    block, kept = BlockEnd(prompt), []
    for piece in pieces:
        end = block.push(piece)
        kept.append(piece if end is None else piece[:end])
        if end is not None:
            break
    return "".join(kept)


def test_a_function_ends_with_its_closing_line_not_the_next_function():
    text = "\n  return a + b;\n}\n\nfunction sub(a, b) {\n  return a - b;\n}\n"
    assert cut("function add(a, b) {", [text]) == "\n  return a + b;\n}\n"


def test_the_cut_works_on_token_sized_pieces_and_keeps_the_rest_of_the_closing_line():
    text = "module.exports = function (a) {\n  if (a) {\n    return 1;\n  } else {\n    return 0;\n  }\n});\nconst y = 2;\n"
    pieces = [text[i:i + 3] for i in range(0, len(text), 3)]
    assert cut("const x = 1;\n", pieces) == text[: text.index("});\n") + 4]


@pytest.mark.parametrize("body", [
    '  const s = "}";\n', "  const s = '}';\n", "  const t = `${a} }`;\n", "  // } not code\n",
    "  /* } \n } */\n", '  const q = "a \\" }";\n',
])
def test_braces_in_strings_and_comments_do_not_close_the_block(body):
    assert cut("function f(a) {\n", [body, "  return a;\n}\n", "more();\n"]) == body + "  return a;\n}\n"


def test_code_that_opens_no_block_runs_on():
    assert cut("const a = require('a');\n", ["const b = 2;\n", "const c = 3;\n"]) == "const b = 2;\nconst c = 3;\n"


@pytest.mark.parametrize("prompt, text", [
    ("const a = 1;\n", "const b = { a: 1 };\nconst c = 2;\n"),  # a one-line object closes no block
    ("def f():\n", "    d = {\n        'a': 1,\n    }\n    return d\n"),  # an indented brace: Python's dict
])
def test_only_a_brace_opening_its_line_ends_a_top_level_block(prompt, text):
    assert cut(prompt, [text]) == text


NPM_LIB = Path("/usr/lib/node_modules/npm/lib")
HEADER = re.compile(r"^( *)(async )?(function \w+ *\(.*\)|\w+ *\(.*\)) \{\n$")
NOT_A_DEFINITION = re.compile(r"^ *(if|for|while|switch|catch|else)\b")


def pieces_of(text: str, size: int = 4) -> list[str]:
    return [text[i:i + size] for i in range(0, len(text), size)]


def js_definitions(limit: int = 200) -> list[tuple[str, str, str]]:
    """(prompt, continuation, expected) for each function at column 0 and each method indented by two
    in npm's own sources: a method's prompt is its header alone, as a person pastes an indented snippet;
    the expected continuation ends with the first later line that starts with that indentation's ``}``."""
    cases = []
    for path in sorted(NPM_LIB.rglob("*.js"))[:limit]:
        lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
        for i, line in enumerate(lines):
            match = HEADER.match(line)
            if not match or match.group(1) not in ("", "  ") or NOT_A_DEFINITION.match(line):
                continue
            indent, rest = match.group(1), lines[i + 1:]
            end = next((j for j, later in enumerate(rest) if later.startswith(indent + "}")), None)
            if end is None:
                continue
            prompt = "".join(lines[:i + 1]) if not indent else line
            cases.append((prompt.rstrip("\n"), "\n" + "".join(rest), "\n" + "".join(rest[:end + 1])))
    return cases


@pytest.mark.skipif(not NPM_LIB.is_dir(), reason="needs npm's own JavaScript tree")
def test_real_javascript_functions_and_indented_methods_end_with_their_own_closing_brace():
    cases = js_definitions()
    indented = [c for c in cases if not c[0].startswith(("function", "async function")) and "\n" not in c[0]]
    assert len(cases) > 100 and len(indented) > 50, "npm's tree has many of both"
    wrong = [(prompt[-60:], cut(prompt, pieces_of(text))[-60:]) for prompt, text, expected in cases
             if cut(prompt, pieces_of(text)) != expected]
    assert wrong == []


def python_definitions() -> list[tuple[str, str, str]]:
    """(prompt, continuation, expected) for every def and class at column 0 in a few stdlib modules: the
    body ends before the next line that starts at column 0 (a comment there aside)."""
    cases = []
    for module in (textwrap, shlex, difflib, fnmatch, heapq, string, glob, bisect):
        lines = Path(module.__file__).read_text(encoding="utf-8").splitlines(keepends=True)
        for i, line in enumerate(lines):
            if not re.match(r"^(def|class) \w+.*:\n$", line):
                continue
            rest = lines[i + 1:]
            end = next((j for j, later in enumerate(rest) if later[:1].strip() and later[0] != "#"), None)
            if end is not None:
                cases.append(("".join(lines[:i + 1]), "".join(rest), "".join(rest[:end])))
    return cases


def test_real_python_definitions_end_at_the_dedent_back_to_column_zero():
    cases = python_definitions()
    assert len(cases) > 40
    wrong = [(prompt[-60:], cut(prompt, pieces_of(text))[-60:]) for prompt, text, expected in cases
             if cut(prompt, pieces_of(text)) != expected]
    assert wrong == []


def test_an_indented_snippet_ends_at_its_own_indented_brace():
    prompt = "    render (items) {"
    text = "\n      for (const item of items) {\n        draw(item)\n      }\n    }\n\n    clear () {\n"
    assert cut(prompt, pieces_of(text, 3)) == "\n      for (const item of items) {\n        draw(item)\n      }\n    }\n"


def test_a_python_function_ends_before_the_next_definition():
    text = "    return a + b\n\n\ndef sub(a, b):\n    return a - b\n"
    assert cut("def add(a, b):\n", pieces_of(text, 5)) == "    return a + b\n\n\n"
    # A decorator or a statement at column 0 ends it too; a comment there does not.
    assert cut("def f():\n", ["    x = 1\n# note\n    return x\n@cache\ndef g():\n"]) == \
        "    x = 1\n# note\n    return x\n"
