/*
** test_debug.c: debugger and profiler support (ORCJIT_SESSION_DEBUGGER,
** ORCJIT_SESSION_PERF_MAP and their environment variables).
**   debugger      the GDB JIT interface as gdb reads it: one registered ELF
**                 per linked object, whose section addresses place its
**                 symbols where orcjit_library_lookup finds them; gone at
**                 release and after a failed add; nothing without the flag
**   perf_map      /tmp/perf-<pid>.map has every function of every object,
**                 at the looked-up address, from several threads and
**                 sessions, in whole lines; no data symbols
**   gdb           runs gdb in batch mode on `orcjit_c_tests debug_target`:
**                 a pending breakpoint on a JIT function is hit, the
**                 backtrace names it and its JIT caller, again after the
**                 library is released and loaded anew, and the process
**                 exits normally.  Skipped (exit 77) when gdb is missing
**   debug_target  the program gdb runs (not a ctest entry of its own)
**   debugger_sections  an object of more than 65,280 sections (extended
**                 section numbering: e_shnum 0, SHN_XINDEX symbols) gets its
**                 entry, which places its symbols where lookups find them
*/
#define _GNU_SOURCE /* dladdr */
#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <unistd.h>

#include "oj_test.h"

/* ---- the GDB JIT interface, read as gdb reads it ------------------------ */

struct jit_code_entry {
  struct jit_code_entry *next_entry;
  struct jit_code_entry *prev_entry;
  const char *symfile_addr;
  uint64_t symfile_size;
};

struct jit_descriptor {
  uint32_t version;
  uint32_t action_flag;
  struct jit_code_entry *relevant_entry;
  struct jit_code_entry *first_entry;
};

/* The descriptor that tvm_ffi_orcjit uses: LLVM's, found from our library
** (in it when LLVM is linked statically, else in its libLLVM). */
static struct jit_descriptor *descriptor(void) {
  Dl_info info;
  REQUIRE(dladdr((void *)&orcjit_session_create, &info) && info.dli_fname);
  void *h = dlopen(info.dli_fname, RTLD_NOW | RTLD_NOLOAD);
  REQUIRE(h != NULL);
  struct jit_descriptor *d = dlsym(h, "__jit_debug_descriptor");
  void *fn = dlsym(h, "__jit_debug_register_code");
  dlclose(h);
  REQUIRE(d != NULL && fn != NULL); /* exported, where gdb looks for them */
  CHECK_EQ(d->version, 1);
  return d;
}

static int count_entries(const struct jit_descriptor *d) {
  int n = 0;
  const struct jit_code_entry *prev = NULL;
  for (const struct jit_code_entry *e = d->first_entry; e; e = e->next_entry) {
    CHECK(e->prev_entry == prev); /* a well-formed doubly linked list */
    prev = e;
    n++;
  }
  return n;
}

/* The address gdb computes for symbol `name` of a registered relocatable
** ELF: sh_addr of its section + st_value.  0 if absent or undefined.
** *marker_defined is set when a loader marker (__orcjit.*) is defined. */
static uint64_t elf_symbol_addr(const struct jit_code_entry *e, const char *name,
                                int *marker_defined) {
  const unsigned char *img = (const unsigned char *)e->symfile_addr;
  size_t size = e->symfile_size;
  Elf64_Ehdr eh;
  REQUIRE(size >= sizeof eh);
  memcpy(&eh, img, sizeof eh);
  REQUIRE(memcmp(eh.e_ident, ELFMAG, SELFMAG) == 0 && eh.e_type == ET_REL);
  REQUIRE(eh.e_shoff + (uint64_t)eh.e_shnum * sizeof(Elf64_Shdr) <= size);
  const Elf64_Shdr *sh = (const Elf64_Shdr *)(img + eh.e_shoff);
  uint64_t found = 0;
  for (unsigned i = 0; i < eh.e_shnum; i++) {
    if (sh[i].sh_type != SHT_SYMTAB) continue;
    REQUIRE(sh[i].sh_link < eh.e_shnum);
    const Elf64_Shdr *str = &sh[sh[i].sh_link];
    REQUIRE(sh[i].sh_offset + sh[i].sh_size <= size && str->sh_offset + str->sh_size <= size);
    const Elf64_Sym *syms = (const Elf64_Sym *)(img + sh[i].sh_offset);
    for (size_t k = 0; k < sh[i].sh_size / sizeof(Elf64_Sym); k++) {
      REQUIRE(syms[k].st_name < str->sh_size);
      const char *n = (const char *)img + str->sh_offset + syms[k].st_name;
      if (syms[k].st_shndx == SHN_UNDEF || syms[k].st_shndx >= eh.e_shnum) continue;
      if (marker_defined && strncmp(n, "__orcjit.", 9) == 0) *marker_defined = 1;
      if (strcmp(n, name) == 0) found = sh[syms[k].st_shndx].sh_addr + syms[k].st_value;
    }
  }
  return found;
}

