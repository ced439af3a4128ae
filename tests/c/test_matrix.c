/*
** test_matrix.c: the compile matrix of issue #5, run once per compiler over
** <objdir> = objects/<compiler>/mx (see CMakeLists.txt).
**   matrix        every variant of variants.txt (-O0..-O3 x -fPIC/-fno-pic,
**                 -ffunction-sections, -g): mx_c.o and the C++ pair
**                 mx_cpp_a.o + mx_cpp_b.o loaded, called and checked against
**                 results this file computes with its own code; every C++
**                 export covered by a registered unwind entry (FDE)
**   reload_cpp    the -O3 C++ pair loaded, called and released 200 times in
**                 one session: same results, memory reused
**   nopic_errors  -fno-pic constructs that no placement can satisfy fail
**                 with an error naming the relocation and -fPIC; the
**                 library carries on
*/
#define _GNU_SOURCE /* RTLD_DEFAULT */
#include <dlfcn.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "oj_test.h"

/* ---- expected results, computed here ------------------------------------ */

/* mx_c_checksum(n), as mx_c.c documents it. */
static uint64_t exp_mix(uint64_t x, int k) {
  if (k == 0) return x * 3 + 1;
  if (k == 1) return x ^ 0x5a5a;
  if (k == 2) return x * 8;
  if (k == 3) return x - 77;
  if (k == 4) return (x * x) % 1009;
  if (k == 5) return x / 4 + 11;
  if (k == 6) return (~x) & 0xffff;
  if (k == 7) return x + 12345;
  if (k == 8) return (x % 97) * 5;
  if (k == 9) return x | 0x100;
  if (k == 10) return (x * 7) ^ (x / 2);
  return (uint64_t)0 - x;
}

static uint32_t exp_crc32(const char *s) { /* bitwise, no table */
  uint32_t c = 0xFFFFFFFFu;
  for (; *s; s++) {
    c ^= (unsigned char)*s;
    for (int k = 0; k < 8; k++) c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1u)));
  }
  return ~c;
}

static int64_t exp_checksum(int64_t n) {
  uint64_t acc = 0x12345;
  for (int64_t i = 0; i < n; i++) {
    uint64_t v = exp_mix((uint64_t)i + acc % 1000, (int)(i % 12));
    if (i % 3 == 0) acc = acc + v;
    else if (i % 3 == 1) acc = acc ^ v;
    else acc = ((acc << 7) | (acc >> 57)) + v;
    double x = (double)i * 1.5 + 0.25;
    double m = i % 3 == 0 ? sqrt(x) : i % 3 == 1 ? floor(x) : fabs(x);
    acc += (uint64_t)(int64_t)(m * 64.0);
  }
  char buf[64];
  snprintf(buf, sizeof buf, "mx:%llu:%lld", (unsigned long long)acc, (long long)n);
  return (int64_t)(acc ^ exp_crc32(buf));
}

static int64_t exp_sort(int64_t n) {
  int64_t a[1000];
  uint64_t x = 42;
  for (int64_t i = 0; i < n; i++) {
    x = x * 6364136223846793005u + 1442695040888963407u;
    int64_t v = (int64_t)((x >> 33) % 100000), j = i;
    for (; j > 0 && a[j - 1] > v; j--) a[j] = a[j - 1]; /* insertion sort */
    a[j] = v;
  }
  uint64_t sum = 0;
  for (int64_t i = 0; i < n; i++) sum += (uint64_t)(i + 1) * (uint64_t)a[i];
  return (int64_t)sum;
}

static int exp_digits(int64_t v) {
  int d = 1;
  for (; v >= 10; v /= 10) d++;
  return d;
}

static int64_t exp_text(int64_t n) {
  uint64_t len = 0, sum = 0;
  for (int64_t i = 0; i < n; i++) { /* "k<i>=<7i mod 101>;" */
    int64_t v = i * 7 % 101;
    len += 3 + (uint64_t)exp_digits(i) + (uint64_t)exp_digits(v);
    sum += (uint64_t)(i * v);
  }
  return (int64_t)(len * 100000000u + sum);
}

