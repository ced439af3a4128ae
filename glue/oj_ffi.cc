/*
** oj_ffi.cc: the TVM-FFI binding of tvm-ffi-orcjit.
**
** This file is C++ only because TVM-FFI's object system and ffi.Module
** (tvm::ffi::ModuleObj) are C++ classes: a module kind is a subclass of
** ModuleObj, object types are declared with TVM_FFI_DECLARE_OBJECT_INFO,
** globals are registered through tvm::ffi::reflection.  Everything else
** (linking, memory, symbols) lives in the C core and is reached only through
** its public API, include/tvm_ffi_orcjit/orcjit.h.
**
** What is here (see oj_ffi.h for the list of globals):
**   SessionObj         "tvm_ffi_orcjit.ExecutionSession", owns an orcjit_session*
**   OrcJITModuleObj    ffi.Module of kind "orcjit", owns an orcjit_library*
**   DynamicLibraryObj  "tvm_ffi_orcjit.DynamicLibrary", the first-generation
**                      handle: a session and the module of one library
**
** Ownership: DynamicLibrary -> Module -> orcjit_library -> orcjit_session.
** A Function returned by GetFunction holds a reference to its module, so the
** JIT code, its __tvm_ffi__library_ctx and the module's imports stay valid
** while the function lives.  A module also holds every module it was linked
** against (set_link_order), because their code may call back through their
** own library context.  Objects that JIT code returns hold their module too,
** and errors it raises are copied out of it (see "objects made by JIT code").
**
** Context symbols: a link callback, run by the core after each object is
** linked and before its constructors run, points __tvm_ffi__library_ctx at
** the module, binds every symbol registered with
** TVMFFIEnvModRegisterContextSymbol (Module::VisitContextSymbols) and notes
** __tvm_ffi__library_bin; once the add has succeeded the embedded import tree
** is expanded through ffi.Module.load_from_bytes.<kind>.
*/
#include "oj_ffi.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <tvm/ffi/any.h>
#include <tvm/ffi/c_api.h>
#include <tvm/ffi/cast.h>
#include <tvm/ffi/container/array.h>
#include <tvm/ffi/container/map.h>
#include <tvm/ffi/error.h>
#include <tvm/ffi/extra/c_env_api.h>
#include <tvm/ffi/extra/module.h>
#include <tvm/ffi/function.h>
#include <tvm/ffi/memory.h>
#include <tvm/ffi/object.h>
#include <tvm/ffi/optional.h>
#include <tvm/ffi/reflection/registry.h>
#include <tvm/ffi/string.h>
#include <tvm_ffi_orcjit/orcjit.h>

#include <cstdint>
#include <cstring>
#include <exception>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

/* Calls into JIT code are exempt from clang's -fsanitize=function check
** (part of -fsanitize=undefined, ORCJIT_SANITIZE): it reads the 8 bytes
** before the callee for a type signature, and JIT code may begin a mapping. */
#if defined(__clang__)
#define OJ_CALLS_JIT_CODE __attribute__((no_sanitize("function")))
#else
#define OJ_CALLS_JIT_CODE
#endif

