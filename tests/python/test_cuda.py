"""CUDA: objects compiled by ``nvcc -c`` and CUDA modules in an import tree.

- ``sources/cuda_add.cu`` compiled with ``nvcc -c -Xcompiler -fPIC``: host
  code, kernel stubs and an embedded fatbin (sm_80, sm_90 and compute_90 PTX).
  Its constructor registers the fatbin with the CUDA runtime
  (``__cudaRegisterFatBinary``), so the host process must have the shared
  CUDA runtime loaded globally first: the tests load ``libcudart.so`` with
  ``ctypes.CDLL(path, RTLD_GLOBAL)`` from the toolkit next to nvcc (or
  ``$CUDA_HOME``, ``/usr/local/cuda``, the ``nvidia-cuda-runtime`` wheel).
  Linking ``libcudart_static.a`` into the library instead fails cleanly: it
  uses thread-local storage (``R_X86_64_TLSLD``), which the loader does not
  support yet.
- an object carrying ``__tvm_ffi__library_bin`` whose import tree holds a
  module of kind ``cuda`` (a fatbin from ``sources/cuda_kernels.cu``) is
  expanded through ``ffi.Module.load_from_bytes.cuda``.  apache-tvm-ffi does
  not provide that loader (TVM's CUDA runtime does); when no installed
  package registers it, the test registers ``sources/cuda_loader.cc``, a
  small loader over the runtime's library API, itself loaded through this
  package.

Without nvcc the tests skip ("nvcc not found"); without a GPU the tests that
launch kernels skip ("no CUDA device"), and the ones that can run without a
device check that loading works and that CUDA calls fail with a clear error.

On a machine with a GPU:
    PYTHONPATH=$PWD/python TVM_FFI_ORCJIT_LIBRARY=$PWD/build/libtvm_ffi_orcjit.so \\
        python3 -m pytest -v tests/python/test_cuda.py
"""

from __future__ import annotations

import ctypes
import gc
import glob
import os
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import pytest
import tvm_ffi

from conftest import SOURCES, TVM_FFI_INCLUDES, compile_source

# sm_80 (A100), sm_90 (H100, H200) as machine code, compute_90 as PTX for newer GPUs.
GENCODE = [
    "-gencode", "arch=compute_80,code=sm_80",
    "-gencode", "arch=compute_90,code=sm_90",
    "-gencode", "arch=compute_90,code=compute_90",
]  # fmt: skip
N = 100_000
CHECKSUM = 3 * N * (N - 1) // 2


def _find_nvcc() -> str | None:
    for base in (os.environ.get("CUDA_HOME"), os.environ.get("CUDA_PATH")):
        if base and os.access(os.path.join(base, "bin", "nvcc"), os.X_OK):
            return os.path.join(base, "bin", "nvcc")
    return shutil.which("nvcc") or (
        "/usr/local/cuda/bin/nvcc" if os.access("/usr/local/cuda/bin/nvcc", os.X_OK) else None
    )


def _cuda_roots(nvcc: str) -> list[Path]:
    roots = [os.environ.get("CUDA_HOME"), os.environ.get("CUDA_PATH")]
    roots.append(str(Path(nvcc).resolve().parent.parent))
    roots.append("/usr/local/cuda")
    try:
        import nvidia.cuda_runtime  # type: ignore[import-not-found]  # the pip wheel

        roots.extend(nvidia.cuda_runtime.__path__)
    except ImportError:
        pass
    return [Path(r) for r in roots if r and Path(r).is_dir()]


def _find_libcudart(nvcc: str) -> str | None:
    for root in _cuda_roots(nvcc):
        for sub in ("lib64", "lib", "targets/x86_64-linux/lib"):
            hits = sorted(glob.glob(str(root / sub / "libcudart.so*")))
            if hits:
                return hits[0]
    return None