static int exp_cmp_str(const void *a, const void *b) {
  return strcmp((const char *)a, (const char *)b);
}

static int64_t exp_words(int64_t n) {
  char words[13][8];
  int64_t count[13] = {0};
  int nw = 0;
  for (int64_t i = 0; i < n; i++) count[i * 7 % 13]++;
  for (int k = 0; k < 13; k++)
    if (count[k]) snprintf(words[nw++], sizeof words[0], "w%d", k);
  qsort(words, (size_t)nw, sizeof words[0], exp_cmp_str); /* map order */
  int64_t sum = 0;
  for (int r = 0; r < nw; r++)
    sum += (r + 1) * count[atoi(words[r] + 1)] * (int64_t)strlen(words[r]);
  return sum;
}

static int64_t exp_shapes(int64_t n) {
  int64_t sum = 0;
  for (int64_t i = 0; i < n; i++) {
    int64_t cls, width, area, name, tname;
    if (i % 3 == 0) { /* Rect */
      int64_t w = i % 5 + 1, h = i % 7 + 2;
      cls = 1, width = w, area = w * h, name = 4, tname = (int64_t)strlen("N2mx4RectE");
    } else if (i % 3 == 1) { /* Square, a Rect */
      int64_t s = i % 4 + 1;
      cls = 3, width = s, area = s * s, name = 6, tname = (int64_t)strlen("N2mx6SquareE");
    } else { /* Circle, not a Rect */
      int64_t r = i % 6 + 1;
      cls = 2, width = -1, area = 3 * r * r, name = 6, tname = (int64_t)strlen("N2mx6CircleE");
    }
    sum += cls * 1000000 + width * 10000 + area * 10 + name + tname;
  }
  return sum;
}

static int64_t exp_catch(int64_t k) {
  char what[64];
  snprintf(what, sizeof what, "thrown in a: k=%lld", (long long)k);
  return 3 * k * 100 + (int64_t)strlen(what) + 7 + 50000;
}

static int64_t exp_fold_poly(int64_t n) {
  uint64_t seed = 7;
  for (int64_t i = 0; i < n; i++) seed = seed * 31 + (uint64_t)i;
  int64_t x = n % 10, p = 1;
  for (int k = 1; k <= 5; k++) p = p * x + k;
  return (int64_t)(seed % 1000003u) + p;
}

/* ---- variants ------------------------------------------------------------ */

typedef struct mx_variant {
  char name[64];
  char flags[192];
  int nopic;
} mx_variant;

/* Reads <objdir>/variants.txt ("<name> <flags...>" per line). */
static size_t mx_read_variants(mx_variant *v, size_t cap) {
  size_t size, n = 0;
  char *text = ojt_read_file(ojt_obj("variants.txt"), &size);
  char *p = text, *end = text + size;
  while (p < end && n < cap) {
    char *nl = memchr(p, '\n', (size_t)(end - p));
    if (!nl) nl = end;
    *nl = '\0';
    char *sp = strchr(p, ' ');
    if (sp && sp > p) {
      *sp = '\0';
      snprintf(v[n].name, sizeof v[n].name, "%s", p);
      snprintf(v[n].flags, sizeof v[n].flags, "%s", sp + 1);
      v[n].nopic = strstr(v[n].flags, "-fno-pic") != NULL;
      n++;
    }
    p = nl + 1;
  }
  free(text);
  REQUIRE(n >= 11); /* -O0..-O3 x pic/nopic, sections, -g, both */
  return n;
}

static const char *mx_path(const mx_variant *v, const char *file) {
  char rel[160];
  snprintf(rel, sizeof rel, "%.63s/%.63s", v->name, file);
  return ojt_obj(rel);
}

