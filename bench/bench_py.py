"""Python-level benchmarks of tvm-ffi-orcjit (SPEC 6).

Prints raw measurements as lines "FIG {json}" / "NOTE text" (see bench_load.c
for the format); bench/report.py computes medians, spreads and ratios.

    python3 bench_py.py OBJDIR            this project vs tvm_ffi.load_module
                                          and (through UPSTREAM_PY) upstream
    python  bench_py.py --upstream OBJDIR [N]
                                          run by the upstream virtual
                                          environment's python: prints one
                                          JSON object of upstream samples

Environment: BENCH_TMP (fresh .so files), UPSTREAM_PY (python of the venv
with apache-tvm-ffi-orcjit; empty if it could not be installed), UPSTREAM_ERR
(why), ORCJIT_PYTHONPATH (the in-tree python/ directory), and
TVM_FFI_ORCJIT_LIBRARY (the libtvm_ffi_orcjit.so to use).
"""

from __future__ import annotations

import gc
import json
import os
import shutil
import subprocess
import sys
import time

REPS_LOAD = int(os.environ.get("BENCH_PY_LOADS", "150"))
REPS_CALL = int(os.environ.get("BENCH_PY_CALL_REPS", "11"))
CALLS = int(os.environ.get("BENCH_PY_CALLS", "100000"))
SUB = 5
REPS_IMPORT = int(os.environ.get("BENCH_PY_IMPORTS", "9"))


def fig(name, label, unit, samples, ref_label="", ref_samples=(), kind="info", op="", value=0,
        note=""):
    print("FIG " + json.dumps({
        "name": name, "label": label, "unit": unit, "samples": list(samples),
        "ref_label": ref_label, "ref_samples": list(ref_samples),
        "target": {"kind": kind, "op": op, "value": value}, "note": note,
    }), flush=True)


def note(text):
    print("NOTE " + text, flush=True)


def tmpdir():
    return os.environ.get("BENCH_TMP") or "/tmp"


# ---- upstream mode (runs inside the upstream venv) -------------------------