namespace tvm_ffi_orcjit {

namespace ffi = ::tvm::ffi;
using ffi::Any;
using ffi::Array;
using ffi::Bytes;
using ffi::Function;
using ffi::Module;
using ffi::ModuleObj;
using ffi::Object;
using ffi::ObjectPtr;
using ffi::ObjectRef;
using ffi::Optional;
using ffi::String;

/* ---- errors ------------------------------------------------------------ */

[[noreturn]] static void ThrowKind(const std::string& kind, const std::string& message) {
  throw ffi::Error(kind, message, TVMFFIBacktrace(__FILE__, __LINE__, TVM_FFI_FUNC_SIG, 0));
}

/* The error kind (the Python exception class) for a failed core call.  For
** ORCJIT_EIO with a known path, the cause is refined with stat(2). */
static std::string KindForStatus(int status, const char* path) {
  switch (status) {
    case ORCJIT_EINVAL:
    case ORCJIT_EFORMAT:
      return "ValueError";
    case ORCJIT_EIO: {
      if (path != nullptr) {
        struct stat st;
        if (stat(path, &st) != 0) {
          if (errno == ENOENT || errno == ENOTDIR) return "FileNotFoundError";
          if (errno == EACCES) return "PermissionError";
        } else if (S_ISDIR(st.st_mode)) {
          return "IsADirectoryError";
        } else if (S_ISREG(st.st_mode)) {
          // stat needs no read permission; open tells (with this thread's
          // file-system identity, as the failed open had).
          int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
          if (fd < 0 && errno == EACCES) return "PermissionError";
          if (fd >= 0) close(fd);
        }
      }
      return "OSError";
    }
    case ORCJIT_ENOTFOUND:
      return "KeyError";
    case ORCJIT_ENOMEM:
      return "MemoryError";
    case ORCJIT_EUNSUPPORTED:
      return "NotImplementedError";
    default:  // EDUPLICATE, EUNRESOLVED, ELINK, EBUSY, EINIT
      return "RuntimeError";
  }
}

/* The core's message for the last failure on this thread, verbatim. */
static std::string LastErrorMessage(int status, const char* what) {
  const char* msg = orcjit_last_error();
  if (msg != nullptr && msg[0] != '\0') return std::string(msg);
  std::string out = orcjit_status_name(status) ? orcjit_status_name(status) : "orcjit error";
  out += " in ";
  out += what;
  return out;
}

[[noreturn]] static void ThrowStatus(int status, const char* what, const char* path = nullptr) {
  ThrowKind(KindForStatus(status, path), LastErrorMessage(status, what));
}

/* The name of the index-th of count inputs given as bytes. */
static std::string MemoryNameOf(size_t index, size_t count) {
  if (count <= 1) return "<memory>";
  return "<memory #" + std::to_string(index) + ">";
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

static Session CreateSession(const std::string* orc_rt_path, int64_t slab_size,
                             unsigned flags = 0) {
  // upstream: < 0 disables its slab allocator; here it means the default
  if (slab_size < 0) slab_size = 0;
  orcjit_session_options opts;
  std::memset(&opts, 0, sizeof(opts));
  opts.struct_size = sizeof(opts);
  opts.slab_size = static_cast<size_t>(slab_size);
  opts.orc_rt_path = orc_rt_path ? orc_rt_path->c_str() : nullptr;
  opts.flags = flags;
  orcjit_session* handle = nullptr;
  int rc = orcjit_session_create(&opts, &handle);
  if (rc != ORCJIT_OK) ThrowStatus(rc, "orcjit_session_create");
  return Session(ffi::make_object<SessionObj>(handle));
}

/* The process-wide session, created on first use and never destroyed (it
** must outlive every module that static destructors may still release). */
static Session GlobalDefaultSession() {
  static Session* inst = new Session(CreateSession(nullptr, 0));
  return *inst;
}

/* ---- module ------------------------------------------------------------ */

/* A reader for the __tvm_ffi__library_bin layout (little endian):
**   <nbytes: u64> <indptr: vec<u64>> <child_indices: vec<u64>>
**   { <kind: str> [<bytes: str> unless kind == "_lib"] } * num_modules
** where vec<u64> = <n: u64> <u64> * n and str = <n: u64> <byte> * n. */
class BinReader {
 public:
  BinReader(const char* data, uint64_t size) : data_(data), size_(size) {}
  bool ReadU64(uint64_t* out) {
    if (size_ - pos_ < 8) return false;
    uint64_t v = 0;
    for (int i = 0; i < 8; ++i) {
      v |= static_cast<uint64_t>(static_cast<unsigned char>(data_[pos_ + i])) << (8 * i);
    }
    pos_ += 8;
    *out = v;
    return true;
  }
  bool ReadVec(std::vector<uint64_t>* out) {
    uint64_t n;
    if (!ReadU64(&n) || n > (size_ - pos_) / 8) return false;
    out->resize(n);
    for (uint64_t i = 0; i < n; ++i) ReadU64(&(*out)[i]);
    return true;
  }
  bool ReadStr(std::string* out) {
    uint64_t n;
    if (!ReadU64(&n) || n > size_ - pos_) return false;
    out->assign(data_ + pos_, n);
    pos_ += n;
    return true;
  }

 private:
  const char* data_;
  uint64_t size_;
  uint64_t pos_ = 0;
};

/* ---- objects made by JIT code ------------------------------------------ */

/* An object created by JIT code (a String, an Array, a Function, a Tensor
** made with the TVM-FFI C++ headers) has its deleter in that code.  If it
** outlived its library, freeing it would jump into unmapped memory.  So each
** object returned by a JIT function whose deleter is JIT code is "adopted":
** its deleter is replaced by AdoptedDeleter, which calls the original one
** and then drops a reference to the module that made the object.  The
** library thus stays loaded until the last such object is gone.  Elements of
** returned Arrays, Lists, Maps and Dicts are adopted too.
**
** Limits: an object that the library itself keeps (a static returned to the
** caller) then keeps the library loaded until the object dies, i.e. for
** good (a leak rather than a crash); objects that JIT code stores elsewhere
** than in its return value (into a container argument, a global registry)
** are not seen. */

namespace {

struct Adopted {
  void (*orig)(void* self, int flags);
  TVMFFIObjectHandle module;
};

std::mutex& AdoptMutex() {
  static std::mutex* mu = new std::mutex();
  return *mu;
}
std::unordered_map<void*, Adopted>& AdoptTable() {
  static auto* table = new std::unordered_map<void*, Adopted>();
  return *table;
}

OJ_CALLS_JIT_CODE void AdoptedDeleter(void* self, int flags) {
  Adopted a{nullptr, nullptr};
  const bool final_free = (flags & kTVMFFIObjectDeleterFlagBitMaskWeak) != 0;
  {
    std::lock_guard<std::mutex> lock(AdoptMutex());
    auto it = AdoptTable().find(self);
    if (it == AdoptTable().end()) std::abort();  // cannot happen: we swapped the deleter
    a = it->second;
    if (final_free) AdoptTable().erase(it);
  }
  a.orig(self, flags);
  if (final_free) TVMFFIObjectDecRef(a.module);  // may unload the library: after orig
}

/* Whether code at addr lies in a mapped shared object or the executable, as
** opposed to JIT memory.  dladdr is slow, so answers are cached per thread
** (JIT memory lives in windows reserved by the core, where no shared object
** gets mapped, so an answer does not go stale in practice). */
bool InLoadedImage(const void* addr) {
  if (addr == nullptr) return true;
  struct Entry {
    const void* addr;
    bool in_image;
  };
  thread_local Entry cache[32] = {};
  thread_local unsigned next = 0;
  for (const Entry& e : cache) {
    if (e.addr == addr) return e.in_image;
  }
  Dl_info info;
  bool in_image = dladdr(addr, &info) != 0 && info.dli_fname != nullptr;
  cache[next++ % 32] = Entry{addr, in_image};
  return in_image;
}

void PushChildren(const TVMFFIObject* obj, std::vector<TVMFFIObject*>* stack) {
  auto push = [stack](const Any& v) {
    const TVMFFIAny* raw = reinterpret_cast<const TVMFFIAny*>(&v);
    if (raw->type_index >= ffi::TypeIndex::kTVMFFIStaticObjectBegin && raw->v_obj != nullptr) {
      stack->push_back(raw->v_obj);
    }
  };
  const Object* o = reinterpret_cast<const Object*>(obj);
  switch (obj->type_index) {
    case ffi::TypeIndex::kTVMFFIArray:
    case ffi::TypeIndex::kTVMFFIList: {
      const auto* seq = static_cast<const ffi::SeqBaseObj*>(o);
      for (const Any& v : *seq) push(v);
      break;
    }
    case ffi::TypeIndex::kTVMFFIMap:
    case ffi::TypeIndex::kTVMFFIDict: {
      const auto* map = static_cast<const ffi::MapBaseObj*>(o);
      for (const auto& kv : *map) {
        push(kv.first);
        push(kv.second);
      }
      break;
    }
    default:
      break;
  }
}

/* Adopts the object in *rv (and its container elements) for module. */
void AdoptResult(const TVMFFIAny* rv, TVMFFIObjectHandle module) {
  std::vector<TVMFFIObject*> stack{rv->v_obj};
  size_t visited = 0;
  while (!stack.empty() && visited++ < (1u << 24)) {
    TVMFFIObject* obj = stack.back();
    stack.pop_back();
    if (obj->deleter == &AdoptedDeleter) continue;  // done before, with its elements
    PushChildren(obj, &stack);
    if (InLoadedImage(reinterpret_cast<const void*>(obj->deleter))) continue;
    std::lock_guard<std::mutex> lock(AdoptMutex());
    if (obj->deleter == &AdoptedDeleter) continue;
    AdoptTable().emplace(obj, Adopted{obj->deleter, module});
    TVMFFIObjectIncRef(module);
    obj->deleter = &AdoptedDeleter;
  }
}

}  // namespace

class OrcJITModuleObj final : public ModuleObj {
 public:
  OrcJITModuleObj(Session session, orcjit_library* lib)
      : session_(std::move(session)), lib_(lib) {}
  OrcJITModuleObj(const OrcJITModuleObj&) = delete;
  OrcJITModuleObj& operator=(const OrcJITModuleObj&) = delete;

  ~OrcJITModuleObj() {
    orcjit_library_set_link_callback(lib_, nullptr, nullptr);
    orcjit_library_release(lib_);
  }

  /* Installs the link callback; called once, right after construction
  ** (it needs `this` at its final address). */
  void Init() {
    int rc = orcjit_library_set_link_callback(lib_, &OrcJITModuleObj::OnLinked, this);
    if (rc != ORCJIT_OK) ThrowStatus(rc, "orcjit_library_set_link_callback");
  }

  const char* kind() const final { return "orcjit"; }
  int GetPropertyMask() const final { return Module::kRunnable; }

  Optional<Function> GetFunction(const String& name) final {
    void* fn = nullptr;
    int rc = orcjit_library_get_function(lib_, name.c_str(), &fn);
    if (rc == ORCJIT_ENOTFOUND) return std::nullopt;
    if (rc != ORCJIT_OK) ThrowStatus(rc, "orcjit_library_get_function");
    return WrapFunction(fn);
  }

  /* Like GetFunction, but a missing function is an AttributeError that
  ** names the function and the library. */
  Function GetFunctionOrThrow(const String& name) {
    void* fn = nullptr;
    int rc = orcjit_library_get_function(lib_, name.c_str(), &fn);
    if (rc == ORCJIT_ENOTFOUND) {
      std::string msg = "Module has no function '" + std::string(name) + "'";
      const char* core = orcjit_last_error();
      if (core != nullptr && core[0] != '\0') {
        msg += ": ";
        msg += core;
      } else {
        msg += " in library '" + std::string(this->name()) + "'";
      }
      ThrowKind("AttributeError", msg);
    }
    if (rc != ORCJIT_OK) ThrowStatus(rc, "orcjit_library_get_function");
    return WrapFunction(fn);
  }

  bool ImplementsFunction(const String& name) final {
    void* addr = nullptr;
    std::string sym = std::string(ffi::symbol::tvm_ffi_symbol_prefix) + std::string(name);
    return orcjit_library_lookup(lib_, sym.c_str(), &addr) == ORCJIT_OK;
  }

  Optional<String> GetFunctionMetadata(const String& name) final {
    return CallStringGetter(std::string(ffi::symbol::tvm_ffi_metadata_prefix) + std::string(name));
  }

  Optional<String> GetFunctionDoc(const String& name) final {
    return CallStringGetter(std::string(ffi::symbol::tvm_ffi_doc_prefix) + std::string(name));
  }

  /* Adds one object (a path, or the bytes of an object) to the library;
  ** throws on failure.  *other_root receives the root of an embedded import
  ** tree whose root is not this module (rare). */
  void Add(const Any& input, const std::string& memory_name,
           Optional<Module>* other_root = nullptr) {
    int rc;
    const char* path = nullptr;
    std::string path_storage;
    if (auto bytes = input.as<Bytes>()) {
      rc = orcjit_library_add_memory(lib_, bytes->data(), bytes->size(), memory_name.c_str());
    } else if (auto str = input.as<String>()) {
      path_storage = std::string(*str);
      path = path_storage.c_str();
      rc = orcjit_library_add_file(lib_, path);
    } else {
      ThrowKind("TypeError", "tvm_ffi_orcjit: an object must be given as a path (str) or as "
                             "its content (bytes), got " + input.GetTypeKey());
    }
    if (rc != ORCJIT_OK) {
      if (rc != ORCJIT_EBUSY) {  // EBUSY: another thread's add is under way; not ours
        std::lock_guard<std::mutex> lock(mutex_);
        pending_bins_.clear();
      }
      ThrowStatus(rc, "orcjit_library_add", path);
    }
    Optional<Module> root = ExpandPendingBins();
    if (other_root != nullptr && root.has_value()) *other_root = root;
  }

  /* Adds several objects (paths or bytes) as one link: they may refer to
  ** each other in any direction (orcjit_library_add_many).  Throws on
  ** failure, which leaves the library as it was. */
  void AddMany(const std::vector<Any>& items, Optional<Module>* other_root) {
    std::vector<orcjit_input> in(items.size());
    std::vector<std::string> strings(items.size());
    for (size_t i = 0; i < items.size(); ++i) {
      if (auto bytes = items[i].as<Bytes>()) {
        strings[i] = MemoryNameOf(i, items.size());
        in[i] = orcjit_input{nullptr, bytes->data(), bytes->size(), strings[i].c_str()};
      } else if (auto str = items[i].as<String>()) {
        strings[i] = std::string(*str);
        in[i] = orcjit_input{strings[i].c_str(), nullptr, 0, nullptr};
      } else {
        ThrowKind("TypeError", "tvm_ffi_orcjit: an object must be given as a path (str) or as "
                               "its content (bytes), got " + items[i].GetTypeKey());
      }
    }
    int rc = orcjit_library_add_many(lib_, in.data(), in.size());
    if (rc != ORCJIT_OK) {
      if (rc != ORCJIT_EBUSY) {
        std::lock_guard<std::mutex> lock(mutex_);
        pending_bins_.clear();
      }
      // The path for the error's kind (a missing file: FileNotFoundError):
      // the one the message starts with, if any.
      const char* path = nullptr;
      std::string msg = orcjit_last_error();
      for (size_t i = 0; i < in.size() && !path; ++i)
        if (in[i].path && msg.find(std::string(": ") + in[i].path + ":") != std::string::npos)
          path = in[i].path;
      ThrowStatus(rc, "orcjit_library_add_many", path);
    }
    Optional<Module> root = ExpandPendingBins();
    if (other_root != nullptr && root.has_value()) *other_root = root;
  }

  void SetLinkOrder(const std::vector<Module>& libs) {
    std::vector<orcjit_library*> handles;
    handles.reserve(libs.size());
    for (const Module& m : libs) handles.push_back(Downcast(m)->lib_);
    int rc = orcjit_library_set_link_order(lib_, handles.data(), handles.size());
    if (rc != ORCJIT_OK) ThrowStatus(rc, "orcjit_library_set_link_order");
    std::lock_guard<std::mutex> lock(mutex_);
    for (const Module& m : libs) {
      bool seen = false;
      for (const Module& d : link_deps_) seen = seen || d.same_as(m);
      if (!seen) link_deps_.push_back(m);
    }
  }

  int64_t Lookup(const String& symbol) {
    void* addr = nullptr;
    int rc = orcjit_library_lookup(lib_, symbol.c_str(), &addr);
    if (rc != ORCJIT_OK) ThrowStatus(rc, "orcjit_library_lookup");
    return static_cast<int64_t>(reinterpret_cast<intptr_t>(addr));
  }

  const char* name() const {
    const char* n = orcjit_library_name(lib_);
    return n ? n : "";
  }
  const Session& session() const { return session_; }
  orcjit_library* handle() const { return lib_; }

  static OrcJITModuleObj* Downcast(const Module& m) {
    const ModuleObj* p = m.operator->();
    if (p == nullptr || std::strcmp(p->kind(), "orcjit") != 0) {
      ThrowKind("TypeError", std::string("tvm_ffi_orcjit: expected a module of kind 'orcjit', got '") +
                                 (p ? p->kind() : "null") + "'");
    }
    return const_cast<OrcJITModuleObj*>(static_cast<const OrcJITModuleObj*>(p));
  }

 private:
  /* What a Function made by WrapFunction holds: its module (one reference)
  ** and the JIT code to call. */
  struct JitFn {
    TVMFFIObjectHandle module;
    TVMFFISafeCallType fn;
  };

  static void FreeJitFn(void* self) {
    JitFn* f = static_cast<JitFn*>(self);
    TVMFFIObjectDecRef(f->module);
    delete f;
  }

  /* The safe call of every function handed out: calls the JIT code with a
  ** NULL self, as tvm_ffi's library module does; on failure detaches the
  ** raised error from JIT code (see DetachError). */
  OJ_CALLS_JIT_CODE static int CallJit(void* self, const TVMFFIAny* args, int32_t num_args, TVMFFIAny* rv) {
    const JitFn* f = static_cast<const JitFn*>(self);
    int rc = f->fn(nullptr, args, num_args, rv);
    if (rc == 0) {
      if (rv->type_index >= ffi::TypeIndex::kTVMFFIStaticObjectBegin) AdoptResult(rv, f->module);
      return 0;
    }
    if (rc == -1) {
      TVMFFIObjectHandle err = nullptr;
      TVMFFIErrorMoveFromRaised(&err);
      if (err != nullptr) {
        TVMFFIObjectHandle detached = DetachError(err);
        TVMFFIErrorSetRaised(detached);  // takes its own reference
        TVMFFIObjectDecRef(detached);
      }
    }
    return rc;
  }

  /* An error raised by C++ JIT code (TVM_FFI_THROW, std::exception through
  ** the safe-call macros) is an object whose deleter and update_backtrace are
  ** JIT code: if it outlived its library (a Python exception kept in a
  ** variable, a traceback, a log) freeing it would jump into unmapped
  ** memory.  Such an error is replaced by an equal one made by libtvm_ffi.
  ** Takes ownership of err; returns an owned handle. */
  static TVMFFIObjectHandle DetachError(TVMFFIObjectHandle err) {
    TVMFFIObject* hdr = static_cast<TVMFFIObject*>(err);
    TVMFFIErrorCell* cell = TVMFFIErrorGetCellPtr(err);
    if (InLoadedImage(reinterpret_cast<const void*>(hdr->deleter)) &&
        InLoadedImage(reinterpret_cast<const void*>(cell->update_backtrace)) &&
        cell->cause_chain == nullptr) {
      return err;
    }
    TVMFFIObjectHandle cause = nullptr;
    if (cell->cause_chain != nullptr) {
      TVMFFIObjectIncRef(cell->cause_chain);
      cause = DetachError(cell->cause_chain);
    }
    TVMFFIObjectHandle copy = nullptr;
    int rc = TVMFFIErrorCreateWithCauseAndExtraContext(&cell->kind, &cell->message,
                                                       &cell->backtrace, cause,
                                                       cell->extra_context, &copy);
    if (cause != nullptr) TVMFFIObjectDecRef(cause);
    if (rc != 0 || copy == nullptr) return err;  // out of memory: keep the original
    TVMFFIObjectDecRef(err);  // runs the JIT deleter while the library is alive
    return copy;
  }

  /* A Function that calls the JIT code and holds this module. */
  Function WrapFunction(void* fn) {
    JitFn* f = new JitFn{ffi::detail::ObjectUnsafe::GetHeader(this),
                         reinterpret_cast<TVMFFISafeCallType>(fn)};
    TVMFFIObjectIncRef(f->module);
    return Function::FromExternC(f, &OrcJITModuleObj::CallJit, &OrcJITModuleObj::FreeJitFn);
  }

  Optional<String> CallStringGetter(const std::string& symbol) {
    void* addr = nullptr;
    if (orcjit_library_lookup(lib_, symbol.c_str(), &addr) != ORCJIT_OK || addr == nullptr) {
      return std::nullopt;
    }
    // through CallJit, so that the String (made by JIT code) holds this module
    JitFn f{ffi::detail::ObjectUnsafe::GetHeader(this), reinterpret_cast<TVMFFISafeCallType>(addr)};
    Any result;
    TVM_FFI_CHECK_SAFE_CALL(CallJit(&f, nullptr, 0, reinterpret_cast<TVMFFIAny*>(&result)));
    return result.cast<String>();
  }

  /* Link callback: runs on the adding thread, after one object of the
  ** library is linked and before its constructors run.  Never throws. */
  static int OnLinked(orcjit_library* lib, void* user) {
    auto* self = static_cast<OrcJITModuleObj*>(user);
    try {
      void* addr = nullptr;
      if (orcjit_library_lookup(lib, ffi::symbol::tvm_ffi_library_ctx, &addr) == ORCJIT_OK &&
          addr != nullptr) {
        *static_cast<void**>(addr) = static_cast<ModuleObj*>(self);
      }
      Module::VisitContextSymbols([lib](const String& name, void* symbol) {
        void* slot = nullptr;
        if (orcjit_library_lookup(lib, name.c_str(), &slot) == ORCJIT_OK && slot != nullptr) {
          *static_cast<void**>(slot) = symbol;
        }
      });
      if (orcjit_library_lookup(lib, ffi::symbol::tvm_ffi_library_bin, &addr) == ORCJIT_OK &&
          addr != nullptr) {
        std::lock_guard<std::mutex> lock(self->mutex_);
        bool seen = false;
        for (const void* b : self->seen_bins_) seen = seen || b == addr;
        for (const void* b : self->pending_bins_) seen = seen || b == addr;
        if (!seen) self->pending_bins_.push_back(addr);
      }
      return 0;
    } catch (const std::exception& e) {
      return orcjit_set_error(ORCJIT_ELINK, "library '%s': binding TVM-FFI context symbols: %s",
                              self->name(), e.what());
    } catch (...) {
      return orcjit_set_error(ORCJIT_ELINK, "library '%s': binding TVM-FFI context symbols failed",
                              self->name());
    }
  }

  Optional<Module> ExpandPendingBins() {
    std::vector<const void*> bins;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      bins.swap(pending_bins_);
      for (const void* b : bins) seen_bins_.push_back(b);
    }
    Optional<Module> other_root;
    for (const void* b : bins) {
      Module root = ProcessLibraryBin(static_cast<const char*>(b));
      if (!root.same_as(ffi::GetRef<Module>(static_cast<ModuleObj*>(this)))) other_root = root;
    }
    return other_root;
  }

  /* Rebuilds the module tree serialized in __tvm_ffi__library_bin, with
  ** this module in the place of "_lib" (as tvm_ffi's library module does). */
  Module ProcessLibraryBin(const char* bin) {
    uint64_t nbytes = 0;
    for (int i = 0; i < 8; ++i) {
      nbytes |= static_cast<uint64_t>(static_cast<unsigned char>(bin[i])) << (8 * i);
    }
    BinReader in(bin + 8, nbytes);
    std::vector<uint64_t> indptr, children;
    auto corrupt = [this](const char* what) {
      ThrowKind("ValueError", std::string("library '") + name() +
                                  "': corrupt __tvm_ffi__library_bin (" + what + ")");
    };
    if (!in.ReadVec(&indptr) || !in.ReadVec(&children)) corrupt("import tree");
    if (indptr.empty()) corrupt("empty import tree");
    size_t num_modules = indptr.size() - 1;
    std::vector<Module> modules;
    modules.reserve(num_modules);
    Module self = ffi::GetRef<Module>(static_cast<ModuleObj*>(this));
    for (size_t i = 0; i < num_modules; ++i) {
      std::string kind;
      if (!in.ReadStr(&kind)) corrupt("module kind");
      if (kind == "_lib") {
        modules.push_back(self);
        continue;
      }
      std::string data;
      if (!in.ReadStr(&data)) corrupt("module bytes");
      std::string loader = "ffi.Module.load_from_bytes." + kind;
      auto floader = Function::GetGlobal(loader);
      if (!floader.has_value()) {
        ThrowKind("RuntimeError", std::string("library '") + name() +
                                      "': the embedded library binary holds a module of kind '" +
                                      kind + "' but no loader " + loader + " is registered");
      }
      modules.push_back((*floader)(Bytes(data)).cast<Module>());
    }
    for (size_t i = 0; i < num_modules; ++i) {
      if (indptr[i] > indptr[i + 1] || indptr[i + 1] > children.size()) corrupt("index pointer");
      for (uint64_t j = indptr[i]; j < indptr[i + 1]; ++j) {
        if (children[j] >= num_modules) corrupt("child index");
        modules[i]->ImportModule(modules[children[j]]);
      }
    }
    return modules.empty() ? self : modules[0];
  }

  Session session_;
  orcjit_library* lib_;
  std::mutex mutex_;
  std::vector<Module> link_deps_;
  std::vector<const void*> pending_bins_;
  std::vector<const void*> seen_bins_;
};

static Module CreateModule(const Session& session, const std::string& name) {
  orcjit_library* lib = nullptr;
  int rc = orcjit_library_create(session->handle(), name.empty() ? nullptr : name.c_str(), &lib);
  if (rc != ORCJIT_OK) ThrowStatus(rc, "orcjit_library_create");
  ObjectPtr<OrcJITModuleObj> obj = ffi::make_object<OrcJITModuleObj>(session, lib);
  obj->Init();
  return Module(obj);
}

/* One new library holding all the objects.  `objects` is an Array of
** str/bytes, or a single str/bytes. */
static Module SessionLoadModule(const Session& session, const Any& objects, const String& name) {
  std::vector<Any> items;
  if (auto arr = objects.as<Array<Any>>()) {
    for (const Any& x : *arr) items.push_back(x);
  } else {
    items.push_back(objects);
  }
  Module mod = CreateModule(session, std::string(name));
  OrcJITModuleObj* obj = OrcJITModuleObj::Downcast(mod);
  Optional<Module> root;
  // Like a static linker, as one link: the objects may refer to each other
  // in any order and any direction.
  if (items.size() == 1) {
    obj->Add(items[0], MemoryNameOf(0, 1), &root);
  } else {
    obj->AddMany(items, &root);
  }
  return root.has_value() ? *root : mod;
}

/* ---- first-generation library handle ------------------------------------ */

class DynamicLibraryObj : public Object {
 public:
  DynamicLibraryObj(Session session, Module module)
      : session_(std::move(session)), module_(std::move(module)) {}

