"""Apache TVM as a client: what PyPI's ``apache-tvm`` writes, loaded by this package.

Generated at test time (module fixture ``tvm_files``), with TVM's own APIs:

- ``k.o``: a TIR kernel, ``tvm.compile(...).mod.write_to_file("k.o")``;
- ``k.tar``: the same kernel, ``export_library("k.tar")``;
- a small Relax MLP (``nn.Linear`` 8->16, ReLU, ``nn.Linear`` 16->4) exported
  three ways: ``model.tar`` (``export_library``'s default for ``.tar``: a
  gzip-compressed tar of ``lib0.o`` and ``devc.o``, which holds the VM
  executable as a ``__tvm_ffi__library_bin`` import tree), ``model.o`` (one
  relocatable object: an ``fcompile`` that runs ``ld -r``) and ``model.so``
  (TVM's default ``fcompile``, the system C++ compiler).

Each is loaded through the current API (``ExecutionSession().load_module``),
the first-generation one (``create_library().add`` + ``get_function``) and
``tvm_ffi.load_module``, run (the model with ``relax.VirtualMachine``), and
compared with numpy and with TVM's own load of the ``.so`` and of the same
``.tar`` (``tvm.runtime.load_module``, which links a shared library with the
system compiler first).  The tar also loads with no compiler, linker or
``tar`` on the ``PATH``.

Skipped only when ``tvm`` is not installed in this Python (the skip reason
says so); ``make test`` installs it (``scripts/bootstrap.sh``).
"""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

try:
    import tvm
except ModuleNotFoundError as exc:
    if exc.name != "tvm":
        raise  # an installed apache-tvm that fails to import must not be masked
    pytest.skip(
        f"apache-tvm is not installed in this Python ({sys.executable}); "
        "`make test` installs it (scripts/bootstrap.sh)",
        allow_module_level=True,
    )

import numpy as np  # apache-tvm depends on it: present wherever tvm is
import tvm_ffi
from tvm import relax
from tvm.relax.frontend import nn
from tvm.script import ir as I
from tvm.script import tirx as T

import tvm_ffi_orcjit as oj

N = 64
PARAM_SHAPES = [(16, 8), (16,), (4, 16), (4,)]


@I.ir_module
class Kernel:
    @T.prim_func
    def axpy(a: T.handle, b: T.handle, c: T.handle):
        T.func_attr({"global_symbol": "axpy"})
        A = T.match_buffer(a, (N,), "float32")
        B = T.match_buffer(b, (N,), "float32")
        C = T.match_buffer(c, (N,), "float32")
        for i in range(N):
            C[i] = A[i] * T.float32(2) + B[i]


class MLP(nn.Module):
    def __init__(self) -> None:
        self.l1 = nn.Linear(8, 16)
        self.l2 = nn.Linear(16, 4)

    def forward(self, x):  # noqa: ANN001, ANN201
        return self.l2(nn.relu(self.l1(x)))


def ld_r(output, objects, options=None):  # noqa: ANN001, ANN201
    """export_library's fcompile: the objects linked into one relocatable object."""
    subprocess.check_call(["ld", "-r", "-o", output, *objects])


ld_r.output_format = "o"


@pytest.fixture(scope="module")
def tvm_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("tvm")
    kernel = tvm.compile(Kernel, target="llvm")
    kernel.mod.write_to_file(str(d / "k.o"))
    kernel.export_library(str(d / "k.tar"))
    mod, _ = MLP().export_tvm({"forward": {"x": nn.spec.Tensor((2, 8), "float32")}})
    exe = tvm.compile(relax.get_pipeline("zero")(mod), target="llvm")
    exe.export_library(str(d / "model.tar"))
    exe.export_library(str(d / "model.o"), fcompile=ld_r)
    exe.export_library(str(d / "model.so"))  # TVM's own: the system compiler links a .so
    return {p.name: p for p in d.iterdir()}


# ---- the kernel ---------------------------------------------------------------


def _kernel_args() -> tuple[np.ndarray, np.ndarray, list]:
    rng = np.random.default_rng(1)
    a = rng.standard_normal(N).astype("float32")
    b = rng.standard_normal(N).astype("float32")
    return a, b, [tvm.runtime.tensor(a), tvm.runtime.tensor(b), tvm.runtime.tensor(np.zeros(N, "float32"))]


def _run_kernel(fn) -> np.ndarray:  # noqa: ANN001
    a, b, args = _kernel_args()
    fn(*args)
    np.testing.assert_allclose(args[2].numpy(), a * 2 + b, rtol=1e-6)
    return args[2].numpy()


