/*
** test_addsem.c: what adding objects means.
**   weak_strong    weak and strong definitions of one symbol in every order
**                  and grouping (one add_many; separate adds; the weak one
**                  inside the user object): the value a static linker
**                  gives, or, where the weak one is already linked, a
**                  refusal naming both objects; release and exit are clean
** Objects: weakdef.o (weak oj_wval=1, oj_wdata=10), strongdef.o (2, 20),
** useval_weak.o (weak 3, 30, and getval), useval.o (getval only);
** getval() = oj_wval() + oj_wdata.
**   failed_archive an archive whose second member is corrupt fails to add
**                  (alone, from memory, in an add_many) and leaves nothing:
**                  the first member's oj_foo is not found afterwards
**   deferred       orcjit_library_add_deferred: objects link at the next
**                  lookup, in any order (an object before the object or
**                  the archive it needs, the link order set in between);
**                  an object that cannot link fails the lookups of its
**                  symbols and waits, the others link; duplicates and
**                  malformed inputs are refused by the add itself
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oj_test.h"

/* A new library of s holding the objects, added by one add_many. */
static orcjit_library *ojt_batch(orcjit_session *s, const char *const *names, size_t n) {
  orcjit_input in[4];
  char what[256] = "";
  REQUIRE(n <= 4);
  memset(in, 0, sizeof in);
  for (size_t i = 0; i < n; i++) {
    in[i].path = ojt_obj(names[i]);
    snprintf(what + strlen(what), sizeof what - strlen(what), " %s", names[i]);
  }
  ojt_step("add_many [%s ]", what);
  orcjit_library *lib = ojt_new_library(s, NULL);
  /* ojt_obj's buffers rotate: take the paths again right before the call. */
  for (size_t i = 0; i < n; i++) in[i].path = ojt_obj(names[i]);
  REQUIRE_OK(orcjit_library_add_many(lib, in, n));
  return lib;
}

static void ojt_release_step(orcjit_library *lib, const char *what) {
  ojt_step("release after %s", what);
  orcjit_library_release(lib);
}

/* Reachable until exit, so leak checkers do not count it. */
static orcjit_library *g_kept;

