"""Dataset files the Hub fixture serves: github-code- and wikitext-shaped parquet, built in the test."""

from __future__ import annotations

import io

# codeparrot/github-code's parquet files hold these columns (its loading script renamed `content` to `code`
# and derived `language` from the extension); the licences are ones that occur there.
JS_MIT = "function add(a, b) {\n  return a + b;\n}\nmodule.exports = add;\n"


def github_code_rows(count: int = 60) -> list[dict]:
    """Rows shaped like github-code's: a mix of languages and licences, so filters have work to do."""
    kinds = [("lib/add.js", "mit", JS_MIT),
             ("src/main.py", "mit", "def main():\n    print('hi')\n"),
             ("lib/gpl.js", "gpl-3.0", "// GPL code must be filtered out\nvar gpl = 1;\n"),
             ("web/app.js", "apache-2.0", "const app = () => {\n  return 42;\n};\nexport default app;\n"),
             ("tools/x.js", "isc", "exports.x = function x() { return 'x'; };\n")]
    rows = []
    for i in range(count):
        path, licence, code = kinds[i % len(kinds)]
        text = f"// file {i} of the corpus, kept apart by this line\n{code}"
        rows.append({"repo_name": f"user{i}/repo{i}", "path": path, "copies": "1", "size": len(text),
                     "content": text, "license": licence})
    return rows


def parquet_bytes(rows: list[dict]) -> bytes:
    import pyarrow as pa
    import pyarrow.parquet as pq

    buffer = io.BytesIO()
    pq.write_table(pa.Table.from_pylist(rows), buffer, row_group_size=16)
    return buffer.getvalue()


def wikitext_rows(count: int = 200) -> list[dict]:
    lines = ["", " = Valkyria Chronicles III = \n", " The game began development in 2010 . \n",
             " Senjō no Valkyria 3 is a tactical role @-@ playing video game . \n"]
    return [{"text": lines[i % len(lines)] + (f" Line {i} of the article . \n" if i % 4 else "")} for i in range(count)]


WIKITEXT_TRAIN = "wikitext-103-raw-v1/train-00000-of-00001.parquet"
GITHUB_CODE_SHARDS = ("data/train-00000-of-00002.parquet", "data/train-00001-of-00002.parquet")


def add_wikitext(hub, **options):
    """Salesforce/wikitext as tokenizer training reads it: a train file and a test file it must not fetch."""
    return hub.add_repo("Salesforce/wikitext", {WIKITEXT_TRAIN: parquet_bytes(wikitext_rows(200)),
                                                "wikitext-103-raw-v1/test-00000-of-00001.parquet":
                                                    parquet_bytes(wikitext_rows(20)), "README.md": b"# wikitext\n"},
                        repo_type="dataset", **options)


def add_github_code(hub, **options):
    """codeparrot/github-code's parquet shards, 60 rows of mixed languages and licences."""
    rows = github_code_rows(60)
    return hub.add_repo("codeparrot/github-code", {GITHUB_CODE_SHARDS[0]: parquet_bytes(rows[:30]),
                                                   GITHUB_CODE_SHARDS[1]: parquet_bytes(rows[30:]),
                                                   "README.md": b"# github-code\n"}, repo_type="dataset", **options)