def _tvm_kernel(tvm_files: dict[str, Path]) -> np.ndarray:
    """The same kernel through TVM's own loader (a .so linked by the system compiler)."""
    return _run_kernel(tvm.runtime.load_module(str(tvm_files["k.o"]))["axpy"])


@pytest.mark.parametrize("name", ["k.o", "k.tar"])
def test_kernel_current_api(tvm_files: dict[str, Path], name: str) -> None:
    mod = oj.ExecutionSession().load_module(tvm_files[name])
    assert "axpy" in mod
    np.testing.assert_array_equal(_run_kernel(mod.axpy), _tvm_kernel(tvm_files))


@pytest.mark.parametrize("name", ["k.o", "k.tar"])
def test_kernel_first_generation_api(tvm_files: dict[str, Path], name: str) -> None:
    lib = oj.ExecutionSession().create_library("kernel")
    assert lib.add(str(tvm_files[name])) is None  # no import tree whose root is another module
    np.testing.assert_array_equal(_run_kernel(lib.get_function("axpy")), _tvm_kernel(tvm_files))


@pytest.mark.parametrize("name", ["k.o", "k.tar"])
def test_kernel_tvm_ffi_load_module(tvm_files: dict[str, Path], name: str) -> None:
    mod = tvm_ffi.load_module(str(tvm_files[name]))  # ffi.Module.load_from_file.o / .tar
    assert mod.kind == "orcjit"
    np.testing.assert_array_equal(_run_kernel(mod["axpy"]), _tvm_kernel(tvm_files))


# ---- the Relax model ----------------------------------------------------------


def _model_inputs() -> tuple[np.ndarray, list[np.ndarray]]:
    rng = np.random.default_rng(2)
    x = rng.standard_normal((2, 8)).astype("float32")
    params = [rng.standard_normal(s).astype("float32") for s in PARAM_SHAPES]
    return x, params


def _run_model(executable: tvm_ffi.Module) -> np.ndarray:
    x, params = _model_inputs()
    vm = relax.VirtualMachine(executable, tvm.cpu())
    out = vm["forward"](tvm.runtime.tensor(x), *map(tvm.runtime.tensor, params)).numpy()
    w1, b1, w2, b2 = params
    np.testing.assert_allclose(out, np.maximum(x @ w1.T + b1, 0) @ w2.T + b2, rtol=1e-5, atol=1e-5)
    return out


@pytest.fixture(scope="module")
def tvm_model_output(tvm_files: dict[str, Path]) -> np.ndarray:
    """The model's output through TVM's own .so path."""
    return _run_model(tvm.runtime.load_module(str(tvm_files["model.so"])))


@pytest.mark.parametrize("name", ["model.tar", "model.o"])
def test_model_current_api(tvm_files: dict[str, Path], tvm_model_output: np.ndarray, name: str) -> None:
    root = oj.ExecutionSession().load_module(tvm_files[name], name="mlp")
    assert root.kind == "relax.VMExecutable"  # the import tree's root ...
    assert [m.kind for m in root.imports] == ["orcjit"]  # ... over the linked objects
    np.testing.assert_array_equal(_run_model(root), tvm_model_output)


@pytest.mark.parametrize("name", ["model.tar", "model.o"])
def test_model_first_generation_api(tvm_files: dict[str, Path], tvm_model_output: np.ndarray, name: str) -> None:
    lib = oj.ExecutionSession().create_library("mlp")
    root = lib.add(tvm_files[name].read_bytes())  # bytes too
    assert root is not None and root.kind == "relax.VMExecutable"
    assert root.imports[0].same_as(lib.module)
    assert "transpose" in lib  # the model's TIR functions are the library's own
    np.testing.assert_array_equal(_run_model(root), tvm_model_output)


@pytest.mark.parametrize("name", ["model.tar", "model.o"])
def test_model_tvm_ffi_load_module(tvm_files: dict[str, Path], tvm_model_output: np.ndarray, name: str) -> None:
    root = tvm_ffi.load_module(str(tvm_files[name]))
    np.testing.assert_array_equal(_run_model(root), tvm_model_output)


def test_tvm_loads_the_same_tar(tvm_files: dict[str, Path], tvm_model_output: np.ndarray) -> None:
    """TVM's own load of model.tar (untar, then a .so by the system compiler) agrees."""
    np.testing.assert_array_equal(_run_model(tvm.runtime.load_module(str(tvm_files["model.tar"]))), tvm_model_output)


