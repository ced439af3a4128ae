/*
** loop.c: the LeakSanitizer load/release loop (tests/sanitize/run.sh).
**
**   loop ITERATIONS OBJ.o [CXX.o]
**
** Each iteration: create a library, add OBJ.o (from its path on even
** iterations, from memory on odd ones), call __tvm_ffi_loop_add0(2, 3)
** (must be 1005: its constructor ran), optionally add CXX.o (tests/sources
** cpp_add.cc) and call add_cpp and twice_or_throw(-1) (a C++ exception
** turned into a TVM-FFI error), every 10th iteration also add a truncated
** copy (must fail cleanly), then release the library (destructor, atexit
** handler, JIT memory).  Built with -fsanitize=address,undefined against
** the ASan build of the library; LeakSanitizer checks at exit that nothing
** leaked.  Prints resident memory after the warm-up and at the end.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <tvm/ffi/c_api.h>

#include "tvm_ffi_orcjit/orcjit.h"

typedef int (*safe_call)(void *, const TVMFFIAny *, int32_t, TVMFFIAny *);

static void die(const char *what, int st) {
  fprintf(stderr, "loop: %s failed: %s: %s\n", what, orcjit_status_name(st),
          orcjit_last_error());
  exit(1);
}

static unsigned char *slurp(const char *path, size_t *n) {
  FILE *f = fopen(path, "rb");
  unsigned char *b;
  long sz;
  if (!f || fseek(f, 0, SEEK_END) || (sz = ftell(f)) < 0 || fseek(f, 0, SEEK_SET)) {
    perror(path);
    exit(1);
  }
  b = malloc((size_t)sz + 1);
  if (!b || fread(b, 1, (size_t)sz, f) != (size_t)sz) {
    perror(path);
    exit(1);
  }
  fclose(f);
  *n = (size_t)sz;
  return b;
}

static long rss_kib(void) {
  FILE *f = fopen("/proc/self/statm", "r");
  long pages = 0, res = 0;
  if (f) {
    if (fscanf(f, "%ld %ld", &pages, &res) != 2) res = 0;
    fclose(f);
  }
  return res * 4;
}

static int64_t call2(orcjit_library *lib, const char *fn, int64_t a, int64_t b,
                     int *raised) {
  void *p = NULL;
  int st = orcjit_library_get_function(lib, fn, &p);
  TVMFFIAny args[2], res;
  if (st != ORCJIT_OK) die("get_function", st);
  memset(args, 0, sizeof args);
  memset(&res, 0, sizeof res);
  args[0].type_index = kTVMFFIInt, args[0].v_int64 = a;
  args[1].type_index = kTVMFFIInt, args[1].v_int64 = b;
  *raised = ((safe_call)p)(NULL, args, fn[0] == 't' ? 1 : 2, &res) != 0;
  if (*raised) {
    TVMFFIObjectHandle err = NULL;
    TVMFFIErrorMoveFromRaised(&err);
    if (err) TVMFFIObjectDecRef(err);
    return 0;
  }
  if (res.type_index >= kTVMFFIStaticObjectBegin) TVMFFIObjectDecRef(res.v_obj);
  return res.v_int64;
}

int main(int argc, char **argv) {
  orcjit_session *s = NULL;
  size_t n = 0, ncxx = 0;
  unsigned char *bytes, *cxx = NULL;
  long iters, rss_warm = 0, i;
  int st, raised;
  if (argc < 3) {
    fprintf(stderr, "usage: loop ITERATIONS OBJ.o [CXX.o]\n");
    return 2;
  }
  iters = atol(argv[1]);
  bytes = slurp(argv[2], &n);
  if (argc > 3) cxx = slurp(argv[3], &ncxx);
  if ((st = orcjit_session_create(NULL, &s)) != ORCJIT_OK) die("session_create", st);
  for (i = 0; i < iters; i++) {
    orcjit_library *lib = NULL;
    if ((st = orcjit_library_create(s, NULL, &lib)) != ORCJIT_OK) die("library_create", st);
    st = (i & 1) ? orcjit_library_add_memory(lib, bytes, n, "loop_obj.o")
                 : orcjit_library_add_file(lib, argv[2]);
    if (st != ORCJIT_OK) die("add", st);
    if (call2(lib, "loop_add0", 2, 3, &raised) != 1005 || raised) {
      fprintf(stderr, "loop: iteration %ld: wrong result\n", i);
      return 1;
    }
    if (cxx) {
      if ((st = orcjit_library_add_memory(lib, cxx, ncxx, "cpp_add.o")) != ORCJIT_OK)
        die("add C++", st);
      if (call2(lib, "add_cpp", 40, 2, &raised) != 42 || raised) {
        fprintf(stderr, "loop: iteration %ld: add_cpp wrong\n", i);
        return 1;
      }
      (void)call2(lib, "twice_or_throw", -1, 0, &raised);
      if (!raised) {
        fprintf(stderr, "loop: iteration %ld: twice_or_throw(-1) did not raise\n", i);
        return 1;
      }
    }
    if (i % 10 == 0) {
      st = orcjit_library_add_memory(lib, bytes, n / 2, "truncated.o");
      if (st == ORCJIT_OK || !strstr(orcjit_last_error(), "truncated.o")) {
        fprintf(stderr, "loop: truncated object: %s: %s\n", orcjit_status_name(st),
                orcjit_last_error());
        return 1;
      }
    }
    orcjit_library_release(lib);
    if (i == iters / 10) rss_warm = rss_kib();
  }
  orcjit_session_release(s);
  printf("loop: %ld iterations, resident %ld KiB after warm-up, %ld KiB at the end "
         "(+%ld KiB)\n",
         iters, rss_warm, rss_kib(), rss_kib() - rss_warm);
  free(bytes);
  free(cxx);
  return 0;
}