/* ---- the checks of one library ------------------------------------------- */

static void check_c_object(orcjit_library *lib, const mx_variant *v) {
  static const int64_t ns[] = {0, 1, 7, 12, 100, 1000};
  for (size_t i = 0; i < sizeof ns / sizeof ns[0]; i++)
    CHECK_EQ(OJT_GETCALL1(lib, "mx_c_checksum", ns[i]), exp_checksum(ns[i]));
  CHECK_EQ(OJT_GETCALL0(lib, "mx_c_calls"), 6);
  CHECK_EQ(OJT_GETCALL1(lib, "mx_c_sort", 0), 0);
  CHECK_EQ(OJT_GETCALL1(lib, "mx_c_sort", 1000), exp_sort(1000));
  CHECK_EQ(OJT_GETCALL1(lib, "mx_c_sort", 37), exp_sort(37));
  CHECK_EQ(OJT_GETCALL1(lib, "mx_c_text", 150), exp_text(150));
  CHECK_EQ(OJT_GETCALL1(lib, "mx_c_text", 3), exp_text(3));
  void *f = NULL;
  if (v->nopic && OJT_LOW_WINDOW) { /* built with MX_NO_HOST_REFS (CMakeLists.txt) */
    CHECK_STATUS(orcjit_library_get_function(lib, "mx_c_host", &f), ORCJIT_ENOTFOUND);
  } else {
    CHECK_EQ(OJT_GETCALL0(lib, "mx_c_host"), fileno(stdout) * 10 + fileno(stderr));
    CHECK_EQ(OJT_GETCALL0(lib, "mx_c_sqrt_addr"), (int64_t)(uintptr_t)&sqrt);
  }
}

/* Every export of the C++ pair must be covered by its own FDE, registered
** with the unwinder: otherwise an exception through it ends the process. */
struct ojt_eh_bases {
  void *tbase, *dbase, *func;
};
typedef const void *(*ojt_find_fde_fn)(void *pc, struct ojt_eh_bases *bases);

static void check_fdes(orcjit_library *lib, const char *const *names) {
  ojt_find_fde_fn find = (ojt_find_fde_fn)(uintptr_t)dlsym(RTLD_DEFAULT, "_Unwind_Find_FDE");
  if (!find) return; /* not libgcc's unwinder: the exception checks still run */
  for (size_t i = 0; names[i]; i++) {
    char sym[96];
    void *addr = NULL;
    snprintf(sym, sizeof sym, "__tvm_ffi_%s", names[i]);
    CHECK_OK(orcjit_library_lookup(lib, sym, &addr));
    if (!addr) continue;
    struct ojt_eh_bases b = {NULL, NULL, NULL};
    const void *fde = find((char *)addr + 1, &b);
    if (!fde || b.func != addr) {
      fprintf(stderr, "no unwind entry for %s at %p (found %p for %p)\n", sym, addr, fde, b.func);
      CHECK(!"every export has its unwind entry registered");
    }
  }
}

static const char *const mx_cpp_exports[] = {
    "mx_words", "mx_static_local", "mx_counter_a", "mx_counter_addr_a", "mx_fold_a",
    "mx_shapes", "mx_catch", "mx_escape", "mx_counter_b", "mx_counter_addr_b", "mx_fold_b",
    NULL};