/* The entry whose ELF places `symbol` at addr, or NULL. */
static const struct jit_code_entry *entry_for(const struct jit_descriptor *d,
                                              const char *symbol, void *addr) {
  for (const struct jit_code_entry *e = d->first_entry; e; e = e->next_entry)
    if (elf_symbol_addr(e, symbol, NULL) == (uint64_t)(uintptr_t)addr) return e;
  return NULL;
}

static orcjit_session *session_with(unsigned flags) {
  orcjit_session_options o;
  memset(&o, 0, sizeof o);
  o.struct_size = sizeof o;
  o.flags = flags;
  orcjit_session *s = NULL;
  REQUIRE_OK(orcjit_session_create(&o, &s));
  return s;
}

static void *lookup(orcjit_library *lib, const char *name) {
  void *p = NULL;
  CHECK_OK(orcjit_library_lookup(lib, name, &p));
  CHECK(p != NULL);
  return p;
}

static int env_on(const char *name) {
  const char *v = getenv(name);
  return v && *v && strcmp(v, "0") != 0;
}

void ojt_case_debugger(void) {
  struct jit_descriptor *d = descriptor();
  int n0 = count_entries(d);

  ojt_step("one entry per linked object");
  orcjit_session *s = session_with(ORCJIT_SESSION_DEBUGGER);
  orcjit_library *a = ojt_new_library(s, "dbg_a");
  REQUIRE_OK(orcjit_library_add_file(a, ojt_obj("dbg.o")));
  CHECK_EQ(count_entries(d), n0 + 1);
  void *target = lookup(a, "oj_dbg_target");
  void *data = lookup(a, "oj_dbg_data");
  const struct jit_code_entry *e = d->first_entry;
  REQUIRE(e != NULL && e->symfile_size > 0);
  int marker = 0;
  CHECK_EQ(elf_symbol_addr(e, "oj_dbg_target", &marker), (uintptr_t)target);
  CHECK_EQ(elf_symbol_addr(e, "oj_dbg_outer", NULL), (uintptr_t)lookup(a, "oj_dbg_outer"));
  CHECK_EQ(elf_symbol_addr(e, "oj_dbg_data", NULL), (uintptr_t)data);
  CHECK_EQ(*(int *)data, 17);
  CHECK(!marker); /* the loader's markers are not shown to gdb */
  CHECK_EQ(((int (*)(int))lookup(a, "oj_dbg_outer"))(4), 32);

  ojt_step("a second object, a failed add");
  REQUIRE_OK(orcjit_library_add_file(a, ojt_obj("add.o")));
  CHECK_EQ(count_entries(d), n0 + 2);
  CHECK(entry_for(d, "oj_plain_mul", lookup(a, "oj_plain_mul")) != NULL);
  CHECK_STATUS(orcjit_library_add_file(a, ojt_obj("unres.o")), ORCJIT_EUNRESOLVED);
  CHECK_EQ(count_entries(d), n0 + 2);

  ojt_step("release unregisters");
  orcjit_library *b = ojt_new_library(s, "dbg_b");
  REQUIRE_OK(orcjit_library_add_file(b, ojt_obj("dbg.o")));
  CHECK_EQ(count_entries(d), n0 + 3);
  void *target_b = lookup(b, "oj_dbg_target");
  orcjit_library_release(a);
  CHECK_EQ(count_entries(d), n0 + 1);
  CHECK(entry_for(d, "oj_dbg_target", target_b) != NULL);
  CHECK(entry_for(d, "oj_dbg_target", target) == NULL);

  ojt_step("released code is not placed again at the same address");
  orcjit_library *c = ojt_new_library(s, "dbg_c");
  REQUIRE_OK(orcjit_library_add_file(c, ojt_obj("dbg.o")));
  CHECK(lookup(c, "oj_dbg_target") != target);
  CHECK_EQ(((int (*)(int))lookup(c, "oj_dbg_outer"))(4), 32);
  orcjit_library_release(c);
  orcjit_library_release(b);
  CHECK_EQ(count_entries(d), n0);

  ojt_step("nothing without the flag; struct_size of an older header");
  if (!env_on("TVM_FFI_ORCJIT_DEBUG")) {
    orcjit_session_options o;
    memset(&o, 0, sizeof o);
    o.struct_size = offsetof(orcjit_session_options, flags); /* 0.1 layout */
    o.flags = ORCJIT_SESSION_DEBUGGER;                       /* not read */
    orcjit_session *plain = NULL;
    REQUIRE_OK(orcjit_session_create(&o, &plain));
    orcjit_library *p = ojt_new_library(plain, "plain");
    REQUIRE_OK(orcjit_library_add_file(p, ojt_obj("dbg.o")));
    CHECK_EQ(count_entries(d), n0);
    orcjit_library_release(p);
    orcjit_session_release(plain);

    ojt_step("TVM_FFI_ORCJIT_DEBUG=1 turns it on for new sessions");
    setenv("TVM_FFI_ORCJIT_DEBUG", "1", 1);
    orcjit_session *env = ojt_new_session();
    unsetenv("TVM_FFI_ORCJIT_DEBUG");
    orcjit_library *q = ojt_new_library(env, "env");
    REQUIRE_OK(orcjit_library_add_file(q, ojt_obj("dbg.o")));
    CHECK_EQ(count_entries(d), n0 + 1);
    orcjit_library_release(q);
    CHECK_EQ(count_entries(d), n0);
    orcjit_session_release(env);
  }

  ojt_step("the end of a session unregisters what is left");
  orcjit_library *last = ojt_new_library(s, "dbg_last");
  REQUIRE_OK(orcjit_library_add_file(last, ojt_obj("dbg.o")));
  CHECK_EQ(count_entries(d), n0 + 1);
  orcjit_session_release(s);
  CHECK_EQ(count_entries(d), n0 + 1); /* the library holds the session */
  orcjit_library_release(last);
  CHECK_EQ(count_entries(d), n0);
}

