/*
** oj_resolve.c: where an undefined symbol of a library comes from once the
** library itself does not define it.  One ORC definition generator per
** JITDylib searches, in order:
**   1. the loader's own runtime shims: __cxa_atexit, so handlers registered
**      by a library run when that library is released; __tls_get_addr and
**      __cxa_thread_atexit(_impl) for thread-local storage (oj_tls.c);
**   2. the library's link order: each linked library's symbol table
**      (exported symbols only), read under that library's lock;
**   3. the host process (dlsym(RTLD_DEFAULT)): libc, libm, libstdc++,
**      libgcc, libtvm_ffi, Python.  A host thread-local found this way is
**      bound to an entry that oj_tls_get_addr resolves per thread.
**      For a library below 2 GiB (-fno-pic objects), a read-only data
**      object of the host (typeinfo such as _ZTIi, reached by absolute
**      32-bit relocations from exception tables) is bound to a copy below
**      2 GiB: a static linker's copy relocation, safe because nothing can
**      write either copy (C++ compares typeinfo by name, not address).
**      A host function is bound to a stub below 2 GiB that jumps to it
**      (like a PLT entry; its address then differs from the host's).
** What it finds is defined in the JITDylib as an absolute symbol and noted
** in the library's table as OJ_SYM_IMPORTED.  What it cannot find, if the
** reference is not weak, is collected per thread for the error message.
** The same search also runs inside JITLink (oj_resolve_external, called by
** the link plugin in glue/oj_link.cc): an undefined symbol of an object
** that the library itself does not define is bound there to its address,
** and ORC never looks it up.  That saves a nested ORC lookup per add, and
** ORC's per-JITDylib state for symbols that wait on other symbols (which
** LLVM 22 never shrinks, so every add scanned one entry per library that
** ever imported anything).  The generator remains for what the plugin
** leaves to ORC (weak references that nothing defines, and names missing
** everywhere, which it reports).
** The link order is a C-side substitute for JITDylib link order, which
** LLVM's C API cannot set; the library keeps every library it ever linked
** against alive, since the copied addresses point into them.
*/
#include <dlfcn.h>
#include <link.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/mman.h>
#include <stdlib.h>
#include <string.h>

#include "oj_arch.h"
#include "oj_internal.h"

/* ---- missing symbols of the current add, per thread -------------------- */

#define OJ_MISSING_MAX 2048
static _Thread_local char oj_missing[OJ_MISSING_MAX];
static _Thread_local size_t oj_missing_len;
static _Thread_local int oj_missing_count;

void oj_resolve_missing_reset(void) {
  oj_missing_len = 0;
  oj_missing_count = 0;
  oj_missing[0] = '\0';
}
const char *oj_resolve_missing(void) { return oj_missing; }
int oj_resolve_missing_count(void) { return oj_missing_count; }

static void oj_resolve_note_missing(const char *name) {
  size_t room = sizeof oj_missing - oj_missing_len;
  oj_missing_count++;
  if (room <= 4) return;
  int n = snprintf(oj_missing + oj_missing_len, room, "%s%s",
                   oj_missing_len ? ", " : "", name);
  if (n < 0) return;
  if ((size_t)n >= room) {
    memcpy(oj_missing + sizeof oj_missing - 4, "...", 4);
    oj_missing_len = sizeof oj_missing - 1;
  } else {
    oj_missing_len += (size_t)n;
  }
}

/* ---- the search -------------------------------------------------------- */

static uint64_t oj_resolve_shim(const char *name) { return oj_rtnames_shim(name); }

/* Whether p lies in the mapping of a loaded module.  _dl_find_object
** (glibc 2.35) answers from the same map ranges as dladdr, without the
** scan of the module's whole symbol table that dladdr does to name the
** nearest symbol: that scan was most of the load time of C++ objects,
** which import many libstdc++ symbols.  It is looked up at run time, so
** that the library still loads on an older glibc (the manylinux wheel),
** where dladdr answers instead. */
int oj_resolve_in_module(void *p) {
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 35))
  static _Atomic uintptr_t find; /* 0: not looked up yet, 1: absent */
  uintptr_t f = atomic_load_explicit(&find, memory_order_acquire);
  if (f == 0) {
    void *sym = dlsym(RTLD_DEFAULT, "_dl_find_object");
    f = sym ? (uintptr_t)sym : 1;
    atomic_store_explicit(&find, f, memory_order_release);
  }
  struct dl_find_object fo;
  if (f != 1) return ((int (*)(void *, struct dl_find_object *))f)(p, &fo) == 0;