def test_tar_is_gzip_of_objects(tvm_files: dict[str, Path]) -> None:
    """What TVM writes under the name .tar (tar -czf), as this package reads it."""
    data = tvm_files["model.tar"].read_bytes()
    assert data[:2] == b"\x1f\x8b"
    assert gzip.decompress(data)[257:262] == b"ustar"
    raw = oj._ffi_api.InspectObject(str(tvm_files["model.tar"]), "", False)
    names = sorted(o["name"] for o in raw["objects"])
    assert names == [f"{tvm_files['model.tar']}(devc.o)", f"{tvm_files['model.tar']}(lib0.o)"]


def test_plain_tar_loads_too(tvm_files: dict[str, Path], tvm_model_output: np.ndarray, tmp_path: Path) -> None:
    plain = tmp_path / "plain.tar"
    plain.write_bytes(gzip.decompress(tvm_files["model.tar"].read_bytes()))
    np.testing.assert_array_equal(_run_model(oj.ExecutionSession().load_module(plain)), tvm_model_output)


def test_damaged_tar_is_refused(tvm_files: dict[str, Path], tmp_path: Path) -> None:
    data = tvm_files["model.tar"].read_bytes()
    cut = tmp_path / "cut.tar"
    cut.write_bytes(data[: len(data) // 2])
    session = oj.ExecutionSession()
    with pytest.raises(ValueError, match=r"cut\.tar: corrupt gzip data: truncated"):
        session.load_module(cut)
    plain = gzip.decompress(data)
    lib0 = plain.index(b"\x7fELF", 512)  # lib0.o's or devc.o's data, after its header
    short = tmp_path / "short.tar"
    short.write_bytes(plain[: lib0 + 100])
    with pytest.raises(ValueError, match=r"short\.tar: truncated tar: member \d \('(lib0|devc)\.o', \d+ bytes"):
        session.load_module(short)
    # the session carries on
    np.testing.assert_allclose(_run_kernel(session.load_module(tvm_files["k.tar"]).axpy), _tvm_kernel(tvm_files))


def test_tar_loads_without_a_toolchain(tvm_files: dict[str, Path], tvm_model_output: np.ndarray, tmp_path: Path) -> None:
    """No cc, ld or tar on the PATH: the tar still loads and runs, in-process."""
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    np.save(tmp_path / "want.npy", tvm_model_output)
    script = textwrap.dedent(
        f"""
        import shutil, numpy as np, tvm, tvm_ffi_orcjit as oj
        from tvm import relax
        assert shutil.which("cc") is None and shutil.which("ld") is None and shutil.which("tar") is None
        rng = np.random.default_rng(2)
        x = rng.standard_normal((2, 8)).astype("float32")
        params = [rng.standard_normal(s).astype("float32") for s in {PARAM_SHAPES!r}]
        vm = relax.VirtualMachine(oj.ExecutionSession().load_module({str(tvm_files["model.tar"])!r}), tvm.cpu())
        out = vm["forward"](tvm.runtime.tensor(x), *map(tvm.runtime.tensor, params)).numpy()
        np.testing.assert_array_equal(out, np.load({str(tmp_path / "want.npy")!r}))
        print("ok")
        """
    )
    env = dict(os.environ, PATH=str(empty))
    pkg_parent = str(Path(oj.__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [pkg_parent, env.get("PYTHONPATH", "")]))
    env["TVM_FFI_ORCJIT_LIBRARY"] = oj.LIBRARY_PATH
    res = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0 and res.stdout.strip() == "ok", res.stderr


def test_cli_inspects_and_calls_tvm_tar(tvm_files: dict[str, Path]) -> None:
    env = dict(os.environ)
    pkg_parent = str(Path(oj.__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [pkg_parent, env.get("PYTHONPATH", "")]))
    env["TVM_FFI_ORCJIT_LIBRARY"] = oj.LIBRARY_PATH
    tar = str(tvm_files["k.tar"])
    res = subprocess.run(
        [sys.executable, "-m", "tvm_ffi_orcjit", "inspect", tar], env=env, capture_output=True, text=True
    )
    assert res.returncode == 0, res.stderr
    assert f"{tar}: tar, " in res.stdout
    assert f"{tar}(lib0.o):" in res.stdout
    assert "    axpy\n" in res.stdout
    # call: the kernel takes tensors, so only its argument check can be reached from the command line
    res = subprocess.run(
        [sys.executable, "-m", "tvm_ffi_orcjit", "call", tar, "axpy", "1", "2", "3"],
        env=env,
        capture_output=True,
        text=True,
    )
    assert res.returncode == 1
    assert res.stderr.startswith("tvm_ffi_orcjit: error: axpy: ")
    assert "Traceback" not in res.stderr