/* ---- extended section numbering ------------------------------------------ */

/* As elf_symbol_addr, reading extended numbering as ELF says: the section
** count in section 0 when e_shnum is 0, a symbol's section in the
** SHT_SYMTAB_SHNDX table when st_shndx is SHN_XINDEX. */
static uint64_t elf_symbol_addr_x(const struct jit_code_entry *e, const char *name,
                                  int *marker_defined) {
  const unsigned char *img = (const unsigned char *)e->symfile_addr;
  size_t size = e->symfile_size;
  Elf64_Ehdr eh;
  REQUIRE(size >= sizeof eh);
  memcpy(&eh, img, sizeof eh);
  REQUIRE(memcmp(eh.e_ident, ELFMAG, SELFMAG) == 0 && eh.e_type == ET_REL);
  REQUIRE(eh.e_shoff != 0 && eh.e_shoff + sizeof(Elf64_Shdr) <= size);
  const Elf64_Shdr *sh = (const Elf64_Shdr *)(img + eh.e_shoff);
  uint64_t n = eh.e_shnum ? eh.e_shnum : sh[0].sh_size;
  REQUIRE(eh.e_shoff + n * sizeof(Elf64_Shdr) <= size);
  const uint32_t *xindex = NULL;
  for (uint64_t i = 0; i < n; i++)
    if (sh[i].sh_type == SHT_SYMTAB_SHNDX) xindex = (const uint32_t *)(img + sh[i].sh_offset);
  uint64_t found = 0;
  for (uint64_t i = 0; i < n; i++) {
    if (sh[i].sh_type != SHT_SYMTAB) continue;
    REQUIRE(sh[i].sh_link < n);
    const Elf64_Shdr *str = &sh[sh[i].sh_link];
    REQUIRE(sh[i].sh_offset + sh[i].sh_size <= size && str->sh_offset + str->sh_size <= size);
    const Elf64_Sym *syms = (const Elf64_Sym *)(img + sh[i].sh_offset);
    for (size_t k = 0; k < sh[i].sh_size / sizeof(Elf64_Sym); k++) {
      REQUIRE(syms[k].st_name < str->sh_size);
      const char *nm = (const char *)img + str->sh_offset + syms[k].st_name;
      uint32_t sec = syms[k].st_shndx;
      if (sec == SHN_XINDEX) {
        REQUIRE(xindex != NULL);
        sec = xindex[k];
      } else if (sec >= SHN_LORESERVE) {
        continue;
      }
      if (sec == SHN_UNDEF || sec >= n) continue;
      if (marker_defined && strncmp(nm, "__orcjit.", 9) == 0) *marker_defined = 1;
      if (strcmp(nm, name) == 0) found = sh[sec].sh_addr + syms[k].st_value;
    }
  }
  return found;
}