void ojt_case_weak_strong(void) {
  orcjit_session *s = ojt_new_session();
  static const char *const perms[6][3] = {
      {"weakdef.o", "strongdef.o", "useval.o"}, {"weakdef.o", "useval.o", "strongdef.o"},
      {"strongdef.o", "weakdef.o", "useval.o"}, {"strongdef.o", "useval.o", "weakdef.o"},
      {"useval.o", "weakdef.o", "strongdef.o"}, {"useval.o", "strongdef.o", "weakdef.o"}};

  /* One link: the strong definition wins in every order, for the user
  ** object and for the weak definer's own references. */
  for (int p = 0; p < 6; p++) {
    orcjit_library *lib = ojt_batch(s, perms[p], 3);
    CHECK_EQ(OJT_GETCALL0(lib, "getval"), 22);
    CHECK_EQ(OJT_GETCALL0(lib, "weakdef_own"), 22);
    ojt_release_step(lib, "a weak+strong batch");
  }
  {
    static const char *const a[2] = {"useval_weak.o", "strongdef.o"};
    static const char *const b[2] = {"strongdef.o", "useval_weak.o"};
    orcjit_library *la = ojt_batch(s, a, 2), *lb = ojt_batch(s, b, 2);
    CHECK_EQ(OJT_GETCALL0(la, "getval"), 22);
    CHECK_EQ(OJT_GETCALL0(lb, "getval"), 22);
    ojt_release_step(la, "[useval_weak, strongdef]");
    ojt_release_step(lb, "[strongdef, useval_weak]");
  }
  {
    /* Three definitions, two of them weak: still the strong one. */
    static const char *const a[3] = {"weakdef.o", "useval_weak.o", "strongdef.o"};
    static const char *const b[3] = {"useval_weak.o", "strongdef.o", "weakdef.o"};
    orcjit_library *la = ojt_batch(s, a, 3), *lb = ojt_batch(s, b, 3);
    CHECK_EQ(OJT_GETCALL0(la, "getval"), 22);
    CHECK_EQ(OJT_GETCALL0(la, "weakdef_own"), 22);
    CHECK_EQ(OJT_GETCALL0(lb, "getval"), 22);
    ojt_release_step(la, "[weakdef, useval_weak, strongdef]");
    ojt_release_step(lb, "[useval_weak, strongdef, weakdef]");
  }
  {
    /* Weak against weak: the first one given wins, for both objects. */
    static const char *const a[2] = {"weakdef.o", "useval_weak.o"};
    static const char *const b[2] = {"useval_weak.o", "weakdef.o"};
    static const char *const c[2] = {"weakdef.o", "useval.o"};
    orcjit_library *la = ojt_batch(s, a, 2), *lb = ojt_batch(s, b, 2), *lc = ojt_batch(s, c, 2);
    CHECK_EQ(OJT_GETCALL0(la, "getval"), 11);
    CHECK_EQ(OJT_GETCALL0(la, "weakdef_own"), 11);
    CHECK_EQ(OJT_GETCALL0(lb, "getval"), 33);
    CHECK_EQ(OJT_GETCALL0(lb, "weakdef_own"), 33);
    CHECK_EQ(OJT_GETCALL0(lc, "getval"), 11);
    ojt_release_step(la, "[weakdef, useval_weak]");
    ojt_release_step(lb, "[useval_weak, weakdef]");
    ojt_release_step(lc, "[weakdef, useval]");
  }

  /* Separate adds, the strong definition first: the weak ones lose. */
  {
    ojt_step("separate adds: strongdef, weakdef, useval");
    orcjit_library *lib = ojt_new_library(s, "strong_first");
    REQUIRE_OK(orcjit_library_add_file(lib, ojt_obj("strongdef.o")));
    REQUIRE_OK(orcjit_library_add_file(lib, ojt_obj("weakdef.o")));
    REQUIRE_OK(orcjit_library_add_file(lib, ojt_obj("useval.o")));
    CHECK_EQ(OJT_GETCALL0(lib, "getval"), 22);
    CHECK_EQ(OJT_GETCALL0(lib, "weakdef_own"), 22);
    ojt_release_step(lib, "strongdef, weakdef, useval");
    lib = ojt_new_library(s, "strong_first_user");
    REQUIRE_OK(orcjit_library_add_file(lib, ojt_obj("strongdef.o")));
    REQUIRE_OK(orcjit_library_add_file(lib, ojt_obj("useval_weak.o")));
    CHECK_EQ(OJT_GETCALL0(lib, "getval"), 22);
    ojt_release_step(lib, "strongdef, useval_weak");
  }
  /* Separate adds, the weak definition already linked: its code cannot be
  ** rebound, so the strong one is refused with the reason and the fix. */
  {
    ojt_step("separate adds: weakdef, useval, then strongdef");
    orcjit_library *lib = ojt_new_library(s, "weak_first");
    REQUIRE_OK(orcjit_library_add_file(lib, ojt_obj("weakdef.o")));
    REQUIRE_OK(orcjit_library_add_file(lib, ojt_obj("useval.o")));
    CHECK_EQ(OJT_GETCALL0(lib, "getval"), 11);
    CHECK_STATUS(orcjit_library_add_file(lib, ojt_obj("strongdef.o")), ORCJIT_EDUPLICATE);
    CHECK_MSG("weak_first");
    CHECK_MSG("'oj_w");
    CHECK_MSG("weakdef.o");
    CHECK_MSG("strongdef.o");
    CHECK_MSG("already linked from a weak definition");
    CHECK_MSG("same call");
    static const char *const su[2] = {"strongdef.o", "useval.o"};
    orcjit_input in[2];
    memset(in, 0, sizeof in);
    in[0].path = ojt_obj(su[0]);
    in[1].path = ojt_obj(su[1]);
    CHECK_STATUS(orcjit_library_add_many(lib, in, 2), ORCJIT_EDUPLICATE);
    CHECK_MSG("weakdef.o");
    CHECK_EQ(OJT_GETCALL0(lib, "getval"), 11);
    CHECK_STILL_WORKS(lib);
    ojt_release_step(lib, "weakdef, useval, refused strongdef");

    lib = ojt_new_library(s, "weak_user_first");
    REQUIRE_OK(orcjit_library_add_file(lib, ojt_obj("useval_weak.o")));
    CHECK_STATUS(orcjit_library_add_file(lib, ojt_obj("strongdef.o")), ORCJIT_EDUPLICATE);
    CHECK_MSG("useval_weak.o");
    CHECK_MSG("strongdef.o");
    CHECK_EQ(OJT_GETCALL0(lib, "getval"), 33);
    /* A second weak one loses to the linked one. */
    REQUIRE_OK(orcjit_library_add_file(lib, ojt_obj("weakdef.o")));
    CHECK_EQ(OJT_GETCALL0(lib, "weakdef_own"), 33);
    CHECK_EQ(OJT_GETCALL0(lib, "getval"), 33);
    ojt_release_step(lib, "useval_weak, weakdef");
  }

  /* Left for process exit (the exit hook), which crashed like a release. */
  ojt_step("kept until exit");
  g_kept = ojt_batch(s, perms[0], 3);
  CHECK_EQ(OJT_GETCALL0(g_kept, "getval"), 22);
  orcjit_session_release(s);
}