  const Session& session() const { return session_; }
  const Module& module() const { return module_; }
  OrcJITModuleObj* impl() const { return OrcJITModuleObj::Downcast(module_); }

  static constexpr bool _type_mutable = true;
  TVM_FFI_DECLARE_OBJECT_INFO_FINAL("tvm_ffi_orcjit.DynamicLibrary", DynamicLibraryObj, Object);

 private:
  Session session_;
  Module module_;
};

class DynamicLibrary : public ObjectRef {
 public:
  explicit DynamicLibrary(ObjectPtr<DynamicLibraryObj> n) : ObjectRef(std::move(n)) {}
  TVM_FFI_DEFINE_OBJECT_REF_METHODS_NOTNULLABLE(DynamicLibrary, ObjectRef, DynamicLibraryObj);
};

/* ---- inspection ---------------------------------------------------------- */

/* tvm_ffi_orcjit.InspectObject(input: str|bytes, name: str, resolve: bool):
** orcjit_inspect_* as plain data for the command-line tool (and any host):
**   {"name": str, "archive": bool, "objects": [
**     {"name": str, "status": "" | "ORCJIT_E...", "error": str,
**      "symbols": [{"name": str, "undefined": bool, "weak": bool,
**                   "hidden": bool, "function": bool, "tls": bool,
**                   "ffi_function": bool, "runtime": bool, "host": bool}],
**      "initfini": [{"kind": ".init_array" | ".fini_array" | ".ctors" |
**                    ".dtors", "priority": int, "count": int}]}]}
** A path is read with orcjit_inspect_file, bytes with orcjit_inspect_memory
** (name then names them in messages). */
static ffi::Map<String, Any> InspectObject(const Any& input, const String& name, bool resolve) {
  const unsigned flags = resolve ? static_cast<unsigned>(ORCJIT_INSPECT_RESOLVE) : 0u;
  orcjit_inspection* in = nullptr;
  std::string label;
  const char* path = nullptr;
  int rc;
  if (auto bytes = input.as<Bytes>()) {
    label = name.empty() ? std::string("<memory>") : std::string(name);
    rc = orcjit_inspect_memory(bytes->data(), bytes->size(), label.c_str(), flags, &in);
  } else if (auto str = input.as<String>()) {
    label = std::string(*str);
    path = label.c_str();
    rc = orcjit_inspect_file(path, flags, &in);
  } else {
    ThrowKind("TypeError", "tvm_ffi_orcjit.InspectObject: input must be a path (str) or the "
                           "content (bytes), got " + input.GetTypeKey());
  }
  if (rc != ORCJIT_OK) ThrowStatus(rc, "orcjit_inspect", path);
  std::unique_ptr<orcjit_inspection, void (*)(orcjit_inspection*)> guard(in, orcjit_inspect_free);
  static const char* const kinds[] = {".init_array", ".fini_array", ".ctors", ".dtors"};
  Array<Any> objects;
  for (size_t i = 0; i < orcjit_inspect_num_objects(in); ++i) {
    const char* oname = nullptr;
    const char* error = nullptr;
    int status = orcjit_inspect_object(in, i, &oname, &error);
    Array<Any> symbols;
    for (size_t k = 0; k < orcjit_inspect_num_symbols(in, i); ++k) {
      unsigned f = 0;
      const char* sname = orcjit_inspect_symbol(in, i, k, &f);
      ffi::Map<String, Any> sym;
      sym.Set("name", String(sname));
      sym.Set("undefined", (f & ORCJIT_SYM_UNDEFINED) != 0);
      sym.Set("weak", (f & ORCJIT_SYM_WEAK) != 0);
      sym.Set("hidden", (f & ORCJIT_SYM_HIDDEN) != 0);
      sym.Set("function", (f & ORCJIT_SYM_FUNCTION) != 0);
      sym.Set("tls", (f & ORCJIT_SYM_TLS) != 0);
      sym.Set("ffi_function", (f & ORCJIT_SYM_FFI_FUNCTION) != 0);
      sym.Set("runtime", (f & ORCJIT_SYM_RUNTIME) != 0);
      sym.Set("host", (f & ORCJIT_SYM_HOST) != 0);
      symbols.push_back(sym);
    }
    Array<Any> initfini;
    for (size_t k = 0; k < orcjit_inspect_num_initfini(in, i); ++k) {
      uint32_t priority = 0, count = 0;
      int kind = orcjit_inspect_initfini(in, i, k, &priority, &count);
      ffi::Map<String, Any> e;
      e.Set("kind", String(kind >= 0 && kind < 4 ? kinds[kind] : "?"));
      e.Set("priority", static_cast<int64_t>(priority));
      e.Set("count", static_cast<int64_t>(count));
      initfini.push_back(e);
    }
    ffi::Map<String, Any> obj;
    obj.Set("name", String(oname ? oname : ""));
    obj.Set("status", String(status == ORCJIT_OK ? "" : orcjit_status_name(status)));
    obj.Set("error", String(error ? error : ""));
    obj.Set("symbols", symbols);
    obj.Set("initfini", initfini);
    objects.push_back(obj);
  }
  ffi::Map<String, Any> out;
  out.Set("name", String(label));
  out.Set("archive", orcjit_inspect_is_archive(in) != 0);
  out.Set("objects", objects);
  return out;
}

/* ---- registration -------------------------------------------------------- */

static Session MakeSessionFromArgs(const Any& orc_rt, int64_t slab_size, unsigned flags) {
  if (orc_rt.type_index() == ffi::TypeIndex::kTVMFFINone)
    return CreateSession(nullptr, slab_size, flags);
  std::string path;
  if (auto b = orc_rt.as<Bytes>()) {
    path.assign(b->data(), b->size());
  } else if (auto s = orc_rt.as<String>()) {
    path = std::string(*s);
  } else {
    ThrowKind("TypeError", "tvm_ffi_orcjit.ExecutionSession: orc_rt must be None, str or bytes, got " +
                               orc_rt.GetTypeKey());
  }
  if (path.empty()) return CreateSession(nullptr, slab_size, flags);
  return CreateSession(&path, slab_size, flags);
}

static void RegisterAll() {
  namespace refl = ffi::reflection;
  refl::ObjectDef<SessionObj>();
  refl::ObjectDef<DynamicLibraryObj>();

  refl::GlobalDef()
      // (orc_rt, slab_size) as upstream; an optional third argument takes
      // the ORCJIT_SESSION_* flags (debugger, perf map) of orcjit.h.
      .def_packed("tvm_ffi_orcjit.ExecutionSession",
                  [](ffi::PackedArgs args, Any* rv) {
                    if (args.size() < 2 || args.size() > 3) {
                      ThrowKind("TypeError",
                                "tvm_ffi_orcjit.ExecutionSession(orc_rt: Optional[str|bytes], "
                                "slab_size: int, flags: int = 0) takes 2 or 3 arguments, got " +
                                    std::to_string(args.size()));
                    }
                    int64_t flags = args.size() == 3 ? args[2].cast<int64_t>() : 0;
                    if (flags < 0 || flags > (ORCJIT_SESSION_DEBUGGER | ORCJIT_SESSION_PERF_MAP))
                      ThrowKind("ValueError", "tvm_ffi_orcjit.ExecutionSession: unknown flags " +
                                                  std::to_string(flags));
                    *rv = MakeSessionFromArgs(Any(args[0]), args[1].cast<int64_t>(),
                                              static_cast<unsigned>(flags));
                  })
      .def("tvm_ffi_orcjit.GlobalDefaultSession", []() { return GlobalDefaultSession(); },
           "The process-wide default session, created on first use")
      // (session, objects, name); upstream 0.1.3 passes two more arguments
      // (paths of the C++ runtime to link), which are not needed here: the
      // host process's libstdc++ resolves C++ objects.
      .def_packed("tvm_ffi_orcjit.SessionLoadModule",
                  [](ffi::PackedArgs args, Any* rv) {
                    if (args.size() < 2 || args.size() > 5) {
                      ThrowKind("TypeError",
                                "tvm_ffi_orcjit.SessionLoadModule(session, objects: "
                                "Array[str|bytes], name: str = \"\") takes 2 or 3 arguments, got " +
                                    std::to_string(args.size()));
                    }
                    Session session = args[0].cast<Session>();
                    String name = args.size() >= 3 && args[2] != nullptr ? args[2].cast<String>()
                                                                         : String("");
                    *rv = SessionLoadModule(session, Any(args[1]), name);
                  })
      .def("tvm_ffi_orcjit.SessionClearFreeSlabs",
           [](Session session) -> int64_t {
             size_t regions = 0;
             int rc = orcjit_session_clear_free_slabs(session->handle(), &regions);
             if (rc != ORCJIT_OK) ThrowStatus(rc, "orcjit_session_clear_free_slabs");
             return static_cast<int64_t>(regions);
           },
           "Returns unused JIT memory to the OS; the number of memory regions given back")
      .def("tvm_ffi_orcjit.ExecutionSessionCreateDynamicLibrary",
           [](Session session, String name) {
             Module mod = CreateModule(session, std::string(name));
             return DynamicLibrary(ffi::make_object<DynamicLibraryObj>(session, mod));
           },
           "Creates an empty library (name may be empty for a unique one)")
      .def("tvm_ffi_orcjit.DynamicLibraryAdd",
           [](DynamicLibrary lib, Any input) { lib->impl()->Add(input, "<memory>"); },
           "Adds an object or archive (path: str, or content: bytes) to the library")
      .def("tvm_ffi_orcjit.DynamicLibrarySetLinkOrder",
           [](DynamicLibrary lib, Array<DynamicLibrary> libs) {
             std::vector<Module> mods;
             for (const DynamicLibrary& l : libs) mods.push_back(l->module());
             lib->impl()->SetLinkOrder(mods);
           },
           "Sets the libraries searched, in order, after the library itself")
      .def("tvm_ffi_orcjit.DynamicLibraryGetFunction",
           [](DynamicLibrary lib, String name) { return lib->impl()->GetFunctionOrThrow(name); },
           "The function exported as __tvm_ffi_<name>; AttributeError if missing")
      .def("tvm_ffi_orcjit.DynamicLibraryGetName",
           [](DynamicLibrary lib) { return String(lib->impl()->name()); })
      .def("tvm_ffi_orcjit.DynamicLibraryGetModule",
           [](DynamicLibrary lib) { return lib->module(); })
      .def("tvm_ffi_orcjit.DynamicLibraryGetSession",
           [](DynamicLibrary lib) { return lib->session(); })
      .def("tvm_ffi_orcjit.DynamicLibraryLookup",
           [](DynamicLibrary lib, String symbol) { return lib->impl()->Lookup(symbol); },
           "The address of a symbol defined in the library; KeyError if missing")
      .def("tvm_ffi_orcjit.ModuleGetLibrary",
           [](Module mod) {
             OrcJITModuleObj* obj = OrcJITModuleObj::Downcast(mod);
             return DynamicLibrary(ffi::make_object<DynamicLibraryObj>(obj->session(), mod));
           },
           "The DynamicLibrary handle of an 'orcjit' module")
      .def("tvm_ffi_orcjit.InspectObject",
           [](Any input, String name, bool resolve) { return InspectObject(input, name, resolve); },
           "Describes an object file or archive without linking it (orcjit_inspect_*)")
      .def_packed("ffi.Module.load_from_file.o",
                  [](ffi::PackedArgs args, Any* rv) {
                    if (args.size() < 1) {
                      ThrowKind("TypeError", "ffi.Module.load_from_file.o(path, [format])");
                    }
                    String path = args[0].cast<String>();
                    *rv = SessionLoadModule(GlobalDefaultSession(), Any(path), String(""));
                  })
      .def("ffi.Module.load_from_bytes.o", [](Bytes bytes) {
        return SessionLoadModule(GlobalDefaultSession(), Any(bytes), String(""));
      });
}

}  // namespace tvm_ffi_orcjit

extern "C" int TVMFFIOrcJITInitialize(void) {
  static std::once_flag once;
  static int status = 0;
  static std::string message;
  try {
    std::call_once(once, []() {
      try {
        tvm_ffi_orcjit::RegisterAll();
      } catch (const std::exception& e) {
        status = -1;
        message = e.what();
      }
    });
  } catch (...) {
    status = -1;
    message = "unknown error";
  }
  if (status != 0) {
    TVMFFIErrorSetRaisedFromCStr("RuntimeError",
                                 ("TVMFFIOrcJITInitialize failed: " + message).c_str());
  }
  return status;
}

/* Loading the shared library is enough: register at load time. */
__attribute__((constructor)) static void TVMFFIOrcJITStaticInit(void) {
  (void)TVMFFIOrcJITInitialize();
}