void ojt_case_debugger_sections(void) {
  struct jit_descriptor *d = descriptor();
  int n0 = count_entries(d);

  ojt_step("66,000 functions in as many sections: one entry");
  orcjit_session *s = session_with(ORCJIT_SESSION_DEBUGGER);
  orcjit_library *lib = ojt_new_library(s, "many");
  REQUIRE_OK(orcjit_library_add_file(lib, ojt_misc("manysec.o")));
  void *first = lookup(lib, "oj_many_00000");
  void *mid = lookup(lib, "oj_many_65280"); /* past SHN_LORESERVE either way */
  void *last = lookup(lib, "oj_many_65999");
  CHECK_EQ(((int (*)(void))first)(), 100000);
  CHECK_EQ(((int (*)(void))last)(), 165999);
  CHECK_EQ(count_entries(d), n0 + 1);
  const struct jit_code_entry *e = d->first_entry;
  REQUIRE(e != NULL && e->symfile_size > sizeof(Elf64_Ehdr));
  Elf64_Ehdr eh;
  memcpy(&eh, e->symfile_addr, sizeof eh);
  CHECK_EQ(eh.e_shnum, 0); /* the input really uses extended numbering */

  ojt_step("its symbols are where lookups find them, markers hidden");
  int marker = 0;
  CHECK_EQ(elf_symbol_addr_x(e, "oj_many_00000", &marker), (uintptr_t)first);
  CHECK_EQ(elf_symbol_addr_x(e, "oj_many_65280", NULL), (uintptr_t)mid);
  CHECK_EQ(elf_symbol_addr_x(e, "oj_many_65999", NULL), (uintptr_t)last);
  CHECK(!marker);

  ojt_step("release unregisters");
  orcjit_library_release(lib);
  CHECK_EQ(count_entries(d), n0);
  orcjit_session_release(s);
}

/* ---- the perf map ------------------------------------------------------- */

typedef struct perf_line {
  uint64_t start, size;
  const char *name; /* into the text of the file */
} perf_line;

/* Parses the whole map file; every line must be "HEX HEX name".  *text
** receives the file's content, which the names point into. */
static perf_line *read_perf_map(const char *path, size_t *n, char **text_out) {
  size_t size = 0;
  char *text = ojt_read_file(path, &size);
  *text_out = text;
  size_t cap = 64, count = 0;
  perf_line *out = malloc(cap * sizeof *out);
  REQUIRE(out != NULL);
  char *p = text, *end = text + size;
  CHECK(size == 0 || end[-1] == '\n'); /* whole lines only */
  while (p < end) {
    char *nl = memchr(p, '\n', (size_t)(end - p));
    if (!nl) break;
    *nl = '\0';
    perf_line l;
    int used = 0;
    if (sscanf(p, "%" SCNx64 " %" SCNx64 " %n", &l.start, &l.size, &used) != 2 ||
        p[used] == '\0' || strchr(p + used, ' ') || l.size == 0 || l.start == 0) {
      printf("  bad perf map line: \"%s\"\n", p);
      CHECK(!"a well-formed perf map line");
    } else {
      if (count == cap) {
        cap *= 2;
        out = realloc(out, cap * sizeof *out);
        REQUIRE(out != NULL);
      }
      l.name = p + used;
      out[count++] = l;
    }
    p = nl + 1;
  }
  *n = count;
  return out;
}

