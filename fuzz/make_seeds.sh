#!/usr/bin/env bash
# make_seeds.sh OUTDIR: builds the seed corpus for the fuzz targets.
#   - every tests/sources/*.c and *.cc, and fuzz/seeds_src/*.c/.cc, compiled
#     with clang-22 and gcc (C) / clang++-22 and g++ (C++) at -O0 and -O2;
#   - variants: -ffunction-sections -fdata-sections, -g, -fno-pic, -fno-plt
#     (GOTPCRELX), -fcommon, CREL relocations, a stripped data-only object;
#   - wrong inputs: AArch64, i386 (ELFCLASS32), big-endian (ppc64), a shared
#     library, an executable, an archive;
#   - tars of objects: gzip-compressed (as Apache TVM writes them), plain
#     with a non-object member, pax;
#   - hand-made corruptions of a real object (fuzz/mutate.py).
# A source that does not compile is skipped (reported on stderr).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
out=${1:?usage: make_seeds.sh OUTDIR}
mkdir -p "$out"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
PY=${PY:-python3}
inc=()
if d=$($PY -m tvm_ffi.config --includedir 2>/dev/null); then inc+=(-I"$d"); fi
if d=$($PY -m tvm_ffi.config --dlpack-includedir 2>/dev/null); then inc+=(-I"$d"); fi
inc+=(-I"$root/tests/sources")
# The same bytes from every checkout (paths in -g variants and __FILE__).
inc+=(-ffile-prefix-map="$root/=")
# Some test sources are templates built with a -D value by the tests.
inc+=(-DOJ_BASE=1 -DOJ_DUP=1 -DOJ_PROBE=3 -DOJ_VERSION=1 -DOJ_WEAK=1)

n=0 skipped=0
cc1() { # name compiler flags... source
  local name=$1; shift
  if "$@" -c -o "$out/$name.o" "${inc[@]}" 2>/dev/null; then n=$((n + 1));
  else skipped=$((skipped + 1)); echo "make_seeds: skipped $name" >&2; fi
}

csrc=("$root"/tests/sources/*.c "$here"/seeds_src/small.c "$here"/seeds_src/data_only.c)
cxxsrc=("$root"/tests/sources/*.cc "$here"/seeds_src/small.cc)
for s in "${csrc[@]}"; do
  b=$(basename "$s" .c)
  # 66,000 functions (test_debug.c's extended numbering): megabytes past
  # -max_len, and a minute to compile four times.
  [ "$b" = manysec ] && continue
  for o in -O0 -O2; do
    cc1 "c_${b}_clang$o" clang-22 $o "$s"
    cc1 "c_${b}_gcc$o" gcc $o "$s"
  done
done
for s in "${cxxsrc[@]}"; do
  b=$(basename "$s" .cc)
  for o in -O0 -O2; do
    cc1 "cxx_${b}_clang$o" clang++-22 -std=c++17 $o "$s"
    cc1 "cxx_${b}_gcc$o" g++ -std=c++17 $o "$s"
  done
done
sc=$here/seeds_src/small.c sx=$here/seeds_src/small.cc
cc1 v_small_sections clang-22 -O2 -ffunction-sections -fdata-sections "$sc"
cc1 v_smallxx_sections g++ -std=c++17 -O2 -ffunction-sections -fdata-sections "$sx"
cc1 v_small_g clang-22 -O1 -g "$sc"
cc1 v_small_gcc_g gcc -O1 -g "$sc"
cc1 v_small_nopic clang-22 -O2 -fno-pic "$sc"
cc1 v_small_nopic_gcc gcc -O2 -fno-pic "$sc"
cc1 v_small_noplt clang-22 -O2 -fno-plt "$sc"
cc1 v_smallxx_noplt g++ -std=c++17 -O2 -fno-plt "$sx"
cc1 v_small_common gcc -O0 -fcommon "$sc"
cc1 v_small_crel clang-22 -O2 -Wa,--crel,--allow-experimental-crel "$sc"
cc1 v_smallxx_crel clang++-22 -std=c++17 -O2 -Wa,--crel,--allow-experimental-crel "$sx"
cc1 v_small_rel clang-22 -O2 -Wa,-mrelax-relocations=no "$sc"
cc1 w_aarch64 clang-22 --target=aarch64-linux-gnu -O2 "$here/seeds_src/data_only.c"
cc1 w_aarch64_code clang-22 --target=aarch64-linux-gnu -O2 -ffreestanding "$here/seeds_src/shared.c"
cc1 w_i386 clang-22 --target=i386-linux-gnu -O2 -ffreestanding "$here/seeds_src/shared.c"
cc1 w_ppc64_be clang-22 --target=powerpc64-linux-gnu -O2 -ffreestanding "$here/seeds_src/shared.c"
# Wrong kinds: a shared library, an executable, an archive.
if clang-22 -shared -fPIC -o "$out/w_shared.so" "$here/seeds_src/shared.c" 2>/dev/null; then n=$((n + 1)); fi
if clang-22 -o "$out/w_exe" "$here/seeds_src/shared.c" 2>/dev/null; then n=$((n + 1)); fi
if [ -f "$out/c_add_clang-O2.o" ] && [ -f "$out/c_foo_clang-O2.o" ]; then
  rm -f "$out/w_archive.a"
  ar rcs "$out/w_archive.a" "$out/c_add_clang-O2.o" "$out/c_foo_clang-O2.o" && n=$((n + 1))
fi
# No symbol table at all: the pre-pass has to add one.
if [ -f "$out/c_data_only_clang-O2.o" ]; then
  llvm-objcopy-22 --strip-all "$out/c_data_only_clang-O2.o" "$out/v_nosymtab.o" && n=$((n + 1))
fi
# Tars of objects, as Apache TVM's export_library writes them (tar -czf)
# and plain, with a member that is not an object.
if [ -f "$out/c_add_clang-O2.o" ] && [ -f "$out/c_foo_clang-O2.o" ]; then
  tt=$tmp/tar; mkdir -p "$tt"
  cp "$out/c_add_clang-O2.o" "$tt/lib0.o"; cp "$out/c_foo_clang-O2.o" "$tt/devc.o"
  printf '{"note": "not an object"}\n' > "$tt/meta.json"
  tar -czf "$out/t_objects.tgz.tar" -C "$tt" lib0.o devc.o && n=$((n + 1))
  tar -cf "$out/t_objects_plain.tar" -C "$tt" lib0.o meta.json devc.o && n=$((n + 1))
  tar --format=pax -cf "$out/t_objects_pax.tar" -C "$tt" lib0.o && n=$((n + 1))
fi
printf 'x86_64 text file, not an object\n' > "$out/w_text"
: > "$out/w_empty"
# Hand-made corruptions of real objects.
m=0
for base in c_add_clang-O2 c_small_gcc-O2 cxx_small_clang-O0; do
  [ -f "$out/$base.o" ] || continue
  k=$($PY "$here/mutate.py" "$out/$base.o" "$out/m_${base}_") && m=$((m + k))
done
echo "make_seeds: $n compiled seeds, $m hand-made corruptions, $skipped skipped -> $out" >&2
