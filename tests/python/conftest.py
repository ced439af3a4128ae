"""Fixtures: objects compiled at test time from tests/python/sources/.

Every test that takes ``objs`` runs once per compiler (clang-22 and gcc).
``objs["basic"]`` is the path of ``sources/basic.c`` compiled with that
compiler (``.c`` with the C compiler, ``.cc`` with the C++ one);
``objs.read("basic")`` is its content.
"""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
SOURCES = HERE / "sources"
REPO = HERE.parent.parent

# The machine the tests run on, as the loader names it, and the other
# machine, whose objects it refuses (clang --target, and the word for it in
# the refusal).
MACHINE_NAME = "aarch64" if platform.machine() in ("aarch64", "arm64") else "x86-64"
FOREIGN_TARGET = "x86_64-linux-gnu" if MACHINE_NAME == "aarch64" else "aarch64-linux-gnu"
FOREIGN_NAME = "x86-64" if MACHINE_NAME == "aarch64" else "AArch64"

# Under emulation (scripts/test_aarch64.sh sets ORCJIT_TEST_EMULATED), what
# the emulator makes meaningless is skipped, saying so: resident memory (its
# translation cache counts) and RLIMIT_AS (not applied to emulated code).
EMULATED = os.environ.get("ORCJIT_TEST_EMULATED") or None


def skip_if_emulated(why: str) -> None:
    if EMULATED:
        pytest.skip(f"under {EMULATED} emulation: {why}")


def ptrace_works() -> bool:
    """False where a debugger cannot trace a program (qemu-user: ENOSYS)."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    pid = os.fork()
    if pid == 0:  # the child asks to be traced, and says whether it could
        os._exit(3 if libc.ptrace(0, 0, None, None) == -1 and ctypes.get_errno() == 38 else 0)
    _, status = os.waitpid(pid, 0)
    return not (os.WIFEXITED(status) and os.WEXITSTATUS(status) == 3)

try:
    import tvm_ffi_orcjit  # noqa: F401
except ModuleNotFoundError as exc:  # not installed: use the source tree (and its build directory)
    if exc.name != "tvm_ffi_orcjit":
        raise  # an installed package that fails to import must not be masked
    sys.path.insert(0, str(REPO / "python"))

import tvm_ffi  # noqa: E402
import tvm_ffi.libinfo  # noqa: E402

TVM_FFI_INCLUDES = sorted({tvm_ffi.libinfo.find_include_path(), tvm_ffi.libinfo.find_dlpack_include_path()})

COMPILERS = {
    "clang": (["clang-22", "clang"], ["clang++-22", "clang++"]),
    "gcc": (["gcc"], ["g++"]),
}


def find_tool(names: list[str]) -> str | None:
    for name in names:
        path = shutil.which(name)
        if path:
            return path
    return None


def compile_source(
    src: Path, out: Path, compiler: str = "clang", extra_flags: list[str] | None = None
) -> Path:
    """Compile one C (.c) or C++ (.cc) file to a relocatable object."""
    cc_names, cxx_names = COMPILERS[compiler]
    is_cxx = src.suffix in (".cc", ".cpp", ".cxx")
    tool = find_tool(cxx_names if is_cxx else cc_names)
    if tool is None:
        pytest.skip(f"no {compiler} compiler for {src.suffix} files")
    cmd = [tool, "-c", "-O2", "-fPIC", "-g0", str(src), "-o", str(out), f"-I{SOURCES}"]
    cmd += [f"-I{inc}" for inc in TVM_FFI_INCLUDES]
    cmd += ["-std=c++17"] if is_cxx else ["-std=gnu11"]
    cmd += extra_flags or []
    res = subprocess.run(cmd, capture_output=True, text=True)
    if res.returncode != 0:
        raise RuntimeError(f"compile failed: {' '.join(cmd)}\n{res.stderr}")
    return out


class Objects:
    """Test sources compiled on first use with one compiler."""

    def __init__(self, compiler: str, outdir: Path) -> None:
        self.compiler = compiler
        self.outdir = outdir
        self._lock = threading.Lock()
        self._cache: dict[str, Path] = {}

    def __getitem__(self, stem: str) -> Path:
        with self._lock:
            if stem not in self._cache:
                matches = [p for p in SOURCES.glob(f"{stem}.*") if p.suffix in (".c", ".cc")]
                if len(matches) != 1:
                    raise KeyError(f"no single test source named {stem}: {matches}")
                out = self.outdir / f"{stem}.{self.compiler}.o"
                self._cache[stem] = compile_source(matches[0], out, self.compiler)
            return self._cache[stem]

    def read(self, stem: str) -> bytes:
        return self[stem].read_bytes()


@pytest.fixture(scope="session", params=sorted(COMPILERS))
def objs(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Objects:
    compiler = request.param
    cc_names, _ = COMPILERS[compiler]
    if find_tool(cc_names) is None:
        pytest.skip(f"{compiler} is not installed")
    return Objects(compiler, tmp_path_factory.mktemp(f"objs-{compiler}"))


@pytest.fixture
def oj():
    import tvm_ffi_orcjit

    return tvm_ffi_orcjit


@pytest.fixture
def session(oj):
    """A fresh session per test."""
    return oj.ExecutionSession()


def pytest_report_header(config: pytest.Config) -> list[str]:
    try:
        import tvm_ffi_orcjit

        lib = tvm_ffi_orcjit.LIBRARY_PATH
    except Exception as exc:  # reported, and the tests fail on their own
        lib = f"(import failed: {exc})"
    return [f"tvm_ffi_orcjit native library: {lib}", f"cwd: {os.getcwd()}"]
