/*
** oj_ffi.cc: the TVM-FFI binding of tvm-ffi-orcjit: its object types and
** global functions, registered at load time (TVMFFIOrcJITInitialize).
**
** Why C++: TVM-FFI's object system is C++: object types are classes
** declared with TVM_FFI_DECLARE_OBJECT_INFO, and globals registered
** through tvm::ffi::reflection check and convert their arguments with the
** same messages as every other TVM-FFI function; iterating TVM-FFI's
** containers (the visitor installed for src/oj_ffiabi.c) needs their C++
** classes.  Linking, memory and symbols live in the C core and are reached
** only through its public API, include/tvm_ffi_orcjit/orcjit.h.
**
** What is here (see oj_ffi.h for the list of globals):
**   SessionObj         "tvm_ffi_orcjit.ExecutionSession", owns an orcjit_session*
**                      (declared in oj_ffi_int.h)
**   DynamicLibraryObj  "tvm_ffi_orcjit.DynamicLibrary", the first-generation
**                      handle: a session and the module of one library
**   the global functions, each a thin call of the module (oj_ffi_module.cc)
**   or of the C parts of the binding (src/oj_ffiinspect.c).
**
** Ownership: DynamicLibrary -> Module -> orcjit_library -> orcjit_session.
** A Function returned by GetFunction holds a reference to its module, so the
** JIT code, its __tvm_ffi__library_ctx and the module's imports stay valid
** while the function lives.  A module lives exactly as long as its library
** (oj_ffi_module.cc): a library kept by other libraries' link orders keeps
** its module, whose code may call back through its library context, and
** link-order cycles are freed by the core.  Objects that JIT code returns
** hold their module too, and errors it raises are copied out of it
** (src/oj_ffiabi.c).
**
** Context symbols: a link callback, run by the core after each object is
** linked and before its constructors run, points __tvm_ffi__library_ctx at
** the module, binds every symbol registered with
** TVMFFIEnvModRegisterContextSymbol and notes __tvm_ffi__library_bin; once
** the add has succeeded the embedded import tree is expanded through
** ffi.Module.load_from_bytes.<kind> (src/oj_ffibin.c).
*/
#include "oj_ffi.h"

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
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "oj_ffi_int.h"
#include "oj_ffi_module.h"
#include "oj_ffiabi.h"
#include "oj_ffiinspect.h"
#include "oj_ffilib.h"

namespace tvm_ffi_orcjit {

using ffi::Array;
using ffi::Bytes;

/* ---- session ----------------------------------------------------------- */

/* A session (src/oj_ffilib.c: orc_rt None, or a path as str or bytes). */
static Session CreateSession(const Any& orc_rt, int64_t slab_size, unsigned flags) {
  orcjit_session* handle = nullptr;
  TVM_FFI_CHECK_SAFE_CALL(oj_ffilib_session(reinterpret_cast<const TVMFFIAny*>(&orc_rt),
                                            slab_size, flags, &handle));
  return Session(ffi::make_object<SessionObj>(handle));
}

/* The process-wide session, created on first use and never destroyed (it
** must outlive every module that static destructors may still release). */
static Session GlobalDefaultSession() {
  static Session* inst = new Session(CreateSession(Any(), 0, 0));
  return *inst;
}

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

}  // namespace

/* ---- first-generation library handle ------------------------------------ */

class DynamicLibraryObj : public Object {
 public:
  DynamicLibraryObj(Session session, Module module)
      : session_(std::move(session)), module_(std::move(module)) {}

  const Session& session() const { return session_; }
  const Module& module() const { return module_; }

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
** orcjit_inspect_* as plain data (src/oj_ffiinspect.c). */
static ffi::Map<String, Any> InspectObject(const Any& input, const String& name, bool resolve) {
  TVMFFIAny out;
  TVM_FFI_CHECK_SAFE_CALL(oj_ffiinspect(reinterpret_cast<const TVMFFIAny*>(&input),
                                        name.c_str(), resolve ? 1 : 0, &out));
  return ffi::detail::AnyUnsafe::MoveTVMFFIAnyToAny(&out).cast<ffi::Map<String, Any>>();
}

/* ---- registration -------------------------------------------------------- */

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
                    *rv = CreateSession(Any(args[0]), args[1].cast<int64_t>(),
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
             ModuleAdd(lib->module(), input, &root, /*deferred=*/true);
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
             ModuleSetLinkOrder(lib->module(), mods);
           },
           "Sets the libraries searched, in order, after the library itself")
      .def("tvm_ffi_orcjit.DynamicLibraryGetFunction",
           [](DynamicLibrary lib, String name) {
             return ModuleGetFunctionOrThrow(lib->module(), name);
           },
           "The function exported as __tvm_ffi_<name>; AttributeError if missing")
      .def("tvm_ffi_orcjit.DynamicLibraryGetName",
           [](DynamicLibrary lib) { return ModuleName(lib->module()); })
      .def("tvm_ffi_orcjit.DynamicLibraryGetModule",
           [](DynamicLibrary lib) { return lib->module(); })
      .def("tvm_ffi_orcjit.DynamicLibraryGetSession",
           [](DynamicLibrary lib) { return lib->session(); })
      .def("tvm_ffi_orcjit.DynamicLibraryLookup",
           [](DynamicLibrary lib, String symbol) { return ModuleLookup(lib->module(), symbol); },
           "The address of a symbol defined in the library; KeyError if missing")
      .def("tvm_ffi_orcjit.ModuleGetLibrary",
           [](Module mod) {
             return DynamicLibrary(ffi::make_object<DynamicLibraryObj>(ModuleSession(mod), mod));
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