def _find_cuda_include(nvcc: str) -> str | None:
    for root in _cuda_roots(nvcc):
        for sub in ("include", "targets/x86_64-linux/include"):
            if (root / sub / "cuda_runtime.h").is_file():
                return str(root / sub)
    return None


@pytest.fixture(scope="module")
def cuda(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """nvcc, libcudart (loaded RTLD_GLOBAL) and the CUDA include directory."""
    nvcc = _find_nvcc()
    if nvcc is None:
        pytest.skip("nvcc not found (no CUDA toolkit)")
    cudart = _find_libcudart(nvcc)
    include = _find_cuda_include(nvcc)
    if cudart is None or include is None:
        pytest.skip(f"nvcc found ({nvcc}) but not the shared CUDA runtime libcudart.so or its headers")
    ctypes.CDLL(cudart, mode=ctypes.RTLD_GLOBAL)
    return {"nvcc": nvcc, "cudart": cudart, "include": include,
            "dir": str(tmp_path_factory.mktemp("cuda"))}  # fmt: skip


def _nvcc(cuda: dict[str, str], args: list[str]) -> None:
    cmd = [cuda["nvcc"], *GENCODE, *args]
    res = subprocess.run(cmd, capture_output=True, text=True)
    if res.returncode != 0:
        raise RuntimeError(f"nvcc failed: {' '.join(cmd)}\n{res.stdout}\n{res.stderr}")


@pytest.fixture(scope="module")
def cuda_add(cuda: dict[str, str]) -> Path:
    out = Path(cuda["dir"]) / "cuda_add.o"
    incs = [f"-I{inc}" for inc in TVM_FFI_INCLUDES]
    _nvcc(cuda, ["-c", "-O2", "-Xcompiler", "-fPIC", *incs, str(SOURCES / "cuda_add.cu"), "-o", str(out)])
    return out


def _device_count(mod: tvm_ffi.Module) -> tuple[int, str]:
    """(number of devices, why 0)."""
    try:
        n = int(mod.device_count())
    except RuntimeError as err:  # no driver, driver too old for this runtime, ...
        return 0, str(err)
    return n, "cudaGetDeviceCount found no device"


def _no_device_reason(mod: tvm_ffi.Module) -> str | None:
    n, why = _device_count(mod)
    if n > 0:
        return None
    nodes = sorted(glob.glob("/dev/nvidia*"))
    return f"no CUDA device ({why}; device nodes: {', '.join(nodes) or 'none'})"


def test_nvcc_object_needs_the_cuda_runtime(session, cuda_add):
    # In a fresh process without libcudart the registration calls are missing;
    # here libcudart is loaded, so check the error on an object that needs a
    # runtime symbol nobody provides instead of unloading libcudart.
    mod = session.load_module(cuda_add)
    assert isinstance(mod.device_count, tvm_ffi.Function)
    script = (
        "import sys, tvm_ffi_orcjit as oj\n"
        "try:\n"
        "    oj.ExecutionSession().load_module(sys.argv[1])\n"
        "except Exception as e:\n"
        "    print(type(e).__name__, e)\n"
    )
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in [str(Path(__file__).resolve().parents[2] / "python"), env.get("PYTHONPATH")] if p
    )
    res = subprocess.run([sys.executable, "-c", script, str(cuda_add)], capture_output=True,
                         text=True, env=env, timeout=120)  # fmt: skip
    assert res.returncode == 0, res.stderr
    assert "unresolved symbols" in res.stdout and "__cudaRegisterFatBinary" in res.stdout, res.stdout
    assert "cuda_add.o" in res.stdout


def test_nvcc_object_loads_and_unloads(oj, cuda_add):
    # Registration of the fatbin runs in the object's constructor and its
    # unregistration (an atexit handler of the object) at release: both
    # must work with or without a device, many times, in several sessions.
    for _ in range(3):
        s1, s2 = oj.ExecutionSession(), oj.ExecutionSession()
        m1, m2 = s1.load_module(cuda_add), s2.load_module(cuda_add)
        assert _device_count(m1)[0] == _device_count(m2)[0]
        del m1, m2, s1, s2
        gc.collect()


