"""Data sources: licences from package.json / LICENSE, cleaning, dedup, split, and github-code's parquet."""

from __future__ import annotations

from finetune.data import build_corpus, load_corpus, spdx_allowed, tree_documents


def test_tree_keeps_only_permissively_licensed_javascript(js_tree):
    corpus = load_corpus(str(js_tree), eval_share=0.0)
    kept = {d.path for d in corpus.train}
    assert "mit-pkg/lib/file1.js" in kept and "mit-pkg/index.mjs" in kept
    assert len(kept & {"mit-pkg/lib/file0.js", "mit-pkg/lib/copy.js"}) == 1  # same content, kept once
    assert "isc-pkg/lib/file0.cjs" in kept
    assert "isc-pkg/lib/esm/inner.js" in kept  # a nested {"type": "module"} package.json inherits ISC
    assert "dual-pkg/lib/file0.js" in kept  # (MIT OR GPL-3.0): MIT may be chosen
    assert "apache-pkg/lib/file0.js" in kept  # no licence field, but an Apache-2.0 LICENSE file
    assert not any(p.startswith(("gpl-pkg", "closed-pkg")) for p in kept)
    assert not any("silent" in p for p in kept)  # a package that declares nothing inherits nothing
    assert {d.license for d in corpus.train} == {"mit", "isc", "apache-2.0"}
    assert "mit-pkg/dist/bundle.min.js" not in kept and "mit-pkg/lib/generated.js" not in kept
    assert corpus.skipped["minified"] == 1 and corpus.skipped["generated"] == 1
    assert corpus.skipped["duplicate"] == 1 and corpus.skipped["without a permissive licence"] == 4
    assert "skipped" in corpus.summary() and "minified" in corpus.summary()


def test_spdx_expressions():
    assert spdx_allowed("MIT") == "mit"
    assert spdx_allowed("(GPL-3.0 OR Apache-2.0)") == "apache-2.0"
    assert spdx_allowed("MIT AND GPL-3.0") is None
    assert spdx_allowed("UNLICENSED") is None and spdx_allowed("BlueOak-1.0.0") is None


def test_held_out_files_are_the_same_every_time(js_tree):
    first = load_corpus(str(js_tree), eval_share=0.3)
    second = load_corpus(str(js_tree), eval_share=0.3)
    assert first.eval and first.train
    assert [d.path for d in first.eval] == [d.path for d in second.eval]
    assert not {d.digest for d in first.eval} & {d.digest for d in first.train}


def test_max_files_stops_reading_early(js_tree):
    corpus = build_corpus(tree_documents(js_tree), eval_share=0.0, max_files=5)
    assert len(corpus.train) == 5


def test_hub_source_reads_github_code_parquet(tmp_path):
    """The hub path (parquet, streaming, licence filter pushed down, .js only) on a local file."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from tests.support.js_corpus import js_class

    rows = [("a/x.js", "mit", js_class(1)), ("b/y.js", "isc", js_class(2)), ("c/z.js", "apache-2.0", js_class(3)),
            ("d/gpl.js", "gpl-3.0", js_class(4)), ("e/app.py", "mit", "def f():\n    return 1\n" * 5),
            ("f/min.js", "mit", "var a=1;" * 400), ("g/bsd.js", "bsd-3-clause", js_class(5))]
    table = pa.table({"content": [r[2] for r in rows], "path": [r[0] for r in rows],
                      "license": [r[1] for r in rows], "repo_name": [f"org/repo{i}" for i in range(len(rows))],
                      "size": [len(r[2]) for r in rows], "language": ["JavaScript"] * len(rows)})
    pq.write_table(table, tmp_path / "train-00000-of-00001.parquet", row_group_size=2)
    corpus = load_corpus(str(tmp_path / "train-*.parquet"), eval_share=0.0)
    assert sorted(d.path for d in corpus.train) == ["org/repo0/a/x.js", "org/repo1/b/y.js", "org/repo2/c/z.js"]
    assert corpus.skipped["minified"] == 1


def test_a_source_file_named_license_js_is_code_not_a_licence(tmp_path):
    """@npmcli/* ship lib/license.js: the package.json's ISC covers it, and it is trained on."""
    from tests.support.js_corpus import js_class, write_package

    root = tmp_path / "node_modules"
    write_package(root / "@npmcli" / "pkg", "ISC", {"lib/license.js": js_class(1), "lib/index.js": js_class(2)},
                  name="@npmcli/pkg")
    write_package(root / "spelled", None, {"index.js": js_class(3)})
    (root / "spelled" / "LICENCE.md").write_text("Permission is hereby granted, free of charge, to any person")
    write_package(root / "suffixed", None, {"index.js": js_class(4)})
    (root / "suffixed" / "LICENSE-MIT").write_text("Permission is hereby granted, free of charge, to any person")
    write_package(root / "code-only", None, {"index.js": js_class(5), "license.js": js_class(6)})
    corpus = load_corpus(str(root), eval_share=0.0)
    licences = {d.path: d.license for d in corpus.train}
    assert licences == {"@npmcli/pkg/lib/license.js": "isc", "@npmcli/pkg/lib/index.js": "isc",
                        "spelled/index.js": "mit", "suffixed/index.js": "mit"}
    assert corpus.skipped["without a permissive licence"] == 2  # code-only: a license.js grants nothing
