/*
** test_nopic.c: objects compiled with -fno-pic (case nopic).  Their 32-bit
** absolute relocations need the library below 2 GiB; what they address in
** the host (libstdc++ typeinfo, functions) is copied or stubbed there.
** -fno-pic code reading host data PC-relatively cannot be placed: a clear
** error, and the library stays usable.  On aarch64 -fno-pic code has no
** 32-bit absolute relocations and reaches the host with ADRP: it loads.
*/
#include "oj_test.h"

void ojt_case_nopic(void) {
  orcjit_session *s = ojt_new_session();
  ojt_step("-fno-pic C++: statics, exceptions, libstdc++ exceptions");
  orcjit_library *lib = ojt_new_library(s, "nopic");
  REQUIRE_OK(orcjit_library_add_file(lib, ojt_obj("nopic_cpp.o")));
  void *fn = NULL;
  REQUIRE_OK(orcjit_library_get_function(lib, "nopic_cpp", &fn));
#if !defined(__aarch64__)
  /* The library lives below 2 GiB. */
  CHECK((uintptr_t)fn < ((uintptr_t)1 << 31));
#endif
  /* greeting "hello" (5), catch_int(x) = x + 1, v.at(x): x < 3 -> x + 1,
  ** else out_of_range caught -> -1; counted() = call number. */
  CHECK_EQ(OJT_CALL1(fn, 1), 100000 + 5000 + 20 + 2);
  CHECK_EQ(OJT_CALL1(fn, 7), 200000 + 5000 + 80 - 1);

#if defined(__aarch64__)
  /* No absolute 32-bit relocations there: -fno-pic code reaches everything
  ** with ADRP pages (+-4 GiB), and JIT memory lies within 2 GiB of libc. */
  ojt_step("-fno-pic C reading stdout loads");
  REQUIRE_OK(orcjit_library_add_file(lib, ojt_obj("nopic_puts.o")));
  REQUIRE_OK(orcjit_library_get_function(lib, "nopic_puts", &fn));
  CHECK_EQ(OJT_CALL1(fn, 4), 4);
#else
  ojt_step("-fno-pic C reading stdout is refused");
  CHECK_STATUS(orcjit_library_add_file(lib, ojt_obj("nopic_puts.o")), ORCJIT_ELINK);
  CHECK_MSG("nopic_puts.o");
  CHECK_MSG("stdout");
  CHECK_MSG("-fPIC");
  CHECK_STATUS(orcjit_library_get_function(lib, "nopic_puts", &fn), ORCJIT_ENOTFOUND);
#endif
  CHECK_OK(orcjit_library_get_function(lib, "nopic_cpp", &fn));
  CHECK_EQ(OJT_CALL1(fn, 0), 300000 + 5000 + 10 + 1);
  CHECK_STILL_WORKS(lib);
  orcjit_library_release(lib);
  orcjit_session_release(s);
}