static int perf_has(const perf_line *l, size_t n, const char *name, void *addr) {
  for (size_t i = 0; i < n; i++)
    if (strcmp(l[i].name, name) == 0 && (addr == NULL || l[i].start == (uintptr_t)addr))
      return 1;
  return 0;
}

typedef struct perf_thread {
  orcjit_session *s;
  void *target, *outer;
  int rc;
  orcjit_library *lib;
} perf_thread;

static void *perf_loader(void *p) {
  perf_thread *t = p;
  t->rc = orcjit_library_create(t->s, NULL, &t->lib);
  if (t->rc == ORCJIT_OK) t->rc = orcjit_library_add_file(t->lib, ojt_obj("dbg.o"));
  if (t->rc == ORCJIT_OK) t->rc = orcjit_library_lookup(t->lib, "oj_dbg_target", &t->target);
  if (t->rc == ORCJIT_OK) t->rc = orcjit_library_lookup(t->lib, "oj_dbg_outer", &t->outer);
  return NULL;
}

static void check_lib_in_map(const perf_line *l, size_t n, orcjit_library *lib) {
  CHECK(perf_has(l, n, "oj_dbg_target", lookup(lib, "oj_dbg_target")));
  CHECK(perf_has(l, n, "oj_dbg_outer", lookup(lib, "oj_dbg_outer")));
  CHECK(perf_has(l, n, "__tvm_ffi_dbg_run", lookup(lib, "__tvm_ffi_dbg_run")));
}

