/*
** oj_pin.c: libraries that are never unloaded because their code registered
** something with TVM-FFI that points into it.
**
** TVM-FFI keeps, for the life of the process, global functions
** (TVMFFIFunctionSetGlobal*), the fields, methods, metadata and attributes of
** object types (TVMFFITypeRegister*), the allocator hooks
** (TVMFFISetCustomAllocator, TVMFFIEnvSetDLPackManagedTensorAllocator) and
** the symbols of TVMFFIEnvRegisterCAPI / TVMFFIEnvModRegister*Symbol, and has
** no call to forget any of them.  What it keeps points at the code or data
** of the library that registered it, so unloading that library would leave
** TVM-FFI calling freed memory.  A library whose objects call one of these
** functions (has it as an undefined symbol) is therefore "pinned" when such
** an object is linked, before its constructors (TVM_FFI_STATIC_INIT_BLOCK)
** run.  At its last release a pinned library is only taken off its
** session's list (its name can be used again): its destructors do not run,
** its code, data, thread-locals and JITDylib stay, and so do its session and
** the libraries of its link order.
** TVMFFITypeGetOrAllocIndex is not in the list: TVM-FFI copies the type key
** and keeps nothing of the caller's memory.
** The decision is by reference, not by call: a library can register from a
** constructor, from any function later, through a raw function pointer a C
** host calls or from a thread it started, and a reference covers each of
** them.  Ordinary kernels (TVM_FFI_DLL_EXPORT_TYPED_FUNC) reference none of
** these names.
*/
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "oj_internal.h"

static const char *const oj_pin_names[] = {
    "TVMFFIFunctionSetGlobal",
    "TVMFFIFunctionSetGlobalFromMethodInfo",
    "TVMFFITypeRegisterField",
    "TVMFFITypeRegisterMethod",
    "TVMFFITypeRegisterMetadata",
    "TVMFFITypeRegisterAttr",
    "TVMFFISetCustomAllocator",
    "TVMFFIEnvSetDLPackManagedTensorAllocator",
    "TVMFFIEnvRegisterCAPI",
    "TVMFFIEnvModRegisterContextSymbol",
    "TVMFFIEnvModRegisterSystemLibSymbol",
};

/* The pinned libraries that were released: kept reachable (and visible to
** a debugger and to LeakSanitizer as not lost). */
static pthread_mutex_t oj_pin_lock = PTHREAD_MUTEX_INITIALIZER;
static orcjit_library **oj_pin_kept;
static size_t oj_pin_nkept, oj_pin_capkept;

const char *oj_pin_reason(const oj_elf_object *obj) {
  for (size_t i = 0; i < obj->nundefined; i++) {
    const char *n = obj->undefined[i].name;
    if (strncmp(n, "TVMFFI", 6) != 0) continue;
    for (size_t k = 0; k < sizeof oj_pin_names / sizeof *oj_pin_names; k++)
      if (strcmp(n, oj_pin_names[k]) == 0) return oj_pin_names[k];
  }
  return NULL;
}

void oj_pin_note(orcjit_library *lib, const oj_elf_object *obj) {
  if (!atomic_load(&lib->pinned) && oj_pin_reason(obj)) atomic_store(&lib->pinned, 1);
}

int orcjit_library_is_pinned(const orcjit_library *lib) {
  return lib ? atomic_load(&((orcjit_library *)lib)->pinned) : 0;
}

int oj_pin_keep(orcjit_library *lib) {
  if (!atomic_load(&lib->pinned)) return 0;
  orcjit_session *s = lib->session;
  pthread_mutex_lock(&oj_pin_lock);
  /* Out of memory for the list: the library stays reachable from its
  ** session's list instead (and its destructors then run at exit). */
  int listed = !oj_grow((void **)&oj_pin_kept, &oj_pin_capkept, oj_pin_nkept + 1,
                        sizeof *oj_pin_kept);
  if (listed) oj_pin_kept[oj_pin_nkept++] = lib;
  pthread_mutex_unlock(&oj_pin_lock);
  if (!listed) return 1;
  pthread_mutex_lock(&s->lock);
  oj_symtab_remove(&s->lib_names, lib->name);
  if (lib->prev) lib->prev->next = lib->next;
  else s->libs = lib->next;
  if (lib->next) lib->next->prev = lib->prev;
  lib->next = lib->prev = NULL;
  pthread_mutex_unlock(&s->lock);
  return 1;
}
