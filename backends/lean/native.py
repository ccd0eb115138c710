"""parrot's own CPU kernels for quantized products (``int4_decode.cpp``), compiled once per machine:
``int4_rows_mm`` for the 4-bit products and ``int8_row_mm`` for one token's 8-bit output head.

The kernel needs AVX-512 with BF16 and VBMI (Zen 4, Intel Sapphire Rapids and later) and a C++ compiler;
it is built against the installed torch (`make` builds it while it sets up; ``python -c "from
backends.lean import native; native.main()"`` does the same by hand). Where it is not built yet,
``kernels`` starts the build in the background and answers None: products then run on torch's
kernel, which reads the same codes, and a later start uses the built one. A machine without the
instructions or the compiler keeps torch's kernel; ``PARROT_NATIVE=0`` asks for torch's kernel
everywhere (the benches compare the two this way). A failed build is written down beside where the
library would be (``failed.txt``) and not tried again for the same source and torch.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from typing import Callable, Protocol

import torch

SOURCE = Path(__file__).with_name("int4_decode.cpp")
NEEDS = ("avx512f", "avx512bw", "avx512vl", "avx512vbmi", "avx512_bf16")
FLAGS = ["-O3", "-std=c++20", "-fPIC", "-shared", "-fopenmp",
         "-mavx512f", "-mavx512bw", "-mavx512vl", "-mavx512vbmi", "-mavx512bf16", "-mfma"]

Kernel = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]


class Kernels(Protocol):
    """``torch.ops.parrot``, as built from ``int4_decode.cpp``."""

    int4_rows_mm: Kernel  # (x [m, k] bf16, packed codes, scales by block) -> [m, n] bf16
    int8_row_mm: Kernel  # (x [1, k] bf16, q [n, k] int8, scale [n] bf16) -> [1, n] bf16


_lock = threading.Lock()
_state: dict[str, object] = {}  # "op": the loaded ops; "building": the build thread; "why": why there are none


def kernels() -> Kernels | None:
    """``torch.ops.parrot`` where it is built for this machine, else None (and, the first
    time, the build started in the background where it can be built)."""
    op = _state.get("op")
    if op is not None or "why" in _state:
        return op  # type: ignore[return-value]
    with _lock:
        if "op" in _state or "why" in _state or "building" in _state:
            return _state.get("op")  # type: ignore[return-value]
        why = unavailable()
        if why:
            _state["why"] = why
            return None
        library = library_path()
        if library.exists():
            try:
                _state["op"] = _load(library)
            except (OSError, RuntimeError) as error:  # a damaged file: torch's kernels, and a line saying why
                _state["why"] = f"{library} does not load: {str(error).splitlines()[0] if str(error) else error!r}"
                return None
            return _state["op"]  # type: ignore[return-value]
        if failure_path().exists():
            lines = failure_path().read_text(errors="replace").strip().splitlines()
            _state["why"] = lines[-1] if lines else "the build failed"
            return None
        thread = threading.Thread(target=_build_quietly, name="parrot-kernel-build", daemon=True)
        _state["building"] = thread
        thread.start()
        return None


def wait_until_built(timeout: float | None = None) -> Kernels | None:
    """``kernels()``, after the background build (if one runs) has finished or ``timeout`` passed."""
    kernels()
    building = _state.get("building")
    if isinstance(building, threading.Thread):
        building.join(timeout)
    return kernels()


def unavailable() -> str | None:
    """Why the kernel cannot run here, or None."""
    if os.environ.get("PARROT_NATIVE", "1") == "0":
        return "PARROT_NATIVE=0"
    if sys.platform != "linux" or not _cpu_has(NEEDS):
        return "the CPU lacks AVX-512 BF16"
    if shutil.which(_compiler()) is None:
        return f"no C++ compiler ({_compiler()})"
    return None


def build() -> Path:
    """Compile the kernel for the installed torch (about 10 s) and return the library's path."""
    from torch.utils import cpp_extension

    library = library_path()
    library.parent.mkdir(parents=True, exist_ok=True)
    abi = f"-D_GLIBCXX_USE_CXX11_ABI={int(torch._C._GLIBCXX_USE_CXX11_ABI)}"
    includes = [flag for path in cpp_extension.include_paths() for flag in ("-isystem", path)]
    torch_lib = cpp_extension.library_paths()[0]
    # Written beside and renamed: two processes building at once both end with a whole library.
    with tempfile.NamedTemporaryFile(dir=library.parent, suffix=".so", delete=False) as partial:
        pass
    try:
        subprocess.run([_compiler(), *FLAGS, abi, *includes, str(SOURCE), "-o", partial.name,
                        f"-L{torch_lib}", "-lc10", "-ltorch_cpu", f"-Wl,-rpath,{torch_lib}"],
                       check=True, capture_output=True, text=True)
        os.replace(partial.name, library)
    finally:
        Path(partial.name).unlink(missing_ok=True)
    for old in library.parent.parent.iterdir():  # builds of an earlier source or torch
        if old != library.parent and (old / library.name).exists():
            shutil.rmtree(old, ignore_errors=True)
    return library


