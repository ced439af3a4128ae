#!/bin/sh
# cc-no-function-sanitizer.sh: compiler launcher used by run.sh while the
# top-level CMakeLists.txt's ORCJIT_SANITIZE does not yet pass
# -fno-sanitize=function.  It appends that flag after every other flag, so
# that it wins over the -fsanitize=undefined added by add_compile_options.
#
# Why: clang's -fsanitize=function (part of "undefined" for C and C++ on
# x86-64) makes every indirect call read the 8 bytes in front of the callee
# to find a type signature.  JIT code is not compiled with it, and a
# function at the start of a JIT slab has an unmapped page in front of it:
# the check itself faults (SEGV at <callee> - 8) in the tests' calls, in
# oj_initfini.c calling constructors, everywhere a JIT address is called.
exec "$@" -fno-sanitize=function
