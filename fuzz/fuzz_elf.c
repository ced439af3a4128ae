/*
** fuzz_elf.c: libFuzzer target for the ELF pre-pass (src/oj_elf.c), the code
** that reads untrusted object bytes before anything else does.
**
** Linked with src/oj_elf.c and src/oj_error.c only: no LLVM, no JIT, nothing
** of the input is ever executed.  Besides "no crash, no leak, no UB" it checks
** the contract written in oj_elf.h:
**   - on failure: a known status, a message that starts with the input name,
**     and *out left zeroed (nothing to free);
**   - on success: an image, every name readable, marker names built from the
**     tag, init/fini kinds in range;
**   - the rewritten image is itself accepted by oj_elf_prepare, with the
**     same number of init/fini sections (it is what JITLink will be given).
** The input is copied to an odd address whose last byte ends the heap block,
** so ASan sees every overread and UBSan every misaligned access.
*/
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oj_elf.h"
#include "oj_error.h"
#include "tvm_ffi_orcjit/orcjit.h"

#define WHAT "fuzz-input"

static void die(const char *why, int st) {
  fprintf(stderr, "fuzz_elf: contract violated: %s (status %d, message \"%s\")\n",
          why, st, oj_error_message());
  abort();
}

static size_t touch(const char *s) {
  if (!s) die("NULL name", 0);
  return strlen(s);
}

static void check_ok(const oj_elf_object *o, const char *tag) {
  size_t i, sum = 0;
  char prefix[64];
  snprintf(prefix, sizeof prefix, "__orcjit.%s.", tag);
  if (!o->image || o->image_size == 0) die("success without an image", 0);
  if (o->image_size < 64 || memcmp(o->image, "\177ELF", 4) != 0)
    die("image is not ELF", 0);
  for (i = 0; i < o->ndefined; ++i) sum += touch(o->defined[i].name);
  for (i = 0; i < o->nundefined; ++i) {
    if (touch(o->undefined[i].name) == 0) die("empty undefined name", 0);
  }
  for (i = 0; i < o->ninitfini; ++i) {
    const oj_elf_initfini *f = &o->initfini[i];
    if (f->kind < OJ_ELF_INIT_ARRAY || f->kind > OJ_ELF_DTORS)
      die("init/fini kind out of range", f->kind);
    if (strncmp(f->marker, prefix, strlen(prefix)) != 0)
      die("marker name not built from the tag", 0);
  }
  if (o->anchor && strncmp(o->anchor, prefix, strlen(prefix)) != 0)
    die("anchor name not built from the tag", 0);
  (void)sum;
}

static int is_zero(const void *p, size_t n) {
  const unsigned char *b = p;
  while (n--)
    if (*b++) return 0;
  return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  unsigned char *buf = malloc(size + 1);
  unsigned char *in = buf + 1; /* odd address, ends the block */
  oj_elf_object o, o2;
  int st, st2;
  if (!buf) return 0;
  memcpy(in, data, size);
  (void)oj_elf_classify(in, size);

  oj_error_clear();
  st = oj_elf_prepare(in, size, WHAT, "L1.O1", &o);
  if (st != ORCJIT_OK) {
    if (st != ORCJIT_EFORMAT && st != ORCJIT_EUNSUPPORTED && st != ORCJIT_ENOMEM)
      die("unexpected status", st);
    if (oj_error_status() != st) die("status not recorded", st);
    if (strncmp(oj_error_message(), WHAT ": ", sizeof WHAT + 1) != 0)
      die("message does not start with the input name", st);
    if (!is_zero(&o, sizeof o)) die("failed prepare left *out non-zero", st);
    oj_elf_object_free(&o);
    free(buf);
    return 0;
  }
  check_ok(&o, "L1.O1");

  /* The image goes to JITLink: it must pass the same validation. */
  st2 = oj_elf_prepare(o.image, o.image_size, WHAT, "L2.O2", &o2);
  if (st2 != ORCJIT_OK) die("the rewritten image is rejected", st2);
  check_ok(&o2, "L2.O2");
  if (o2.ninitfini != o.ninitfini) die("init/fini count changed", 0);
  if (o2.nundefined != o.nundefined) die("undefined count changed", 0);
  oj_elf_object_free(&o2);
  oj_elf_object_free(&o);
  free(buf);
  return 0;
}
