"""Run generated code in its own process, fenced in, and say how it ended.

Every program runs in a fresh Python (``-I``: no user site, no environment) inside a temporary folder,
with layers that each stop a kind of harm on their own, so one that a machine does not allow leaves the
others standing:

- resource limits (``setrlimit``): address space, CPU seconds, file size (stdout and stderr are files,
  so this caps output too), open files, processes, no core dumps; a wall-clock timeout kills the group;
- as root: the child moves to network and mount namespaces of its own (only a loopback that is down;
  every mount read-only but its folder), its real user becomes ``nobody`` so the process limit holds
  (the kernel exempts real root from RLIMIT_NPROC) and it drops every capability;
- an audit hook (PEP 578) refuses sockets, fork/exec/subprocess, ctypes, signals to other processes
  and any write, delete or rename outside the folder; a refusal is recorded even if the code catches it.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

NOBODY = 65534

# Ways a run ends; everything but "passed" counts as failed.
KINDS = ("passed", "assertion", "error", "syntax", "timeout", "memory", "output", "refused", "crash")


@dataclass(frozen=True)
class Limits:
    """What one run may use. ``audit_hook`` and ``isolate`` exist so tests can check each layer alone."""

    wall_seconds: float = 10.0
    memory_bytes: int = 1 << 30
    output_bytes: int = 1 << 20
    open_files: int = 64
    audit_hook: bool = True
    isolate: bool = True  # namespaces, real user nobody, no capabilities: where the machine allows


@dataclass
class Outcome:
    """How a run ended: ``kind`` is one of KINDS, ``detail`` a short line for the table."""

    kind: str
    detail: str = ""
    seconds: float = 0.0
    output: str = ""
    layers: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return self.kind == "passed"


# The child's side. It sets every fence up before it reads the program, then runs it and writes one
# JSON line to the result pipe. Kept as source text because it must run in a fresh interpreter.
_RUNNER = r'''
import json, os, resource, sys
config = json.loads(sys.argv[1])
result_fd = config["result_fd"]
folder = os.path.realpath(config["folder"])
layers = []
NOBODY = config["nobody"]

def isolate(layers, folder):
    """As root: own network and mount namespaces, everything read-only but the folder, no real root."""
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)
    CLONE_NEWNS, CLONE_NEWNET = 0x00020000, 0x40000000
    MS_RDONLY, MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 1, 32, 4096, 16384, 1 << 18
    if libc.unshare(CLONE_NEWNET) == 0:  # its only interface is a loopback that is down
        layers.append("network namespace")
    if (libc.unshare(CLONE_NEWNS) == 0
            and libc.mount(None, b"/", None, MS_REC | MS_PRIVATE, None) == 0
            and libc.mount(folder.encode(), folder.encode(), None, MS_BIND, None) == 0):
        with open("/proc/self/mountinfo") as handle:
            points = [line.split()[4] for line in handle]
        failed = [p for p in points if p != folder
                  and libc.mount(None, p.encode(), None, MS_REMOUNT | MS_BIND | MS_RDONLY, None) != 0]
        os.chdir(folder)  # the old working directory is the folder under its bind mount, read-only now
        if not failed:
            layers.append("read-only files outside the folder")
    # The kernel exempts real uid 0 from RLIMIT_NPROC whatever its capabilities, so the real uid becomes
    # nobody; the effective uid stays 0 so the interpreter's own files (perhaps under /root) stay readable,
    # and every capability goes, so that effective root is worth nothing more than owning those files.
    os.setresuid(NOBODY, 0, 0)

    class Header(ctypes.Structure):
        _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]

    class Sets(ctypes.Structure):
        _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]

    if libc.capset(ctypes.byref(Header(0x20080522, 0)), (Sets * 2)()) == 0:  # version 3: two empty sets
        layers.append("no capabilities")


def report(kind, detail=""):
    os.write(result_fd, (json.dumps({"kind": kind, "detail": detail[:300], "layers": layers}) + "\n").encode())

if config["isolate"] and os.geteuid() == 0:
    try:
        isolate(layers, folder)
    except OSError:  # a container that forbids a step keeps the layers before it, the limits and the hook
        pass

def limit(name, value):
    resource.setrlimit(getattr(resource, name), (value, value))

limit("RLIMIT_AS", config["memory"])
limit("RLIMIT_CPU", config["cpu"])
limit("RLIMIT_FSIZE", config["output"])
limit("RLIMIT_NOFILE", config["files"])
limit("RLIMIT_CORE", 0)
limit("RLIMIT_NPROC", 0)  # holds for any real user but root, and for no one with CAP_SYS_RESOURCE/ADMIN
layers.append("resource limits")

with open(os.path.join(folder, "program.py"), encoding="utf-8") as handle:
    source = handle.read()

refused = []
if config["audit_hook"]:
    WRITES = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
    PROCESS = ("os.fork", "os.forkpty", "os.posix_spawn", "os.spawn", "os.exec", "os.system", "os.kill",
               "os.killpg", "signal.pthread_kill", "subprocess.Popen", "pty.spawn", "os.startfile")
    PATHS = ("os.remove", "os.rename", "os.rmdir", "os.mkdir", "os.chmod", "os.chown", "os.truncate",
             "os.symlink", "os.link", "os.utime", "shutil.rmtree", "os.chflags", "os.mkfifo", "os.mknod")
    realpath, isinstance_, str_, fspath = os.path.realpath, isinstance, str, os.fspath

    def inside(path):
        if isinstance_(path, int):
            return True
        try:
            full = realpath(fspath(path))
        except Exception:
            return False
        return full == folder or full.startswith(folder + os.sep)

    def refuse(what):
        refused.append(what)
        raise PermissionError("refused by the sandbox: " + what)

    def hook(event, args):
        if event.startswith("socket."):
            refuse("network (" + event + ")")
        elif event.startswith(PROCESS):
            refuse("new process (" + event + ")")
        elif event.startswith("ctypes."):
            refuse("native calls (" + event + ")")
        elif event == "open":
            path, mode, flags = args
            writing = bool((flags or 0) & WRITES) or (isinstance_(mode, str_) and any(c in mode for c in "wax+"))
            if writing and not inside(path):
                refuse("write outside its folder (" + str_(path) + ")")
        elif event in PATHS:
            for path in args[:2]:
                if isinstance_(path, (str_, bytes)) and not inside(path):
                    refuse(event + " outside its folder (" + str_(path) + ")")

    sys.addaudithook(hook)
    layers.append("audit hook")

try:
    code = compile(source, "program.py", "exec")
except (SyntaxError, ValueError) as error:
    report("syntax", f"{type(error).__name__}: {error}")
    sys.exit(1)
try:
    exec(code, {"__name__": "__main__", "__builtins__": __builtins__})
except BaseException as error:
    # Python ignores SIGXFSZ, so output past the file-size limit shows up as EFBIG.
    kind = ("refused" if refused else "memory" if isinstance(error, MemoryError)
            else "output" if isinstance(error, OSError) and error.errno == 27
            else "assertion" if isinstance(error, AssertionError) else "error")
    report(kind, refused[0] if refused else f"{type(error).__name__}: {error}")
    os._exit(1)
if refused:
    report("refused", refused[0])
    os._exit(1)
try:
    sys.stdout.flush()
    sys.stderr.flush()
except OSError:
    report("output", "wrote more than the output limit")
    os._exit(1)
report("passed")
os._exit(0)
'''


def run_program(source: str, limits: Limits = Limits()) -> Outcome:
    """Run ``source`` as a program in a fresh, fenced-in process; never raises for what the code does."""
    folder = Path(tempfile.mkdtemp(prefix="parrot-sandbox-"))
    started = time.perf_counter()
    try:
        (folder / "program.py").write_text(source, encoding="utf-8")
        return _run_in(folder, limits, started)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _run_in(folder: Path, limits: Limits, started: float) -> Outcome:
    read_end, write_end = os.pipe()
    config = {
        "result_fd": write_end, "folder": str(folder), "isolate": limits.isolate, "nobody": NOBODY,
        "audit_hook": limits.audit_hook, "memory": limits.memory_bytes, "output": limits.output_bytes,
        "files": limits.open_files, "cpu": int(limits.wall_seconds) + 1,
    }
    env = {"PATH": "/usr/bin:/bin", "HOME": str(folder), "TMPDIR": str(folder), "LANG": "C.UTF-8",
           "OMP_NUM_THREADS": "1", "PYTHONDONTWRITEBYTECODE": "1"}
    out_path = folder / "output.txt"
    timed_out = False
    try:
        with open(out_path, "wb") as out:
            proc = subprocess.Popen(
                [sys.executable, "-I", "-c", _RUNNER, json.dumps(config)], cwd=folder, env=env,
                stdin=subprocess.DEVNULL, stdout=out, stderr=out, pass_fds=(write_end,), start_new_session=True)
        os.close(write_end)
        write_end = -1
        try:
            proc.wait(timeout=limits.wall_seconds)
        except subprocess.TimeoutExpired:
            timed_out = True
            _kill_group(proc)
        report = _read_report(read_end)
    finally:
        os.close(read_end)
        if write_end >= 0:
            os.close(write_end)
    seconds = time.perf_counter() - started
    output = out_path.read_bytes()[:4000].decode("utf-8", "replace") if out_path.exists() else ""
    return _outcome(proc.returncode, timed_out, report, limits, seconds, output)


def _kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()


def _read_report(fd: int) -> dict | None:
    os.set_blocking(fd, False)
    try:
        data = os.read(fd, 65536)
    except BlockingIOError:
        return None
    for line in data.decode("utf-8", "replace").splitlines():
        try:
            report = json.loads(line)
        except ValueError:
            continue
        if isinstance(report, dict) and report.get("kind") in KINDS:
            return report  # the runner writes first; a program that writes here too comes after it
    return None


def _outcome(returncode: int, timed_out: bool, report: dict | None, limits: Limits, seconds: float,
             output: str) -> Outcome:
    layers = list(report.get("layers", [])) if report else []
    if timed_out:
        return Outcome("timeout", f"still running after {limits.wall_seconds:g} s", seconds, output, layers)
    if returncode == -signal.SIGXCPU:
        return Outcome("timeout", "used up its CPU time", seconds, output, layers)
    if returncode == -signal.SIGXFSZ:
        return Outcome("output", f"wrote more than {limits.output_bytes} bytes", seconds, output, layers)
    if report is None:
        why = f"killed by signal {-returncode}" if returncode < 0 else f"exited with {returncode} before reporting"
        return Outcome("crash", why, seconds, output, layers)
    kind = report["kind"]
    if kind == "passed" and returncode != 0:
        kind, report["detail"] = "crash", f"exited with {returncode}"
    return Outcome(kind, str(report.get("detail", "")), seconds, output, layers)
