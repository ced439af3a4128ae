/*
** orcjit.h: the public C API of tvm-ffi-orcjit.
**
** Links relocatable ELF objects (.o) and static archives (.a) into the
** running process with LLVM's ORC JIT and hands out their symbols, in
** particular functions exported with the TVM-FFI safe-call ABI.
**
** Model
**   session   one JIT instance: its memory, its symbol string pool.
**   library   a named symbol namespace inside a session (one JITDylib).
**             Objects are added to it incrementally.  An undefined symbol
**             is resolved from (1) the library itself, (2) its link order,
**             (3) the host process.
**
** Error model
**   Every function that can fail returns an int status: ORCJIT_OK (0) or
**   one of the ORCJIT_E* codes below.  The message of the last failure on
**   the calling thread is read with orcjit_last_error(); it names the
**   library, the input (path or memory name) and the symbol concerned.
**   A failed call changes nothing: a failed add leaves no symbol, no
**   memory and no constructor of that object behind.
**
** Ownership
**   Sessions and libraries are reference counted.  *_create returns one
**   reference that the caller owns; *_release drops one.  A library holds
**   a reference to its session and to every library it was ever linked
**   against, so nothing it needs can go away under it.  A library goes
**   away when nothing refers to it: no reference of the caller's (handles,
**   retains, Functions) and no library linking against it that is still
**   alive.  Link orders may form cycles (a links b, b links a, or a
**   itself): a cycle goes away as a whole once nothing outside it refers
**   to any of its libraries.  Going away runs the library's destructors
**   (fini arrays, atexit and __cxa_atexit handlers registered by its code;
**   for a cycle, those of all its libraries, newest library first) and
**   then frees its memory and its name.  Release never recurses: a chain
**   of link orders of any depth is freed in constant stack.
**
** Threads
**   All functions are thread-safe.  Adds into different sessions run in
**   parallel.  Two adds into the same library at the same time are refused
**   (ORCJIT_EBUSY) rather than serialised.  Adds into different libraries
**   never wait for each other's locks, whatever their link orders.
**   Calling a function obtained from a library takes no lock of this
**   library.
**
** fork()
**   fork() waits until no other thread is inside a call of this API that
**   loads, links or frees (pthread_atfork), so a child can use the sessions
**   it inherits.  If the thread calling fork() is itself inside such a call
**   (fork() from a constructor or a link callback), or another thread does
**   not leave the loader within 30 seconds, the sessions the child
**   inherits fail every call at once with ORCJIT_EINVAL ("inherited through
**   fork()"); new sessions made in the child work.
*/
#ifndef TVM_FFI_ORCJIT_ORCJIT_H
#define TVM_FFI_ORCJIT_ORCJIT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(_WIN32)
#define ORCJIT_API __declspec(dllexport)
#else
#define ORCJIT_API __attribute__((visibility("default")))
#endif

#define ORCJIT_VERSION_MAJOR 0
#define ORCJIT_VERSION_MINOR 2
#define ORCJIT_VERSION_PATCH 0

/* Status codes.  Stable values: new codes are only ever appended. */
enum {
  ORCJIT_OK = 0,
  ORCJIT_EINVAL = 1,    /* a bad argument (NULL handle, empty name, ...) */
  ORCJIT_EIO = 2,       /* a file could not be opened or read */
  ORCJIT_EFORMAT = 3,   /* not a usable relocatable object or archive */
  ORCJIT_EDUPLICATE = 4,/* a strong symbol defined twice in one library */
  ORCJIT_EUNRESOLVED = 5,/* undefined symbols that nothing provides */
  ORCJIT_ENOTFOUND = 6, /* a looked-up symbol or function does not exist */
  ORCJIT_ELINK = 7,     /* JIT linking failed for another reason */
  ORCJIT_EBUSY = 8,     /* the library is in use by another add */
  ORCJIT_ENOMEM = 9,    /* out of memory */
  ORCJIT_EINIT = 10,    /* a constructor of the object failed */
  ORCJIT_EUNSUPPORTED = 11 /* a feature of the object is not supported */
};

