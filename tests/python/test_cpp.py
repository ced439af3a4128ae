"""C++ objects of the compile matrix (issue #5) from Python.

The C++ pair ``tests/sources/mx_cpp_a.cc`` + ``mx_cpp_b.cc`` (one library; b
uses a's classes, exceptions and functions) is compiled at test time by
clang++ and g++ at -O0 and -O3 and called through ``tvm_ffi``; the expected
results are computed here, in Python.  Also: a C++ exception escaping a
``TVM_FFI_DLL_EXPORT_TYPED_FUNC`` function becomes a Python error with its
message, and -fno-pic objects either load or fail with a clear error.
"""

from __future__ import annotations

import gc
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from conftest import COMPILERS, MACHINE_NAME, REPO, SOURCES, compile_source, find_tool

MX_SOURCES = REPO / "tests" / "sources"

# --------------------------------------------------------------------------
# expected results (see the comments at the top of the sources)


def expect_words(n: int) -> int:
    counts: dict[str, int] = {}
    for i in range(n):
        w = f"w{i * 7 % 13}"
        counts[w] = counts.get(w, 0) + 1
    return sum((rank + 1) * counts[w] * len(w) for rank, w in enumerate(sorted(counts)))


def expect_shapes(n: int) -> int:
    total = 0
    for i in range(n):
        if i % 3 == 0:
            w, h = i % 5 + 1, i % 7 + 2
            total += 1 * 10**6 + w * 10**4 + w * h * 10 + len("rect") + len("N2mx4RectE")
        elif i % 3 == 1:
            s = i % 4 + 1
            total += 3 * 10**6 + s * 10**4 + s * s * 10 + len("square") + len("N2mx6SquareE")
        else:
            r = i % 6 + 1
            total += 2 * 10**6 - 10**4 + 3 * r * r * 10 + len("circle") + len("N2mx6CircleE")
    return total


def expect_catch(k: int) -> int:
    return 3 * k * 100 + len(f"thrown in a: k={k}") + 7 + 50000


def expect_sort(n: int) -> int:
    x, values = 42, []
    for _ in range(n):
        x = (x * 6364136223846793005 + 1442695040888963407) % 2**64
        values.append((x >> 33) % 100000)
    return sum((i + 1) * v for i, v in enumerate(sorted(values))) % 2**64


def expect_fold_poly(n: int) -> int:
    seed = 7
    for i in range(n):
        seed = (seed * 31 + i) % 2**64
    x, p = n % 10, 1
    for k in range(1, 6):
        p = p * x + k
    return seed % 1000003 + p


# --------------------------------------------------------------------------
# objects


def _have(compiler: str) -> bool:
    cc, cxx = COMPILERS[compiler]
    return find_tool(cc) is not None and find_tool(cxx) is not None


def _compile_pair(outdir: Path, compiler: str, flags: list[str]) -> tuple[Path, Path]:
    flags = [f"-I{MX_SOURCES}"] + flags
    tag = compiler + "".join(flags[1:]).replace("-", "_")
    with ThreadPoolExecutor(2) as pool:  # the two compiles in parallel
        jobs = [
            pool.submit(compile_source, MX_SOURCES / f"mx_cpp_{x}.cc", outdir / f"mx_cpp_{x}{tag}.o", compiler, flags)
            for x in ("a", "b")
        ]
        a, b = (j.result() for j in jobs)
    return a, b