#endif
  Dl_info info;
  return dladdr(p, &info) != 0;
}

/* dlsym, with host thread-locals (not inside any loaded module's image)
** replaced by their oj_tls entry. */
static uint64_t oj_resolve_host(const char *name) {
  void *p = dlsym(RTLD_DEFAULT, name);
  if (!p || oj_resolve_in_module(p)) return (uint64_t)(uintptr_t)p;
  uint64_t tls = oj_tls_host_entry(p);
  if (tls == UINT64_MAX) return 0; /* out of memory: left unresolved */
  return tls ? tls : (uint64_t)(uintptr_t)p;
}

/* ---- the session's cache of host addresses ----------------------------- */

/* dlsym took a third of the resolution of a C++ object's ~60 host names
** (libstdc++, libtvm_ffi), every load again.  A session keeps what it
** found, by name: host functions and data (not thread-locals, whose entry
** oj_tls makes).  A module loaded later cannot change what RTLD_DEFAULT
** finds for a name found already (the search goes in load order), but one
** unloaded can: the cache is emptied whenever glibc's count of unloads
** (dl_phdr_info.dlpi_subs) has moved, checked at each add
** (oj_resolve_sync) and each run of the definition generator. */
static int oj_resolve_phdr_subs(struct dl_phdr_info *info, size_t size, void *ctx) {
  *(uint64_t *)ctx = size >= offsetof(struct dl_phdr_info, dlpi_subs) + sizeof info->dlpi_subs
                         ? (uint64_t)info->dlpi_subs : UINT64_MAX;
  return 1; /* the counts are the same in every entry: one is enough */
}

void oj_resolve_sync(orcjit_session *s) {
  uint64_t subs = UINT64_MAX;
  dl_iterate_phdr(oj_resolve_phdr_subs, &subs);
  pthread_mutex_lock(&s->host_lock);
  if (subs != s->host_subs || subs == UINT64_MAX) {
    oj_symtab_free(&s->host_syms);
    s->host_subs = subs;
  }
  pthread_mutex_unlock(&s->host_lock);
}

static uint64_t oj_resolve_host_cached(orcjit_session *s, const char *name, uint32_t h) {
  pthread_mutex_lock(&s->host_lock);
  oj_symtab_entry *e = oj_symtab_find_h(&s->host_syms, name, h);
  uint64_t addr = e ? e->addr : 0;
  pthread_mutex_unlock(&s->host_lock);
  if (addr) return addr;
  void *p = dlsym(RTLD_DEFAULT, name);
  if (!p || !oj_resolve_in_module(p)) return oj_resolve_host(name);
  int created;
  pthread_mutex_lock(&s->host_lock);
  e = oj_symtab_insert_h(&s->host_syms, name, h, &created); /* NULL: not kept */
  if (e && created) e->addr = (uint64_t)(uintptr_t)p;
  pthread_mutex_unlock(&s->host_lock);
  return (uint64_t)(uintptr_t)p;
}

/* Never holds two library locks at once: entry i of the link order is read
** under lib->lock, which is then dropped before dep->lock is taken.  With
** A linking B and B linking A, adds into A and B on two threads would
** otherwise take the two locks in opposite orders and wait for each other
** for good.  dep stays valid without lib->lock: every library ever in
** lib's link order is held by lib (lib->held) until lib is destroyed. */
static uint64_t oj_resolve_linked(orcjit_library *lib, const char *name, uint32_t h) {
  uint64_t addr = 0;
  for (size_t i = 0; !addr; i++) {
    pthread_mutex_lock(&lib->lock);
    orcjit_library *dep = i < lib->nlink ? lib->link[i] : NULL;
    pthread_mutex_unlock(&lib->lock);
    if (!dep) break;
    if (dep == lib) continue;
    pthread_mutex_lock(&dep->lock);
    oj_symtab_entry *e = oj_symtab_find_h(&dep->syms, name, h);
    if (e && !(e->flags & (OJ_SYM_HIDDEN | OJ_SYM_IMPORTED))) addr = e->addr;
    pthread_mutex_unlock(&dep->lock);
  }
  return addr;
}

