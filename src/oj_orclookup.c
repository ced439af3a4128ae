/*
** oj_orclookup.c: the synchronous ORC lookup that links what a library
** was given (oj_orclookup_run), and the wording of a failed link: the
** unresolved names with the objects needing them, and LLVM's errors
** classified (out of memory, range errors with the machine's hint,
** unsupported).  It does not choose what to link (oj_add.c, oj_members.c)
** nor bind undefined symbols (oj_resolve.c).
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oj_arch.h"
#include "oj_library_int.h"
#include "oj_link.h"

/* Pointer -> index map for matching lookup results with our names. */
typedef struct oj_lookup {
  pthread_mutex_t m;
  pthread_cond_t c;
  int done;
  LLVMErrorRef err;
  LLVMOrcSymbolStringPoolEntryRef *names; /* n interned names */
  uint64_t *addrs;                        /* n results, 0 if absent */
  size_t n;
  size_t *index; /* open-addressing table of name positions, cap entries */
  size_t cap;
} oj_lookup;

static size_t oj_lookup_slot(const oj_lookup *lk, LLVMOrcSymbolStringPoolEntryRef e) {
  uintptr_t h = (uintptr_t)e;
  h ^= h >> 17;
  h *= 0x9E3779B97F4A7C15ull;
  return (size_t)(h >> 20) & (lk->cap - 1);
}

static void oj_lookup_result(LLVMErrorRef err, LLVMOrcCSymbolMapPairs res, size_t n,
                             void *ctx) {
  oj_lookup *lk = ctx;
  if (!err) {
    for (size_t i = 0; i < n; i++) {
      for (size_t s = oj_lookup_slot(lk, res[i].Name);; s = (s + 1) & (lk->cap - 1)) {
        size_t k = lk->index[s];
        if (k == SIZE_MAX) break;
        if (lk->names[k] == res[i].Name) {
          lk->addrs[k] = res[i].Sym.Address;
          break;
        }
      }
    }
  }
  pthread_mutex_lock(&lk->m);
  lk->err = err;
  lk->done = 1;
  pthread_cond_signal(&lk->c);
  pthread_mutex_unlock(&lk->m);
}

/* Whether name is one of the names a lookup asks for (for oj_adding). */
static int oj_lookup_has(const void *ctx, LLVMOrcSymbolStringPoolEntryRef name) {
  const oj_lookup *lk = ctx;
  for (size_t s = oj_lookup_slot(lk, name);; s = (s + 1) & (lk->cap - 1)) {
    size_t k = lk->index[s];
    if (k == SIZE_MAX) return 0;
    if (lk->names[k] == name) return 1;
  }
}

/* Looks names[0..n) up in lib's JITDylib; required[i] says whether a
** missing name fails the lookup.  Fills addrs.  Links what is needed. */
LLVMErrorRef oj_orclookup_run(orcjit_library *lib, const char *const *names,
                              const unsigned char *required, size_t n, uint64_t *addrs) {
  orcjit_session *s = lib->session;
  oj_lookup lk;
  memset(&lk, 0, sizeof lk);
  lk.n = n;
  lk.addrs = addrs;
  lk.cap = 16;
  while (lk.cap < n * 2) lk.cap *= 2;
  lk.names = malloc(n * sizeof *lk.names);
  lk.index = malloc(lk.cap * sizeof *lk.index);
  LLVMOrcCLookupSetElement *set = malloc(n * sizeof *set);
  if (!lk.names || !lk.index || !set) {
    free(lk.names);
    free(lk.index);
    free(set);
    return oj_link_nomem_error("the names of a lookup");
  }
  memset(lk.index, 0xff, lk.cap * sizeof *lk.index);
  for (size_t i = 0; i < n; i++) {
    addrs[i] = 0;
    lk.names[i] = LLVMOrcExecutionSessionIntern(s->es, names[i]);
    set[i].Name = lk.names[i];
    set[i].LookupFlags = required[i] ? LLVMOrcSymbolLookupFlagsRequiredSymbol
                                     : LLVMOrcSymbolLookupFlagsWeaklyReferencedSymbol;
    size_t slot = oj_lookup_slot(&lk, lk.names[i]);
    while (lk.index[slot] != SIZE_MAX && lk.names[lk.index[slot]] != lk.names[i])
      slot = (slot + 1) & (lk.cap - 1);
    lk.index[slot] = i;
  }
  pthread_mutex_init(&lk.m, NULL);
  pthread_cond_init(&lk.c, NULL);
  LLVMOrcCJITDylibSearchOrderElement order = {lib->slot->jd,
                                               LLVMOrcJITDylibLookupFlagsMatchAllSymbols};
  /* The objects linked by this lookup bind their undefined symbols in
  ** the link plugin (oj_resolve_external), except names defined here. */
  oj_adding adding = {lib, oj_lookup_has, &lk, NULL};
  oj_resolve_adding_push(&adding);
  LLVMOrcExecutionSessionLookup(s->es, LLVMOrcLookupKindStatic, &order, 1, set, n,
                                oj_lookup_result, &lk);
  pthread_mutex_lock(&lk.m);
  while (!lk.done) pthread_cond_wait(&lk.c, &lk.m);
  pthread_mutex_unlock(&lk.m);
  oj_resolve_adding_pop(&adding);
  pthread_mutex_destroy(&lk.m);
  pthread_cond_destroy(&lk.c);
  /* No release of lk.names: LLVMOrcExecutionSessionLookup takes over the
  ** reference each element of set carries (llvm-c/Orc.h).  Releasing them
  ** here too (as this did until a fuzz_load find) wrapped every looked-up
  ** name's count below zero once per add, so the pool never freed it and a
  ** later add of the name could assert or use a freed entry. */
  free(lk.names);
  free(lk.index);
  free(set);
  return lk.err;
}