/* The largest input (file or memory) accepted by orcjit_library_add_file
** and orcjit_library_add_memory: 2 GiB.  A larger one is refused with
** ORCJIT_EFORMAT before any of it is read or copied.  (Zero-fill sections
** are not in the file: an object may need more memory than this.) */
#define ORCJIT_MAX_INPUT_SIZE ((size_t)1 << 31)

typedef struct orcjit_session orcjit_session;
typedef struct orcjit_library orcjit_library;

/* Options for orcjit_session_create.  Zero-initialise, then set what you
** need; a NULL pointer means all defaults.  Fields are only ever appended:
** a caller built against an older header passes its smaller struct_size
** and gets the defaults for the fields it does not know. */
typedef struct orcjit_session_options {
  size_t struct_size;      /* sizeof(orcjit_session_options); 0 = current */
  size_t slab_size;        /* JIT address space reserved at a time; 0 = default */
  const char *orc_rt_path; /* accepted for upstream compatibility; unused */
  unsigned flags;          /* ORCJIT_SESSION_* bits below (since 0.2) */
} orcjit_session_options;

/* Session flags (orcjit_session_options.flags).  Each is also turned on for
** every session of the process by an environment variable set to anything
** but "" or "0" when the session is created.
**   ORCJIT_SESSION_DEBUGGER   (TVM_FFI_ORCJIT_DEBUG) registers every linked
**       object with the GDB JIT interface, so gdb can set breakpoints in
**       JIT code, name its frames and show its source when the object was
**       built with -g.  Unregistered when the library is released.  Costs a
**       copy of each object while it is loaded, and the session never puts
**       code again where released code was (see docs/debugging.md).
**   ORCJIT_SESSION_PERF_MAP   (TVM_FFI_ORCJIT_PERF_MAP) appends a line
**       "START SIZE name" for every function of every linked object to
**       /tmp/perf-<pid>.map, where `perf report` looks for names of JIT
**       code.  The file is not truncated or cleaned up. */
#define ORCJIT_SESSION_DEBUGGER 0x1u
#define ORCJIT_SESSION_PERF_MAP 0x2u

/* ---- errors ---------------------------------------------------------- */

/* The message of the last failed call on this thread ("" if none).  The
** pointer stays valid until the next orcjit_* call on this thread. */
ORCJIT_API const char *orcjit_last_error(void);
/* The status of the last failed call on this thread (ORCJIT_OK if none). */
ORCJIT_API int orcjit_last_status(void);
/* A short constant name for a status code ("ORCJIT_EIO", ...). */
ORCJIT_API const char *orcjit_status_name(int status);

/* ---- sessions -------------------------------------------------------- */

ORCJIT_API int orcjit_session_create(const orcjit_session_options *opts,
                                     orcjit_session **out);
ORCJIT_API void orcjit_session_retain(orcjit_session *s);
/* Drops one reference; the session is destroyed when its last reference
** and the last library created in it are gone.  NULL is a no-op. */
ORCJIT_API void orcjit_session_release(orcjit_session *s);
/* Returns unused JIT memory to the operating system: the pages of free JIT
** memory are dropped and every wholly free slab (reserved address space)
** of the process's shared windows is unmapped.  *regions (may be NULL)
** receives the number of memory regions given back: the slabs this call
** unmapped, plus what the release of this session's libraries gave back
** since the previous call: the regions of their own of large objects
** (below), unmapped, and their pieces of 256 KiB or more in the shared
** window, whose pages went back to the system at once.  (Versions before 0.2.1 gave a number of bytes.)
**
** JIT memory is the process's, shared by its sessions: code and data go to
** one window of address space near libc, within +-2 GiB of libc and of each
** other, so that 32-bit PC-relative references between libraries and to
** the host reach.  An object of 128 MiB or more (zero-fill included), or
** one that no longer fits in the window, whose 32-bit relative relocations
** all stay inside it (-fPIC code: calls and GOT loads go through its own
** stubs and GOT) gets a region of its own anywhere, up to 64 GiB, unmapped
** at its release; one with such a relocation to another object or the host
** must fit in the window, and its refusal names the relocation.  An
** address-space limit (RLIMIT_AS) is met by reserving less at a time. */
ORCJIT_API int orcjit_session_clear_free_slabs(orcjit_session *s,
                                               size_t *regions);