static void oj_resolve_note_import(orcjit_library *lib, const char *name, uint32_t h,
                                   uint64_t addr) {
  int created;
  pthread_mutex_lock(&lib->lock);
  oj_symtab_entry *e = oj_symtab_insert_h(&lib->syms, name, h, &created);
  if (e && created) {
    e->addr = addr;
    e->flags = OJ_SYM_IMPORTED | OJ_SYM_HIDDEN;
  }
  pthread_mutex_unlock(&lib->lock);
}

/* ---- copies of host read-only data for -fno-pic libraries -------------- */

#define OJ_LOWPAGE_SIZE ((size_t)64 << 10)
#define OJ_LOWCOPY_MAX ((size_t)4096)

struct oj_lowpage {
  struct oj_lowpage *next;
  size_t used;
  int sealed; /* stub pages: made read+execute, never written again */
};

/* Room for size bytes in the newest page of *list (a new one if it is
** full or sealed); NULL if no memory below 2 GiB.  Under lib->lock. */
static unsigned char *oj_lowpage_room(struct oj_lowpage **list, size_t size) {
  struct oj_lowpage *pg = *list;
  size_t at = pg ? (pg->used + 15) & ~(size_t)15 : 0;
  if (!pg || pg->sealed || at + size > OJ_LOWPAGE_SIZE) {
    void *m = MAP_FAILED;
#ifdef MAP_32BIT /* glibc: x86 only; a machine without a low window has none */
    if (oj_arch_host()->low_window)
      m = mmap(NULL, OJ_LOWPAGE_SIZE, PROT_READ | PROT_WRITE,
               MAP_PRIVATE | MAP_ANONYMOUS | MAP_32BIT, -1, 0);
#endif
    if (m == MAP_FAILED) return NULL;
    pg = m;
    pg->next = *list;
    pg->sealed = 0;
    *list = pg;
    at = (sizeof *pg + 15) & ~(size_t)15;
  }
  pg->used = at + size;
  return (unsigned char *)pg + at;
}

/* Makes the open stub page executable (at the end of a generator call). */
static void oj_lowpage_seal(orcjit_library *lib) {
  pthread_mutex_lock(&lib->lock);
  struct oj_lowpage *pg = lib->lowstubs;
  if (pg && !pg->sealed) {
    pg->sealed = 1;
    mprotect(pg, OJ_LOWPAGE_SIZE, PROT_READ | PROT_EXEC);
  }
  pthread_mutex_unlock(&lib->lock);
}

typedef struct oj_ro_probe {
  uintptr_t addr;
  size_t size;
  int readonly;
} oj_ro_probe;

static int oj_resolve_ro_module(struct dl_phdr_info *info, size_t size, void *ctx) {
  oj_ro_probe *p = ctx;
  int inside = 0, ro = 0;
  (void)size;
  for (int i = 0; i < info->dlpi_phnum; i++) {
    const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
    uintptr_t lo = info->dlpi_addr + ph->p_vaddr;
    if (ph->p_type != PT_LOAD && ph->p_type != PT_GNU_RELRO) continue;
    if (p->addr < lo || p->addr - lo > ph->p_memsz || ph->p_memsz - (p->addr - lo) < p->size)
      continue;
    inside = 1;
    if (ph->p_type == PT_GNU_RELRO || !(ph->p_flags & PF_W)) ro = 1;
  }
  p->readonly = inside && ro;
  return inside;
}

/* A host address reachable by 32-bit absolute relocations, for a library
** below 2 GiB: a copy of read-only data, or a stub for a function; 0 if
** p is neither (the link then fails with JITLink's out-of-range error). */
static uint64_t oj_resolve_low_copy(orcjit_library *lib, void *p) {
  Dl_info info;
  const ElfW(Sym) *sym = NULL;
  if ((uintptr_t)p < ((uintptr_t)1 << 31)) return 0;
  if (!dladdr1(p, &info, (void **)&sym, RTLD_DL_SYMENT) || !sym || info.dli_saddr != p)
    return 0;
  size_t size = sym->st_size;
  unsigned type = ELF64_ST_TYPE(sym->st_info);
  unsigned char *at = NULL;
  if (type == STT_FUNC || type == STT_GNU_IFUNC) {
    /* jmp *0(%rip); .quad p */
    static const unsigned char jmp[6] = {0xff, 0x25, 0, 0, 0, 0};
    pthread_mutex_lock(&lib->lock);
    at = oj_lowpage_room(&lib->lowstubs, 16);
    if (at) {
      memcpy(at, jmp, sizeof jmp);
      memcpy(at + sizeof jmp, &p, sizeof p);
    }
    pthread_mutex_unlock(&lib->lock);
    return (uint64_t)(uintptr_t)at;
  }
  if (type != STT_OBJECT || size == 0 || size > OJ_LOWCOPY_MAX) return 0;
  oj_ro_probe probe = {(uintptr_t)p, size, 0};
  dl_iterate_phdr(oj_resolve_ro_module, &probe);
  if (!probe.readonly) return 0;
  pthread_mutex_lock(&lib->lock);
  at = oj_lowpage_room(&lib->lowcopies, size);
  if (at) memcpy(at, p, size);
  pthread_mutex_unlock(&lib->lock);
  return (uint64_t)(uintptr_t)at;
}

