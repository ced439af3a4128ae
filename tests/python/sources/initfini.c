/* initfini.c: an object with every kind of init/fini section, for
** `python -m tvm_ffi_orcjit inspect` (and `call`):
**   .init_array.101 (clang) / .init_array.00101 (gcc)   1 entry
**   .init_array                                         1 entry
**   .fini_array.101 / .fini_array.00101                 1 entry
**   .fini_array                                         1 entry
**   .ctors.00150   2 entries, placed by hand (legacy constructors)
**   .dtors         1 entry, placed by hand
** __tvm_ffi_ctor_count() returns how many constructors ran: 4. */
#include "ffi_c.h"

/* volatile: clang -O2 would otherwise run the constructors at compile time */
static volatile int64_t g_ctors;
static volatile int64_t g_dtors;

__attribute__((constructor(101))) static void ctor_101(void) { ++g_ctors; }
__attribute__((constructor)) static void ctor_plain(void) { ++g_ctors; }
__attribute__((destructor(101))) static void dtor_101(void) { ++g_dtors; }
__attribute__((destructor)) static void dtor_plain(void) { ++g_dtors; }

static void legacy_ctor(void) { ++g_ctors; }
static void legacy_dtor(void) { ++g_dtors; }
__attribute__((section(".ctors.00150"), used)) static void (*legacy_ctors[2])(void) = {
    legacy_ctor, legacy_ctor};
__attribute__((section(".dtors"), used)) static void (*legacy_dtors[1])(void) = {legacy_dtor};

FFI_FN(ctor_count) {
  ret_int(rv, g_ctors);
  return 0;
}
