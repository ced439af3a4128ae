/*
** oj_guard.cc: runs constructors, destructors and exit handlers of JIT code
** so that a C++ exception they throw stops here.
**
** Why C++: C cannot catch.  An exception thrown by a static constructor (a
** TVM_FFI_STATIC_INIT_BLOCK registering a global function a second time
** throws) would otherwise unwind through the C core's frames, which have
** unwind tables on x86-64 but no cleanups: the add's locks, busy flag and
** fork lock stayed taken, and the next fork() in the process saw a load
** that never ended.
*/
#include "oj_guard.h"

#include <cstdio>
#include <exception>

static void oj_guard_why(char *why, size_t cap) {
  try {
    throw;
  } catch (const std::exception &e) {
    std::snprintf(why, cap, "%s", e.what());
  } catch (...) {
    std::snprintf(why, cap, "an exception that is not a std::exception");
  }
}

extern "C" int oj_guard_call(void (*fn)(void), char *why, size_t cap) {
  try {
    fn();
    return 0;
  } catch (...) {
    oj_guard_why(why, cap);
    return -1;
  }
}

extern "C" int oj_guard_call_arg(void (*fn)(void *), void *arg, char *why, size_t cap) {
  try {
    fn(arg);
    return 0;
  } catch (...) {
    oj_guard_why(why, cap);
    return -1;
  }
}
