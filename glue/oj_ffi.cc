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
** while the function lives.  A module lives exactly as long as its library
** (OrcJITModuleObj::ReleaseDeleter): a library kept by other libraries' link
** orders keeps its module, whose code may call back through its library
** context, and link-order cycles are freed by the core.  Objects that JIT code returns hold their module too,
** and errors it raises are copied out of it (src/oj_ffiabi.c).
**
** Context symbols: a link callback, run by the core after each object is
** linked and before its constructors run, points __tvm_ffi__library_ctx at
** the module, binds every symbol registered with
** TVMFFIEnvModRegisterContextSymbol (Module::VisitContextSymbols) and notes
** __tvm_ffi__library_bin; once the add has succeeded the embedded import tree
** is expanded through ffi.Module.load_from_bytes.<kind>.
*/
#include "oj_ffi.h"

#include <atomic>
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

#include "oj_ffiabi.h"
#include "oj_libbin.h"

#include <cstdint>
#include <cstring>
#include <exception>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>


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

/* ---- objects made by JIT code ------------------------------------------ */

/* Objects and errors made by JIT code are looked after by the core
** (src/oj_ffiabi.c); what needs C++ is the walk over the elements of
** TVM-FFI's containers, installed as its visitor at initialization. */

namespace {

void PushChildren(const TVMFFIObject* obj, oj_ffiabi_push push, void* stack) {
  auto visit = [push, stack](const Any& v) {
    const TVMFFIAny* raw = reinterpret_cast<const TVMFFIAny*>(&v);
    if (raw->type_index >= ffi::TypeIndex::kTVMFFIStaticObjectBegin && raw->v_obj != nullptr) {
      push(stack, raw->v_obj);
    }
  };
  const Object* o = reinterpret_cast<const Object*>(obj);
  switch (obj->type_index) {
    case ffi::TypeIndex::kTVMFFIArray:
    case ffi::TypeIndex::kTVMFFIList: {
      const auto* seq = static_cast<const ffi::SeqBaseObj*>(o);
      for (const Any& v : *seq) visit(v);
      break;
    }
    case ffi::TypeIndex::kTVMFFIMap:
    case ffi::TypeIndex::kTVMFFIDict: {
      const auto* map = static_cast<const ffi::MapBaseObj*>(o);
      for (const auto& kv : *map) {
        visit(kv.first);
        visit(kv.second);
      }
      break;
    }
    default:
      break;
  }
}

void RetainObject(void* obj) { TVMFFIObjectIncRef(obj); }
void ReleaseObject(void* obj) { TVMFFIObjectDecRef(obj); }

}  // namespace

class OrcJITModuleObj final : public ModuleObj {
 public:
  OrcJITModuleObj(Session session, orcjit_library* lib)
      : session_(std::move(session)), lib_(lib) {}
  OrcJITModuleObj(const OrcJITModuleObj&) = delete;
  OrcJITModuleObj& operator=(const OrcJITModuleObj&) = delete;

  ~OrcJITModuleObj() {
    if (lib_ == nullptr) return;  // freed with its library (OnLibraryFreed)
    orcjit_library_set_link_callback(lib_, nullptr, nullptr);
    orcjit_library_release(lib_);
  }

  /* A module lives exactly as long as its library, because JIT code reaches
  ** it through __tvm_ffi__library_ctx: also while only other libraries'
  ** link orders hold the library, cycles included, which the core frees
  ** (src/oj_lifetime.c) and TVM-FFI's reference counts could not.  So the
  ** last TVM-FFI reference does not destroy the module: it only gives up
  ** the module's reference to the library (ReleaseDeleter), and the
  ** library's free hook destroys the module (OnLibraryFreed). */
  static void ReleaseDeleter(void* self, int flags) {
    auto* m = static_cast<OrcJITModuleObj*>(reinterpret_cast<Object*>(self));
    if (flags & kTVMFFIObjectDeleterFlagBitMaskWeak) m->weak_gone_.store(true);
    if (m->freed_.load()) {  // destroyed already: only the storage remains
      if (flags & kTVMFFIObjectDeleterFlagBitMaskWeak)
        object_deleter_(self, kTVMFFIObjectDeleterFlagBitMaskWeak);
      return;
    }
    // The first time the strong count reaches zero; a reference taken
    // again later (through the library context) and dropped changes nothing.
    if ((flags & kTVMFFIObjectDeleterFlagBitMaskStrong) && !m->orphaned_.exchange(true))
      orcjit_library_release(m->lib_);  // may run OnLibraryFreed now
  }

