/*
** oj_gdbjit.c: the entries this library adds to gdb's JIT interface
** (oj_gdbjit.h): one per linked object of a session with the debugger on,
** added once the object is emitted and removed before its memory is
** freed.  One process-wide mutex serialises our changes to the list
** (LLVM's own registration, which this project never calls, has another).
**
** It does not build the image gdb reads (oj_elf_debug.c) or decide when an
** object comes and goes (glue/oj_debug.cc).
*/
#include "oj_gdbjit.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>

/* gdb's layouts (gdb/jit.h, "JIT Interface" in gdb's manual), version 1. */
enum { OJ_GDBJIT_NOACTION = 0, OJ_GDBJIT_REGISTER = 1, OJ_GDBJIT_UNREGISTER = 2 };

struct oj_gdbjit_entry {
  struct oj_gdbjit_entry *next_entry; /* gdb reads these four fields */
  struct oj_gdbjit_entry *prev_entry;
  const char *symfile_addr;
  uint64_t symfile_size;
  unsigned char *image; /* ours: what symfile_addr points at */
};

struct oj_gdbjit_descriptor {
  uint32_t version;
  uint32_t action_flag;
  struct oj_gdbjit_entry *relevant_entry;
  struct oj_gdbjit_entry *first_entry;
};

/* LLVM's definitions (see oj_gdbjit.h): one pair per process. */
extern struct oj_gdbjit_descriptor __jit_debug_descriptor;
extern void __jit_debug_register_code(void);

static pthread_mutex_t oj_gdbjit_lock = PTHREAD_MUTEX_INITIALIZER;

/* Tells gdb about e (under the lock). */
static void oj_gdbjit_notify(struct oj_gdbjit_entry *e, uint32_t action) {
  struct oj_gdbjit_descriptor *d = &__jit_debug_descriptor;
  d->relevant_entry = e;
  d->action_flag = action;
  __jit_debug_register_code();
  d->action_flag = OJ_GDBJIT_NOACTION;
  d->relevant_entry = NULL;
}

oj_gdbjit_entry *oj_gdbjit_register(unsigned char *image, size_t size) {
  struct oj_gdbjit_descriptor *d = &__jit_debug_descriptor;
  oj_gdbjit_entry *e = malloc(sizeof *e);
  if (!e) {
    free(image);
    return NULL;
  }
  e->image = image;
  e->symfile_addr = (const char *)image;
  e->symfile_size = size;
  e->prev_entry = NULL;
  pthread_mutex_lock(&oj_gdbjit_lock);
  e->next_entry = d->first_entry;
  if (d->first_entry) d->first_entry->prev_entry = e;
  d->first_entry = e;
  oj_gdbjit_notify(e, OJ_GDBJIT_REGISTER);
  pthread_mutex_unlock(&oj_gdbjit_lock);
  return e;
}

void oj_gdbjit_unregister(oj_gdbjit_entry *e) {
  struct oj_gdbjit_descriptor *d = &__jit_debug_descriptor;
  if (!e) return;
  pthread_mutex_lock(&oj_gdbjit_lock);
  if (e->prev_entry) e->prev_entry->next_entry = e->next_entry;
  else d->first_entry = e->next_entry;
  if (e->next_entry) e->next_entry->prev_entry = e->prev_entry;
  oj_gdbjit_notify(e, OJ_GDBJIT_UNREGISTER);
  pthread_mutex_unlock(&oj_gdbjit_lock);
  free(e->image);
  free(e);
}