def test_nvcc_kernel_without_device(session, cuda_add):
    mod = session.load_module(cuda_add)
    if _no_device_reason(mod) is None:
        pytest.skip("a CUDA device is present (see test_nvcc_kernel_runs_on_the_gpu)")
    with pytest.raises(RuntimeError, match=r"CUDA error in cudaMalloc: cuda\w+"):
        mod.vadd_checksum(N)
    with pytest.raises(ValueError, match="0 < n"):
        mod.vadd_checksum(0)
    assert session.load_module(cuda_add) is not None  # the session carries on


def test_nvcc_kernel_runs_on_the_gpu(oj, cuda_add):
    session = oj.ExecutionSession()
    mod = session.load_module(cuda_add)
    reason = _no_device_reason(mod)
    if reason:
        pytest.skip(reason)
    assert mod.vadd_checksum(N) == CHECKSUM
    assert mod.vadd_checksum(1) == 0
    # again after the library is released and loaded anew (the runtime must
    # forget the old registration), and from a second session at once
    del mod
    gc.collect()
    mod = session.load_module(cuda_add)
    other = oj.ExecutionSession().load_module(cuda_add)
    assert mod.vadd_checksum(N) == CHECKSUM
    assert other.vadd_checksum(1000) == 3 * 1000 * 999 // 2


# --------------------------------------------------------------------------
# a CUDA module in the import tree of an object (__tvm_ffi__library_bin)


def _library_bin(modules: list[tuple[str, bytes | None]], children: list[list[int]]) -> bytes:
    """Serialize an import tree the way tvm_ffi's library module reads it."""

    def u64(x: int) -> bytes:
        return struct.pack("<Q", x)

    def vec(xs: list[int]) -> bytes:
        return u64(len(xs)) + b"".join(u64(x) for x in xs)

    def string(b: bytes) -> bytes:
        return u64(len(b)) + b

    indptr, flat = [0], []
    for c in children:
        flat.extend(c)
        indptr.append(len(flat))
    body = vec(indptr) + vec(flat)
    for kind, payload in modules:
        body += string(kind.encode())
        if payload is not None:
            body += string(payload)
    return u64(len(body)) + body


# The host object: the import tree, the module context, and run_vadd(n),
# which calls vadd(n) of an imported module as TVM's generated host code does.
HOST_SOURCE = r"""
#include "ffi_c.h"
#include <tvm/ffi/extra/c_env_api.h>
EXPORT const unsigned char __tvm_ffi__library_bin[%(size)d] = {%(body)s};
EXPORT void* __tvm_ffi__library_ctx = NULL;
FFI_FN(run_vadd) {
  TVMFFIObjectHandle f = NULL; /* owned by the module */
  if (TVMFFIEnvModLookupFromImports(__tvm_ffi__library_ctx, "vadd", &f) != 0) return -1;
  return TVMFFIFunctionCall(f, (TVMFFIAny*)args, num_args, rv);
}
"""


def _host_object(tmp: Path, name: str, kind: str, payload: bytes, compiler: str = "gcc") -> Path:
    blob = _library_bin([("_lib", None), (kind, payload)], [[1], []])
    src = tmp / f"{name}.c"
    src.write_text(HOST_SOURCE % {"size": len(blob), "body": ",".join(map(str, blob))})
    return compile_source(src, tmp / f"{name}.o", compiler)


def test_import_tree_host_code_with_a_cpu_module(session, tmp_path):
    # The same host object as below with a module of kind "o" (an object
    # running vadd on the CPU) in place of the fatbin: checks the host side
    # (tree expansion, context symbol, lookup from imports) on any machine.
    inner = compile_source(SOURCES / "vadd_cpu.c", tmp_path / "vadd_cpu.o").read_bytes()
    mod = session.load_module(_host_object(tmp_path, "host_o", "o", inner))
    assert [m.kind for m in mod.imports] == ["orcjit"]
    assert mod.run_vadd(N) == CHECKSUM