void ojt_case_perf_map(void) {
  char path[64];
  snprintf(path, sizeof path, "/tmp/perf-%ld.map", (long)getpid());
  unlink(path);

  ojt_step("two libraries, two sessions");
  orcjit_session *s = session_with(ORCJIT_SESSION_PERF_MAP);
  orcjit_session *s2 = session_with(ORCJIT_SESSION_PERF_MAP | ORCJIT_SESSION_DEBUGGER);
  orcjit_library *a = ojt_new_library(s, "perf_a");
  orcjit_library *b = ojt_new_library(s, "perf_b");
  orcjit_library *c = ojt_new_library(s2, "perf_c");
  REQUIRE_OK(orcjit_library_add_file(a, ojt_obj("dbg.o")));
  REQUIRE_OK(orcjit_library_add_file(b, ojt_obj("dbg.o")));
  REQUIRE_OK(orcjit_library_add_file(c, ojt_obj("dbg.o")));
  REQUIRE_OK(orcjit_library_add_file(a, ojt_obj("cpp_add.o")));
  size_t n = 0;
  char *text = NULL;
  perf_line *l = read_perf_map(path, &n, &text);
  check_lib_in_map(l, n, a);
  check_lib_in_map(l, n, b);
  check_lib_in_map(l, n, c);
  CHECK(perf_has(l, n, "oj_dbg_helper", NULL)); /* a static function too */
  CHECK(!perf_has(l, n, "oj_dbg_data", NULL));  /* not a function */
  for (size_t i = 0; i < n; i++) CHECK(strncmp(l[i].name, "__orcjit.", 9) != 0);
  /* C++ names stay mangled: perf demangles them. */
  int mangled = 0;
  for (size_t i = 0; i < n; i++) mangled |= strncmp(l[i].name, "_Z", 2) == 0;
  CHECK(mangled);
  /* The size covers the function: oj_dbg_outer calls oj_dbg_target, so
  ** its code is more than a return. */
  for (size_t i = 0; i < n; i++)
    if (strcmp(l[i].name, "oj_dbg_outer") == 0) CHECK(l[i].size >= 4 && l[i].size < 4096);
  free(l);
  free(text);

  ojt_step("four threads at once, whole lines");
  enum { NT = 4 };
  perf_thread t[NT];
  pthread_t th[NT];
  for (int i = 0; i < NT; i++) {
    memset(&t[i], 0, sizeof t[i]);
    t[i].s = (i % 2) ? s : s2;
    REQUIRE(pthread_create(&th[i], NULL, perf_loader, &t[i]) == 0);
  }
  for (int i = 0; i < NT; i++) pthread_join(th[i], NULL);
  l = read_perf_map(path, &n, &text);
  for (int i = 0; i < NT; i++) {
    CHECK_OK(t[i].rc);
    CHECK(perf_has(l, n, "oj_dbg_target", t[i].target));
    CHECK(perf_has(l, n, "oj_dbg_outer", t[i].outer));
    orcjit_library_release(t[i].lib);
  }
  free(l);
  free(text);

  ojt_step("a session without the flag adds nothing");
  if (!env_on("TVM_FFI_ORCJIT_PERF_MAP")) {
    struct stat before, after;
    REQUIRE(stat(path, &before) == 0);
    orcjit_session *plain = ojt_new_session();
    orcjit_library *p = ojt_new_library(plain, "plain");
    REQUIRE_OK(orcjit_library_add_file(p, ojt_obj("dbg.o")));
    REQUIRE(stat(path, &after) == 0);
    CHECK_EQ(after.st_size, before.st_size);
    orcjit_library_release(p);
    orcjit_session_release(plain);
  }

  ojt_step("a removed map file is created again");
  REQUIRE(unlink(path) == 0);
  orcjit_library *d = ojt_new_library(s, "perf_d");
  REQUIRE_OK(orcjit_library_add_file(d, ojt_obj("dbg.o")));
  l = read_perf_map(path, &n, &text);
  check_lib_in_map(l, n, d);
  free(l);
  free(text);

  orcjit_library_release(a);
  orcjit_library_release(b);
  orcjit_library_release(c);
  orcjit_library_release(d);
  orcjit_session_release(s);
  orcjit_session_release(s2);
  unlink(path);
}

/* ---- under gdb ----------------------------------------------------------- */

/* The program of the gdb case: load, call, release, load again, call,
** release, then other code (which must not land where gdb may still have a
** breakpoint of the released code). */
void ojt_case_debug_target(void) {
  orcjit_session *s = session_with(ORCJIT_SESSION_DEBUGGER);
  for (int round = 0; round < 2; round++) {
    orcjit_library *lib = ojt_new_library(s, "dbg");
    REQUIRE_OK(orcjit_library_add_file(lib, ojt_obj("dbg.o")));
    int (*outer)(int) = (int (*)(int))lookup(lib, "oj_dbg_outer");
    CHECK_EQ(outer(4), 32);
    orcjit_library_release(lib);
  }
  orcjit_library *other = ojt_new_library(s, "other");
  REQUIRE_OK(orcjit_library_add_file(other, ojt_obj("add.o")));
  CHECK_EQ(((int (*)(int, int))lookup(other, "oj_plain_mul"))(6, 7), 42);
  orcjit_library_release(other);
  orcjit_session_release(s);
  printf("debug_target: done\n");
}

static const char *find_gdb(char *buf, size_t size) {
  const char *env = getenv("GDB");
  if (env && *env) return access(env, X_OK) == 0 ? env : NULL;
  const char *path = getenv("PATH");
  if (!path) path = "/usr/bin:/bin";
  while (*path) {
    const char *colon = strchr(path, ':');
    size_t len = colon ? (size_t)(colon - path) : strlen(path);
    if (len > 0 && (size_t)snprintf(buf, size, "%.*s/gdb", (int)len, path) < size &&
        access(buf, X_OK) == 0)
      return buf;
    path += len + (colon ? 1 : 0);
  }
  return NULL;
}

