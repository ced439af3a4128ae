/*
** test_link.c: symbol resolution between objects and libraries.
**   link_order   a caller library resolving from base libraries, in order;
**                the library itself first; the host process; hidden symbols
**   duplicate    a strong symbol defined twice; weak symbols merged
**   unresolved   missing symbols: the add fails and leaves nothing behind
**   archive      static archives: only the needed members are linked
*/
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "oj_test.h"

/* ---- link_order ---------------------------------------------------------- */

void ojt_case_link_order(void) {
  orcjit_session *s = ojt_new_session();
  orcjit_library *a = ojt_new_library(s, "base_one");
  orcjit_library *b = ojt_new_library(s, "base_two");
  ojt_step("base libraries");
  REQUIRE_OK(orcjit_library_add_file(a, ojt_obj("base1.o")));
  REQUIRE_OK(orcjit_library_add_file(b, ojt_obj("base2.o")));
  CHECK_EQ(OJT_GETCALL1(a, "base_id", 1), 6); /* the hidden function exists */

  ojt_step("link order [one, two]");
  orcjit_library *c = ojt_new_library(s, "caller_ab");
  orcjit_library *ab[2] = {a, b}, *ba[2] = {b, a};
  CHECK_OK(orcjit_library_set_link_order(c, ab, 2));
  REQUIRE_OK(orcjit_library_add_file(c, ojt_obj("caller.o")));
  CHECK_EQ(OJT_GETCALL1(c, "call_base", 5), 51 + 100);

  ojt_step("link order [two, one]");
  orcjit_library *d = ojt_new_library(s, "caller_ba");
  CHECK_OK(orcjit_library_set_link_order(d, ba, 2));
  REQUIRE_OK(orcjit_library_add_file(d, ojt_obj("caller.o")));
  CHECK_EQ(OJT_GETCALL1(d, "call_base", 5), 52 + 200);

  /* Resolved to the base library's own variable, not a copy. */
  void *data = NULL, *p = NULL;
  REQUIRE_OK(orcjit_library_lookup(a, "oj_base_data", &data));
  *(int *)data = 1000;
  CHECK_EQ(OJT_GETCALL1(c, "call_base", 5), 51 + 1000);
  CHECK_EQ(OJT_GETCALL1(d, "call_base", 5), 52 + 200);

  /* lookup only sees the library's own objects. */
  CHECK_STATUS(orcjit_library_lookup(c, "oj_base_value", &p), ORCJIT_ENOTFOUND);
  CHECK_MSG("oj_base_value");

  ojt_step("no link order: unresolved, then set it");
  orcjit_library *e = ojt_new_library(s, "caller_none");
  CHECK_STATUS(orcjit_library_add_file(e, ojt_obj("caller.o")), ORCJIT_EUNRESOLVED);
  CHECK_MSG("oj_base_value");
  CHECK_MSG("oj_base_data");
  CHECK_MSG(ojt_obj("caller.o"));
  CHECK_MSG("caller_none");
  CHECK_OK(orcjit_library_set_link_order(e, &a, 1));
  REQUIRE_OK(orcjit_library_add_file(e, ojt_obj("caller.o")));
  CHECK_EQ(OJT_GETCALL1(e, "call_base", 2), 21 + 1000);

  ojt_step("the library itself before its link order");
  orcjit_library *f = ojt_new_library(s, "caller_self");
  CHECK_OK(orcjit_library_set_link_order(f, &a, 1));
  REQUIRE_OK(orcjit_library_add_file(f, ojt_obj("base2.o")));
  REQUIRE_OK(orcjit_library_add_file(f, ojt_obj("caller.o")));
  CHECK_EQ(OJT_GETCALL1(f, "call_base", 5), 52 + 200);

  ojt_step("a later link order replaces an earlier one");
  orcjit_library *h = ojt_new_library(s, "caller_replaced");
  CHECK_OK(orcjit_library_set_link_order(h, &a, 1));
  CHECK_OK(orcjit_library_set_link_order(h, &b, 1));
  REQUIRE_OK(orcjit_library_add_file(h, ojt_obj("caller.o")));
  CHECK_EQ(OJT_GETCALL1(h, "call_base", 5), 52 + 200);

  ojt_step("the link order keeps its libraries alive");
  orcjit_library *tmp = ojt_new_library(s, "base_tmp");
  REQUIRE_OK(orcjit_library_add_file(tmp, ojt_obj("base1.o")));
  orcjit_library *g = ojt_new_library(s, "caller_kept");
  CHECK_OK(orcjit_library_set_link_order(g, &tmp, 1));
  orcjit_library_release(tmp); /* g still holds it */
  REQUIRE_OK(orcjit_library_add_file(g, ojt_obj("caller.o")));
  CHECK_EQ(OJT_GETCALL1(g, "call_base", 3), 31 + 100);

  ojt_step("hidden symbols stay inside their library");
  orcjit_library *hid = ojt_new_library(s, "hidden_user");
  CHECK_OK(orcjit_library_set_link_order(hid, &a, 1));
  CHECK_STATUS(orcjit_library_add_file(hid, ojt_obj("hidden_user.o")), ORCJIT_EUNRESOLVED);
  CHECK_MSG("oj_base_hidden");
  CHECK_STILL_WORKS(hid);

  ojt_step("the host process");
  orcjit_library *host = ojt_new_library(s, "host_user");
  REQUIRE_OK(orcjit_library_add_file(host, ojt_obj("host_user.o")));
  CHECK_EQ(OJT_GETCALL1(host, "call_host", 5), 38);

  ojt_step("base libraries released before their users");
  orcjit_library_release(a);
  orcjit_library_release(b);
  CHECK_EQ(OJT_GETCALL1(c, "call_base", 5), 51 + 1000);
  CHECK_EQ(OJT_GETCALL1(d, "call_base", 5), 52 + 200);
  CHECK_EQ(OJT_GETCALL1(g, "call_base", 3), 31 + 100);

  orcjit_library *all[] = {c, d, e, f, g, h, hid, host};
  for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) orcjit_library_release(all[i]);
  orcjit_session_release(s);
}