@pytest.fixture(scope="module")
def fatbin(cuda: dict[str, str]) -> bytes:
    out = Path(cuda["dir"]) / "cuda_kernels.fatbin"
    _nvcc(cuda, ["-fatbin", str(SOURCES / "cuda_kernels.cu"), "-o", str(out)])
    data = out.read_bytes()
    assert len(data) > 0
    return data


def test_import_tree_cuda_without_a_loader(session, cuda_add, fatbin, tmp_path):
    # Runs before the cuda_loader fixture registers one (pytest keeps file order).
    if tvm_ffi.get_global_func("ffi.Module.load_from_bytes.cuda", allow_missing=True) is not None:
        pytest.skip("a loader ffi.Module.load_from_bytes.cuda is registered in this process")
    obj = _host_object(tmp_path, "host_cuda", "cuda", fatbin)
    with pytest.raises(RuntimeError, match=r"kind .cuda., but ffi\.Module\.load_from_bytes\.cuda is not registered"):
        session.load_module(obj)
    assert _device_count(session.load_module(cuda_add))[0] >= 0  # the session carries on


@pytest.fixture(scope="module")
def cuda_loader(cuda: dict[str, str]) -> str:
    """Registers ffi.Module.load_from_bytes.cuda; says who provides it."""
    if tvm_ffi.get_global_func("ffi.Module.load_from_bytes.cuda", allow_missing=True) is not None:
        return "installed"
    obj = compile_source(SOURCES / "cuda_loader.cc", Path(cuda["dir"]) / "cuda_loader.o", "gcc",
                         [f"-I{cuda['include']}"])  # fmt: skip
    # The loader's code must outlive the global function that points into it.
    import tvm_ffi_orcjit

    mod = tvm_ffi_orcjit.default_session().load_module(obj, keep_module_alive=True)
    assert mod.register_cuda_loader() in (0, 1)
    return "tests/python/sources/cuda_loader.cc"


INSTALLED_LOADER = (
    "ffi.Module.load_from_bytes.cuda comes from an installed package (TVM); its payload "
    "format is that package's, not a bare fatbin"
)


def test_import_tree_cuda_module_without_device(oj, cuda_add, fatbin, cuda_loader, tmp_path):
    if cuda_loader == "installed":
        pytest.skip(INSTALLED_LOADER)
    session = oj.ExecutionSession()
    if _no_device_reason(session.load_module(cuda_add)) is None:
        pytest.skip("a CUDA device is present (see test_import_tree_cuda_module_on_the_gpu)")
    # The loader runs and fails in the CUDA runtime: a clear error naming
    # the call, raised from JIT code through the expansion of the tree; the
    # session carries on.
    obj = _host_object(tmp_path, "host_cuda", "cuda", fatbin)
    with pytest.raises(RuntimeError, match=r"CUDA error in cudaLibraryLoadData: cuda\w+"):
        session.load_module(obj)
    assert _device_count(session.load_module(cuda_add))[0] == 0


def test_import_tree_cuda_module_on_the_gpu(oj, cuda_add, fatbin, cuda_loader, tmp_path):
    if cuda_loader == "installed":
        pytest.skip(INSTALLED_LOADER)
    session = oj.ExecutionSession()
    reason = _no_device_reason(session.load_module(cuda_add))
    if reason:
        pytest.skip(reason)
    obj = _host_object(tmp_path, "host_cuda", "cuda", fatbin)
    mod = session.load_module(obj)
    assert [m.kind for m in mod.imports] == ["cuda"]
    assert mod.run_vadd(N) == CHECKSUM
    assert mod.get_function("vadd", query_imports=True)(1000) == 3 * 1000 * 999 // 2
    del mod
    gc.collect()
    assert session.load_module(obj).run_vadd(N) == CHECKSUM