static int count_lines(const char *text, const char *prefix, const char *needle) {
  int n = 0;
  for (const char *p = text; p && *p;) {
    const char *nl = strchr(p, '\n');
    size_t len = nl ? (size_t)(nl - p) : strlen(p);
    if (strncmp(p, prefix, strlen(prefix)) == 0) {
      char line[1024];
      snprintf(line, sizeof line, "%.*s", (int)len, p);
      if (strstr(line, needle)) n++;
    }
    p = nl ? nl + 1 : NULL;
  }
  return n;
}

void ojt_case_gdb(void) {
  char gdbbuf[4096], self[4096];
  const char *gdb = find_gdb(gdbbuf, sizeof gdbbuf);
  if (!gdb) {
    printf("SKIP gdb: gdb is not installed (not in PATH, GDB not set)\n");
    exit(77);
  }
  /* A debugger needs ptrace, which qemu-user emulation (make test-aarch64)
  ** does not implement: ENOSYS. */
  pid_t probe = fork();
  REQUIRE(probe >= 0);
  if (probe == 0) _exit(ptrace(PTRACE_TRACEME, 0, NULL, NULL) == -1 && errno == ENOSYS ? 3 : 0);
  int pst = 0;
  waitpid(probe, &pst, 0);
  if (WIFEXITED(pst) && WEXITSTATUS(pst) == 3) {
    printf("SKIP gdb: ptrace is not implemented here (qemu-user emulation)\n");
    exit(77);
  }
  ssize_t len = readlink("/proc/self/exe", self, sizeof self - 1);
  REQUIRE(len > 0);
  self[len] = '\0';

  int fds[2];
  REQUIRE(pipe(fds) == 0);
  pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    dup2(fds[1], 1);
    dup2(fds[1], 2);
    close(fds[0]);
    close(fds[1]);
    /* LeakSanitizer cannot run under ptrace (sanitizer builds). */
    const char *asan = getenv("ASAN_OPTIONS");
    char opts[1024];
    snprintf(opts, sizeof opts, "%s%sdetect_leaks=0", asan ? asan : "", asan && *asan ? ":" : "");
    setenv("ASAN_OPTIONS", opts, 1);
    execl(gdb, gdb, "-nx", "-q", "-batch", "-iex", "set debuginfod enabled off",
          "-ex", "set startup-with-shell off", "-ex", "set breakpoint pending on",
          "-ex", "break oj_dbg_target", "-ex", "run", "-ex", "bt", "-ex", "continue",
          "-ex", "bt", "-ex", "continue", "--args", self, "debug_target", ojt_objdir,
          ojt_miscdir, (char *)NULL);
    _exit(127);
  }
  close(fds[1]);
  size_t cap = 1 << 16, used = 0;
  char *out = malloc(cap);
  REQUIRE(out != NULL);
  for (;;) {
    if (used + 4096 + 1 > cap) {
      cap *= 2;
      out = realloc(out, cap);
      REQUIRE(out != NULL);
    }
    ssize_t n = read(fds[0], out + used, cap - used - 1);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    used += (size_t)n;
  }
  out[used] = '\0';
  close(fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);

  int ok = 1;
#define GDB_EXPECT(cond)                                                      \
  do {                                                                        \
    if (!(cond)) {                                                            \
      ok = 0;                                                                 \
      ojt_fail(__FILE__, __LINE__, #cond);                                    \
    }                                                                         \
  } while (0)
  GDB_EXPECT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  GDB_EXPECT(count_lines(out, "Breakpoint 1, ", "oj_dbg_target") == 2);
  GDB_EXPECT(count_lines(out, "#0 ", "oj_dbg_target") == 2);
  GDB_EXPECT(count_lines(out, "#1 ", "oj_dbg_outer") == 2);
  GDB_EXPECT(strstr(out, "debug_target: done") != NULL);
  GDB_EXPECT(strstr(out, "PASS debug_target") != NULL);
  GDB_EXPECT(strstr(out, "exited normally") != NULL);
#undef GDB_EXPECT
  if (!ok) printf("---- gdb output ----\n%s\n---- end of gdb output ----\n", out);
  free(out);
}
