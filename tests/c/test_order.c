/*
** test_order.c: constructor, destructor and exit-handler order (issue #5),
** run once per compiler over <objdir> = objects/<compiler>/mx.
**   initfini_order  order_a.o / order_b.o (tests/sources) report every
**                   constructor, destructor and atexit handler to
**                   oj_order_rec(); the sequence must be the one the ELF
**                   rules give (below) and the one the same objects give
**                   when the system linker makes an executable of them and
**                   it runs (the oracle, built with order_main.c)
**   static_state    two libraries of state.cc with static state, released
**                   in either order: the other still works, each
**                   destructor and exit handler runs exactly once
**
** The rules (GNU ld's default script, glibc's exit):
**  - .init_array.N has priority N, .ctors.N has priority 65535 - N, a plain
**    .init_array or .ctors section 65535.  The linker sorts the numbered
**    sections of all objects by priority, then appends the plain ones in
**    input order (objects in link order, sections in section-table order,
**    .init_array and .ctors mixed); .ctors contents are copied in reverse.
**    The loader runs the result first to last.  .fini_array* / .dtors* are
**    placed the same way (.dtors reversed) and run last to first.
**  - Handlers registered with atexit/__cxa_atexit (by constructors or
**    later) run at exit in reverse order of registration, before the
**    .fini_array entries (glibc runs the program's fini from _dl_fini,
**    which was registered before any constructor ran).
**  - The loader runs an object's constructors when it is added: one added
**    later runs its own only.  At release the library's handlers run, then
**    the fini entries of all its objects in the order a static link of the
**    objects (in load order) gives: the oracle executable of a and b.
*/
#define _GNU_SOURCE /* popen */
#include <elf.h>
#include <stdio.h>
#include <stdlib.h>

#include "oj_test.h"

/* ---- recording ------------------------------------------------------------ */

#define OJT_SEQ_MAX 256
static int ojt_seq[OJT_SEQ_MAX];
static int ojt_nseq;

/* Called by order_a.o / order_b.o (resolved from this executable). */
__attribute__((visibility("default"))) void oj_order_rec(int v) {
  if (ojt_nseq < OJT_SEQ_MAX) ojt_seq[ojt_nseq] = v;
  ojt_nseq++;
}

typedef struct seq {
  int v[OJT_SEQ_MAX];
  int n;
} seq;

static void seq_add(seq *s, const int *v, int n) {
  for (int i = 0; i < n && s->n < OJT_SEQ_MAX; i++) s->v[s->n++] = v[i];
}

/* The recorded entries [from, to). */
static seq seq_recorded(int from, int to) {
  seq s = {{0}, 0};
  REQUIRE(to <= OJT_SEQ_MAX);
  seq_add(&s, ojt_seq + from, to - from);
  return s;
}

/* Entries of s before its first 0 (head) or from it on (tail). */
static seq seq_head(const seq *s) {
  seq r = {{0}, 0};
  for (int i = 0; i < s->n && s->v[i] != 0; i++) r.v[r.n++] = s->v[i];
  return r;
}
static seq seq_tail(const seq *s) {
  seq r = {{0}, 0};
  int i = 0;
  while (i < s->n && s->v[i] != 0) i++;
  seq_add(&r, s->v + i, s->n - i);
  return r;
}

#define CHECK_SEQ(what, got, want) check_seq(__FILE__, __LINE__, (what), (got), (want))
static void check_seq(const char *file, int line, const char *what, const seq *got,
                      const seq *want) {
  int same = got->n == want->n;
  for (int i = 0; same && i < got->n; i++) same = got->v[i] == want->v[i];
  if (same) return;
  fprintf(stderr, "%s:\n  got: ", what);
  for (int i = 0; i < got->n; i++) fprintf(stderr, " %d", got->v[i]);
  fprintf(stderr, "\n want:");
  for (int i = 0; i < want->n; i++) fprintf(stderr, " %d", want->v[i]);
  fprintf(stderr, "\n");
  ojt_fail(file, line, what);
}

