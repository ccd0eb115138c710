"""transformers' names imported from several threads at once, as the app does (a model loading while
/tokens loads a tokenizer): each thread gets its name, none sees a half-imported module."""

from __future__ import annotations

import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent("""
    import threading
    from backends.library_imports import transformers_names

    names = ["AutoModelForCausalLM", "AutoTokenizer", "AutoConfig", "DynamicCache", "PreTrainedTokenizerFast"]
    start, got, failed = threading.Barrier(len(names)), {}, []

    def take(name):
        start.wait()
        try:
            got[name] = transformers_names(name)
        except Exception as error:
            failed.append(f"{name}: {error!r}")

    threads = [threading.Thread(target=take, args=(name,)) for name in names]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not failed, failed
    assert all(isinstance(got[name], type) for name in names), got
    print(sorted(got))
""")


def test_names_imported_at_once_from_five_threads_all_arrive():
    # A fresh process: the race is on the first import of each name.
    result = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == str(sorted(["AutoConfig", "AutoModelForCausalLM", "AutoTokenizer", "DynamicCache",
                                               "PreTrainedTokenizerFast"]))