/* ---- libraries ------------------------------------------------------- */

/* Creates an empty library.  name may be NULL or "" for a generated unique
** name ("lib<N>").  A name in use by a live library of the same session is
** refused with ORCJIT_EINVAL; once released, the name can be used again. */
ORCJIT_API int orcjit_library_create(orcjit_session *s, const char *name,
                                     orcjit_library **out);
ORCJIT_API void orcjit_library_retain(orcjit_library *lib);
/* Drops one reference; at the last one the library's destructors run and
** its JIT memory is freed.  NULL is a no-op.
** Except for a pinned library (orcjit_library_is_pinned): one whose objects
** call a TVM-FFI function that registers something TVM-FFI keeps for good
** and cannot forget (global functions, TVMFFIFunctionSetGlobal*; fields,
** methods, metadata or attributes of object types, TVMFFITypeRegister*;
** TVMFFISetCustomAllocator, TVMFFIEnvSetDLPackManagedTensorAllocator,
** TVMFFIEnvRegisterCAPI, TVMFFIEnvModRegister*Symbol), typically from a
** TVM_FFI_STATIC_INIT_BLOCK.  What it registered points into its code, so
** at its last release such a library stays loaded until the process exits:
** its destructors do not run, its memory, its session and the libraries of
** its link order are kept; only its name is freed for reuse. */
ORCJIT_API void orcjit_library_release(orcjit_library *lib);
/* 1 if lib is pinned (see orcjit_library_release), else 0. */
ORCJIT_API int orcjit_library_is_pinned(const orcjit_library *lib);
/* The library's name; valid while the library lives. */
ORCJIT_API const char *orcjit_library_name(const orcjit_library *lib);
/* The session the library belongs to (no new reference). */
ORCJIT_API orcjit_session *orcjit_library_session(const orcjit_library *lib);

/* Adds an object file or a static archive read from path.  The kind is
** detected from the content.  For an archive, only the members that
** provide a symbol some earlier or later object needs are linked (like a
** static linker); the members are loaded when first needed.  An archive
** with no x86-64 object member (empty, or only other files) is refused
** with ORCJIT_EFORMAT; a member for another machine fails the add.  path
** must name a regular file of at most ORCJIT_MAX_INPUT_SIZE bytes (a FIFO
** or a device is refused with ORCJIT_EIO, without blocking).
** A tar file (POSIX ustar or GNU, plain or gzip-compressed, as Apache TVM's
** export_library("x.tar") writes it) is added as its members would be by
** orcjit_library_add_many, all or nothing: the regular files named *.o or
** *.a, or with ELF or archive content; other members (directories, text,
** metadata) are skipped.  A corrupt tar (bad header checksum, a member
** past the end, bad gzip data) or one with nothing to load is refused with
** ORCJIT_EFORMAT naming the tar and the member, as "x.tar(member.o)". */
ORCJIT_API int orcjit_library_add_file(orcjit_library *lib, const char *path);
/* Adds an object, archive or tar from memory.  The bytes are copied.  name is
** used in error messages (NULL: "<memory>"). */
ORCJIT_API int orcjit_library_add_memory(orcjit_library *lib, const void *data,
                                         size_t size, const char *name);