/* Runs an oracle executable of <objdir> and reads the numbers it prints. */
static seq run_oracle(const char *exe) {
  seq s = {{0}, 0};
  char cmd[4200];
  snprintf(cmd, sizeof cmd, "'%s'", ojt_obj(exe));
  FILE *p = popen(cmd, "r");
  REQUIRE(p != NULL);
  int v;
  while (s.n < OJT_SEQ_MAX && fscanf(p, "%d", &v) == 1) s.v[s.n++] = v;
  int status = pclose(p);
  if (status != 0) fprintf(stderr, "oracle %s exited with status %d\n", exe, status);
  REQUIRE(status == 0);
  REQUIRE(s.n > 0);
  return s;
}

/* Index of the section called name in the ELF object at path (0: none). */
static unsigned section_index(const char *path, const char *name) {
  size_t size;
  unsigned char *f = ojt_read_file(path, &size), found = 0;
  unsigned idx = 0;
  REQUIRE(size >= sizeof(Elf64_Ehdr));
  Elf64_Ehdr eh;
  memcpy(&eh, f, sizeof eh);
  REQUIRE(eh.e_shoff + (uint64_t)eh.e_shnum * sizeof(Elf64_Shdr) <= size);
  Elf64_Shdr str;
  memcpy(&str, f + eh.e_shoff + (uint64_t)eh.e_shstrndx * sizeof str, sizeof str);
  for (unsigned i = 1; i < eh.e_shnum && !found; i++) {
    Elf64_Shdr sh;
    memcpy(&sh, f + eh.e_shoff + (uint64_t)i * sizeof sh, sizeof sh);
    REQUIRE(str.sh_offset + sh.sh_name < size);
    if (strcmp((const char *)f + str.sh_offset + sh.sh_name, name) == 0) idx = i, found = 1;
  }
  free(f);
  return idx;
}

/* ---- the order the rules give for order_a.o and order_b.o ---------------- */

/* order_a.o's constructors.  The numbered ones do not depend on the
** compiler; the plain .init_array (65001, 65002) and .ctors (65012, 65011:
** reversed) tie at 65535 and keep the order of their sections. */
static seq rules_a_ctors(int init_first) {
  static const int numbered[] = {101, 301, 400, 500, 1000, 1502, 1501};
  static const int init[] = {65001, 65002}, ctors[] = {65012, 65011};
  seq s = {{0}, 0};
  seq_add(&s, numbered, 7);
  seq_add(&s, init_first ? init : ctors, 2);
  seq_add(&s, init_first ? ctors : init, 2);
  return s;
}

/* order_a.o's release: its handlers (registered 901, 801, 902 by the
** constructors, then 801, 903 by order_a_main) last first, then the fini
** entries in reverse of their place in .fini_array:
** 101, 301 (.dtors.65234), 400, 1000, 1502 1501 (.dtors.64035, reversed),
** then the plain .fini_array (65001, 65002) and .dtors (65012, 65011) by
** section order.  With b (plain_b = 1): b's 200 and 450 take their places
** and b's plain entry comes after all of a's plain ones. */
static seq rules_release(int fini_first, int with_b) {
  static const int handlers[] = {-903, -801, -902, -801, -901};
  static const int fini_plain[] = {-65002, -65001}, dtors_plain[] = {-65011, -65012};
  seq s = {{0}, 0};
  seq_add(&s, handlers, 5);
  if (with_b) seq_add(&s, (const int[]){-2999}, 1);
  /* the later section runs first */
  seq_add(&s, fini_first ? dtors_plain : fini_plain, 2);
  seq_add(&s, fini_first ? fini_plain : dtors_plain, 2);
  seq_add(&s, (const int[]){-1501, -1502, -1000}, 3);
  if (with_b) seq_add(&s, (const int[]){-2450}, 1);
  seq_add(&s, (const int[]){-400, -301}, 2);
  if (with_b) seq_add(&s, (const int[]){-2200}, 1);
  seq_add(&s, (const int[]){-101}, 1);
  return s;
}

/* ---- initfini_order ------------------------------------------------------- */

