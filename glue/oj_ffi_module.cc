/*
** oj_ffi_module.cc: the ffi.Module of kind "orcjit", one per library.
**
** Why C++: TVM-FFI has no C API for a module kind; a module is a subclass
** of the C++ class tvm::ffi::ModuleObj (kind, GetFunction,
** ImplementsFunction, ...), and JIT code reaches it as a ModuleObj* through
** __tvm_ffi__library_ctx.
**
** What this file owns: the module object, its life tied to its library's
** (OrcJITModuleObj::ReleaseDeleter, OnLibraryFreed), the link callback that
** binds the library context and the context symbols
** (Module::VisitContextSymbols is C++ only), adding objects and reading
** functions through the C API (include/tvm_ffi_orcjit/orcjit.h).
**
** What it does not own: the import trees embedded in objects
** (src/oj_ffibin.c: noted per module, expanded through TVM-FFI's C API),
** Functions over JIT code and the care of what JIT code returns
** (src/oj_ffiabi.c), the error kinds (src/oj_ffierr.c), the registration of
** global functions (oj_ffi.cc).
*/
#include "oj_ffi_module.h"

#include <tvm/ffi/any.h>
#include <tvm/ffi/c_api.h>
#include <tvm/ffi/container/array.h>
#include <tvm/ffi/error.h>
#include <tvm/ffi/extra/module.h>
#include <tvm/ffi/function.h>
#include <tvm/ffi/memory.h>
#include <tvm/ffi/object.h>
#include <tvm/ffi/optional.h>
#include <tvm/ffi/string.h>
#include <tvm_ffi_orcjit/orcjit.h>

#include <atomic>
#include <cstdint>
#include <cstring>
#include <exception>
#include <new>
#include <string>
#include <utility>
#include <vector>

#include "oj_ffiabi.h"
#include "oj_ffibin.h"
#include "oj_ffilib.h"

namespace tvm_ffi_orcjit {

using ffi::Array;
using ffi::ModuleObj;

namespace {

void RetainObject(void* obj) { TVMFFIObjectIncRef(obj); }
void ReleaseObject(void* obj) { TVMFFIObjectDecRef(obj); }

}  // namespace

class OrcJITModuleObj final : public ModuleObj {
 public:
  OrcJITModuleObj(Session session, orcjit_library* lib)
      : session_(std::move(session)), lib_(lib) {
    oj_ffibin_init(&bins_);
  }
  OrcJITModuleObj(const OrcJITModuleObj&) = delete;
  OrcJITModuleObj& operator=(const OrcJITModuleObj&) = delete;

  ~OrcJITModuleObj() {
    oj_ffibin_destroy(&bins_);
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
    TVM_FFI_CHECK_SAFE_CALL(oj_ffilib_get_function(lib_, name.c_str(), &fn));
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

  /* Adds items[0 .. n) (paths: str, or objects' bytes; several as one link,
  ** in which they may refer to each other in any direction) with
  ** src/oj_ffilib.c.  Throws on failure, which leaves the library as it
  ** was.  *other_root receives the root of an embedded import tree whose
  ** root is not this module (rare). */
  void Add(const Any* items, size_t n, Optional<Module>* other_root, bool deferred) {
    TVMFFIObjectHandle root = nullptr;
    TVM_FFI_CHECK_SAFE_CALL(oj_ffilib_add(lib_, reinterpret_cast<const TVMFFIAny*>(items), n,
                                          deferred, &bins_, Self(), &root));
    if (root != nullptr) *other_root = FromOwned(root);
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
  TVMFFIObject* Self() { return ffi::detail::ObjectUnsafe::GetHeader(this); }

  /* A module for a reference to one that src/ handed over. */
  static Module FromOwned(TVMFFIObjectHandle h) {
    return ffi::detail::ObjectUnsafe::ObjectRefFromObjectPtr<Module>(
        ffi::detail::ObjectUnsafe::ObjectPtrFromOwned<Object>(static_cast<TVMFFIObject*>(h)));
  }

  /* The owner of this module's JIT code: the module itself. */
  oj_ffiabi_owner Owner() { return oj_ffiabi_owner{Self(), &RetainObject, &ReleaseObject}; }

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
        if (oj_ffibin_note(&self->bins_, addr) != 0) throw std::bad_alloc();
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

  /* Expands the import trees that the add that just succeeded linked
  ** (src/oj_ffibin.c); the last root that is not this module, if any. */
  Optional<Module> ExpandPendingBins() {
    TVMFFIObjectHandle root = nullptr;
    TVM_FFI_CHECK_SAFE_CALL(oj_ffibin_expand(&bins_, name(), Self(), &root));
    if (root == nullptr) return std::nullopt;
    return FromOwned(root);
  }

  Session session_;
  orcjit_library* lib_;
  std::atomic<bool> orphaned_{false};  // no TVM-FFI reference left
  std::atomic<bool> freed_{false};     // destroyed by its library's free hook
  std::atomic<bool> weak_gone_{false};
  static inline void (*object_deleter_)(void*, int) = nullptr;
  oj_ffibin_set bins_;  // its objects' __tvm_ffi__library_bin
};

Module CreateModule(const Session& session, const std::string& name) {
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
Module SessionLoadModule(const Session& session, const Any& objects, const String& name) {
  std::vector<Any> items;
  if (auto arr = objects.as<Array<Any>>()) {
    for (const Any& x : *arr) items.push_back(x);
  } else {
    items.push_back(objects);
  }
  Module mod = CreateModule(session, std::string(name));
  Optional<Module> root;
  // Like a static linker, as one link: the objects may refer to each other
  // in any order and any direction.
  if (!items.empty()) OrcJITModuleObj::Downcast(mod)->Add(items.data(), items.size(), &root, false);
  return root.has_value() ? *root : mod;
}

void ModuleAdd(const Module& mod, const Any& input, Optional<Module>* other_root, bool deferred) {
  OrcJITModuleObj::Downcast(mod)->Add(&input, 1, other_root, deferred);
}

void ModuleSetLinkOrder(const Module& mod, const std::vector<Module>& libs) {
  OrcJITModuleObj::Downcast(mod)->SetLinkOrder(libs);
}

Function ModuleGetFunctionOrThrow(const Module& mod, const String& name) {
  return OrcJITModuleObj::Downcast(mod)->GetFunctionOrThrow(name);
}

int64_t ModuleLookup(const Module& mod, const String& symbol) {
  return OrcJITModuleObj::Downcast(mod)->Lookup(symbol);
}

String ModuleName(const Module& mod) { return String(OrcJITModuleObj::Downcast(mod)->name()); }

Session ModuleSession(const Module& mod) { return OrcJITModuleObj::Downcast(mod)->session(); }

}  // namespace tvm_ffi_orcjit