/* One input of orcjit_library_add_many: the file at path, or (path NULL)
** size bytes at data, called name in messages (NULL: "<memory #i>"). */
typedef struct orcjit_input {
  const char *path;
  const void *data;
  size_t size;
  const char *name;
} orcjit_input;

/* Adds n objects and archives as one link, as a static linker links the
** files of one command line: the objects may refer to each other in any
** direction (a calls b and b calls a), which separate adds cannot do
** since each add resolves all of its object's symbols.  Archives among
** the inputs are added first, then the objects are linked together with
** the archive members they need; constructors run member first, then the
** objects in the order given.  All or nothing: on failure no object of
** the call stays linked, its archives are forgotten, and the error names
** the input at fault.  A tar among the inputs stands for its members
** (see orcjit_library_add_file).  n == 0 does nothing. */
ORCJIT_API int orcjit_library_add_many(orcjit_library *lib, const orcjit_input *inputs,
                                       size_t n);

/* Adds n objects and archives whose linking waits for the library's next
** lookup (orcjit_library_lookup, _get_function, _get_ffi_function), as ORC
** and the first-generation Python API (DynamicLibrary.add) do: objects may
** be added in any order (one needing an object or archive added after it),
** and the link order may be set in between.  The call itself checks what
** an add checks before linking: each object passes the pre-pass, and none
** defines a strong symbol that the library, an object still waiting or
** another input defines strong (ORCJIT_EDUPLICATE); all or nothing.
**
** Every lookup into lib first links the objects waiting in it, as one link
** with the archive members they need (constructors run then, before any
** function is handed out); an object of another library whose link order
** names lib does the same.  Objects whose symbols cannot be resolved are
** left out of that link and keep waiting; the others link.  A lookup of a
** symbol defined by an object left out fails with the link's error
** (ORCJIT_EUNRESOLVED: every missing symbol and the object needing it).
** An object left out is tried again at the first lookup after a later add
** or set_link_order anywhere in the process.  A lookup of a symbol that is
** already linked while another thread adds into lib returns it without
** linking the waiting objects; one that needs them then is ORCJIT_EBUSY.
** Objects added later with orcjit_library_add_file/_memory/_many link at
** once and do not see the objects still waiting. */
ORCJIT_API int orcjit_library_add_deferred(orcjit_library *lib, const orcjit_input *inputs,
                                           size_t n);

/* Sets the libraries searched, in order, after lib itself and before the
** host process.  Replaces an earlier link order; it applies to symbols not
** yet resolved.  lib keeps a reference to every library named here (cycles
** are allowed, and freed as a whole: see Ownership).  An object added to
** lib that needs a symbol which the first library of the order exporting
** it has only in an archive member not linked yet links that member into
** that library first, as its own lookup would. */
ORCJIT_API int orcjit_library_set_link_order(orcjit_library *lib,
                                             orcjit_library *const *libs,
                                             size_t n);

/* Looks up a symbol defined by an object of this library (not its link
** order).  ORCJIT_ENOTFOUND if it is not defined.  Links the objects
** waiting in lib first (orcjit_library_add_deferred): a symbol of one that
** cannot link gives that link's error (ORCJIT_EUNRESOLVED ...).
** The address is a raw pointer: it holds no reference.  Once lib is freed
** it dangles, and since freed JIT memory is reused at once, calling it then
** silently runs whatever code was loaded there next (no fault).  Keep lib
** (or a Function of orcjit_library_get_ffi_function) alive while you use
** it. */
ORCJIT_API int orcjit_library_lookup(orcjit_library *lib, const char *symbol,
                                     void **out_addr);

/* Looks up the TVM-FFI safe-call function exported as __tvm_ffi_<name>.
** *out_fn has the type TVMFFISafeCallType (see tvm/ffi/c_api.h). */
ORCJIT_API int orcjit_library_get_function(orcjit_library *lib,
                                           const char *name, void **out_fn);