/* ---- duplicate ----------------------------------------------------------- */

void ojt_case_duplicate(void) {
  orcjit_session *s = ojt_new_session();
  orcjit_library *lib = ojt_new_library(s, "dups");
  void *p = NULL;
  ojt_step("dup1 then dup2");
  REQUIRE_OK(orcjit_library_add_file(lib, ojt_obj("dup1.o")));
  CHECK_STATUS(orcjit_library_add_file(lib, ojt_obj("dup2.o")), ORCJIT_EDUPLICATE);
  CHECK_MSG("oj_dup_value");
  CHECK_MSG(ojt_obj("dup2.o"));
  CHECK_MSG("dup1.o");
  CHECK_MSG("dups");
  CHECK_EQ(orcjit_last_status(), ORCJIT_EDUPLICATE);
  /* Nothing of dup2 stayed behind; dup1 is intact. */
  CHECK_STATUS(orcjit_library_get_function(lib, "dup2", &p), ORCJIT_ENOTFOUND);
  CHECK_EQ(OJT_GETCALL1(lib, "dup1", 3), 31);
  void *v = NULL;
  REQUIRE_OK(orcjit_library_lookup(lib, "oj_dup_value", &v));
  CHECK_EQ(((int (*)(void))v)(), 1);
  CHECK_STILL_WORKS(lib);

  ojt_step("the same file twice");
  CHECK_STATUS(orcjit_library_add_file(lib, ojt_obj("dup1.o")), ORCJIT_EDUPLICATE);
  CHECK(strstr(ojt_captured_msg(), "oj_dup_value") ||
        strstr(ojt_captured_msg(), "__tvm_ffi_dup1"));

  ojt_step("from memory");
  size_t size;
  void *bytes = ojt_read_file(ojt_obj("dup2.o"), &size);
  CHECK_STATUS(orcjit_library_add_memory(lib, bytes, size, "dup2-in-memory"),
               ORCJIT_EDUPLICATE);
  CHECK_MSG("dup2-in-memory");
  CHECK_MSG("oj_dup_value");
  CHECK_EQ(OJT_GETCALL1(lib, "dup1", 4), 41);
  CHECK_STILL_WORKS(lib);

  /* The refused object loads fine into another library. */
  orcjit_library *other = ojt_new_library(s, "dups_other");
  CHECK_OK(orcjit_library_add_memory(other, bytes, size, "dup2-in-memory"));
  CHECK_EQ(OJT_GETCALL1(other, "dup2", 3), 32);
  free(bytes);

  ojt_step("weak definitions: the first wins");
  orcjit_library *w12 = ojt_new_library(s, "weak12");
  REQUIRE_OK(orcjit_library_add_file(w12, ojt_obj("weak1.o")));
  CHECK_OK(orcjit_library_add_file(w12, ojt_obj("weak2.o")));
  CHECK_EQ(OJT_GETCALL0(w12, "weak1"), 11);
  CHECK_EQ(OJT_GETCALL0(w12, "weak2"), 11);
  REQUIRE_OK(orcjit_library_lookup(w12, "oj_weak_value", &v));
  CHECK_EQ(((int (*)(void))v)(), 1);
  orcjit_library *w21 = ojt_new_library(s, "weak21");
  REQUIRE_OK(orcjit_library_add_file(w21, ojt_obj("weak2.o")));
  CHECK_OK(orcjit_library_add_file(w21, ojt_obj("weak1.o")));
  CHECK_EQ(OJT_GETCALL0(w21, "weak1"), 22);
  CHECK_EQ(OJT_GETCALL0(w21, "weak2"), 22);

  orcjit_library_release(w21);
  orcjit_library_release(w12);
  orcjit_library_release(other);
  orcjit_library_release(lib);
  orcjit_session_release(s);
}

