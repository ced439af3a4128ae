/*
** oj_statictls.c: static thread-local storage for loaded objects, reserved
** and initialised by the C library.
**
** Initial-exec and local-exec code reaches a thread-local at a fixed
** offset from the thread pointer, the same in every thread.  Only the C
** library knows every thread (those that exist now and those to come), so
** the space is asked of it: a minimal ELF shared object is written to a
** memfd and dlopen'ed ("/proc/self/fd/N").  It has:
**   PT_LOAD     one read-write segment holding everything below;
**   PT_TLS      the object's TLS block: its initial image (.tdata) and
**               size (.tbss included), at the block's alignment;
**   PT_DYNAMIC  a symbol table with the null symbol only, a hash table,
**               DT_FLAGS = DF_STATIC_TLS, and one relocation, the
**               machine's "offset from the thread pointer" type (x86-64:
**               R_X86_64_TPOFF64) against the module's own block;
**   PT_GNU_STACK  read-write (without it the C library would make every
**               thread's stack executable).
** Relocating that word makes glibc place the block in its surplus static
** TLS (or fail: "cannot allocate memory in static TLS block") and store
** the block's offset from the thread pointer in it.  glibc copies the
** initial image into every existing thread (it walks its thread list)
** and into each thread created later, and dlclose gives the space back
** when it is the most recently reserved (glibc reuses static TLS only
** from the top).  The memfd stays open while the module is loaded: glibc
** finds an already loaded object by its name, and a reused descriptor
** number would name the old module.
**
** It does not decide which objects need static TLS (oj_elf_tls.c) or
** patch code (oj_elf_tls_static_apply).
*/
#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <link.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "oj_arch.h"
#include "oj_error.h"
#include "oj_statictls.h"
#include "tvm_ffi_orcjit/orcjit.h"

struct oj_statictls {
  void *handle;
  int fd;
  int64_t tpoff;
};

/* The image of the shared object, laid out as described above. */
enum { OJ_ST_PHNUM = 4, OJ_ST_DYNNUM = 10 };
typedef struct oj_st_head {
  Elf64_Ehdr eh;
  Elf64_Phdr ph[OJ_ST_PHNUM];
  Elf64_Dyn dyn[OJ_ST_DYNNUM];
  Elf64_Sym sym[1];
  uint32_t hash[4]; /* nbucket 1, nchain 1, bucket, chain */
  Elf64_Rela rela[1];
  int64_t word;     /* the relocated offset */
  char str[8];
} oj_st_head;

static unsigned char *oj_st_build(const oj_arch *arch, const void *init, uint64_t initsz,
                                  uint64_t size, uint64_t align, size_t *outsz) {
  if (align < 8) align = 8;
  uint64_t tdata = (sizeof(oj_st_head) + align - 1) & ~(align - 1);
  size_t total = (size_t)(tdata + initsz);
  unsigned char *img = calloc(1, total);
  if (!img) return NULL;
  oj_st_head *h = (oj_st_head *)img;
#define AT(field) ((Elf64_Addr)offsetof(oj_st_head, field))
  oj_arch_elf_header(arch, &h->eh, ET_DYN);
  h->eh.e_phoff = AT(ph);
  h->eh.e_phentsize = sizeof(Elf64_Phdr);
  h->eh.e_phnum = OJ_ST_PHNUM;
  Elf64_Phdr *ph = h->ph;
  ph[0] = (Elf64_Phdr){PT_LOAD, PF_R | PF_W, 0, 0, 0, total, total, 4096};
  ph[1] = (Elf64_Phdr){PT_DYNAMIC, PF_R | PF_W, AT(dyn), AT(dyn), AT(dyn),
                       sizeof h->dyn, sizeof h->dyn, 8};
  ph[2] = (Elf64_Phdr){PT_TLS, PF_R, tdata, tdata, tdata, initsz, size, align};
  ph[3] = (Elf64_Phdr){PT_GNU_STACK, PF_R | PF_W, 0, 0, 0, 0, 0, 16};
  Elf64_Dyn *d = h->dyn;
  d[0] = (Elf64_Dyn){DT_HASH, {AT(hash)}};
  d[1] = (Elf64_Dyn){DT_STRTAB, {AT(str)}};
  d[2] = (Elf64_Dyn){DT_SYMTAB, {AT(sym)}};
  d[3] = (Elf64_Dyn){DT_STRSZ, {sizeof h->str}};
  d[4] = (Elf64_Dyn){DT_SYMENT, {sizeof(Elf64_Sym)}};
  d[5] = (Elf64_Dyn){DT_RELA, {AT(rela)}};
  d[6] = (Elf64_Dyn){DT_RELASZ, {sizeof h->rela}};
  d[7] = (Elf64_Dyn){DT_RELAENT, {sizeof(Elf64_Rela)}};
  d[8] = (Elf64_Dyn){DT_FLAGS, {DF_STATIC_TLS}};
  d[9] = (Elf64_Dyn){DT_NULL, {0}};
  h->hash[0] = 1; /* one bucket, one chain entry (the null symbol) */
  h->hash[1] = 1;
  h->rela[0].r_offset = AT(word);
  h->rela[0].r_info = ELF64_R_INFO(0, arch->r_tpoff64);
  h->rela[0].r_addend = 0;
#undef AT
  if (initsz) memcpy(img + tdata, init, (size_t)initsz);
  *outsz = total;
  return img;
}

