/*
** fuzz_load.c: libFuzzer target for orcjit_library_add_memory, the whole
** load path (ELF pre-pass, JITLink, symbol tables, error and cleanup paths).
**
** One session for the whole run; per input: a new library, add the bytes,
** look up a few names, release the library.
**
** Never runs code of the input.  A valid object's constructors run when it
** is added (.init_array, .ctors, ...), and a fuzzer that executes what it
** generates finds "crashes" that are just the input's own code.  So an
** input is only added when the pre-pass (oj_elf_prepare, the same code the
** core uses to find constructors) accepts it and finds no init/fini section
** and no STT_GNU_IFUNC symbol (a resolver is code), and it is not an
** archive (members load lazily on lookup); a tar only when each of its
** members passes the same filter.  Inputs the pre-pass rejects are
** still added: the core must reject them the same way, and that path runs
** no input code.  Lookups only resolve addresses; nothing is called.
** See README.md for what this target can and cannot find.
*/
#include <elf.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oj_elf.h"
#include "oj_tar.h"
#include "tvm_ffi_orcjit/orcjit.h"

static orcjit_session *g_session;

static int has_ifunc(const unsigned char *d, size_t n) {
  Elf64_Ehdr eh;
  memcpy(&eh, d, sizeof eh); /* validated by oj_elf_prepare */
  for (uint32_t i = 0; i < eh.e_shnum; i++) {
    Elf64_Shdr sh;
    uint64_t at = eh.e_shoff + (uint64_t)i * sizeof sh;
    if (at + sizeof sh > n) return 1;
    memcpy(&sh, d + at, sizeof sh);
    if (sh.sh_type != SHT_SYMTAB) continue;
    if (sh.sh_offset > n || sh.sh_size > n - sh.sh_offset) return 1;
    for (uint64_t k = 0; k + sizeof(Elf64_Sym) <= sh.sh_size; k += sizeof(Elf64_Sym)) {
      Elf64_Sym s;
      memcpy(&s, d + sh.sh_offset + k, sizeof s);
      if (ELF64_ST_TYPE(s.st_info) == STT_GNU_IFUNC) return 1;
    }
  }
  return 0;
}

/* 1 if adding these bytes could run code from them. */
static int could_run_input_code(const uint8_t *data, size_t size) {
  oj_elf_object o;
  int unsafe;
  if (oj_tar_is(data, size)) { /* a tar: any of its members */
    oj_tar t;
    if (oj_tar_open(data, size, "fuzz-filter", &t) != ORCJIT_OK) return 0; /* refused */
    unsafe = 0;
    for (size_t i = 0; i < t.nobjects && !unsafe; i++)
      unsafe = could_run_input_code(t.objects[i].data, t.objects[i].size);
    oj_tar_close(&t);
    return unsafe;
  }
  if (oj_elf_classify(data, size) == OJ_ELF_KIND_ARCHIVE) return 1;
  if (oj_elf_prepare(data, size, "fuzz-filter", "F0.O0", 0, &o) != ORCJIT_OK)
    return 0; /* the core refuses it before linking */
  unsafe = o.ninitfini != 0 || has_ifunc(o.image, o.image_size) ||
           has_ifunc(data, size);
  oj_elf_object_free(&o);
  return unsafe;
}

/* libtvm_ffi installs its own SIGSEGV/SIGBUS/... handler when it is
** loaded, over the sanitizer's.  It prints a backtrace and dies, so
** libFuzzer never learns of the crash and never saves the input.  Back to
** the default here; libFuzzer then installs its own handler (deadly
** signal: stack trace and the input written to -artifact_prefix). */
int LLVMFuzzerInitialize(int *argc, char ***argv) {
  static const int sigs[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT};
  (void)argc, (void)argv;
  if (orcjit_session_create(NULL, &g_session) != ORCJIT_OK) {
    fprintf(stderr, "fuzz_load: no session: %s\n", orcjit_last_error());
    abort();
  }
  for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++) signal(sigs[i], SIG_DFL);
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static const char *const names[] = {"__tvm_ffi_add", "oj_add_counter",
                                      "main", ""};
  orcjit_library *lib = NULL;
  void *addr;
  int st;
  if (could_run_input_code(data, size)) return -1; /* not added to corpus */
  if (orcjit_library_create(g_session, NULL, &lib) != ORCJIT_OK) {
    fprintf(stderr, "fuzz_load: library_create: %s\n", orcjit_last_error());
    abort();
  }
  st = orcjit_library_add_memory(lib, data, size, "fuzz-input");
  if (st == ORCJIT_OK) {
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
      (void)orcjit_library_lookup(lib, names[i], &addr);
  } else if (!*orcjit_last_error() || !strstr(orcjit_last_error(), "fuzz-input")) {
    fprintf(stderr, "fuzz_load: error without the input's name: %s: \"%s\"\n",
            orcjit_status_name(st), orcjit_last_error());
    abort();
  }
  orcjit_library_release(lib);
  return 0;
}
