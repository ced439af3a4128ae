/*
** oj_ffi_module.h: the ffi.Module of kind "orcjit", one per library
** (glue/oj_ffi_module.cc), as the rest of the binding (oj_ffi.cc) uses it.
** The functions taking a Module throw a TypeError for a module of another
** kind.
*/
#ifndef TVM_FFI_ORCJIT_GLUE_OJ_FFI_MODULE_H
#define TVM_FFI_ORCJIT_GLUE_OJ_FFI_MODULE_H

#include <tvm/ffi/extra/module.h>
#include <tvm/ffi/function.h>

#include <cstdint>
#include <string>
#include <vector>

#include "oj_ffi_int.h"

namespace tvm_ffi_orcjit {

using ffi::Function;
using ffi::Module;

/* A new empty library of session, as a module (name empty: a unique one). */
Module CreateModule(const Session& session, const std::string& name);

/* One new library holding all the objects (an Array of str/bytes, or one
** str/bytes), linked as one; the root of an embedded import tree if that is
** not the library's module. */
Module SessionLoadModule(const Session& session, const Any& objects, const String& name);

/* Adds one object, archive or tar (a path: str, or its bytes, named
** "<memory>" in messages); deferred: linked at the first lookup that needs
** it (a tar is linked now).  *other_root receives the root of an embedded
** import tree whose root is not the module (rare). */
void ModuleAdd(const Module& mod, const Any& input, Optional<Module>* other_root, bool deferred);

void ModuleSetLinkOrder(const Module& mod, const std::vector<Module>& libs);

/* The function exported as __tvm_ffi_<name>; AttributeError if missing. */
Function ModuleGetFunctionOrThrow(const Module& mod, const String& name);

/* The address of a symbol defined in the library; KeyError if missing. */
int64_t ModuleLookup(const Module& mod, const String& symbol);

String ModuleName(const Module& mod);
Session ModuleSession(const Module& mod);

}  // namespace tvm_ffi_orcjit

#endif /* TVM_FFI_ORCJIT_GLUE_OJ_FFI_MODULE_H */
