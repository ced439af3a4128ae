/*
** fuzz_elf.c: libFuzzer target for the ELF pre-pass (src/oj_elf*.c), the code
** that reads untrusted object bytes before anything else does.
**
** Linked with the pre-pass files and src/oj_error.c only: no LLVM, no JIT, nothing
** of the input is ever executed.  Besides "no crash, no leak, no UB" it checks
** the contract written in oj_elf.h:
**   - on failure: a known status, a message that starts with the input name,
**     and *out left zeroed (nothing to free);
**   - on success: an image, every name readable, marker names built from the
**     tag, init/fini kinds in range;
**   - the rewritten image is itself accepted by oj_elf_prepare, with the
**     same number of init/fini sections (it is what JITLink will be given),
**     once its marker names are renamed (an input may not use their prefix);
**   - every RELA relocation of an accepted object patches bytes inside its
**     target section (allocated or not: a live block can keep an unloaded
**     one in the link graph) (JITLink 22 writes wherever
**     r_offset says: an accepted out-of-range r_offset is a wild write in
**     the host).  FUZZ_ELF_NO_RELOC_CHECK=1 turns this check off, to look
**     for other bugs while that one is open.
** An input that starts like a tar or gzip data (oj_tar_is) goes to the tar
** reader instead (src/oj_tar.c, src/oj_gzip.c): on failure a known status
** and a message starting with the input name; on success every member
** named "<input>(...)", its bytes inside the input (or its decompressed
** copy), and each member through the pre-pass as above.
** The input is copied to an odd address whose last byte ends the heap block,
** so ASan sees every overread and UBSan every misaligned access.
*/
#include <elf.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oj_elf.h"
#include "oj_error.h"
#include "oj_tar.h"
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

/* Bytes a relocation type patches (x86-64 psABI); 4 for anything else. */
static uint64_t reloc_width(uint32_t type) {
  switch (type) {
  case R_X86_64_NONE: return 0;
  case R_X86_64_64: case R_X86_64_PC64: case R_X86_64_GOTOFF64:
  case R_X86_64_GOTPC64: case R_X86_64_GOTPCREL64: case R_X86_64_GOT64:
  case R_X86_64_PLTOFF64: case R_X86_64_DTPMOD64: case R_X86_64_DTPOFF64:
  case R_X86_64_TPOFF64: case R_X86_64_SIZE64: case R_X86_64_RELATIVE:
  case R_X86_64_GLOB_DAT: case R_X86_64_JUMP_SLOT: case R_X86_64_IRELATIVE:
  case R_X86_64_RELATIVE64: case R_X86_64_GOTPLT64:
    return 8;
  case R_X86_64_16: case R_X86_64_PC16: return 2;
  case R_X86_64_8: case R_X86_64_PC8: return 1;
  default: return 4;
  }
}

/* The input was accepted: does every RELA entry stay inside its target? */
static void check_reloc_ranges(const unsigned char *d, size_t n) {
  Elf64_Ehdr eh;
  memcpy(&eh, d, sizeof eh);
  /* e_shoff 0: no section table (then e_shnum 0 does not mean "see
  ** section 0"); and the table must lie inside the input. */
  if (eh.e_shoff == 0 || eh.e_shoff > n) return;
  uint64_t room = (n - eh.e_shoff) / sizeof(Elf64_Shdr); /* headers that fit */
  uint64_t shnum = eh.e_shnum;
  if (shnum == 0 && room > 0) {
    Elf64_Shdr s0;
    memcpy(&s0, d + eh.e_shoff, sizeof s0);
    shnum = s0.sh_size;
  }
  if (shnum > room) shnum = room;
  for (uint64_t i = 0; i < shnum; i++) {
    Elf64_Shdr rs, ts;
    memcpy(&rs, d + eh.e_shoff + i * sizeof rs, sizeof rs);
    if (rs.sh_type != SHT_RELA || rs.sh_info >= shnum) continue;
    memcpy(&ts, d + eh.e_shoff + (uint64_t)rs.sh_info * sizeof ts, sizeof ts);
    if (rs.sh_offset > n || rs.sh_size > n - rs.sh_offset) continue;
    for (uint64_t k = 0; k + sizeof(Elf64_Rela) <= rs.sh_size; k += sizeof(Elf64_Rela)) {
      Elf64_Rela r;
      memcpy(&r, d + rs.sh_offset + k, sizeof r);
      uint64_t w = reloc_width(ELF64_R_TYPE(r.r_info));
      if (w == 0) continue;
      if (ts.sh_type == SHT_NOBITS || r.r_offset > ts.sh_size ||
          w > ts.sh_size - r.r_offset) {
        fprintf(stderr, "fuzz_elf: relocation %llu of section %llu: type %u at "
                "offset 0x%llx patches %llu bytes outside section %u (size 0x%llx%s)\n",
                (unsigned long long)(k / sizeof r), (unsigned long long)i,
                (unsigned)ELF64_R_TYPE(r.r_info), (unsigned long long)r.r_offset,
                (unsigned long long)w, rs.sh_info, (unsigned long long)ts.sh_size,
                ts.sh_type == SHT_NOBITS ? ", NOBITS" : "");
        die("relocation outside its section accepted", 0);
      }
    }
  }
}

static int is_zero(const void *p, size_t n) {
  const unsigned char *b = p;
  while (n--)
    if (*b++) return 0;
  return 1;
}