static void check_cpp_pair(orcjit_library *lib, int with_host_refs, int64_t salt) {
  check_fdes(lib, mx_cpp_exports);
  CHECK_EQ(OJT_GETCALL1(lib, "mx_words", 0), 0);
  CHECK_EQ(OJT_GETCALL1(lib, "mx_words", 40 + salt), exp_words(40 + salt));
  CHECK_EQ(OJT_GETCALL1(lib, "mx_shapes", 30 + salt), exp_shapes(30 + salt));
  CHECK_EQ(OJT_GETCALL1(lib, "mx_catch", 5 + salt), exp_catch(5 + salt));
  CHECK_EQ(OJT_GETCALL1(lib, "mx_catch", 123456), exp_catch(123456));
  for (int64_t k = 0; k < 5; k++) /* built once, by the first call */
    CHECK_EQ(OJT_GETCALL1(lib, "mx_static_local", k + salt), (k + salt) % 4 + 1 + 100);
  /* One COMDAT counter for both objects. */
  CHECK_EQ(OJT_GETCALL1(lib, "mx_counter_a", 3), 3);
  CHECK_EQ(OJT_GETCALL1(lib, "mx_counter_b", 4), 7);
  CHECK_EQ(OJT_GETCALL1(lib, "mx_counter_a", 10), 17);
  CHECK_EQ(OJT_GETCALL0(lib, "mx_counter_addr_a"), OJT_GETCALL0(lib, "mx_counter_addr_b"));
  CHECK_EQ(OJT_GETCALL1(lib, "mx_fold_a", 20 + salt), exp_fold_poly(20 + salt));
  CHECK_EQ(OJT_GETCALL1(lib, "mx_fold_b", 33), exp_fold_poly(33));
  /* An exception of a escaping b's export: a TVM-FFI error. */
  void *esc = NULL;
  if (orcjit_library_get_function(lib, "mx_escape", &esc) == ORCJIT_OK) {
    int64_t argv[1] = {9 + salt}, out = 0;
    char want[64];
    snprintf(want, sizeof want, "thrown in a: k=%lld", (long long)(9 + salt));
    int rc = ojt_call(esc, 1, argv, &out);
    CHECK_FFI_ERROR(rc, "InternalError", want);
  } else {
    CHECK(!"mx_escape found");
  }
  CHECK_EQ(OJT_GETCALL1(lib, "mx_catch", 2), exp_catch(2)); /* and carries on */
  void *f = NULL;
  if (with_host_refs) {
    char line[32];
    CHECK_EQ(OJT_GETCALL1(lib, "mx_iostream", 123 + salt),
             snprintf(line, sizeof line, "n=%lld\n", (long long)(123 + salt)));
  } else {
    CHECK_STATUS(orcjit_library_get_function(lib, "mx_iostream", &f), ORCJIT_ENOTFOUND);
  }
}

/* ---- matrix -------------------------------------------------------------- */

void ojt_case_matrix(void) {
  mx_variant v[32];
  size_t nv = mx_read_variants(v, 32);
  orcjit_session *s = ojt_new_session();
  for (size_t i = 0; i < nv; i++) {
    printf("variant %-20s %s\n", v[i].name, v[i].flags);
    char name[96];

    ojt_step("%s: mx_c.o", v[i].name);
    snprintf(name, sizeof name, "c-%.63s", v[i].name);
    orcjit_library *lib = ojt_new_library(s, name);
    int rc;
    CHECK_OK(rc = orcjit_library_add_file(lib, mx_path(&v[i], "mx_c.o")));
    if (rc == ORCJIT_OK) check_c_object(lib, &v[i]);
    orcjit_library_release(lib);

    ojt_step("%s: mx_cpp_a.o + mx_cpp_b.o", v[i].name);
    snprintf(name, sizeof name, "cpp-%.63s", v[i].name);
    lib = ojt_new_library(s, name);
    if (!v[i].nopic || !OJT_LOW_WINDOW) {
      CHECK_OK(rc = orcjit_library_add_file(lib, mx_path(&v[i], "mx_cpp_a.o")));
      if (rc == ORCJIT_OK)
        CHECK_OK(rc = orcjit_library_add_file(lib, mx_path(&v[i], "mx_cpp_b.o")));
      if (rc == ORCJIT_OK) check_cpp_pair(lib, !v[i].nopic || !OJT_LOW_WINDOW, (int64_t)i);
    } else {
      /* Code of TVM-FFI's headers (ErrorBuilder) writes to std::cerr, and
      ** -fno-pic code takes its address with an absolute 32-bit relocation:
      ** no JIT placement can reach the host's libstdc++ with that, so the
      ** add fails and says why (besides host vtables, typeinfo and
      ** functions such as __gxx_personality_v0 addressed the same way). */
      CHECK_STATUS(orcjit_library_add_file(lib, mx_path(&v[i], "mx_cpp_a.o")), ORCJIT_ELINK);
      CHECK_MSG("mx_cpp_a.o");
      CHECK_MSG("out of range of Pointer32");
      CHECK_MSG("R_X86_64_32");
      CHECK_MSG("rebuild it with -fPIC");
      /* Nothing of it stayed: the library still takes and runs objects. */
      CHECK_OK(orcjit_library_add_file(lib, mx_path(&v[i], "mx_c.o")));
      CHECK_EQ(OJT_GETCALL1(lib, "mx_c_checksum", 50), exp_checksum(50));
    }
    orcjit_library_release(lib);
  }
  orcjit_session_release(s);
}