/* ---- failed_archive ------------------------------------------------------- */

/* An ar archive in memory: members appended with ojt_ar_member. */
typedef struct ojt_ar {
  unsigned char *p;
  size_t n;
} ojt_ar;

static void ojt_ar_member(ojt_ar *a, const char *name, const void *data, size_t size) {
  if (!a->p) {
    a->p = malloc(8);
    REQUIRE(a->p != NULL);
    memcpy(a->p, "!<arch>\n", 8);
    a->n = 8;
  }
  unsigned char *np = realloc(a->p, a->n + 60 + size + 1);
  REQUIRE(np != NULL);
  a->p = np;
  char hdr[61];
  snprintf(hdr, sizeof hdr, "%-16.15s%-12s%-6s%-6s%-8s%-10zu`\n", name, "0", "0", "0", "644",
           size);
  memcpy(a->p + a->n, hdr, 60);
  memcpy(a->p + a->n + 60, data, size);
  a->n += 60 + size;
  if (size & 1) a->p[a->n++] = '\n';
}

static void ojt_no_foo(orcjit_library *lib) {
  void *p = NULL;
  CHECK_STATUS(orcjit_library_lookup(lib, "oj_foo", &p), ORCJIT_ENOTFOUND);
  CHECK_STATUS(orcjit_library_get_function(lib, "foo", &p), ORCJIT_ENOTFOUND);
  CHECK(p == NULL);
}

void ojt_case_failed_archive(void) {
  orcjit_session *s = ojt_new_session();
  orcjit_library *lib = ojt_new_library(s, "atomic");
  size_t size;
  unsigned char *foo = ojt_read_file(ojt_obj("foo.o"), &size);
  /* A good member defining oj_foo, then a corrupt one (a cut ELF). */
  ojt_ar bad = {0}, good = {0};
  ojt_ar_member(&bad, "good.o/", foo, size);
  ojt_ar_member(&bad, "cut.o/", foo, size / 3);
  ojt_ar_member(&good, "good.o/", foo, size);
  char path[512];
  snprintf(path, sizeof path, "%s/bad.a", ojt_scratch_dir());
  ojt_write_file(path, bad.p, bad.n);

  ojt_step("an archive whose second member is corrupt");
  CHECK_STATUS(orcjit_library_add_file(lib, path), ORCJIT_EFORMAT);
  CHECK_MSG("cut.o");
  ojt_no_foo(lib);
  CHECK_STATUS(orcjit_library_add_memory(lib, bad.p, bad.n, "bad-in-memory.a"), ORCJIT_EFORMAT);
  ojt_no_foo(lib);

  ojt_step("the same archive in an add_many");
  orcjit_input in[2];
  memset(in, 0, sizeof in);
  in[0].data = bad.p;
  in[0].size = bad.n;
  in[0].name = "bad-batch.a";
  in[1].path = ojt_obj("add.o");
  CHECK_STATUS(orcjit_library_add_many(lib, in, 2), ORCJIT_EFORMAT);
  ojt_no_foo(lib);

  ojt_step("again, then the library still works");
  CHECK_STATUS(orcjit_library_add_memory(lib, bad.p, bad.n, "bad-again.a"), ORCJIT_EFORMAT);
  ojt_no_foo(lib);
  CHECK_STILL_WORKS(lib);

  ojt_step("the good archive alone");
  CHECK_OK(orcjit_library_add_memory(lib, good.p, good.n, "good.a"));
  CHECK_EQ(OJT_GETCALL1(lib, "foo", 1), 9);
  free(bad.p);
  free(good.p);
  free(foo);
  orcjit_library_release(lib);
  orcjit_session_release(s);
}