/* A copy of the image whose marker names ("__orcjit.", which the pre-pass
** refuses in an input) read "__orcjiT." in the symbol string table, so that
** the image can go through oj_elf_prepare again.  The image is well formed
** (the pre-pass wrote it). */
static unsigned char *unmark(const unsigned char *img, size_t n, size_t *ntpoff) {
  static const char prefix[] = OJ_ELF_MARKER_PREFIX, tpoff[] = OJ_ELF_TPOFF_PREFIX;
  const size_t plen = sizeof prefix - 1, tlen = sizeof tpoff - 1;
  *ntpoff = 0;
  unsigned char *c = malloc(n ? n : 1);
  Elf64_Ehdr eh;
  Elf64_Shdr sh, str;
  uint64_t shnum;
  if (!c) return NULL;
  memcpy(c, img, n);
  memcpy(&eh, c, sizeof eh);
  if (eh.e_shoff == 0) return c; /* no section table (nor symbols) */
  memcpy(&sh, c + eh.e_shoff, sizeof sh);
  shnum = eh.e_shnum ? eh.e_shnum : sh.sh_size;
  for (uint64_t i = 1; i < shnum; i++) {
    memcpy(&sh, c + eh.e_shoff + i * sizeof sh, sizeof sh);
    if (sh.sh_type != SHT_SYMTAB) continue;
    memcpy(&str, c + eh.e_shoff + (uint64_t)sh.sh_link * sizeof str, sizeof str);
    /* The undefined names of initial-exec references to host thread-locals
    ** (one each): undefined in the image only.  Counted by symbol, not by
    ** string: the table may also hold section names, and an input's
    ** section may be named anything (found by fuzz_elf in CI). */
    for (uint64_t j = sh.sh_info; (j + 1) * sizeof(Elf64_Sym) <= sh.sh_size; j++) {
      Elf64_Sym sym;
      memcpy(&sym, c + sh.sh_offset + j * sizeof sym, sizeof sym);
      if (sym.st_shndx == SHN_UNDEF && sym.st_name < str.sh_size &&
          str.sh_size - sym.st_name >= tlen &&
          memcmp(c + str.sh_offset + sym.st_name, tpoff, tlen) == 0)
        ++*ntpoff;
    }
    for (uint64_t k = 0; k + plen <= str.sh_size; k++) {
      if (memcmp(c + str.sh_offset + k, prefix, plen) != 0) continue;
      c[str.sh_offset + k + plen - 2] = 'T';
    }
  }
  return c;
}

/* A tar: the reader's contract, then each member through the pre-pass. */
static void fuzz_tar(const unsigned char *in, size_t size) {
  oj_tar t;
  oj_elf_object o;
  int st;
  oj_error_clear();
  st = oj_tar_open(in, size, WHAT, &t);
  if (st != ORCJIT_OK) {
    if (st != ORCJIT_EFORMAT && st != ORCJIT_ENOMEM) die("tar: unexpected status", st);
    if (oj_error_status() != st) die("tar: status not recorded", st);
    if (strncmp(oj_error_message(), WHAT ": ", sizeof WHAT + 1) != 0)
      die("tar: message does not start with the input name", st);
    if (!is_zero(&t, sizeof t)) die("tar: failed open left *out non-zero", st);
    return;
  }
  if (t.nobjects == 0 || t.nobjects > t.nfiles) die("tar: member counts", 0);
  const unsigned char *lo = t.plain ? t.plain : in;
  for (size_t i = 0; i < t.nobjects; i++) {
    const oj_tar_member *m = &t.objects[i];
    if (strncmp(m->name, WHAT "(", sizeof WHAT) != 0) die("tar: member name", 0);
    if (m->data < lo || (!t.plain && m->size > (size_t)(in + size - m->data)))
      die("tar: member outside the input", 0);
    if (m->size) (void)(volatile unsigned char)m->data[m->size - 1];
    if (oj_elf_prepare(m->data, m->size, m->name, "L1.O1", 0, &o) == ORCJIT_OK) {
      check_ok(&o, "L1.O1");
      oj_elf_object_free(&o);
    }
  }
  oj_tar_close(&t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  unsigned char *buf = malloc(size + 1);
  unsigned char *in = buf + 1; /* odd address, ends the block */
  oj_elf_object o, o2;
  int st, st2;
  if (!buf) return 0;
  memcpy(in, data, size);
  (void)oj_elf_classify(in, size);
  if (oj_tar_is(in, size)) {
    fuzz_tar(in, size);
    free(buf);
    return 0;
  }

  oj_error_clear();
  st = oj_elf_prepare(in, size, WHAT, "L1.O1", (size & 1) ? OJ_ELF_KEEP_DEBUG : 0, &o);
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
  if (!getenv("FUZZ_ELF_NO_RELOC_CHECK")) check_reloc_ranges(in, size);

  /* The image goes to JITLink: it must pass the same validation, its own
  ** marker names aside. */
  size_t ntpoff;
  unsigned char *img = unmark(o.image, o.image_size, &ntpoff);
  if (!img) {
    oj_elf_object_free(&o);
    free(buf);
    return 0;
  }
  st2 = oj_elf_prepare(img, o.image_size, WHAT, "L2.O2", 0, &o2);
  free(img);
  if (st2 != ORCJIT_OK) die("the rewritten image is rejected", st2);
  check_ok(&o2, "L2.O2");
  if (o2.ninitfini != o.ninitfini) die("init/fini count changed", 0);
  if (o2.nundefined != o.nundefined + ntpoff) die("undefined count changed", 0);
  oj_elf_object_free(&o2);
  oj_elf_object_free(&o);
  free(buf);
  return 0;
}