/* ---- unresolved ---------------------------------------------------------- */

void ojt_case_unresolved(void) {
  orcjit_session *s = ojt_new_session();
  orcjit_library *lib = ojt_new_library(s, "unres_lib");
  void *p = NULL;
  ojt_step("add unres.o");
  CHECK_STATUS(orcjit_library_add_file(lib, ojt_obj("unres.o")), ORCJIT_EUNRESOLVED);
  CHECK_MSG("oj_missing_function_one");
  CHECK_MSG("oj_missing_variable_two");
  CHECK_MSG(ojt_obj("unres.o"));
  CHECK_MSG("unres_lib");
  CHECK_EQ(orcjit_last_status(), ORCJIT_EUNRESOLVED);

  ojt_step("nothing left behind");
  CHECK_STATUS(orcjit_library_lookup(lib, "oj_foo", &p), ORCJIT_ENOTFOUND);
  CHECK_STATUS(orcjit_library_lookup(lib, "oj_unres_ctor_ran", &p), ORCJIT_ENOTFOUND);
  CHECK_STATUS(orcjit_library_get_function(lib, "foo", &p), ORCJIT_ENOTFOUND);

  ojt_step("foo.o defines the same symbols successfully");
  REQUIRE_OK(orcjit_library_add_file(lib, ojt_obj("foo.o")));
  CHECK_EQ(OJT_GETCALL1(lib, "foo", 1), 9);
  REQUIRE_OK(orcjit_library_lookup(lib, "oj_foo", &p));
  CHECK_EQ(((int (*)(void))p)(), 8);

  ojt_step("again, now also duplicate");
  CHECK_STATUS_IN(orcjit_library_add_file(lib, ojt_obj("unres.o")),
                  OJT_S(ORCJIT_EUNRESOLVED) | OJT_S(ORCJIT_EDUPLICATE));
  CHECK_EQ(OJT_GETCALL1(lib, "foo", 2), 10);

  ojt_step("from memory, 500 times: no memory left behind");
  size_t size;
  void *bytes = ojt_read_file(ojt_obj("unres.o"), &size);
  orcjit_library *lib2 = ojt_new_library(s, "unres_mem");
  long rss_start = 0;
  for (int i = 0; i < 500; i++) {
    int rc = orcjit_library_add_memory(lib2, bytes, size, "unres-in-memory");
    ojt_capture();
    if (rc != ORCJIT_EUNRESOLVED) {
      CHECK_STATUS(rc, ORCJIT_EUNRESOLVED);
      break;
    }
    if (i == 99) rss_start = ojt_rss_kib();
  }
  long grown = ojt_rss_kib() - rss_start;
  printf("unresolved: resident memory grew by %ld KiB over 400 failed adds\n", grown);
  CHECK(OJT_ASAN || grown < 4 * 1024);
  CHECK_MSG("unres-in-memory");
  CHECK_MSG("oj_missing_function_one");
  CHECK_STATUS(orcjit_library_lookup(lib2, "oj_foo", &p), ORCJIT_ENOTFOUND);
  CHECK_OK(orcjit_library_add_file(lib2, ojt_obj("foo.o")));
  CHECK_EQ(OJT_GETCALL1(lib2, "foo", 3), 11);
  free(bytes);

  CHECK_STILL_WORKS(lib);
  CHECK_STILL_WORKS(lib2);
  orcjit_library_release(lib2);
  orcjit_library_release(lib);
  orcjit_session_release(s);
}

/* ---- archive ------------------------------------------------------------- */

