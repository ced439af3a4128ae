/*
** test_api.c: the API without objects: status names, the error model,
** sessions and their options, library names, bad arguments.
*/
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "oj_test.h"

static void *fresh_thread(void *p) {
  int *out = p;
  out[0] = orcjit_last_status();
  out[1] = orcjit_last_error() != NULL && orcjit_last_error()[0] == '\0';
  return NULL;
}

void ojt_case_api(void) {
  ojt_step("status names");
  static const struct {
    int status;
    const char *name;
  } names[] = {{ORCJIT_OK, "ORCJIT_OK"},
               {ORCJIT_EINVAL, "ORCJIT_EINVAL"},
               {ORCJIT_EIO, "ORCJIT_EIO"},
               {ORCJIT_EFORMAT, "ORCJIT_EFORMAT"},
               {ORCJIT_EDUPLICATE, "ORCJIT_EDUPLICATE"},
               {ORCJIT_EUNRESOLVED, "ORCJIT_EUNRESOLVED"},
               {ORCJIT_ENOTFOUND, "ORCJIT_ENOTFOUND"},
               {ORCJIT_ELINK, "ORCJIT_ELINK"},
               {ORCJIT_EBUSY, "ORCJIT_EBUSY"},
               {ORCJIT_ENOMEM, "ORCJIT_ENOMEM"},
               {ORCJIT_EINIT, "ORCJIT_EINIT"},
               {ORCJIT_EUNSUPPORTED, "ORCJIT_EUNSUPPORTED"}};
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
    const char *n = orcjit_status_name(names[i].status);
    CHECK_EQ(names[i].status, (int)i); /* stable values */
    CHECK(n != NULL && strcmp(n, names[i].name) == 0);
  }
  CHECK(orcjit_status_name(999) != NULL);
  CHECK(orcjit_status_name(-1) != NULL);
  CHECK(strcmp(orcjit_status_name(999), "ORCJIT_OK") != 0);
  CHECK(strcmp(orcjit_status_name(12), "ORCJIT_EUNSUPPORTED") != 0);

  ojt_step("the error model");
  int fresh[2] = {-1, 0};
  pthread_t t;
  REQUIRE(pthread_create(&t, NULL, fresh_thread, fresh) == 0);
  pthread_join(t, NULL);
  CHECK_EQ(fresh[0], ORCJIT_OK); /* nothing failed on that thread */
  CHECK(fresh[1]);
  CHECK_EQ(orcjit_set_error(ORCJIT_EINIT, "custom %d message %s", 42, "here"), ORCJIT_EINIT);
  CHECK_EQ(orcjit_last_status(), ORCJIT_EINIT);
  CHECK(strstr(orcjit_last_error(), "custom 42 message here") != NULL);
  char longmsg[10000];
  memset(longmsg, 'x', sizeof longmsg - 1);
  longmsg[sizeof longmsg - 1] = '\0';
  CHECK_EQ(orcjit_set_error(ORCJIT_ELINK, "%s", longmsg), ORCJIT_ELINK);
  CHECK(orcjit_last_error() != NULL && strlen(orcjit_last_error()) >= 100);

  ojt_step("sessions");
  orcjit_session *s = NULL, *s2 = NULL, *s3 = NULL;
  CHECK_STATUS(orcjit_session_create(NULL, NULL), ORCJIT_EINVAL);
  REQUIRE_OK(orcjit_session_create(NULL, &s));
  REQUIRE(s != NULL);
  orcjit_session_options o;
  memset(&o, 0, sizeof o);
  o.struct_size = sizeof o;
  o.slab_size = 64u << 20;
  REQUIRE_OK(orcjit_session_create(&o, &s2));
  CHECK(s2 != NULL && s2 != s);
  memset(&o, 0, sizeof o); /* struct_size 0: the current layout */
  o.orc_rt_path = "/nonexistent/liborc_rt.a";
  REQUIRE_OK(orcjit_session_create(&o, &s3));
  size_t freed = 12345;
  CHECK_OK(orcjit_session_clear_free_slabs(s, &freed));
  CHECK_OK(orcjit_session_clear_free_slabs(s, NULL));
  CHECK_STATUS(orcjit_session_clear_free_slabs(NULL, &freed), ORCJIT_EINVAL);
  orcjit_session_retain(s3);
  orcjit_session_release(s3);
  orcjit_session_release(s3);
  orcjit_session_release(NULL);

  ojt_step("library names");
  orcjit_library *a = NULL, *b = NULL, *c = NULL, *d = NULL, *x = NULL;
  CHECK_STATUS(orcjit_library_create(NULL, "x", &x), ORCJIT_EINVAL);
  CHECK_STATUS(orcjit_library_create(s, "x", NULL), ORCJIT_EINVAL);
  REQUIRE_OK(orcjit_library_create(s, "mylib", &a));
  CHECK(strcmp(orcjit_library_name(a), "mylib") == 0);
  CHECK(orcjit_library_session(a) == s);
  CHECK_STATUS(orcjit_library_create(s, "mylib", &x), ORCJIT_EINVAL);
  CHECK_MSG("mylib");
  REQUIRE_OK(orcjit_library_create(s2, "mylib", &b)); /* another session */
  CHECK(orcjit_library_session(b) == s2);
  REQUIRE_OK(orcjit_library_create(s, NULL, &c));
  REQUIRE_OK(orcjit_library_create(s, "", &d));
  CHECK(strncmp(orcjit_library_name(c), "lib", 3) == 0);
  CHECK(strncmp(orcjit_library_name(d), "lib", 3) == 0);
  CHECK(strcmp(orcjit_library_name(c), orcjit_library_name(d)) != 0);
  CHECK(strcmp(orcjit_library_name(c), "mylib") != 0);

  ojt_step("bad arguments");
  void *p = NULL;
  orcjit_library *nul = NULL;
  CHECK_STATUS(orcjit_library_add_file(NULL, "/tmp/x.o"), ORCJIT_EINVAL);
  CHECK_STATUS(orcjit_library_add_file(a, NULL), ORCJIT_EINVAL);
  CHECK_STATUS(orcjit_library_add_memory(NULL, "x", 1, "m"), ORCJIT_EINVAL);
  CHECK_STATUS(orcjit_library_add_memory(a, NULL, 10, "m"), ORCJIT_EINVAL);
  CHECK_STATUS(orcjit_library_lookup(NULL, "x", &p), ORCJIT_EINVAL);
  CHECK_STATUS(orcjit_library_lookup(a, NULL, &p), ORCJIT_EINVAL);
  CHECK_STATUS(orcjit_library_lookup(a, "x", NULL), ORCJIT_EINVAL);
  CHECK_STATUS_IN(orcjit_library_lookup(a, "", &p),
                  OJT_S(ORCJIT_EINVAL) | OJT_S(ORCJIT_ENOTFOUND));
  CHECK_STATUS(orcjit_library_get_function(NULL, "f", &p), ORCJIT_EINVAL);
  CHECK_STATUS(orcjit_library_get_function(a, NULL, &p), ORCJIT_EINVAL);
  CHECK_STATUS(orcjit_library_get_function(a, "f", NULL), ORCJIT_EINVAL);
  CHECK_STATUS_IN(orcjit_library_get_function(a, "", &p),
                  OJT_S(ORCJIT_EINVAL) | OJT_S(ORCJIT_ENOTFOUND));
  CHECK_STATUS(orcjit_library_get_ffi_function(NULL, "f", &p), ORCJIT_EINVAL);
  CHECK_STATUS(orcjit_library_get_ffi_function(a, NULL, &p), ORCJIT_EINVAL);
  CHECK_STATUS(orcjit_library_get_ffi_function(a, "f", NULL), ORCJIT_EINVAL);
  CHECK_STATUS(orcjit_library_set_link_order(NULL, &c, 1), ORCJIT_EINVAL);
  CHECK_STATUS(orcjit_library_set_link_order(a, NULL, 2), ORCJIT_EINVAL);
  CHECK_STATUS(orcjit_library_set_link_order(a, &nul, 1), ORCJIT_EINVAL);
  CHECK_STATUS(orcjit_library_set_link_callback(NULL, NULL, NULL), ORCJIT_EINVAL);
  CHECK_EQ(orcjit_last_status(), ORCJIT_EINVAL);

  ojt_step("valid calls on empty libraries");
  CHECK_OK(orcjit_library_set_link_order(a, &c, 1));
  CHECK_OK(orcjit_library_set_link_order(a, NULL, 0));
  CHECK_STATUS(orcjit_library_lookup(a, "oj_nothing_here", &p), ORCJIT_ENOTFOUND);
  CHECK_MSG("oj_nothing_here");
  CHECK_MSG("mylib");
  CHECK_STATUS(orcjit_library_get_function(c, "nothing", &p), ORCJIT_ENOTFOUND);
  CHECK_MSG(orcjit_library_name(c));

  ojt_step("references");
  orcjit_library_retain(a);
  orcjit_library_release(a);
  CHECK(strcmp(orcjit_library_name(a), "mylib") == 0); /* still alive */
  orcjit_library_release(a);
  REQUIRE_OK(orcjit_library_create(s, "mylib", &a)); /* name free again */
  orcjit_library_release(NULL);

  orcjit_library_release(a);
  orcjit_library_release(b);
  orcjit_library_release(c);
  orcjit_library_release(d);
  orcjit_session_release(s);
  orcjit_session_release(s2);
}