@pytest.fixture(
    scope="session",
    params=[("clang", "-O0"), ("clang", "-O3"), ("gcc", "-O0"), ("gcc", "-O3")],
    ids=lambda p: f"{p[0]}{p[1]}",
)
def cpp_pair(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    compiler, opt = request.param
    if not _have(compiler):
        pytest.skip(f"{compiler} (C and C++) is not installed")
    return _compile_pair(tmp_path_factory.mktemp("mx"), compiler, [opt, "-fPIC"])


# --------------------------------------------------------------------------
# the C++ pair


def test_cpp_pair_results(session, cpp_pair):
    a, b = cpp_pair
    mod = session.load_module([str(a), str(b)], name="mx_cpp")
    for n in (0, 1, 13, 40, 200):
        assert mod.mx_words(n) == expect_words(n)
    for n in (0, 1, 2, 3, 30, 101):
        assert mod.mx_shapes(n) == expect_shapes(n)
    for k in (0, 5, 77):
        assert mod.mx_catch(k) == expect_catch(k)
    for n in (0, 9, 20):
        assert mod.mx_fold_a(n) == expect_fold_poly(n)
        assert mod.mx_fold_b(n) == expect_fold_poly(n)
    # one COMDAT counter for both objects, one function-local static
    assert mod.mx_counter_a(3) == 3
    assert mod.mx_counter_b(4) == 7
    assert mod.mx_counter_addr_a() == mod.mx_counter_addr_b()
    assert [mod.mx_static_local(k) for k in range(6)] == [k % 4 + 1 + 100 for k in range(6)]
    assert mod.mx_iostream(4567) == len("n=4567\n")


def test_cpp_pair_as_bytes_into_two_sessions(oj, cpp_pair):
    a, b = cpp_pair
    data = [a.read_bytes(), b.read_bytes()]
    s1, s2 = oj.ExecutionSession(), oj.ExecutionSession()
    m1, m2 = s1.load_module(data), s2.load_module(data)
    assert m1.mx_counter_a(5) == 5
    assert m2.mx_counter_b(1) == 1  # separate state
    assert m1.mx_shapes(10) == m2.mx_shapes(10) == expect_shapes(10)


def test_cpp_exception_escaping_becomes_python_error(session, cpp_pair):
    """mx_escape(k) calls a function of a that throws mx::MxError (a
    std::runtime_error); it leaves b's TVM_FFI_DLL_EXPORT_TYPED_FUNC function
    and reaches Python as RuntimeError with the what() message."""
    a, b = cpp_pair
    mod = session.load_module([str(a), str(b)])
    for k in (0, 9, 12345):
        with pytest.raises(RuntimeError, match=f"thrown in a: k={k}$") as info:
            mod.mx_escape(k)
        assert "thrown in a" in str(info.value)
    # the session, the module and its static state carry on
    assert mod.mx_counter_b(2) == 2
    assert mod.mx_catch(3) == expect_catch(3)
    for _ in range(200):
        with pytest.raises(RuntimeError):
            mod.mx_escape(1)
    assert mod.mx_words(26) == expect_words(26)


def test_cpp_exception_after_module_reloads(oj, cpp_pair):
    """Exceptions keep working when the code of released modules is
    replaced by new code at the same addresses."""
    a, b = cpp_pair
    session = oj.ExecutionSession()
    data = [a.read_bytes(), b.read_bytes()]
    for i in range(20):
        mod = session.load_module(data)
        with pytest.raises(RuntimeError, match=f"k={i}$"):
            mod.mx_escape(i)
        assert mod.mx_catch(i) == expect_catch(i)
        del mod
        gc.collect()


# --------------------------------------------------------------------------
# -fno-pic


@pytest.mark.parametrize("compiler", sorted(COMPILERS))
def test_nopic_c_object_loads(session, tmp_path, compiler):
    """-fno-pic C code with absolute relocations to its own code and data
    (string literals, jump tables, function pointer tables) is placed below
    2 GiB and runs."""
    if not _have(compiler):
        pytest.skip(f"{compiler} is not installed")
    obj = compile_source(
        MX_SOURCES / "mx_c.c",
        tmp_path / "mx_c_nopic.o",
        compiler,
        [f"-I{MX_SOURCES}", "-O3", "-fno-pic", "-DMX_NO_HOST_REFS"],
    )
    mod = session.load_module(obj)
    assert mod.mx_c_text(3) == len("k0=0;k1=7;k2=14;") * 10**8 + (0 * 0 + 1 * 7 + 2 * 14)
    assert mod.mx_c_sort(0) == 0
    assert mod.mx_c_sort(500) == expect_sort(500)
    assert "mx_c_host" not in mod


@pytest.mark.parametrize("compiler", sorted(COMPILERS))
def test_nopic_cpp_object_is_refused_with_a_hint(session, tmp_path, compiler):
    """TVM-FFI's headers write to std::cerr; -fno-pic code takes its address
    in a 32-bit immediate, which cannot hold an address of the host's
    libstdc++: the load fails, names the relocation and says -fPIC."""
    if not _have(compiler):
        pytest.skip(f"{compiler} is not installed")
    a, _ = _compile_pair(tmp_path, compiler, ["-O2", "-fno-pic", "-DMX_NO_HOST_REFS"])
    if MACHINE_NAME == "aarch64":
        # No 32-bit absolute relocations there: -fno-pic code reaches the
        # host with ADRP pages, and loads (test_matrix.c runs it).
        session.load_module(a)
    else:
        with pytest.raises(RuntimeError, match=r"out of range of Pointer32.*rebuild it with -fPIC"):
            session.load_module(a)
    mod = session.load_module(compile_source(MX_SOURCES / "mx_c.c", tmp_path / "c.o", compiler, [f"-I{MX_SOURCES}"]))
    assert mod.mx_c_sort(7) == expect_sort(7)  # the session carries on


@pytest.mark.parametrize("compiler", sorted(COMPILERS))
@pytest.mark.parametrize("opt", ["-O0", "-O2"])
def test_atomics_and_shared_ptr_as_compiled_by_default(session, tmp_path, compiler, opt):
    """std::atomic and std::shared_ptr with the compilers' default flags: on
    aarch64 they call the outline-atomics helpers of libgcc.a, which the
    loader provides (no -mno-outline-atomics needed)."""
    if not _have(compiler):
        pytest.skip(f"{compiler} is not installed")
    obj = compile_source(SOURCES / "atomics.cc", tmp_path / f"atomics{opt}.o", compiler, [opt])
    n = 1000
    assert session.load_module(obj).atomic_sum(n) == 4 * n * (n + 1) // 2 + 1000000000 + 100000000000
    if MACHINE_NAME == "aarch64":
        import tvm_ffi

        raw = tvm_ffi.get_global_func("tvm_ffi_orcjit.InspectObject")(str(obj), "", True)
        helpers = {s["name"] for s in raw["objects"][0]["symbols"] if s["name"].startswith("__aarch64_")}
        assert helpers, "expected calls to outline-atomics helpers"
        flags = {s["name"]: (s["runtime"], s["host"]) for s in raw["objects"][0]["symbols"]}
        assert all(flags[h] == (True, False) for h in helpers), helpers