/* Loads one object into a fresh library, calls order_a_main if it has it,
** releases the library, and returns everything recorded. */
static seq jit_run_one(orcjit_session *s, const char *obj, seq *ctors_at_add) {
  ojt_nseq = 0;
  orcjit_library *lib = ojt_new_library(s, obj);
  REQUIRE_OK(orcjit_library_add_file(lib, ojt_obj(obj)));
  *ctors_at_add = seq_recorded(0, ojt_nseq); /* before any lookup */
  oj_order_rec(0);
  void *main_fn = NULL;
  if (orcjit_library_lookup(lib, "order_a_main", &main_fn) == ORCJIT_OK)
    ((void (*)(void))main_fn)();
  orcjit_library_release(lib);
  return seq_recorded(0, ojt_nseq);
}

void ojt_case_initfini_order(void) {
  orcjit_session *s = ojt_new_session();
  const char *a = ojt_obj("order_a.o");
  int init_first = section_index(a, ".init_array") < section_index(a, ".ctors");
  int fini_first = section_index(a, ".fini_array") < section_index(a, ".dtors");
  REQUIRE(section_index(a, ".init_array.00400") != 0); /* the sections exist */
  REQUIRE(section_index(a, ".ctors.64035") != 0 && section_index(a, ".dtors.65234") != 0);
  printf("order_a.o: plain .init_array %s .ctors, plain .fini_array %s .dtors\n",
         init_first ? "before" : "after", fini_first ? "before" : "after");

  ojt_step("order_a.o against the rules");
  seq at_add, got = jit_run_one(s, "order_a.o", &at_add);
  seq want = rules_a_ctors(init_first);
  CHECK_SEQ("order_a.o: constructors at add", &at_add, &want);
  seq rel = rules_release(fini_first, 0);
  seq_add(&want, (const int[]){0, 1}, 2);
  seq_add(&want, rel.v, rel.n);
  CHECK_SEQ("order_a.o: whole sequence", &got, &want);

  /* Each object alone against its executable (order.txt). */
  size_t size;
  char *list = ojt_read_file(ojt_obj("order.txt"), &size), *save = NULL;
  list = realloc(list, size + 1);
  REQUIRE(list != NULL);
  list[size] = '\0';
  int checked = 0;
  for (char *line = strtok_r(list, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
    char obj[128], exe[128];
    if (sscanf(line, "%127s %127s", obj, exe) != 2) continue;
    ojt_step("%s against the executable %s", obj, exe);
    seq oracle = run_oracle(exe);
    got = jit_run_one(s, obj, &at_add);
    seq oracle_head = seq_head(&oracle);
    printf("%s: %d entries, as the executable %s\n", obj, got.n, exe);
    CHECK_SEQ(obj, &at_add, &oracle_head);
    CHECK_SEQ(obj, &got, &oracle);
    checked++;
  }
  free(list);
  CHECK(checked >= 2);

  /* Incremental: b added to a library that holds a runs b's constructors
  ** only; at release the library finalises as the executable of a + b. */
  ojt_step("order_a.o then order_b.o in one library");
  seq oracle_a = run_oracle("order_a"), oracle_b = run_oracle("order_b");
  seq oracle_ab = run_oracle("order_ab");
  ojt_nseq = 0;
  orcjit_library *lib = ojt_new_library(s, "order_ab");
  REQUIRE_OK(orcjit_library_add_file(lib, ojt_obj("order_a.o")));
  int after_a = ojt_nseq;
  seq part = seq_recorded(0, after_a), want_part = seq_head(&oracle_a);
  CHECK_SEQ("a's constructors at a's add", &part, &want_part);
  REQUIRE_OK(orcjit_library_add_file(lib, ojt_obj("order_b.o")));
  int after_b = ojt_nseq;
  part = seq_recorded(after_a, after_b), want_part = seq_head(&oracle_b);
  CHECK_SEQ("b's constructors, and only those, at b's add", &part, &want_part);
  void *main_fn = NULL;
  REQUIRE_OK(orcjit_library_lookup(lib, "order_a_main", &main_fn));
  oj_order_rec(0);
  ((void (*)(void))main_fn)();
  CHECK_EQ(ojt_nseq, after_b + 2); /* nothing ran again */
  orcjit_library_release(lib);
  part = seq_recorded(after_b, ojt_nseq), want_part = seq_tail(&oracle_ab);
  CHECK_SEQ("release of a + b, as the executable of a + b", &part, &want_part);
  want = rules_release(fini_first, 1);
  seq tail = seq_recorded(after_b + 2, ojt_nseq);
  CHECK_SEQ("release of a + b, by the rules", &tail, &want);
  orcjit_session_release(s);
}

/* ---- static_state --------------------------------------------------------- */

#define OJT_LOG_MAX 64
static int ojt_state_ev[OJT_LOG_MAX];
static int ojt_nstate;

/* Called by state1.o / state2.o: id * 10 + event is recorded (event < 0:
** id * 10 - |event|). */
__attribute__((visibility("default"))) void oj_state_log(int id, int event) {
  if (ojt_nstate < OJT_LOG_MAX) ojt_state_ev[ojt_nstate] = event > 0 ? id * 10 + event : -(id * 10 - event);
  ojt_nstate++;
}

static int state_count(int from, int code) {
  int n = 0;
  for (int i = from; i < ojt_nstate && i < OJT_LOG_MAX; i++) n += ojt_state_ev[i] == code;
  return n;
}

static void state_round(orcjit_session *s, int first) {
  int second = 3 - first;
  orcjit_library *lib[3] = {NULL, NULL, NULL};
  int start = ojt_nstate;
  for (int id = 1; id <= 2; id++) {
    char name[32];
    snprintf(name, sizeof name, "state%d.o", id);
    lib[id] = ojt_new_library(s, name);
    REQUIRE_OK(orcjit_library_add_file(lib[id], ojt_obj(name)));
    /* The global object and the C constructor, once each, at the add. */
    CHECK_EQ(state_count(start, id * 10 + 1), 1);
    CHECK_EQ(state_count(start, id * 10 + 2), 1);
  }
  CHECK_EQ(ojt_nstate - start, 4);
  for (int id = 1; id <= 2; id++) {
    CHECK_EQ(OJT_GETCALL1(lib[id], "state_bump", 5 * id), 100 * id + 5 * id);
    CHECK_EQ(OJT_GETCALL1(lib[id], "state_bump", 1), 100 * id + 5 * id + 1);
    CHECK_EQ(OJT_GETCALL0(lib[id], "state_count"), 2);
    CHECK_EQ(state_count(start, id * 10 + 3), 1); /* the local static */
  }
  CHECK_EQ(ojt_nstate - start, 6);

  /* Release the first: its local static and global object (exit handlers,
  ** last registered first), then its C destructor; nothing of the other. */
  int mark = ojt_nstate;
  orcjit_library_release(lib[first]);
  int want1[3] = {-(first * 10 + 3), -(first * 10 + 1), -(first * 10 + 2)};
  seq got = seq_recorded(0, 0), want = seq_recorded(0, 0);
  for (int i = mark; i < ojt_nstate && i < OJT_LOG_MAX; i++) seq_add(&got, &ojt_state_ev[i], 1);
  seq_add(&want, want1, 3);
  CHECK_SEQ("destructors of the first library released", &got, &want);

  /* The other still works, with its state intact. */
  CHECK_EQ(OJT_GETCALL1(lib[second], "state_bump", 10), 100 * second + 5 * second + 11);
  CHECK_EQ(OJT_GETCALL0(lib[second], "state_count"), 3);
  CHECK_EQ(ojt_nstate, mark + 3);

  mark = ojt_nstate;
  orcjit_library_release(lib[second]);
  int want2[3] = {-(second * 10 + 3), -(second * 10 + 1), -(second * 10 + 2)};
  got.n = want.n = 0;
  for (int i = mark; i < ojt_nstate && i < OJT_LOG_MAX; i++) seq_add(&got, &ojt_state_ev[i], 1);
  seq_add(&want, want2, 3);
  CHECK_SEQ("destructors of the second library released", &got, &want);

  /* Over the round: every event of both libraries exactly once. */
  for (int id = 1; id <= 2; id++)
    for (int e = 1; e <= 3; e++) {
      CHECK_EQ(state_count(start, id * 10 + e), 1);
      CHECK_EQ(state_count(start, -(id * 10 + e)), 1);
    }
  CHECK_EQ(ojt_nstate - start, 12);
}

void ojt_case_static_state(void) {
  orcjit_session *s = ojt_new_session();
  ojt_step("release 1 then 2");
  state_round(s, 1);
  ojt_step("release 2 then 1");
  state_round(s, 2);
  orcjit_session_release(s);
}
