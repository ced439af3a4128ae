/*
** oj_debug.h: debugger and profiler support of a session (C interface to
** glue/oj_debug.cc).
**
** Opt-in per session (ORCJIT_SESSION_DEBUGGER, ORCJIT_SESSION_PERF_MAP in
** orcjit.h, or the environment variables read by oj_session.c):
**   debugger  every linked object is registered with the GDB JIT interface
**             (LLVM's __jit_debug_descriptor / __jit_debug_register_code,
**             from libLLVM or linked into this library) as a copy of the
**             object whose section headers carry the addresses its sections
**             were linked at; it is unregistered before the object's memory
**             is freed (library release, failed add, end of the session).
**   perf map  "START SIZE name" (hex) for every function of every linked
**             object is appended to /tmp/perf-<pid>.map, which perf reads to
**             name samples in JIT code.
**
** Use, after the LLJIT is created and before anything is added to it:
**   oj_debug_attach(LLVMOrcLLJITGetObjLinkingLayer(jit), flags);
*/
#ifndef OJ_DEBUG_H
#define OJ_DEBUG_H

#include <llvm-c/Orc.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Adds the plugin for the ORCJIT_SESSION_DEBUGGER / ORCJIT_SESSION_PERF_MAP
** bits of flags to the session's object layer (the ObjectLinkingLayer made
** by oj_memmgr_create_object_layer; the layer owns the plugin).  flags
** without either bit is a no-op.  Returns ORCJIT_OK, or an ORCJIT_E* status
** with the message set: ORCJIT_EIO when the perf map file cannot be opened,
** ORCJIT_EUNSUPPORTED when the layer is not a JITLink layer. */
int oj_debug_attach(LLVMOrcObjectLayerRef layer, unsigned flags);

#ifdef __cplusplus
}
#endif
#endif /* OJ_DEBUG_H */