/* ---- deferred ------------------------------------------------------------- */

static int ojt_defer(orcjit_library *lib, const char *name) {
  orcjit_input in;
  memset(&in, 0, sizeof in);
  in.path = ojt_obj(name);
  return orcjit_library_add_deferred(lib, &in, 1);
}

static int g_notes0;
static int ojt_notes(void) { return atomic_load(&ojt_host_note_calls) - g_notes0; }

void ojt_case_deferred(void) {
  g_notes0 = atomic_load(&ojt_host_note_calls);
  orcjit_session *s = ojt_new_session();
  void *p = NULL;

  ojt_step("an object before the object it needs");
  orcjit_library *lib = ojt_new_library(s, "later");
  REQUIRE_OK(ojt_defer(lib, "caller.o"));
  REQUIRE_OK(ojt_defer(lib, "base1.o"));
  CHECK_EQ(OJT_GETCALL1(lib, "call_base", 2), 121);
  orcjit_library_release(lib);

  ojt_step("the link order set after the add, its library deferred too");
  orcjit_library *base = ojt_new_library(s, "base");
  lib = ojt_new_library(s, "caller");
  REQUIRE_OK(ojt_defer(lib, "caller.o"));
  REQUIRE_OK(ojt_defer(base, "base2.o"));
  REQUIRE_OK(orcjit_library_set_link_order(lib, &base, 1));
  CHECK_EQ(OJT_GETCALL1(lib, "call_base", 2), 222);
  CHECK_OK(orcjit_library_lookup(base, "oj_base_value", &p)); /* linked into base */
  orcjit_library_release(lib);
  orcjit_library_release(base);

  ojt_step("an object before the archive that provides its symbols");
  lib = ojt_new_library(s, "ld_order");
  REQUIRE_OK(ojt_defer(lib, "arch_user.o"));
  REQUIRE_OK(ojt_defer(lib, "libojarch.a"));
  CHECK_EQ(OJT_GETCALL1(lib, "arch_user", 1), 46);
  CHECK_STATUS(orcjit_library_lookup(lib, "oj_arch_nowhere", &p), ORCJIT_ENOTFOUND);
  orcjit_library_release(lib);

  ojt_step("objects that call each other, added one by one");
  lib = ojt_new_library(s, "pingpong");
  REQUIRE_OK(ojt_defer(lib, "ping.o"));
  REQUIRE_OK(ojt_defer(lib, "pong.o"));
  CHECK_EQ(OJT_GETCALL1(lib, "ping", 5), 5);
  CHECK_EQ(OJT_GETCALL1(lib, "pp_order", 0), 12); /* constructors in add order */
  orcjit_library_release(lib);

  ojt_step("unresolved: the lookup fails, the object waits, the others link");
  lib = ojt_new_library(s, "waiting");
  REQUIRE_OK(ojt_defer(lib, "ctor_unres.o"));
  REQUIRE_OK(ojt_defer(lib, "add.o"));
  for (int i = 0; i < 2; i++) {
    CHECK_STATUS(orcjit_library_get_function(lib, "ctor_unres", &p), ORCJIT_EUNRESOLVED);
    CHECK_MSG("waiting");
    CHECK_MSG("oj_ctor_need");
    CHECK_MSG("ctor_unres.o");
    CHECK(p == NULL);
  }
  CHECK_EQ(ojt_notes(), 0);
  void *add = NULL;
  CHECK_OK(orcjit_library_get_function(lib, "add", &add));
  CHECK(add != NULL);
  CHECK_STATUS(orcjit_library_lookup(lib, "oj_ctor_unres_value", &p), ORCJIT_EUNRESOLVED);
  CHECK_EQ(ojt_notes(), 0);
  /* Two waiting objects missing symbols: each name with its object. */
  REQUIRE_OK(ojt_defer(lib, "unres.o"));
  CHECK_STATUS(orcjit_library_get_function(lib, "foo", &p), ORCJIT_EUNRESOLVED);
  CHECK_MSG("oj_missing_function_one");
  CHECK_MSG("unres.o'");
  CHECK_MSG("oj_ctor_need (needed by '");
  CHECK_EQ(ojt_notes(), 0);
  REQUIRE_OK(ojt_defer(lib, "ctor_need.o"));
  CHECK_EQ(ojt_notes(), 0);
  void *fn = NULL;
  CHECK_OK(orcjit_library_get_function(lib, "ctor_unres", &fn));
  CHECK_EQ(ojt_notes(), 1); /* the constructor ran before the function came back */
  CHECK_EQ(OJT_GETCALL1(lib, "ctor_unres", 5), 11);
  CHECK_STATUS(orcjit_library_get_function(lib, "foo", &p), ORCJIT_EUNRESOLVED);
  CHECK_MSG("oj_missing_variable_two");
  CHECK_EQ(ojt_call_checked(__FILE__, __LINE__, add, 2, 2, 3), 5);
  orcjit_library_release(lib);
  CHECK_EQ(ojt_notes(), 2); /* and its destructor at release */

  ojt_step("refused by the add itself: duplicates, malformed input");
  lib = ojt_new_library(s, "refusing");
  REQUIRE_OK(ojt_defer(lib, "base1.o"));
  CHECK_STATUS(ojt_defer(lib, "base2.o"), ORCJIT_EDUPLICATE);
  CHECK_MSG("oj_base_");
  CHECK_MSG("base1.o");
  CHECK_MSG("base2.o");
  CHECK_STATUS(orcjit_library_add_file(lib, ojt_obj("base2.o")), ORCJIT_EDUPLICATE);
  CHECK_MSG("base1.o");
  {
    orcjit_input in[2];
    memset(in, 0, sizeof in);
    in[0].path = ojt_obj("add.o");
    in[1].data = "not an object";
    in[1].size = 13;
    in[1].name = "text-input";
    CHECK_STATUS(orcjit_library_add_deferred(lib, in, 2), ORCJIT_EFORMAT);
    CHECK_MSG("text-input");
    in[1].path = ojt_obj("add.o");
    CHECK_STATUS(orcjit_library_add_deferred(lib, in, 2), ORCJIT_EDUPLICATE);
  }
  CHECK_STATUS(orcjit_library_get_function(lib, "add", &p), ORCJIT_ENOTFOUND);
  CHECK_EQ(OJT_GETCALL1(lib, "base_id", 3), 8);
  CHECK_STATUS(ojt_defer(lib, "base1.o"), ORCJIT_EDUPLICATE); /* linked now */
  CHECK_STILL_WORKS(lib);
  orcjit_library_release(lib);

  ojt_step("weak and strong definitions while both wait: the strong one");
  lib = ojt_new_library(s, "deferred_weak");
  REQUIRE_OK(ojt_defer(lib, "weakdef.o"));
  REQUIRE_OK(ojt_defer(lib, "useval.o"));
  REQUIRE_OK(ojt_defer(lib, "strongdef.o"));
  CHECK_EQ(OJT_GETCALL0(lib, "getval"), 22);
  CHECK_EQ(OJT_GETCALL0(lib, "weakdef_own"), 22);
  orcjit_library_release(lib);
  lib = ojt_new_library(s, "deferred_weak_linked");
  REQUIRE_OK(ojt_defer(lib, "weakdef.o"));
  CHECK_EQ(OJT_GETCALL0(lib, "weakdef_own"), 11);
  CHECK_STATUS(ojt_defer(lib, "strongdef.o"), ORCJIT_EDUPLICATE);
  CHECK_MSG("same call");
  orcjit_library_release(lib);

  ojt_step("the eager adds still link at once");
  lib = ojt_new_library(s, "eager");
  CHECK_STATUS(orcjit_library_add_file(lib, ojt_obj("caller.o")), ORCJIT_EUNRESOLVED);
  CHECK_MSG("oj_base_value");
  orcjit_library_release(lib);
  orcjit_session_release(s);
}