/* ---- reload_cpp ---------------------------------------------------------- */

void ojt_case_reload_cpp(void) {
  mx_variant v[32];
  size_t nv = mx_read_variants(v, 32);
  const mx_variant *o3 = NULL;
  for (size_t i = 0; i < nv; i++)
    if (strcmp(v[i].name, "O3-pic") == 0) o3 = &v[i];
  REQUIRE(o3 != NULL);
  orcjit_session *s = ojt_new_session();
  uintptr_t seen[8];
  size_t nseen = 0, moved = 0;
  long rss_warm = 0;
  for (int i = 0; i < 200; i++) {
    ojt_step("reload_cpp iteration %d", i);
    orcjit_library *lib = ojt_new_library(s, "reload_cpp");
    REQUIRE_OK(orcjit_library_add_file(lib, mx_path(o3, "mx_cpp_a.o")));
    REQUIRE_OK(orcjit_library_add_file(lib, mx_path(o3, "mx_cpp_b.o")));
    int64_t n = i % 50;
    REQUIRE(OJT_GETCALL1(lib, "mx_shapes", n) == exp_shapes(n));
    REQUIRE(OJT_GETCALL1(lib, "mx_catch", i) == exp_catch(i));
    REQUIRE(OJT_GETCALL1(lib, "mx_words", n) == exp_words(n));
    REQUIRE(OJT_GETCALL1(lib, "mx_static_local", i) == i % 4 + 1 + 100); /* fresh statics */
    REQUIRE(OJT_GETCALL1(lib, "mx_counter_b", i) == i);
    void *esc = NULL;
    REQUIRE_OK(orcjit_library_get_function(lib, "mx_escape", &esc));
    int64_t argv[1] = {i}, out;
    int rc = ojt_call(esc, 1, argv, &out);
    char want[64];
    snprintf(want, sizeof want, "thrown in a: k=%d", i);
    CHECK_FFI_ERROR(rc, "InternalError", want);
    /* Where the code lands: released memory is reused, so few places. */
    uintptr_t at = (uintptr_t)esc;
    size_t k = 0;
    while (k < nseen && seen[k] != at) k++;
    if (k == nseen) {
      if (nseen < 8) seen[nseen++] = at;
      moved++;
    }
    orcjit_library_release(lib);
    if (i == 19) rss_warm = ojt_rss_kib();
  }
  long grown = ojt_rss_kib() - rss_warm;
  printf("reload_cpp: 200 loads, code at %zu distinct address(es); resident memory grew by "
         "%ld KiB over the last 180\n",
         moved, grown);
  CHECK(moved <= 4);
  ojt_skip_if_emulated("reload_cpp: resident memory includes the emulator's translation cache");
  CHECK(OJT_ASAN || grown < 16 * 1024);
  orcjit_session_release(s);
}