def library_path() -> Path:
    """The built library, named by what it was built from: a new torch or a changed source builds anew."""
    key = hashlib.sha256(SOURCE.read_bytes() + torch.__version__.encode() + " ".join(FLAGS).encode()).hexdigest()[:16]
    return _folder() / key / "parrot_kernels.so"


def failure_path() -> Path:
    return library_path().with_name("failed.txt")


def _folder() -> Path:
    """Beside this module where the installation is writable (an editable or virtual-environment
    install), else the user's cache folder. Never under PARROT_HOME: the library depends on the
    machine and torch alone, and every home on the machine shares it."""
    here = Path(__file__).with_name("built")
    if os.access(here.parent, os.W_OK):
        return here
    import platformdirs

    return Path(platformdirs.user_cache_dir("parrot")) / "kernels"


def _build_quietly() -> None:
    try:
        library = build()
        op = _load(library)
    except subprocess.CalledProcessError as error:
        failure_path().write_text(f"{error.stderr}\nthe compiler failed (exit {error.returncode})\n")
        _state["why"] = "the compiler failed"
    except (OSError, RuntimeError) as error:
        _state["why"] = f"the build failed: {error}"
    else:
        _state["op"] = op


def _load(library: Path) -> Kernels:
    torch.ops.load_library(str(library))
    # Their output shapes, for torch.export and torch.compile (which trace with tensors holding no data).
    torch.library.register_fake("parrot::int4_rows_mm")(
        lambda x, packed, scales: x.new_empty((x.shape[0], packed.shape[0])))
    torch.library.register_fake("parrot::int8_row_mm")(lambda x, q, scale: x.new_empty((1, q.shape[0])))
    return torch.ops.parrot  # type: ignore[return-value]


def _compiler() -> str:
    return os.environ.get("CXX", "c++")


def _cpu_has(flags: tuple[str, ...]) -> bool:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    line = next((line for line in text.splitlines() if line.startswith("flags")), "")
    present = set(line.split(":", 1)[-1].split())
    return all(flag in present for flag in flags)


def main() -> None:
    """Build the kernel now where it can run here (the Makefile's set-up calls this), saying what happened."""
    reason = unavailable()
    if reason:
        print(f"parrot's CPU kernels are not built: {reason}; torch's kernels run instead")
    elif library_path().exists():
        print(f"parrot's CPU kernels: {library_path()} (built before)")
    else:
        try:
            path = build()
        except subprocess.CalledProcessError as error:
            print(f"parrot's CPU kernels did not compile (torch's kernels run instead):\n{error.stderr}")
        else:
            print(f"parrot's CPU kernels: {path}")