void oj_resolve_free_copies(orcjit_library *lib) {
  struct oj_lowpage **lists[2] = {&lib->lowcopies, &lib->lowstubs};
  for (int i = 0; i < 2; i++)
    while (*lists[i]) {
      struct oj_lowpage *pg = *lists[i];
      *lists[i] = pg->next;
      munmap(pg, OJ_LOWPAGE_SIZE);
    }
}

/* "__orcjit.tpoff.<name>" (an initial-exec reference, oj_elf.h): the
** offset of the host's thread-local <name> from the thread pointer. */
static int oj_resolve_is_tpoff(const char *name) {
  return strncmp(name, OJ_ELF_TPOFF_PREFIX, sizeof OJ_ELF_TPOFF_PREFIX - 1) == 0;
}

static uint64_t oj_resolve_tpoff(orcjit_library *lib, const char *name) {
  name += sizeof OJ_ELF_TPOFF_PREFIX - 1;
  int loaded = 0;
  if (lib) {
    pthread_mutex_lock(&lib->lock);
    oj_symtab_entry *e = oj_symtab_find(&lib->syms, name);
    loaded = e && !(e->flags & OJ_SYM_IMPORTED);
    pthread_mutex_unlock(&lib->lock);
    loaded = loaded || oj_resolve_linked(lib, name, oj_symtab_hash(name));
  }
  if (loaded) {
    oj_tls_tpoff_refuse(name, "it is a thread-local of a loaded library, which only "
                              "general-dynamic code can reach from another object; rebuild "
                              "the object with -fPIC");
    return 0;
  }
  void *p = dlsym(RTLD_DEFAULT, name);
  if (!p || oj_resolve_in_module(p)) {
    oj_tls_tpoff_refuse(name, p ? "it is not a thread-local of the process; rebuild the "
                                  "object with -fPIC"
                                : "no library of the process defines it");
    return 0;
  }
  return oj_tls_host_tpoff(p, name);
}

/* Steps 1 to 3 of the search (and for a library below 2 GiB, a low copy
** or stub of what the host has); h: oj_symtab_hash(name). */
static uint64_t oj_resolve_find(orcjit_library *lib, const char *name, uint32_t h) {
  if (oj_resolve_is_tpoff(name)) return oj_resolve_tpoff(lib, name);
  uint64_t addr = oj_resolve_shim(name);
  if (!addr && lib) addr = oj_resolve_linked(lib, name, h);
  if (!addr) {
    addr = lib ? oj_resolve_host_cached(lib->session, name, h) : oj_resolve_host(name);
    uint64_t copy = addr && lib && atomic_load(&lib->low)
                        ? oj_resolve_low_copy(lib, (void *)(uintptr_t)addr) : 0;
    if (copy) addr = copy;
  }
  return addr;
}

