/*
** oj_ffi.h: the TVM-FFI binding of tvm-ffi-orcjit (glue/oj_ffi.cc).
**
** Loading libtvm_ffi_orcjit.so registers, in TVM-FFI's global function
** table, the functions listed below (a static initializer calls
** TVMFFIOrcJITInitialize).  Hosts that link the library without running
** its static initializers (or that want to be explicit) call
** TVMFFIOrcJITInitialize() themselves; it is idempotent and thread-safe.
**
** Object types
**   tvm_ffi_orcjit.ExecutionSession   one orcjit_session
**   tvm_ffi_orcjit.DynamicLibrary     one orcjit_library (holds its session)
**   ffi.Module, kind "orcjit"         a module view of one library
**
** Global functions
**   tvm_ffi_orcjit.ExecutionSession(orc_rt: Optional[str|bytes], slab_size: int)
**   tvm_ffi_orcjit.GlobalDefaultSession() -> ExecutionSession
**   tvm_ffi_orcjit.SessionLoadModule(session, objects: Array[str|bytes], name: str)
**       -> Module
**   tvm_ffi_orcjit.SessionClearFreeSlabs(session) -> int
**   tvm_ffi_orcjit.ExecutionSessionCreateDynamicLibrary(session, name) -> DynamicLibrary
**   tvm_ffi_orcjit.DynamicLibraryAdd(lib, path_or_bytes)
**   tvm_ffi_orcjit.DynamicLibrarySetLinkOrder(lib, Array[DynamicLibrary])
**   tvm_ffi_orcjit.DynamicLibraryGetFunction(lib, name) -> Function
**   tvm_ffi_orcjit.DynamicLibraryGetName(lib) -> str
**   tvm_ffi_orcjit.DynamicLibraryGetModule(lib) -> Module
**   tvm_ffi_orcjit.DynamicLibraryGetSession(lib) -> ExecutionSession
**   tvm_ffi_orcjit.DynamicLibraryLookup(lib, symbol) -> int (address)
**   tvm_ffi_orcjit.InspectObject(path_or_bytes, name, resolve: bool) -> Map
**       (orcjit_inspect_*: symbols, TVM-FFI functions, init/fini sections)
**   ffi.Module.load_from_file.o(path[, format]) -> Module   (default session)
**   ffi.Module.load_from_bytes.o(bytes) -> Module           (default session)
*/
#ifndef TVM_FFI_ORCJIT_GLUE_OJ_FFI_H
#define TVM_FFI_ORCJIT_GLUE_OJ_FFI_H

#ifdef __cplusplus
extern "C" {
#endif

/* Registers the object types and global functions above.  Returns 0 on
** success; on failure -1, with the error set through TVM-FFI
** (TVMFFIErrorMoveFromRaised). */
__attribute__((visibility("default"))) int TVMFFIOrcJITInitialize(void);

#ifdef __cplusplus
}
#endif
#endif /* TVM_FFI_ORCJIT_GLUE_OJ_FFI_H */