  static void OnLibraryFreed(void* self) {
    auto* m = static_cast<OrcJITModuleObj*>(self);
    m->lib_ = nullptr;
    m->freed_.store(true);
    object_deleter_(&m->header_, m->weak_gone_.load() ? kTVMFFIObjectDeleterFlagBitMaskBoth
                                                      : kTVMFFIObjectDeleterFlagBitMaskStrong);
  }

  /* Puts ReleaseDeleter in place of the allocator's deleter (the same for
  ** every module of this type) and the free hook on the library. */
  void OwnByLibrary() {
    object_deleter_ = header_.deleter;
    header_.deleter = &OrcJITModuleObj::ReleaseDeleter;
    orcjit_library_set_free_hook(lib_, &OrcJITModuleObj::OnLibraryFreed, this);
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
    ExpandPendingBins();  // objects of DynamicLibrary.add link at a lookup
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
           Optional<Module>* other_root = nullptr, bool deferred = false) {
    int rc;
    const char* path = nullptr;
    std::string path_storage;
    if (auto bytes = input.as<Bytes>()) {
      orcjit_input in{nullptr, bytes->data(), bytes->size(), memory_name.c_str()};
      rc = deferred ? orcjit_library_add_deferred(lib_, &in, 1)
                    : orcjit_library_add_memory(lib_, bytes->data(), bytes->size(),
                                                memory_name.c_str());
    } else if (auto str = input.as<String>()) {
      path_storage = std::string(*str);
      path = path_storage.c_str();
      orcjit_input in{path, nullptr, 0, nullptr};
      rc = deferred ? orcjit_library_add_deferred(lib_, &in, 1) : orcjit_library_add_file(lib_, path);
    } else {
      ThrowKind("TypeError", "tvm_ffi_orcjit: an object must be a path (str) or object-file "
                             "bytes, got " + input.GetTypeKey());
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
        ThrowKind("TypeError", "tvm_ffi_orcjit: an object must be a path (str) or object-file "
                               "bytes, got " + items[i].GetTypeKey());
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
  /* The owner of this module's JIT code: the module itself. */
  oj_ffiabi_owner Owner() {
    return oj_ffiabi_owner{ffi::detail::ObjectUnsafe::GetHeader(this), &RetainObject,
                           &ReleaseObject};
  }

  /* A Function that calls the JIT code and holds this module. */
  Function WrapFunction(void* fn) {
    oj_ffiabi_owner owner = Owner();
    TVMFFIObjectHandle f = nullptr;
    TVM_FFI_CHECK_SAFE_CALL(oj_ffiabi_function(fn, &owner, &f));
    return ffi::detail::ObjectUnsafe::ObjectRefFromObjectPtr<Function>(
        ffi::detail::ObjectUnsafe::ObjectPtrFromOwned<Object>(static_cast<TVMFFIObject*>(f)));
  }

  Optional<String> CallStringGetter(const std::string& symbol) {
    void* addr = nullptr;
    if (orcjit_library_lookup(lib_, symbol.c_str(), &addr) != ORCJIT_OK || addr == nullptr) {
      return std::nullopt;
    }
    // with the core's care, so that the String (made by JIT code) holds this module
    oj_ffiabi_owner owner = Owner();
    Any result;
    TVM_FFI_CHECK_SAFE_CALL(
        oj_ffiabi_call(addr, &owner, nullptr, 0, reinterpret_cast<TVMFFIAny*>(&result)));
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
  ** this module in the place of "_lib" (as tvm_ffi's library module does).
  ** The blob is read and checked by the core (src/oj_libbin.c). */
  Module ProcessLibraryBin(const char* bin) {
    oj_libbin tree;
    int rc = oj_libbin_read(bin, name(), &tree);
    if (rc != ORCJIT_OK) ThrowStatus(rc, "oj_libbin_read");
    std::unique_ptr<oj_libbin, void (*)(oj_libbin*)> guard(&tree, oj_libbin_free);
    std::vector<Module> modules;
    modules.reserve(tree.nmodules);
    Module self = ffi::GetRef<Module>(static_cast<ModuleObj*>(this));
    for (size_t i = 0; i < tree.nmodules; ++i) {
      const oj_libbin_module& m = tree.modules[i];
      std::string kind(m.kind, m.kind_len);
      if (kind == "_lib") {
        modules.push_back(self);
        continue;
      }
      std::string loader = "ffi.Module.load_from_bytes." + kind;
      auto floader = Function::GetGlobal(loader);
      if (!floader.has_value()) {
        ThrowKind("RuntimeError", std::string("library '") + name() +
                                      "': its __tvm_ffi__library_bin holds a module of kind '" +
                                      kind + "', but " + loader + " is not registered");
      }
      modules.push_back((*floader)(Bytes(m.data, m.size)).cast<Module>());
    }
    for (size_t i = 0; i < tree.nmodules; ++i) {
      for (uint64_t j = tree.indptr[i]; j < tree.indptr[i + 1]; ++j) {
        modules[i]->ImportModule(modules[tree.children[j]]);
      }
    }
    return modules[0];
  }

  Session session_;
  orcjit_library* lib_;
  std::mutex mutex_;
  std::atomic<bool> orphaned_{false};  // no TVM-FFI reference left
  std::atomic<bool> freed_{false};     // destroyed by its library's free hook
  std::atomic<bool> weak_gone_{false};
  static inline void (*object_deleter_)(void*, int) = nullptr;
  std::vector<const void*> pending_bins_;
  std::vector<const void*> seen_bins_;
};

static Module CreateModule(const Session& session, const std::string& name) {
  orcjit_library* lib = nullptr;
  int rc = orcjit_library_create(session->handle(), name.empty() ? nullptr : name.c_str(), &lib);
  if (rc != ORCJIT_OK) ThrowStatus(rc, "orcjit_library_create");
  ObjectPtr<OrcJITModuleObj> obj = ffi::make_object<OrcJITModuleObj>(session, lib);
  obj->Init();
  obj->OwnByLibrary();
  return Module(obj);
}

/* One new library holding all the objects.  `objects` is an Array of
** str/bytes, or a single str/bytes.  An empty Array gives an empty module
** (every lookup in it fails as for a missing function), as upstream. */
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
  } else if (!items.empty()) {
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
  out.Set("tar", orcjit_inspect_is_archive(in) == 2);
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
  oj_ffiabi_set_children(&PushChildren);
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
           [](DynamicLibrary lib, Any input) {
             // Linked at the first lookup, as upstream 0.1 and ORC do; a tar
             // (a whole TVM export) is linked now and gives its import root.
             Optional<Module> root;
             lib->impl()->Add(input, "<memory>", &root, /*deferred=*/true);
             return root;
           },
           "Adds an object, archive or tar (path: str, or content: bytes) to the library. "
           "Objects and archives are linked at the first lookup that needs them; a tar is "
           "linked at once and its embedded import tree's root, when that is not the "
           "library (a TVM Relax model's VM executable), is returned, else None")
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
      // A tar of objects, as Apache TVM's export_library("x.tar") writes it:
      // its objects linked as one library (src/oj_tar.c), no compiler needed.
      .def_packed("ffi.Module.load_from_file.tar",
                  [](ffi::PackedArgs args, Any* rv) {
                    if (args.size() < 1) {
                      ThrowKind("TypeError", "ffi.Module.load_from_file.tar(path, [format])");
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
