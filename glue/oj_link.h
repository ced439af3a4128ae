/*
** oj_link.h: what glue/oj_link.cc gives the C core and the object layer:
** adding an object with an interface read from its own symbol table, and
** the JITLink plugin that binds undefined symbols in the link graph.
*/
#ifndef OJ_LINK_H
#define OJ_LINK_H

#include <stddef.h>

#include <llvm-c/Error.h>
#include <llvm-c/LLJIT.h>
#include <llvm-c/Orc.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Adds the x86-64 ELF relocatable object image[0..size) (already checked
** by the ELF pre-pass; not copied: it must stay valid until the lookup that
** links it has returned, or the tracker is removed) to the JITDylib of rt, as
** LLVMOrcLLJITAddObjectFileWithRT does, but without parsing it with LLVM's
** object library to learn the symbols it defines: they are read from the
** image's symbol table.  name names the object in LLVM's messages.
** Returns NULL or the error (duplicate definitions, as LLVM words them;
** an oj_link_error_is_nomem one when the copy cannot be allocated). */
LLVMErrorRef oj_link_add_object(LLVMOrcLLJITRef jit, LLVMOrcResourceTrackerRef rt,
                                const void *image, size_t size, const char *name);

/* An error that says what ran out of memory (std::errc::not_enough_memory,
** which oj_link_error_is_nomem recognises). */
LLVMErrorRef oj_link_nomem_error(const char *what);
/* Whether err (not consumed) is an allocation failure: an error whose
** code is std::errc::not_enough_memory (ours, and the memory manager's
** when the system refuses address space). */
int oj_link_error_is_nomem(LLVMErrorRef err);

#ifdef __cplusplus
} /* extern "C" */

#include <memory>

#include "llvm/ExecutionEngine/Orc/ObjectLinkingLayer.h"

/* A plugin that binds the undefined symbols of each linked object in the
** link graph itself, through the core's search (oj_resolve_external). */
std::shared_ptr<llvm::orc::ObjectLinkingLayer::Plugin> oj_link_make_plugin();
#endif

#endif /* OJ_LINK_H */