/* ---- nopic_errors -------------------------------------------------------- */

void ojt_case_nopic_errors(void) {
  orcjit_session *s = ojt_new_session();
  orcjit_library *lib = ojt_new_library(s, "nopic");

  /* Absolute 32-bit relocations to its own data put the object below
  ** 2 GiB, where the PC-relative read of the host's stdout cannot reach. */
  ojt_step("nopic_host_data.o");
  void *f = NULL;
#if OJT_LOW_WINDOW
  CHECK_STATUS(orcjit_library_add_file(lib, ojt_obj("nopic_host_data.o")), ORCJIT_ELINK);
  CHECK_MSG("nopic_host_data.o");
  CHECK_MSG("stdout");
  CHECK_MSG("R_X86_64_PC32");
  CHECK_MSG("rebuild it with -fPIC");
  CHECK_STATUS(orcjit_library_get_function(lib, "nopic_host_data", &f), ORCJIT_ENOTFOUND);
#else /* no absolute 32-bit relocations: it loads next to the C library */
  orcjit_library *dl = ojt_new_library(s, "nopic_data");
  CHECK_OK(orcjit_library_add_file(dl, ojt_obj("nopic_host_data.o")));
  CHECK_OK(orcjit_library_get_function(dl, "nopic_host_data", &f));
  orcjit_library_release(dl);
#endif

  /* The address of a host function in a 32-bit immediate: a stub below
  ** 2 GiB stands for it. */
  ojt_step("nopic_host_func.o");
  orcjit_library *fl = ojt_new_library(s, "nopic_func");
  CHECK_OK(orcjit_library_add_file(fl, ojt_obj("nopic_host_func.o")));
  CHECK_EQ(OJT_GETCALL0(fl, "nopic_host_func"), 4); /* sqrt(16) */
  orcjit_library_release(fl);

  /* Reading stdout alone: without absolute relocations the object goes
  ** next to the C library, as -fPIC code does, and reaches the C library's
  ** stdout.  Unless this executable holds its own copy of stdout (a PIE
  ** built with copy relocations, exporting its symbols): that copy, the
  ** one the program uses, is out of reach, and the add says so. */
  ojt_step("nopic_stdout.o");
  Dl_info where, self;
  void *host_stdout = dlsym(RTLD_DEFAULT, "stdout");
  REQUIRE(host_stdout && dladdr(host_stdout, &where) && dladdr((void *)ojt_rss_kib, &self));
  /* Under AddressSanitizer the session's window cannot be placed next to
  ** the C library either (ASan's own mappings take that room): the read
  ** is then out of reach as well, and refused the same way. */
  int copied = where.dli_fbase == self.dli_fbase || OJT_ASAN;
  printf("stdout of this process: %p, in %s\n", host_stdout,
         copied ? "the executable (a copy)" : where.dli_fname);
  if (copied) {
    CHECK_STATUS(orcjit_library_add_file(lib, ojt_obj("nopic_stdout.o")), ORCJIT_ELINK);
    CHECK_MSG("stdout");
    CHECK_MSG(OJT_R_PC32_NAME);
    CHECK_MSG("rebuild it with -fPIC");
  } else {
    CHECK_OK(orcjit_library_add_file(lib, ojt_obj("nopic_stdout.o")));
    CHECK_EQ(OJT_GETCALL0(lib, "nopic_stdout"), fileno(stdout));
  }

  /* The library and the session carry on, with -fno-pic code too. */
  ojt_step("after the failures");
  CHECK_OK(orcjit_library_add_file(lib, ojt_obj("O2-nopic/mx_c.o")));
  CHECK_EQ(OJT_GETCALL1(lib, "mx_c_checksum", 64), exp_checksum(64));
  if (!copied) CHECK_EQ(OJT_GETCALL0(lib, "nopic_stdout"), fileno(stdout));
  orcjit_library_release(lib);
  orcjit_session_release(s);
}
