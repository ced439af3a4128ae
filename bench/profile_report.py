"""Summarises the callgrind runs of bench/profile.sh.

    python3 profile_report.py RUNS_FILE

RUNS_FILE has one line per run: "NAME N CALLGRIND_FILE" (N: operations
measured).  For each run: instructions per operation, their split by part of
the process (self cost of each function, grouped by the file it lives in;
malloc/free apart from the rest of libc), and the heaviest functions.
Instruction counts of rep-prefixed string instructions (memset, memcpy) are
per iteration in callgrind, so those are over-weighted against time.
"""

from __future__ import annotations

import re
import subprocess
import sys

MALLOC = re.compile(r"malloc|free|memalign|_int_|unlink_chunk|tcache|operator new|operator delete")
LINE = re.compile(r"^\s*([\d,]+) \([ \d.]+%\)\s+(.*)$")


OURS = re.compile(r"(^|[^\w])(oj_|orcjit_|\(anonymous namespace\)::(MemMgr|BindExternals|oj_))")


def part(fn: str) -> str:
    """The part of the process a function (callgrind_annotate's name) is in.
    LLVM is linked into libtvm_ffi_orcjit.so, so functions are told apart by
    their names; a function of neither is put with the file it lives in."""
    name = fn.split(" [", 1)[0]
    name = name.split(":", 1)[1] if ":" in name and not name.startswith("llvm") else name
    obj = fn.rsplit("[", 1)[-1] if "[" in fn else ""
    if MALLOC.search(name):
        return "malloc/free and new/delete (called by all of the others)"
    if OURS.search(name):
        return "this project (src/, glue/)"
    if "llvm::orc::" in name:
        return "LLVM ORC (sessions, JITDylibs, lookups, the object layer)"
    if "llvm::jitlink::" in name:
        return "LLVM JITLink (parsing, passes, layout, fixups)"
    if "llvm::" in name or "libLLVM" in obj:
        return "LLVM, other (object files, ADT, std templates)"
    if "libtvm_ffi_orcjit" in obj:
        return "libtvm_ffi_orcjit.so, unnamed (mostly LLVM's std templates)"
    if "libstdc++" in obj:
        return "libstdc++ (other)"
    if "ld-linux" in obj or "/dl-" in fn or "dlfcn" in fn:
        return "dynamic loader (ld.so, dlsym)"
    if "libc.so" in obj:
        return "libc (other: memset, memcpy, locks)"
    return "other"


def annotate(path: str):
    out = subprocess.run(["callgrind_annotate", "--inclusive=no", "--auto=no", "--threshold=100", path],
                         capture_output=True, text=True, check=True).stdout
    total, funcs = 0, []
    for line in out.splitlines():
        m = LINE.match(line)
        if not m:
            continue
        n, fn = int(m.group(1).replace(",", "")), m.group(2).strip()
        if fn.startswith("PROGRAM TOTALS"):
            total = n
        else:
            funcs.append((n, fn))
    return total, funcs


def short(fn: str) -> str:
    name = fn.split(" [", 1)[0]
    name = re.sub(r"^[^:]*:", "", name, count=1) if not name.startswith("???") else name[4:]
    name = re.sub(r"\(.*", "", name)
    lib = fn.rsplit("/", 1)[-1].rstrip("]") if "[" in fn else ""
    return f"{name[:70]} ({lib})" if lib else name[:80]


def main(runs_file: str) -> int:
    print("Instructions per operation (callgrind; load = create library, add the object, get")
    print("the function, call it, release; dlopen = dlopen + dlsym only).\n")
    for line in open(runs_file):
        name, n, path = line.split()
        n = int(n)
        total, funcs = annotate(path)
        parts: dict[str, int] = {}
        for c, fn in funcs:
            parts[part(fn)] = parts.get(part(fn), 0) + c
        print(f"== {name}: {total / n:,.0f} instructions per operation ({n} operations)")
        for p, c in sorted(parts.items(), key=lambda kv: -kv[1]):
            print(f"   {100.0 * c / total:5.1f}%  {p}")
        print("   heaviest functions (self):")
        for c, fn in sorted(funcs, reverse=True)[:8]:
            print(f"   {100.0 * c / total:5.1f}%  {short(fn)}")
        print()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
