/*
** oj_ffi_int.h: what the C++ files of the TVM-FFI binding share
** (oj_ffi.cc, oj_ffi_module.cc): errors thrown as TVM-FFI errors, and the
** session object.  C++ because TVM-FFI's object types are C++ classes
** (TVM_FFI_DECLARE_OBJECT_INFO); the error kinds and messages are C
** (src/oj_ffierr.c).
*/
#ifndef TVM_FFI_ORCJIT_GLUE_OJ_FFI_INT_H
#define TVM_FFI_ORCJIT_GLUE_OJ_FFI_INT_H

#include <tvm/ffi/any.h>
#include <tvm/ffi/c_api.h>
#include <tvm/ffi/error.h>
#include <tvm/ffi/memory.h>
#include <tvm/ffi/object.h>
#include <tvm/ffi/string.h>
#include <tvm_ffi_orcjit/orcjit.h>

#include <string>
#include <utility>

#include "oj_ffierr.h"

namespace tvm_ffi_orcjit {

namespace ffi = ::tvm::ffi;
using ffi::Any;
using ffi::Object;
using ffi::ObjectPtr;
using ffi::ObjectRef;
using ffi::Optional;
using ffi::String;

/* ---- errors ------------------------------------------------------------ */

[[noreturn]] inline void ThrowKind(const std::string& kind, const std::string& message) {
  throw ffi::Error(kind, message, TVMFFIBacktrace(__FILE__, __LINE__, TVM_FFI_FUNC_SIG, 0));
}

/* A failed call `what` of the C API that returned status: its kind (path,
** if known, refines ORCJIT_EIO) and the core's message. */
[[noreturn]] inline void ThrowStatus(int status, const char* what, const char* path = nullptr) {
  char buf[256];
  std::string kind = oj_ffierr_kind(status, path);
  ThrowKind(kind, oj_ffierr_message(status, what, buf, sizeof buf));
}

/* ---- session ----------------------------------------------------------- */

class SessionObj : public Object {
 public:
  explicit SessionObj(orcjit_session* handle) : handle_(handle) {}
  SessionObj(const SessionObj&) = delete;
  SessionObj& operator=(const SessionObj&) = delete;
  ~SessionObj() { orcjit_session_release(handle_); }

  orcjit_session* handle() const { return handle_; }

  static constexpr bool _type_mutable = true;
  TVM_FFI_DECLARE_OBJECT_INFO_FINAL("tvm_ffi_orcjit.ExecutionSession", SessionObj, Object);

 private:
  orcjit_session* handle_;
};

class Session : public ObjectRef {
 public:
  explicit Session(ObjectPtr<SessionObj> n) : ObjectRef(std::move(n)) {}
  TVM_FFI_DEFINE_OBJECT_REF_METHODS_NOTNULLABLE(Session, ObjectRef, SessionObj);
};

}  // namespace tvm_ffi_orcjit

#endif /* TVM_FFI_ORCJIT_GLUE_OJ_FFI_INT_H */
