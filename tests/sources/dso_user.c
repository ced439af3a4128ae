/* dso_user.c: a C object that uses __dso_handle as C++ code does (a
** handler registered with __cxa_atexit against it) and not atexit: its
** library gets no runtime object, the object defines the handle itself
** (oj_elf_define_dso).  The handler records -9 into the test's buffer. */
extern void *__dso_handle;
extern int __cxa_atexit(void (*fn)(void *), void *arg, void *dso);

static int *dso_log;
static int *dso_count;

void oj_dso_set_log(int *log, int *count) {
  dso_log = log;
  dso_count = count;
}

void *oj_dso_handle(void) { return &__dso_handle; }

static void dso_handler(void *arg) {
  (void)arg;
  if (dso_log && *dso_count < 16) dso_log[(*dso_count)++] = -9;
}

__attribute__((constructor)) static void dso_ctor(void) {
  __cxa_atexit(dso_handler, 0, &__dso_handle);
}