/* Like orcjit_library_get_function, but wraps the function in a new
** TVM-FFI Function object (a TVMFFIObjectHandle that the caller owns) which
** keeps lib alive until the Function is freed.  It is the Function the
** Python package hands out: the JIT code is called with a NULL self; an
** object it returns whose deleter is JIT code (and each such element of a
** returned container) keeps lib alive until freed; an error it raises from
** JIT code is replaced by an equal one made by libtvm_ffi, so it may outlive
** lib. */
ORCJIT_API int orcjit_library_get_ffi_function(orcjit_library *lib,
                                               const char *name,
                                               void **out_function);

/* fn(arg) is called once, right after lib's memory is freed: after the
** last reference to it went (a handle, a function, a library linking to it,
** a cycle of those) and its destructors ran; never for a library that stays
** loaded (orcjit_library_is_pinned) or that is still loaded at process
** exit.  For an owner whose lifetime must match the library's (the Python
** package's module object, which JIT code reaches through
** __tvm_ffi__library_ctx).  One hook per library; NULL removes it. */
ORCJIT_API int orcjit_library_set_free_hook(orcjit_library *lib,
                                            void (*fn)(void *), void *arg);

/* Called after each object of lib is linked and before its constructors
** run; the place to fill context symbols such as __tvm_ffi__library_ctx.
** A nonzero return fails the add; the callback should set a message with
** orcjit_set_error.  Pass NULL to remove. */
typedef int (*orcjit_link_callback)(orcjit_library *lib, void *user);
ORCJIT_API int orcjit_library_set_link_callback(orcjit_library *lib,
                                                orcjit_link_callback cb,
                                                void *user);