/* Loads the module; NULL with *why (dlerror's text, or errno's) on failure. */
static oj_statictls *oj_st_load(const void *init, uint64_t initsz, uint64_t size,
                                uint64_t align, char *why, size_t whysz) {
  const oj_arch *arch = oj_arch_host();
  size_t n = 0;
  unsigned char *img = oj_st_build(arch, init, initsz, size, align, &n);
  oj_statictls *s = calloc(1, sizeof *s);
  int fd = img && s ? memfd_create("tvm-ffi-orcjit-tls", MFD_CLOEXEC) : -1;
  if (fd < 0) {
    snprintf(why, whysz, "%s", img && s ? strerror(errno) : "out of memory");
    goto fail;
  }
  for (size_t done = 0; done < n;) {
    ssize_t w = write(fd, img + done, n - done);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) {
      snprintf(why, whysz, "writing the memfd: %s", strerror(errno));
      goto fail;
    }
    done += (size_t)w;
  }
  char path[64];
  snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
  s->handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  if (!s->handle) {
    const char *e = dlerror();
    snprintf(why, whysz, "%s", e ? e : "dlopen failed");
    goto fail;
  }
  struct link_map *lm = NULL;
  if (dlinfo(s->handle, RTLD_DI_LINKMAP, &lm) != 0 || !lm) {
    snprintf(why, whysz, "dlinfo failed");
    goto fail;
  }
  memcpy(&s->tpoff, (const unsigned char *)lm->l_addr + offsetof(oj_st_head, word),
         sizeof s->tpoff);
  s->fd = fd;
  free(img);
  return s;
fail:
  if (s && s->handle) dlclose(s->handle);
  if (fd >= 0) close(fd);
  free(s);
  free(img);
  return NULL;
}

void oj_statictls_free(oj_statictls *s) {
  if (!s) return;
  dlclose(s->handle);
  close(s->fd);
  free(s);
}

int64_t oj_statictls_tpoff(const oj_statictls *s) { return s->tpoff; }

/* The largest block (alignment align) the C library can still place, by
** bisection over trial loads (each given back at once). */
static uint64_t oj_st_available(uint64_t below, uint64_t align) {
  uint64_t lo = 0, hi = below; /* lo fits (0 trivially), hi does not */
  char why[256];
  while (hi - lo > 16) {
    uint64_t mid = lo + (hi - lo) / 2;
    oj_statictls *s = oj_st_load(NULL, 0, mid, align, why, sizeof why);
    if (s) {
      oj_statictls_free(s);
      lo = mid;
    } else {
      hi = mid;
    }
  }
  return lo;
}

int oj_statictls_alloc(const void *init, uint64_t initsz, uint64_t size, uint64_t align,
                       oj_statictls **out) {
  char why[512];
  *out = oj_st_load(init, initsz, size, align, why, sizeof why);
  if (*out) return ORCJIT_OK;
  if (strstr(why, "static TLS")) {
    uint64_t avail = oj_st_available(size, align);
    /* The tunable (default 512) sets the surplus reserved at start-up. */
    return oj_error_set(ORCJIT_EUNSUPPORTED,
                        "its initial-exec/local-exec thread-locals need %llu bytes of static "
                        "TLS (alignment %llu), and the C library has about %llu left; start "
                        "the process with more (GLIBC_TUNABLES=glibc.rtld.optional_static_tls="
                        "%llu; the default is 512) or rebuild the object with -fPIC "
                        "(general-dynamic TLS, no such limit)",
                        (unsigned long long)size, (unsigned long long)align,
                        (unsigned long long)avail, (unsigned long long)(size + align + 512));
  }
  /* Memory (ours, the memfd's pages, or the dynamic loader's) ran out: a
  ** retry may succeed, so it is ENOMEM, not a refusal of the object. */
  int nomem = strcmp(why, "out of memory") == 0 || strstr(why, strerror(ENOMEM)) != NULL ||
              strstr(why, "out of memory") != NULL;
  return oj_error_set(nomem ? ORCJIT_ENOMEM : ORCJIT_EUNSUPPORTED,
                      "cannot reserve static TLS for its initial-exec/local-exec "
                      "thread-locals (%s)%s",
                      why, nomem ? "" : "; rebuild the object with -fPIC");
}
