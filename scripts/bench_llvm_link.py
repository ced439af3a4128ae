"""Static vs shared LLVM: import time and load time, in one run.

    python3 scripts/bench_llvm_link.py SHARED_LIB STATIC_LIB [ROUNDS]

SHARED_LIB and STATIC_LIB are two builds of libtvm_ffi_orcjit.so (the same
sources and build type; -DORCJIT_STATIC_LLVM=OFF and ON).  Both are used
through this checkout's python/ package (TVM_FFI_ORCJIT_LIBRARY), so only
the native library differs.  ROUNDS (default 5) alternate the two builds:

  import   fresh interpreters: the time `import tvm_ffi_orcjit` adds to
           `import tvm_ffi` (library load, LLVM's static initialisers,
           TVMFFIOrcJITInitialize), 10 processes per build per round;
  session  the first ExecutionSession() of a process (LLJIT creation);
  load     in one process per build per round: load bench/src/small.c
           (compiled by gcc -O2 -fPIC) into a session and get its `add`,
           200 times after 20 unmeasured ones.

Prints the medians over all rounds (and the spread of the per-round
medians) for both builds.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
IMPORTS_PER_ROUND = 10
LOADS = 200
WARMUP = 20

IMPORT_SNIPPET = """
import time
t0 = time.perf_counter()
import tvm_ffi
t1 = time.perf_counter()
import tvm_ffi_orcjit
t2 = time.perf_counter()
print((t2 - t1) * 1e3)
"""

LOAD_SNIPPET = """
import sys, time
import tvm_ffi_orcjit as oj
path, loads, warmup = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
t0 = time.perf_counter()
s = oj.ExecutionSession()
t1 = time.perf_counter()
print("session", (t1 - t0) * 1e3)
for i in range(-warmup, loads):
    t0 = time.perf_counter()
    mod = s.load_module(path)
    fn = mod.get_function("add")
    t1 = time.perf_counter()
    assert fn(1, 2) == 3
    del fn, mod
    if i >= 0:
        print("load", (t1 - t0) * 1e6)
"""


def env_for(lib: str) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT / "python")
    env["TVM_FFI_ORCJIT_LIBRARY"] = lib
    return env


def run(args: list[str], env: dict[str, str], cwd: str) -> str:
    r = subprocess.run(args, capture_output=True, text=True, env=env, cwd=cwd)
    if r.returncode != 0:
        sys.exit(f"failed: {' '.join(args[:3])}...\n{r.stderr}")
    return r.stdout


def fmt(per_round: list[float], unit: str) -> str:
    return (f"{statistics.median(per_round):8.1f} {unit}"
            f"  (rounds: {min(per_round):.1f} .. {max(per_round):.1f})")


def main() -> None:
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    libs = {"shared LLVM": os.path.abspath(sys.argv[1]), "static LLVM": os.path.abspath(sys.argv[2])}
    rounds = int(sys.argv[3]) if len(sys.argv) > 3 else 5
    for lib in libs.values():
        if not os.path.isfile(lib):
            sys.exit(f"no such library: {lib}")
    tmp = tempfile.mkdtemp(prefix="orcjit-llvm-link.")
    obj = os.path.join(tmp, "small.o")
    inc = subprocess.check_output([sys.executable, "-m", "tvm_ffi.config", "--includedir"], text=True).strip()
    subprocess.check_call(["gcc", "-c", "-O2", "-fPIC", f"-I{inc}", str(ROOT / "bench/src/small.c"), "-o", obj])

    res: dict[str, dict[str, list[float]]] = {k: {"import": [], "session": [], "load": []} for k in libs}
    for r in range(rounds):
        for name, lib in (libs.items() if r % 2 == 0 else reversed(list(libs.items()))):
            env = env_for(lib)
            imports = [float(run([sys.executable, "-c", IMPORT_SNIPPET], env, tmp))
                       for _ in range(IMPORTS_PER_ROUND)]
            out = run([sys.executable, "-c", LOAD_SNIPPET, obj, str(LOADS), str(WARMUP)], env, tmp)
            loads = [float(line.split()[1]) for line in out.splitlines() if line.startswith("load ")]
            session = [float(line.split()[1]) for line in out.splitlines() if line.startswith("session ")]
            res[name]["import"].append(statistics.median(imports))
            res[name]["session"].append(session[0])
            res[name]["load"].append(statistics.median(loads))
            print(f"round {r + 1}/{rounds} {name}: import {res[name]['import'][-1]:.1f} ms, "
                  f"session {session[0]:.2f} ms, load {res[name]['load'][-1]:.1f} us", flush=True)
    print()
    for name, lib in libs.items():
        print(f"{name}: {lib} ({os.path.getsize(lib) / 1e6:.1f} MB)")
        print(f"  import tvm_ffi_orcjit (on top of tvm_ffi) {fmt(res[name]['import'], 'ms')}")
        print(f"  first ExecutionSession()               {fmt(res[name]['session'], 'ms')}")
        print(f"  load small.o + get_function (median)   {fmt(res[name]['load'], 'us')}")


if __name__ == "__main__":
    main()
