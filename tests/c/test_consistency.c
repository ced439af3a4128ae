/*
** test_consistency.c: a failed add changes nothing (orcjit.h, "A failed
** call changes nothing").  Case failed_add: an object with a constructor
** that cannot be linked leaves no symbol and never runs its constructor,
** however often it is tried, directly, through a link order or as an
** archive member pulled in by another object; once what it needs is
** there, the same add succeeds and the constructor runs exactly once; a
** second add of it is refused and does not run it again; every destructor
** runs once at release.  ctor_unres.o reports to the host through
** oj_test_host_note: +100 from its constructor, -100 from its destructor.
*/
#include <stdio.h>
#include <stdlib.h>

#include "oj_test.h"

static int g_calls0, g_sum0;

/* Constructor and destructor calls of ctor_unres.o so far. */
static int note_calls(void) { return atomic_load(&ojt_host_note_calls) - g_calls0; }
static int note_sum(void) { return atomic_load(&ojt_host_note_sum) - g_sum0; }

/* lib defines none of ctor_unres.o's symbols. */
static void nothing_of_ctor_unres(orcjit_library *lib) {
  void *p = NULL;
  CHECK_STATUS(orcjit_library_lookup(lib, "oj_ctor_unres_value", &p), ORCJIT_ENOTFOUND);
  CHECK_STATUS(orcjit_library_get_function(lib, "ctor_unres", &p), ORCJIT_ENOTFOUND);
  CHECK(p == NULL);
}

void ojt_case_failed_add(void) {
  g_calls0 = atomic_load(&ojt_host_note_calls);
  g_sum0 = atomic_load(&ojt_host_note_sum);
  orcjit_session *s = ojt_new_session();
  orcjit_library *lib = ojt_new_library(s, "consistent");
  size_t size;
  void *bytes = ojt_read_file(ojt_obj("ctor_unres.o"), &size);

  ojt_step("unresolved: refused, no constructor, no symbol");
  REQUIRE_OK(orcjit_library_add_file(lib, ojt_obj("add.o")));
  for (int i = 0; i < 3; i++) {
    CHECK_STATUS(orcjit_library_add_file(lib, ojt_obj("ctor_unres.o")), ORCJIT_EUNRESOLVED);
    CHECK_MSG("oj_ctor_need");
    CHECK_MSG(ojt_obj("ctor_unres.o"));
    CHECK_MSG("consistent");
    CHECK_STATUS(orcjit_library_add_memory(lib, bytes, size, "ctor_unres-in-memory"),
                 ORCJIT_EUNRESOLVED);
    CHECK_MSG("ctor_unres-in-memory");
  }
  CHECK_EQ(note_calls(), 0);
  nothing_of_ctor_unres(lib);
  CHECK_EQ(OJT_GETCALL1(lib, "digits", 100), 3);

  ojt_step("with its dependency: loads, constructor runs once");
  REQUIRE_OK(orcjit_library_add_file(lib, ojt_obj("ctor_need.o")));
  CHECK_EQ(note_calls(), 0);
  REQUIRE_OK(orcjit_library_add_file(lib, ojt_obj("ctor_unres.o")));
  CHECK_EQ(note_calls(), 1);
  CHECK_EQ(note_sum(), 100);
  CHECK_EQ(OJT_GETCALL1(lib, "ctor_unres", 5), 11);

  ojt_step("added again: duplicate, constructor not run again");
  CHECK_STATUS(orcjit_library_add_file(lib, ojt_obj("ctor_unres.o")), ORCJIT_EDUPLICATE);
  CHECK_MSG("oj_ctor_unres_value");
  CHECK_STATUS(orcjit_library_add_memory(lib, bytes, size, "ctor_unres-again"),
               ORCJIT_EDUPLICATE);
  CHECK_MSG("ctor_unres-again");
  CHECK_EQ(note_calls(), 1);
  CHECK_EQ(OJT_GETCALL1(lib, "ctor_unres", 6), 13);
  CHECK_STILL_WORKS(lib);

  ojt_step("through a link order");
  orcjit_library *prov = ojt_new_library(s, "provider");
  orcjit_library *user = ojt_new_library(s, "via_link_order");
  CHECK_STATUS(orcjit_library_add_memory(user, bytes, size, "ctor_unres-linked"),
               ORCJIT_EUNRESOLVED);
  CHECK_MSG("oj_ctor_need");
  CHECK_MSG("via_link_order");
  CHECK_STATUS(orcjit_library_set_link_order(user, &prov, 1), ORCJIT_OK);
  CHECK_STATUS(orcjit_library_add_memory(user, bytes, size, "ctor_unres-linked"),
               ORCJIT_EUNRESOLVED); /* the provider is still empty */
  CHECK_EQ(note_calls(), 1);
  nothing_of_ctor_unres(user);
  REQUIRE_OK(orcjit_library_add_file(prov, ojt_obj("ctor_need.o")));
  REQUIRE_OK(orcjit_library_add_memory(user, bytes, size, "ctor_unres-linked"));
  CHECK_EQ(note_calls(), 2);
  CHECK_EQ(OJT_GETCALL1(user, "ctor_unres", 7), 15);

  ojt_step("an archive member pulled in by an object");
  orcjit_library *arch = ojt_new_library(s, "ctor_archive");
  REQUIRE_OK(orcjit_library_add_file(arch, ojt_obj("libojctor.a")));
  CHECK_EQ(note_calls(), 2); /* members wait until something needs them */
  for (int i = 0; i < 2; i++) {
    /* ctor_user.o pulls in ctor_unres.o, which needs oj_ctor_need. */
    CHECK_STATUS(orcjit_library_add_file(arch, ojt_obj("ctor_user.o")), ORCJIT_EUNRESOLVED);
    CHECK_MSG("oj_ctor_need");
    CHECK_MSG("ctor_archive");
    void *p = NULL;
    CHECK(orcjit_library_lookup(arch, "oj_ctor_unres_value", &p) != ORCJIT_OK);
    CHECK(p == NULL);
    CHECK_STATUS(orcjit_library_get_function(arch, "ctor_user", &p), ORCJIT_ENOTFOUND);
  }
  CHECK_EQ(note_calls(), 2);
  REQUIRE_OK(orcjit_library_add_file(arch, ojt_obj("ctor_need.o")));
  REQUIRE_OK(orcjit_library_add_file(arch, ojt_obj("ctor_user.o")));
  CHECK_EQ(note_calls(), 3);
  CHECK_EQ(OJT_GETCALL1(arch, "ctor_user", 5), 1011);
  CHECK_EQ(OJT_GETCALL1(arch, "ctor_unres", 5), 11);
  CHECK_EQ(note_calls(), 3); /* looked up, not constructed again */
  CHECK_STILL_WORKS(arch);

  ojt_step("release: every destructor once");
  CHECK_EQ(note_sum(), 300);
  orcjit_library_release(arch);
  CHECK_EQ(note_sum(), 200);
  orcjit_library_release(user);
  orcjit_library_release(prov);
  orcjit_library_release(lib);
  CHECK_EQ(note_sum(), 0);
  CHECK_EQ(note_calls(), 6);
  free(bytes);
  orcjit_session_release(s);
}