void ojt_case_archive(void) {
  orcjit_session *s = ojt_new_session();
  orcjit_library *lib = ojt_new_library(s, "arch");
  void *p = NULL;
  ojt_step("archive then its user");
  REQUIRE_OK(orcjit_library_add_file(lib, ojt_obj("libojarch.a")));
  REQUIRE_OK(orcjit_library_add_file(lib, ojt_obj("arch_user.o")));
  CHECK_EQ(OJT_GETCALL1(lib, "arch_user", 1), 12 + 34);
  /* arch_bad.o needs a symbol nobody has: it was never linked.  A lookup
  ** of what it defines links it now, which fails with the reason, not
  ** with "not defined"; the member stays pending, and the next lookup
  ** says the same. */
  for (int round = 0; round < 2; round++) {
    ojt_step("lookup of a symbol of a member that cannot link, round %d", round);
    int rc = orcjit_library_lookup(lib, "oj_arch_bad", &p);
    ojt_capture();
    CHECK_EQ(rc, ORCJIT_EUNRESOLVED);
    CHECK_EQ(orcjit_last_status(), rc);
    CHECK(p == NULL);
    CHECK_MSG("'oj_arch_bad' is defined by an archive member that failed to link");
    CHECK_MSG("arch_bad.o");
    CHECK_MSG("oj_arch_nowhere");
  }
  CHECK_EQ(OJT_GETCALL1(lib, "arch_user", 1), 12 + 34);

  ojt_step("archive from memory");
  size_t size;
  void *bytes = ojt_read_file(ojt_obj("libojarch.a"), &size);
  orcjit_library *lib2 = ojt_new_library(s, "arch_mem");
  REQUIRE_OK(orcjit_library_add_memory(lib2, bytes, size, "libojarch-in-memory.a"));
  free(bytes);
  REQUIRE_OK(orcjit_library_add_file(lib2, ojt_obj("arch_user.o")));
  CHECK_EQ(OJT_GETCALL1(lib2, "arch_user", 2), 13 + 35);

  ojt_step("without the archive");
  orcjit_library *lib3 = ojt_new_library(s, "arch_none");
  CHECK_STATUS(orcjit_library_add_file(lib3, ojt_obj("arch_user.o")), ORCJIT_EUNRESOLVED);
  CHECK_MSG("oj_arch_a");
  CHECK_STILL_WORKS(lib);

  orcjit_library_release(lib3);
  orcjit_library_release(lib2);
  orcjit_library_release(lib);
  orcjit_session_release(s);
}

