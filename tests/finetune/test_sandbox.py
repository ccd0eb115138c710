"""The sandbox stops or refuses each kind of harm, counts it as failed, and leaves the user's files alone.

Each harm is tried twice where the machine allows: with every layer, and with the audit hook off so the
operating-system layer (limits, namespaces, no capabilities) is shown to hold on its own.
"""

from __future__ import annotations

import socket
import threading

import pytest

from finetune.sandbox import Limits, run_program

QUICK = Limits(wall_seconds=3, memory_bytes=512 << 20, output_bytes=64 << 10)
OS_ONLY = Limits(wall_seconds=3, memory_bytes=512 << 20, output_bytes=64 << 10, audit_hook=False)


def test_a_correct_program_passes_and_can_use_its_own_folder():
    outcome = run_program("open('note.txt', 'w').write('hi')\nassert open('note.txt').read() == 'hi'\nprint('ok')",
                          QUICK)
    assert outcome.passed, outcome
    assert outcome.output.strip() == "ok"


def test_a_failed_assertion_and_a_syntax_error_are_told_apart():
    assert run_program("assert 1 + 1 == 3", QUICK).kind == "assertion"
    assert run_program("def broken(:\n    pass", QUICK).kind == "syntax"
    assert run_program("import sys\nsys.exit(0)", QUICK).kind == "error"  # leaving early is not passing


@pytest.mark.parametrize("source", ["while True:\n    pass", "import time\ntime.sleep(60)"])
def test_a_program_that_never_ends_is_stopped_at_the_timeout(source):
    outcome = run_program(source, Limits(wall_seconds=1.5))
    assert outcome.kind == "timeout"
    assert outcome.seconds < 5


@pytest.mark.parametrize("limits", [QUICK, OS_ONLY], ids=["all layers", "limits alone"])
@pytest.mark.parametrize("source", ["x = bytearray(1 << 40)",
                                    "chunks = []\nwhile True:\n    chunks.append(bytearray(1 << 24))"])
def test_unbounded_allocation_is_stopped(source, limits):
    outcome = run_program(source, limits)
    assert outcome.kind == "memory", outcome
    assert not outcome.passed


def test_unbounded_output_is_stopped():
    outcome = run_program("while True:\n    print('x' * 1000)", QUICK)
    assert outcome.kind == "output", outcome


FORKS = {
    "os.fork": "import os\npid = os.fork()\nif pid == 0:\n    os._exit(0)\nos.wait()",
    "subprocess": "import subprocess\nsubprocess.run(['true'])",
    "fork caught": "import os\ntry:\n    os.fork()\nexcept Exception:\n    pass",
}


@pytest.mark.parametrize("source", FORKS.values(), ids=FORKS.keys())
def test_forking_is_refused_and_counted_as_failed(source):
    outcome = run_program(source, QUICK)
    assert outcome.kind == "refused", outcome
    assert "new process" in outcome.detail


def test_the_process_limit_stops_a_fork_on_its_own_even_as_root():
    # Root is exempt from RLIMIT_NPROC; the sandbox makes the real user nobody so the limit holds.
    outcome = run_program(FORKS["os.fork"], OS_ONLY)
    assert outcome.kind == "error" and "Resource temporarily unavailable" in outcome.detail, outcome


def test_native_calls_that_could_fork_are_refused():
    outcome = run_program("import ctypes\nctypes.CDLL(None).fork()", QUICK)
    assert outcome.kind == "refused" and "native" in outcome.detail


@pytest.fixture
def listener():
    """A real server on 127.0.0.1 that counts the connections it gets."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    server.settimeout(0.2)
    accepted = []
    stop = threading.Event()

    def accept():
        while not stop.is_set():
            try:
                accepted.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield server.getsockname()[1], accepted
    stop.set()
    thread.join(timeout=2)
    server.close()


@pytest.mark.parametrize("limits", [QUICK, OS_ONLY], ids=["all layers", "namespace alone"])
def test_opening_a_socket_is_refused_and_nothing_connects(listener, limits):
    port, accepted = listener
    outcome = run_program(f"import socket\ns = socket.socket()\ns.connect(('127.0.0.1', {port}))", limits)
    if limits is OS_ONLY and "network namespace" not in outcome.layers:
        pytest.skip("this machine does not allow a network namespace; the audit hook alone refuses sockets")
    assert not outcome.passed, outcome
    assert outcome.kind == ("refused" if limits.audit_hook else "error")
    assert accepted == []


@pytest.mark.parametrize("limits", [QUICK, OS_ONLY], ids=["all layers", "read-only mounts alone"])
def test_writing_or_deleting_outside_the_folder_is_refused_and_the_users_files_are_untouched(tmp_path, limits):
    mine = tmp_path / "mine.txt"
    mine.write_text("my work")
    attacks = [f"open({str(mine)!r}, 'w').write('gone')",
               f"import os\nos.remove({str(mine)!r})",
               f"import shutil\nshutil.rmtree({str(tmp_path)!r})",
               f"open({str(tmp_path / 'new.txt')!r}, 'x').write('dropped')"]
    for source in attacks:
        outcome = run_program(source, limits)
        if limits is OS_ONLY and "read-only files outside the folder" not in outcome.layers:
            pytest.skip("this machine does not allow a mount namespace; the audit hook alone refuses writes")
        assert not outcome.passed, (source, outcome)
        if limits.audit_hook:
            assert outcome.kind == "refused", (source, outcome)
    assert mine.read_text() == "my work"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine.txt"]