/* Records an error for the calling thread (for use by callbacks and glue
** code); returns status. */
ORCJIT_API int orcjit_set_error(int status, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* ---- inspecting objects ------------------------------------------------ */

/* An inspection describes an object file or archive without linking it
** (no session needed): for each object (for an archive, each ELF member)
** its global symbols, which of them are TVM-FFI functions, what it needs
** from elsewhere, and its init/fini sections.  The input goes through the
** same validation as orcjit_library_add_*, so an object the inspection
** refuses is one the loader refuses, with the same message. */
typedef struct orcjit_inspection orcjit_inspection;

/* Flags of a symbol (orcjit_inspect_symbol). */
enum {
  ORCJIT_SYM_UNDEFINED = 1 << 0,   /* referenced, not defined by the object */
  ORCJIT_SYM_WEAK = 1 << 1,        /* weak (undefined: may stay unresolved) */
  ORCJIT_SYM_HIDDEN = 1 << 2,      /* hidden/internal: not seen by libraries
                                      linking against this one */
  ORCJIT_SYM_FUNCTION = 1 << 3,    /* a function (STT_FUNC, STT_GNU_IFUNC) */
  ORCJIT_SYM_TLS = 1 << 4,         /* thread-local (STT_TLS) */
  ORCJIT_SYM_FFI_FUNCTION = 1 << 5,/* a defined function __tvm_ffi_<name>:
                                      orcjit_library_get_function(lib, name)
                                      returns it (__tvm_ffi__* names are
                                      TVM-FFI's own, not functions) */
  ORCJIT_SYM_RUNTIME = 1 << 6,     /* undefined, provided by the loader
                                      itself: atexit, __dso_handle,
                                      __cxa_atexit, __tls_get_addr,
                                      __cxa_thread_atexit(_impl),
                                      _GLOBAL_OFFSET_TABLE_ */
  ORCJIT_SYM_HOST = 1 << 7         /* undefined, found in this process by
                                      dlsym(RTLD_DEFAULT) (only with
                                      ORCJIT_INSPECT_RESOLVE) */
};

/* Options of orcjit_inspect_file/_memory. */
enum {
  ORCJIT_INSPECT_RESOLVE = 1 /* look each undefined symbol up in the calling
                                process, as the loader's last step does */
};

/* Kinds of init/fini section (orcjit_inspect_initfini). */
enum {
  ORCJIT_INIT_ARRAY = 0, /* .init_array, .init_array.N */
  ORCJIT_FINI_ARRAY = 1, /* .fini_array, .fini_array.N */
  ORCJIT_CTORS = 2,      /* .ctors, .ctors.N */
  ORCJIT_DTORS = 3       /* .dtors, .dtors.N */
};

/* Inspects the object, archive or tar at path (kind detected from the content)
** or in data[0..size) (name is used in messages; NULL: "<memory>").  Fails
** (no *out) where orcjit_library_add_* would fail on the input as a whole:
** unreadable file, not ELF, a corrupt or foreign object, a corrupt archive,
** an archive with members but none of them ELF.  An archive member that is
** ELF but not loadable does not fail the call: orcjit_inspect_object
** reports it (and the loader would refuse the archive).  flags: 0 or
** ORCJIT_INSPECT_RESOLVE.  Free the result with orcjit_inspect_free. */
ORCJIT_API int orcjit_inspect_file(const char *path, unsigned flags,
                                   orcjit_inspection **out);
ORCJIT_API int orcjit_inspect_memory(const void *data, size_t size,
                                     const char *name, unsigned flags,
                                     orcjit_inspection **out);
/* NULL is a no-op.  Every string returned below lives until this call. */
ORCJIT_API void orcjit_inspect_free(orcjit_inspection *in);

/* 1 if the input is an archive, 2 if it is a tar (their members listed one
** by one), 0 if it is one object. */
ORCJIT_API int orcjit_inspect_is_archive(const orcjit_inspection *in);
/* Number of objects: 1 for an object file, the ELF members of an archive
** (in archive order; other members are skipped, as the loader skips them),
** the members of a tar that the loader would link (named
** "<tar>(<member>)"; an archive in a tar: "<tar>(<archive>)(<member>)"). */
ORCJIT_API size_t orcjit_inspect_num_objects(const orcjit_inspection *in);
/* Object i: *name (may be NULL) gets its name, the path or memory name, or
** "<archive>(<member>)"; returns ORCJIT_OK, or the status the loader would
** fail with for this member, *error (may be NULL) then its message ("" if
** OK).  ORCJIT_EINVAL if i is out of range. */
ORCJIT_API int orcjit_inspect_object(const orcjit_inspection *in, size_t i,
                                     const char **name, const char **error);
/* Number of symbols of object i (0 if it failed or i is out of range).
** Defined ones come first, in symbol-table order, then undefined ones;
** each name once. */
ORCJIT_API size_t orcjit_inspect_num_symbols(const orcjit_inspection *in,
                                             size_t i);
/* Symbol k of object i: returns its name and sets *flags (may be NULL) to
** ORCJIT_SYM_* bits; NULL if out of range. */
ORCJIT_API const char *orcjit_inspect_symbol(const orcjit_inspection *in,
                                             size_t i, size_t k,
                                             unsigned *flags);
/* Number of init/fini sections of object i, in section order. */
ORCJIT_API size_t orcjit_inspect_num_initfini(const orcjit_inspection *in,
                                              size_t i);
/* Init/fini section k of object i: returns its kind (ORCJIT_INIT_ARRAY ...)
** or -1 if out of range; *priority and *count (number of pointers) may be
** NULL.  The priority orders the sections as they run, lowest first: the
** suffix N of .init_array.N/.fini_array.N, 65535 - N for .ctors.N/.dtors.N
** (as ld sorts them), 65536 for a section without a suffix. */
ORCJIT_API int orcjit_inspect_initfini(const orcjit_inspection *in, size_t i,
                                       size_t k, uint32_t *priority,
                                       uint32_t *count);

#ifdef __cplusplus
}
#endif
#endif /* TVM_FFI_ORCJIT_ORCJIT_H */