/* orcjit_library_add_many: objects that call each other link as one; the
** archives among the inputs serve them; a failure leaves nothing behind. */
void ojt_case_add_many(void) {
  orcjit_session *s = ojt_new_session();
  void *p = NULL;
  /* ojt_obj's buffers are reused: the inputs keep their own copies */
  char ping_o[4096], pong_o[4096], user_o[4096], arch_a[4096], unres_o[4096];
  snprintf(ping_o, sizeof ping_o, "%s", ojt_obj("ping.o"));
  snprintf(pong_o, sizeof pong_o, "%s", ojt_obj("pong.o"));
  snprintf(user_o, sizeof user_o, "%s", ojt_obj("arch_user.o"));
  snprintf(arch_a, sizeof arch_a, "%s", ojt_obj("libojarch.a"));
  snprintf(unres_o, sizeof unres_o, "%s", ojt_obj("unres.o"));

  ojt_step("ping.o and pong.o call each other: separate adds cannot link them");
  orcjit_library *one = ojt_new_library(s, "one_by_one");
  CHECK_STATUS(orcjit_library_add_file(one, ojt_obj("ping.o")), ORCJIT_EUNRESOLVED);
  CHECK_MSG("oj_pong");
  CHECK_STATUS(orcjit_library_add_file(one, ojt_obj("pong.o")), ORCJIT_EUNRESOLVED);
  CHECK_MSG("oj_ping");
  orcjit_library_release(one);

  ojt_step("one add_many: both link, constructors in the order given");
  orcjit_library *lib = ojt_new_library(s, "pingpong");
  size_t size;
  void *pong = ojt_read_file(ojt_obj("pong.o"), &size);
  orcjit_input in[2] = {{ping_o, NULL, 0, NULL}, {NULL, pong, size, "pong-in-memory.o"}};
  REQUIRE_OK(orcjit_library_add_many(lib, in, 2));
  CHECK_EQ(OJT_GETCALL1(lib, "ping", 7), 7);
  CHECK_EQ(OJT_GETCALL1(lib, "pp_order", 0), 12);
  orcjit_library_release(lib);

  ojt_step("the other order runs pong.o's constructor first");
  lib = ojt_new_library(s, "pongping");
  orcjit_input rev[2] = {in[1], in[0]};
  REQUIRE_OK(orcjit_library_add_many(lib, rev, 2));
  CHECK_EQ(OJT_GETCALL1(lib, "pp_order", 0), 21);
  CHECK_EQ(OJT_GETCALL1(lib, "ping", 4), 4);
  orcjit_library_release(lib);

  ojt_step("an archive among the inputs serves the objects, given in any order");
  lib = ojt_new_library(s, "with_archive");
  orcjit_input ar[2] = {{user_o, NULL, 0, NULL},
                        {arch_a, NULL, 0, NULL}};
  REQUIRE_OK(orcjit_library_add_many(lib, ar, 2));
  CHECK_EQ(OJT_GETCALL1(lib, "arch_user", 1), 12 + 34);
  CHECK(orcjit_library_lookup(lib, "oj_arch_bad", &p) != ORCJIT_OK);
  orcjit_library_release(lib);

  ojt_step("a failure leaves nothing: no symbol, no constructor, no archive");
  lib = ojt_new_library(s, "all_or_nothing");
  REQUIRE_OK(orcjit_library_add_file(lib, ojt_obj("add.o")));
  orcjit_input bad[4] = {{arch_a, NULL, 0, NULL},
                         {ping_o, NULL, 0, NULL},
                         {unres_o, NULL, 0, NULL},
                         {pong_o, NULL, 0, NULL}};
  CHECK_STATUS(orcjit_library_add_many(lib, bad, 4), ORCJIT_EUNRESOLVED);
  CHECK_MSG("all_or_nothing");
  CHECK_MSG("unres.o"); /* the object that needs the missing name */
  CHECK(orcjit_library_lookup(lib, "oj_ping", &p) == ORCJIT_ENOTFOUND);
  CHECK(orcjit_library_lookup(lib, "__tvm_ffi_ping", &p) == ORCJIT_ENOTFOUND);
  /* the archive was forgotten: its user cannot link now */
  CHECK_STATUS(orcjit_library_add_file(lib, ojt_obj("arch_user.o")), ORCJIT_EUNRESOLVED);
  CHECK_MSG("oj_arch_a");
  /* and the pair still links into the same library afterwards */
  REQUIRE_OK(orcjit_library_add_many(lib, in, 2));
  CHECK_EQ(OJT_GETCALL1(lib, "ping", 5), 5);
  CHECK_EQ(OJT_GETCALL1(lib, "pp_order", 0), 12); /* each constructor ran once */
  CHECK_STILL_WORKS(lib);

  ojt_step("two inputs of one batch defining one name: the duplicate names both");
  orcjit_library *dup = ojt_new_library(s, "batch_dup");
  orcjit_input twice[2] = {{ping_o, NULL, 0, NULL}, {ping_o, NULL, 0, NULL}};
  CHECK_STATUS(orcjit_library_add_many(dup, twice, 2), ORCJIT_EDUPLICATE);
  CHECK_MSG("batch_dup");
  CHECK_MSG("duplicate symbol");
  CHECK_MSG("ping.o' and in '");
  CHECK(orcjit_library_lookup(dup, "oj_ping", &p) == ORCJIT_ENOTFOUND);
  REQUIRE_OK(orcjit_library_add_many(dup, in, 2)); /* still usable */
  CHECK_EQ(OJT_GETCALL1(dup, "ping", 3), 3);
  orcjit_library_release(dup);

  ojt_step("bad inputs name themselves");
  orcjit_input missing[2] = {{ping_o, NULL, 0, NULL},
                             {"/nonexistent/pong.o", NULL, 0, NULL}};
  CHECK_STATUS(orcjit_library_add_many(lib, missing, 2), ORCJIT_EIO);
  CHECK_MSG("/nonexistent/pong.o");
  orcjit_input nul = {NULL, NULL, 5, NULL};
  CHECK_STATUS(orcjit_library_add_many(lib, &nul, 1), ORCJIT_EINVAL);
  CHECK_MSG("<memory #0>");
  CHECK_STATUS(orcjit_library_add_many(lib, NULL, 1), ORCJIT_EINVAL);
  CHECK_OK(orcjit_library_add_many(lib, NULL, 0));
  CHECK_STILL_WORKS(lib);

  orcjit_library_release(lib);
  free(pong);
  orcjit_session_release(s);
}