def upstream_main(objdir, n):
    try:  # apache-tvm, where installed, registers the Relax VM's loader
        import tvm  # noqa: F401
    except ImportError:
        pass
    import tvm_ffi_orcjit as up

    out = {"version": getattr(up, "__version__", "?")}
    t0 = time.perf_counter()
    s = up.ExecutionSession()
    out["session_ms"] = (time.perf_counter() - t0) * 1e3
    for key, obj, func, div, _ in LOAD_KINDS:
        reps = max(10, n // div) if div > 1 else n
        if div == 30:
            reps = max(5, n // div)
        path = os.path.join(objdir, obj)
        if not os.path.exists(path):
            continue  # the TVM objects: made by bench_tvm only where apache-tvm is installed
        times = []
        try:
            for i in range(-max(3, reps // 10), reps):
                t0 = time.perf_counter()
                mod = s.load_module(path)
                f = mod.get_function(func)
                t1 = time.perf_counter()
                if func == "add":
                    assert f(1, 2) == 3
                elif not key.startswith("tvm_"):  # TVM functions take tensors
                    assert f(1) is not None
                del f, mod
                if i >= 0:
                    times.append((t1 - t0) * 1e6)
            out[key] = times
        except Exception as e:  # noqa: BLE001 - reported, the run goes on
            out[key + "_error"] = f"{type(e).__name__}: {e}"
    env = dict(os.environ)
    env.pop("ORCJIT_PYTHONPATH", None)  # this venv's package, not the project's
    out["first"] = first_loads(sys.executable, env, objdir)
    print(json.dumps(out))


# ---- this project ------------------------------------------------------------

class Ours:
    """This project's session, through the Python package if it imports, else
    through the global functions the native library registers."""

    def __init__(self):
        import tvm_ffi

        self.how = ""
        pp = os.environ.get("ORCJIT_PYTHONPATH")
        if pp and pp not in sys.path:
            sys.path.insert(0, pp)
        try:
            import tvm_ffi_orcjit as oj

            self.session = oj.ExecutionSession()
            self.load = self.session.load_module
            self.new_session = oj.ExecutionSession
            self.how = f"python package tvm_ffi_orcjit from {os.path.dirname(oj.__file__)}"
        except Exception as e:  # noqa: BLE001
            import ctypes

            lib = os.environ["TVM_FFI_ORCJIT_LIBRARY"]
            ctypes.CDLL(lib, mode=ctypes.RTLD_GLOBAL)
            make = tvm_ffi.get_global_func("tvm_ffi_orcjit.ExecutionSession")
            load = tvm_ffi.get_global_func("tvm_ffi_orcjit.SessionLoadModule")
            self.new_session = lambda: make(None, 0)
            self.session = self.new_session()
            self.load = lambda path: load(self.session, [str(path)], "")
            self.how = (f"global functions of {lib} (import tvm_ffi_orcjit failed: "
                        f"{type(e).__name__}: {str(e)[:160]})")
            self.import_error = f"{type(e).__name__}: {str(e)[:160]}"


def load_so_fresh(so_bytes, i, func):
    """tvm_ffi.load_module of the .so written to a fresh file; returns us."""
    import tvm_ffi

    path = os.path.join(tmpdir(), f"bench_py_{os.getpid()}_{i}.so")
    with open(path, "wb") as f:
        f.write(so_bytes)
    t0 = time.perf_counter()
    mod = tvm_ffi.load_module(path)
    fn = mod.get_function(func)
    t1 = time.perf_counter()
    assert fn(1, 2) == 3
    del fn, mod
    os.unlink(path)
    return (t1 - t0) * 1e6


# The objects loaded here and by upstream, one loop each: (key, object,
# function, repetitions as a divisor of REPS_LOAD, label).  Missing objects
# (the TVM ones without apache-tvm) are skipped.
LOAD_KINDS = (
    ("small", "small.o", "add", 1, "load small.o (C)"),
    ("cpp", "typed.o", "add", 5, "load typed.o (C++, seven typed exports, g++)"),
    ("cpp2", "typed2.o", "add", 5, "load typed2.o (C++, two typed exports, clang++)"),
    ("cpp6", "containers.o", "add", 5,
     "load containers.o (C++, six typed exports, ffi::Array/Map, clang++)"),
    ("cpp6_gcc", "containers_gcc.o", "add", 5, "load containers_gcc.o (the same, g++)"),
    ("large", "large.o", "f0", 30, "load large.o (C, 3,000 functions)"),
    ("tvm_kernel", "tvm_kernel.o", "axpy", 5, "load a TVM kernel (tvm_kernel.o)"),
    ("tvm_model", "tvm_model.o", "transpose", 5,
     "load a TVM Relax model with its import tree (tvm_model.o)"),
)

# The first load in a fresh process (load + get_function; and with the first
# session before it).  The import is left out: tvm_ffi's own import differs
# between environments (ml_dtypes, where installed, takes seconds).
FIRST_LOAD_KINDS = (("small", "small.o", "add"), ("cpp6", "containers.o", "add"))
FIRST_LOAD_REPS = int(os.environ.get("BENCH_PY_FIRST_LOADS", "5"))
_FIRST_LOAD_SRC = r'''
import os, sys, time
pp = os.environ.get("ORCJIT_PYTHONPATH")
if pp:
    sys.path.insert(0, pp)
t0 = time.perf_counter()
import tvm_ffi_orcjit as oj
t1 = time.perf_counter()
s = oj.ExecutionSession()
t2 = time.perf_counter()
f = s.load_module(sys.argv[1]).get_function(sys.argv[2])
t3 = time.perf_counter()
print((t3 - t2) * 1e6, (t3 - t1) * 1e6)
'''


def first_loads(python, env, objdir):
    """{key: ([first load us], [session + first load us])}, each in a fresh
    process of python."""
    out = {}
    for key, obj, func in FIRST_LOAD_KINDS:
        path = os.path.join(objdir, obj)
        if not os.path.exists(path):
            continue
        loads, totals = [], []
        for _ in range(FIRST_LOAD_REPS):
            r = subprocess.run([python, "-c", _FIRST_LOAD_SRC, path, func], capture_output=True,
                               text=True, env=env, cwd=tmpdir())
            if r.returncode != 0:
                out[key + "_error"] = (r.stderr.strip().splitlines() or ["?"])[-1]
                break
            a, b = r.stdout.split()[-2:]
            loads.append(float(a))
            totals.append(float(b))
        if loads:
            out[key] = (loads, totals)
    return out


def bench_load(ours, objdir):
    obj = os.path.join(objdir, "small.o")
    with open(os.path.join(objdir, "small.so"), "rb") as f:
        so_bytes = f.read()
    mine, ref = [], []
    for i in range(-max(3, REPS_LOAD // 10), REPS_LOAD):
        t0 = time.perf_counter()
        mod = ours.load(obj)
        fn = mod.get_function("add")
        t1 = time.perf_counter()
        assert fn(1, 2) == 3
        del fn, mod
        r = load_so_fresh(so_bytes, i + 1000, "add")
        if i >= 0:
            mine.append((t1 - t0) * 1e6)
            ref.append(r)
    fig("load_small_py", "load small.o and get a function (Python)", "us", mine,
        "tvm_ffi.load_module of the .so (fresh file)", ref, "info")
    return mine


def bench_upstream(objdir, extra):
    upy = os.environ.get("UPSTREAM_PY", "")
    if not upy:
        note("upstream: not installable: " + (os.environ.get("UPSTREAM_ERR") or "unknown reason"))
        return
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    env.pop("TVM_FFI_ORCJIT_LIBRARY", None)
    r = subprocess.run([upy, os.path.abspath(__file__), "--upstream", objdir, str(REPS_LOAD)],
                       capture_output=True, text=True, env=env, cwd=tmpdir())
    if r.returncode != 0:
        note("upstream: installed but failed to run: " + (r.stderr.strip().splitlines() or ["?"])[-1])
        return
    up = json.loads(r.stdout.strip().splitlines()[-1])
    note(f"upstream: apache-tvm-ffi-orcjit {up.get('version')} in {os.path.dirname(os.path.dirname(upy))}")
    if "small" in up:
        fig("load_small_vs_upstream", "load small.o and get a function (Python, one loop)", "us",
            extra["small"],
            f"upstream {up.get('version')} session.load_module", up["small"], "ratio", "<=", 0.5)
    for key, obj, func, _, label in LOAD_KINDS:
        if key == "small":
            continue
        if key + "_error" in up:
            note(f"upstream: {label}: {up[key + '_error']}")
        if key in up and key in extra:
            fig(f"load_{key}_vs_upstream", label + " (Python)", "us", extra[key],
                f"upstream {up.get('version')}", up[key], "ratio", "<=", 0.5)
    if "session_ms" in up:
        note(f"upstream: first ExecutionSession() in a process: {up['session_ms']:.2f} ms")
    mine = first_loads(sys.executable, dict(os.environ), objdir)
    theirs = up.get("first", {})
    for key, obj, _ in FIRST_LOAD_KINDS:
        for k, d in ((key, mine), (key, theirs)):
            if k + "_error" in d:
                note(f"first load of {obj} in a fresh process: {d[k + '_error']}")
        if key in mine and key in theirs:
            fig(f"first_load_{key}_vs_upstream",
                f"first load of {obj} in a fresh process (load + get_function)", "us",
                mine[key][0], f"upstream {up.get('version')}", theirs[key][0], "ratio", "<=", 0.5)
            fig(f"first_session_load_{key}_vs_upstream",
                f"first session + first load of {obj} in a fresh process", "us",
                mine[key][1], f"upstream {up.get('version')}", theirs[key][1], "ratio", "<=", 0.5)


def bench_other_loads(ours, objdir):
    """Python-level loads for the comparison with upstream, measured the way
    upstream_main measures its own: one object over and over, nothing in
    between (bench_load interleaves a .so load, fair against tvm_ffi but not
    against a tight loop in another process)."""
    out = {}
    for key, obj, func, div, _ in LOAD_KINDS:
        if key.startswith("tvm_"):
            continue  # bench_tvm
        reps = REPS_LOAD if div == 1 else max(5 if div == 30 else 10, REPS_LOAD // div)
        path = os.path.join(objdir, obj)
        if not os.path.exists(path):
            continue
        times = []
        for i in range(-max(3, reps // 10), reps):
            t0 = time.perf_counter()
            mod = ours.load(path)
            fn = mod.get_function(func)
            t1 = time.perf_counter()
            assert fn(1, 2) == 3 if func == "add" else fn(1) is not None
            del fn, mod
            if i >= 0:
                times.append((t1 - t0) * 1e6)
        out[key] = times
    return out


def bench_call(ours, objdir):
    import tvm_ffi

    mod_o = ours.load(os.path.join(objdir, "small.o"))
    so = os.path.join(tmpdir(), f"bench_call_{os.getpid()}.so")
    shutil.copy(os.path.join(objdir, "small.so"), so)
    mod_so = tvm_ffi.load_module(so)
    results = {}
    for fname, args in (("add", (1, 2)), ("noop", ())):
        f_o, f_so = mod_o.get_function(fname), mod_so.get_function(fname)
        mine, ref = [], []
        for rep in range(-1, REPS_CALL):
            for which, f, out in ((0, f_o, mine), (1, f_so, ref)) if rep % 2 == 0 else \
                    ((1, f_so, ref), (0, f_o, mine)):
                # one sample: the fastest of SUB runs of CALLS // SUB calls, which
                # filters out the time the (shared) machine takes away
                rng = range(CALLS // SUB)
                best = float("inf")
                gc.disable()
                for _ in range(SUB):
                    t0 = time.perf_counter()
                    for _ in rng:
                        f(*args)
                    best = min(best, time.perf_counter() - t0)
                gc.enable()
                if rep >= 0:
                    out.append(best * 1e9 / len(rng))
        results[fname] = (mine, ref)
    mine, ref = results["add"]
    fig("call_add", "call add(1, 2) through tvm_ffi.Function", "ns", mine,
        "same function from the .so (tvm_ffi.load_module)", ref, "ratio", "<=", 1.05,
        f"each sample the fastest of {SUB} runs of {CALLS // SUB} calls; order alternated")
    mine, ref = results["noop"]
    fig("call_noop", "call noop() through tvm_ffi.Function", "ns", mine,
        "same function from the .so (tvm_ffi.load_module)", ref, "info")
    os.unlink(so)


def bench_session(ours):
    times = []
    for i in range(-2, 30):
        t0 = time.perf_counter()
        s = ours.new_session()
        t1 = time.perf_counter()
        del s
        if i >= 0:
            times.append((t1 - t0) * 1e3)
    fig("session_create_py", "create a session (Python ExecutionSession())", "ms", times,
        kind="abs", op="<", value=5.0)


IMPORT_SNIPPET = (
    "import time; t0 = time.perf_counter(); import tvm_ffi; t1 = time.perf_counter(); "
    "import tvm_ffi_orcjit; t2 = time.perf_counter(); print((t1 - t0) * 1e3, (t2 - t1) * 1e3)"
)


def import_times(python, env):
    base, added = [], []
    for _ in range(REPS_IMPORT + 1):
        r = subprocess.run([python, "-c", IMPORT_SNIPPET], capture_output=True, text=True, env=env,
                           cwd=tmpdir())
        if r.returncode != 0:
            return None, None, (r.stderr.strip().splitlines() or ["?"])[-1]
        a, b = map(float, r.stdout.split()[-2:])
        base.append(a)
        added.append(b)
    return base[1:], added[1:], ""


def bench_import(ours):
    env = dict(os.environ)
    pp = os.environ.get("ORCJIT_PYTHONPATH")
    if pp:
        env["PYTHONPATH"] = pp + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    base, added, err = import_times(sys.executable, env)
    if base is None:
        note(f"import tvm_ffi_orcjit: failed: {err}")
    else:
        fig("import_added", "time import tvm_ffi_orcjit adds to import tvm_ffi", "ms", added,
            kind="abs", op="<", value=100.0,
            note=f"import tvm_ffi alone: {sorted(base)[len(base) // 2]:.1f} ms")
    upy = os.environ.get("UPSTREAM_PY", "")
    if upy:
        uenv = dict(os.environ)
        uenv.pop("PYTHONPATH", None)
        uenv.pop("TVM_FFI_ORCJIT_LIBRARY", None)
        ubase, uadded, uerr = import_times(upy, uenv)
        if ubase is not None and base is not None:
            fig("import_added_vs_upstream", "time import tvm_ffi_orcjit adds", "ms", added,
                "upstream package", uadded, "info")


# ---- objects written by Apache TVM (SPEC 6: a TVM kernel, a TVM model) --------

def _tvm_objects(objdir):
    """A TIR kernel (tvm_kernel.o) and a small Relax MLP (tvm_model.tar, TVM's
    tar; tvm_model.o, its objects joined by ld -r) written by apache-tvm."""
    import tvm
    from tvm import relax, te
    from tvm.relax.frontend import nn

    a = te.placeholder((64,), "float32", name="A")
    b = te.placeholder((64,), "float32", name="B")
    c = te.compute((64,), lambda i: a[i] * 2.0 + b[i], name="C")
    kern = tvm.IRModule({"axpy": te.create_prim_func([a, b, c]).with_attr("global_symbol", "axpy")})
    tvm.compile(kern, target="llvm").mod.write_to_file(os.path.join(objdir, "tvm_kernel.o"))

    class MLP(nn.Module):
        def __init__(self):
            self.l1, self.l2 = nn.Linear(8, 16), nn.Linear(16, 4)

        def forward(self, x):
            return self.l2(nn.relu(self.l1(x)))

    def ld_r(output, objects, options=None):
        subprocess.check_call(["ld", "-r", "-o", output, *objects])

    ld_r.output_format = "o"
    mod, _ = MLP().export_tvm({"forward": {"x": nn.spec.Tensor((2, 8), "float32")}})
    exe = tvm.compile(relax.get_pipeline("zero")(mod), target="llvm")
    exe.export_library(os.path.join(objdir, "tvm_model.tar"))
    exe.export_library(os.path.join(objdir, "tvm_model.o"), fcompile=ld_r)


def bench_tvm(ours, objdir):
    """Loads of what apache-tvm writes: the kernel and the model object (against
    upstream, in bench_upstream), and the model's tar against TVM's own
    tvm.runtime.load_module of the same tar (untar, link a .so with the system
    compiler, dlopen), each up to a relax.VirtualMachine."""
    extra = {}
    try:
        import tvm
        from tvm import relax
    except ModuleNotFoundError as e:
        note(f"tvm: apache-tvm is not installed in {sys.executable} ({e}): TVM loads not measured")
        return extra
    try:
        _tvm_objects(objdir)
    except Exception as e:  # noqa: BLE001 - reported, the run goes on
        note(f"tvm: could not write the TVM objects: {type(e).__name__}: {e}")
        return extra
    for key, obj, func in (("tvm_kernel", "tvm_kernel.o", "axpy"),
                           ("tvm_model", "tvm_model.o", "transpose")):
        path, times = os.path.join(objdir, obj), []
        for i in range(-3, max(10, REPS_LOAD // 5)):
            t0 = time.perf_counter()
            mod = ours.load(path)
            if key == "tvm_model":
                mod = mod.imports[0]  # the root is the VM executable; its library holds the code
            fn = mod.get_function(func)
            t1 = time.perf_counter()
            del fn, mod
            if i >= 0:
                times.append((t1 - t0) * 1e6)
        extra[key] = times
    tar = os.path.join(objdir, "tvm_model.tar")
    mine, ref = [], []
    reps = max(5, REPS_LOAD // 20)
    for i in range(-2, reps):
        t0 = time.perf_counter()
        relax.VirtualMachine(ours.load(tar), tvm.cpu())
        t1 = time.perf_counter()
        relax.VirtualMachine(tvm.runtime.load_module(tar), tvm.cpu())
        t2 = time.perf_counter()
        if i >= 0:
            mine.append((t1 - t0) * 1e3)
            ref.append((t2 - t1) * 1e3)
    fig("load_tvm_tar", "load TVM's model tar (Relax MLP) up to a VirtualMachine", "ms", mine,
        "tvm.runtime.load_module of the same tar (system compiler + dlopen; upstream cannot load "
        "this model)", ref, "ratio", "<=", 0.5)
    return extra


def main(objdir):
    ours = Ours()
    note("this project (Python): " + ours.how)
    bench_load(ours, objdir)
    extra = bench_other_loads(ours, objdir)
    extra.update(bench_tvm(ours, objdir))
    bench_upstream(objdir, extra)
    bench_call(ours, objdir)
    bench_session(ours)
    bench_import(ours)


if __name__ == "__main__":
    if len(sys.argv) >= 3 and sys.argv[1] == "--upstream":
        upstream_main(sys.argv[2], int(sys.argv[3]) if len(sys.argv) > 3 else 100)
    else:
        main(sys.argv[1])