static LLVMErrorRef oj_resolve_generate(LLVMOrcDefinitionGeneratorRef gen, void *ctx,
                                        LLVMOrcLookupStateRef *state,
                                        LLVMOrcLookupKind kind, LLVMOrcJITDylibRef jd,
                                        LLVMOrcJITDylibLookupFlags jdflags,
                                        LLVMOrcCLookupSet set, size_t n) {
  oj_slot *slot = ctx;
  orcjit_library *lib = atomic_load(&slot->lib);
  if (lib) oj_resolve_sync(lib->session);
  LLVMOrcCSymbolMapPair stack[16];
  LLVMOrcCSymbolMapPair *found = stack;
  if (n > sizeof stack / sizeof stack[0]) {
    found = malloc(n * sizeof *found);
    if (!found) return LLVMCreateStringError("out of memory resolving symbols");
  }
  size_t nfound = 0;
  for (size_t i = 0; i < n; i++) {
    const char *name = LLVMOrcSymbolStringPoolEntryStr(set[i].Name);
    uint32_t h = oj_symtab_hash(name);
    uint64_t addr = oj_resolve_find(lib, name, h);
    if (!addr) {
      if (set[i].LookupFlags != LLVMOrcSymbolLookupFlagsWeaklyReferencedSymbol)
        oj_resolve_note_missing(oj_resolve_is_tpoff(name) ? oj_tls_tpoff_why() : name);
      continue;
    }
    if (lib) oj_resolve_note_import(lib, name, h, addr);
    LLVMOrcRetainSymbolStringPoolEntry(set[i].Name);
    found[nfound].Name = set[i].Name;
    found[nfound].Sym.Address = addr;
    found[nfound].Sym.Flags.GenericFlags =
        LLVMJITSymbolGenericFlagsExported | LLVMJITSymbolGenericFlagsCallable;
    found[nfound].Sym.Flags.TargetFlags = 0;
    nfound++;
  }
  if (lib && atomic_load(&lib->low)) oj_lowpage_seal(lib);
  LLVMErrorRef err = NULL;
  if (nfound) {
    LLVMOrcMaterializationUnitRef mu = LLVMOrcAbsoluteSymbols(found, nfound);
    err = LLVMOrcJITDylibDefine(jd, mu);
  }
  if (found != stack) free(found);
  return err;
}

/* ---- in-graph resolution ---------------------------------------------- */

/* The adds running on this thread, innermost first. */
static _Thread_local oj_adding *oj_adding_top;

void oj_resolve_adding_push(oj_adding *a) {
  a->prev = oj_adding_top;
  oj_adding_top = a;
}

void oj_resolve_adding_pop(oj_adding *a) { oj_adding_top = a->prev; }

int oj_resolve_external(LLVMOrcJITDylibRef jd, LLVMOrcSymbolStringPoolEntryRef name,
                        uint64_t *addr) {
  oj_adding *a = oj_adding_top;
  if (!a || !a->lib->slot || a->lib->slot->jd != jd) return 0;
  /* A library below 2 GiB: the generator makes low copies and stubs. */
  if (atomic_load(&a->lib->low)) return 0;
  /* Defined in the JITDylib, by this add or an earlier one: ORC's. */
  if (a->defines(a->ctx, name)) return 0;
  const char *s = LLVMOrcSymbolStringPoolEntryStr(name);
  if (strncmp(s, "__orcjit.", 9) == 0 && !oj_resolve_is_tpoff(s)) return 0; /* markers */
  orcjit_library *lib = a->lib;
  uint32_t h = oj_symtab_hash(s); /* one hash for the three tables */
  pthread_mutex_lock(&lib->lock);
  oj_symtab_entry *e = oj_symtab_find_h(&lib->syms, s, h);
  int own = e && !(e->flags & OJ_SYM_IMPORTED);
  uint64_t known = e && !own ? e->addr : 0;
  pthread_mutex_unlock(&lib->lock);
  /* __dso_handle and atexit: an add that needs them has them in the
  ** JITDylib (oj_add_link_units), maybe only from this very lookup. */
  if (own || oj_rtnames_kind(s) == OJ_RT_OBJECT) return 0;
  if (!known) {
    known = oj_resolve_find(lib, s, h);
    if (!known) return 0; /* the generator reports it, or it is weak */
    oj_resolve_note_import(lib, s, h, known);
  }
  *addr = known;
  return 1;
}

static void oj_resolve_dispose(void *ctx) { (void)ctx; /* slots are freed by the session */ }

int oj_resolve_attach(oj_slot *slot) {
  LLVMOrcDefinitionGeneratorRef gen = LLVMOrcCreateCustomCAPIDefinitionGenerator(
      oj_resolve_generate, slot, oj_resolve_dispose);
  if (!gen) return oj_error_set(ORCJIT_ENOMEM, "cannot create symbol resolver");
  LLVMOrcJITDylibAddGenerator(slot->jd, gen);
  return ORCJIT_OK;
}