/* The unit that needs the first name of missing ("a, b, ..."), for the
** message; the last unit (what the caller asked for) if none says so. */
static const char *oj_units_needing(const oj_unit *units, size_t n, const char *missing) {
  size_t len = strcspn(missing, ",");
  for (size_t i = 0; i < n; i++)
    for (size_t j = 0; j < units[i].obj.nundefined; j++) {
      const char *u = units[i].obj.undefined[j].name;
      if (strncmp(u, missing, len) == 0 && u[len] == '\0') return units[i].what;
    }
  return units[n - 1].what;
}

/* Whether name is one of missing's ("a, b, ...") names. */
static int oj_missing_has(const char *missing, const char *name) {
  size_t len = strlen(name);
  for (const char *p = missing; (p = strstr(p, name)) != NULL; p += len)
    if ((p == missing || (p[-1] == ' ' && p[-2] == ',')) && (p[len] == ',' || !p[len]))
      return 1;
  return 0;
}

/* Whether unit u needs one of the missing names. */
int oj_orclookup_unit_misses(const oj_unit *u, const char *missing) {
  for (size_t j = 0; j < u->obj.nundefined; j++)
    if (!(u->obj.undefined[j].flags & OJ_ELF_SYM_WEAK) &&
        oj_missing_has(missing, u->obj.undefined[j].name))
      return 1;
  return 0;
}

/* EUNRESOLVED for the missing names of this thread's link: every name and
** the object needing it ("a, b (needed by 'x.o'), c (needed by 'y.o')"
** when several objects miss names, one "(needed by ...)" otherwise). */
int oj_orclookup_unresolved(orcjit_library *lib, const oj_unit *units, size_t n) {
  const char *missing = oj_resolve_missing();
  int count = oj_resolve_missing_count();
  const char *needer = oj_units_needing(units, n, missing);
  if (strstr(missing, OJ_TLS_IE_WHY)) /* oj_tls.c's reasons, not missing names */
    return oj_error_set(ORCJIT_EUNSUPPORTED, "library '%s': %s: thread-local%s %s", lib->name,
                        needer, count > 1 ? "s" : "", missing);
  size_t nneed = 0;
  for (size_t i = 0; i < n; i++) nneed += oj_orclookup_unit_misses(&units[i], missing);
  if (nneed <= 1)
    return oj_error_set(ORCJIT_EUNRESOLVED,
                        "library '%s': %s: unresolved symbol%s: %s (needed by '%s'; not "
                        "defined in the library, its link order or the process)",
                        lib->name, needer, count > 1 ? "s" : "", missing, needer);
  /* Several objects: the names each one misses, then its name. */
  size_t cap = 1, len = 0;
  for (size_t i = 0; i < n; i++)
    for (size_t j = 0; j < units[i].obj.nundefined; j++)
      cap += strlen(units[i].obj.undefined[j].name) + strlen(units[i].what) + 20;
  char *text = malloc(cap);
  if (!text)
    return oj_error_set(ORCJIT_EUNRESOLVED, "library '%s': unresolved symbols: %s", lib->name,
                        missing);
  text[0] = '\0';
  for (size_t i = 0; i < n; i++) {
    int first = 1;
    for (size_t j = 0; j < units[i].obj.nundefined; j++) {
      const char *u = units[i].obj.undefined[j].name;
      if ((units[i].obj.undefined[j].flags & OJ_ELF_SYM_WEAK) || !oj_missing_has(missing, u))
        continue;
      len += (size_t)snprintf(text + len, cap - len, "%s%s",
                              first ? (len ? "), " : "") : ", ", u);
      first = 0;
    }
    if (!first)
      len += (size_t)snprintf(text + len, cap - len, " (needed by '%s'", units[i].what);
  }
  int rc = oj_error_set(ORCJIT_EUNRESOLVED,
                        "library '%s': unresolved symbols: %s); not defined in the library, "
                        "its link order or the process",
                        lib->name, text);
  free(text);
  return rc;
}

/* The failure of the link of `what` into lib that is not missing names:
** LLVM's message (err consumed) without ORC's list of the symbols it
** could not make, with its status: ENOMEM, ELINK with the machine's hint
** for range errors (oj_arch_<machine>.c), EUNSUPPORTED, or ELINK. */
int oj_orclookup_link_error(orcjit_library *lib, const char *what, LLVMErrorRef err) {
  int rc = oj_error_from_llvm(ORCJIT_ELINK, err, "library '%s': cannot link '%s'", lib->name,
                              what);
  char copy[2048];
  snprintf(copy, sizeof copy, "%s", oj_error_message());
  /* ORC appends every symbol of the object that could not be made
  ** ("Failed to materialize symbols: {...}"): noise after the cause. */
  char *noise = strstr(copy, " (Failed to materialize symbols");
  if (noise) *noise = '\0';
  const char *hint = oj_arch_link_hint(oj_arch_host(), copy, atomic_load(&lib->low));
  if (rc == ORCJIT_ENOMEM) return oj_error_set(rc, "%s", copy);
  if (hint) return oj_error_set(ORCJIT_ELINK, "%s; %s", copy, hint);
  if (strstr(copy, "Unsupported") || strstr(copy, "unsupported"))
    return oj_error_set(ORCJIT_EUNSUPPORTED, "%s", copy);
  return oj_error_set(ORCJIT_ELINK, "%s", copy);
}
