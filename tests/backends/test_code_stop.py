"""Where a code continuation ends: the line that closes the top-level block, braces in strings and comments aside."""

from __future__ import annotations

import pytest

from backends.code_stop import BlockEnd


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
