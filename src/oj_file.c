/*
** oj_file.c: reading an input file whole, for orcjit_library_add_file and
** orcjit_inspect_file, with one set of checks and messages: it must open
** (without waiting: a FIFO is refused, not read), be a regular file, and
** be at most ORCJIT_MAX_INPUT_SIZE bytes, checked before anything is read.
**
** Also the spare input buffers.  A C++ object of 100 KiB with its room
** (below) is over glibc's mmap threshold, and a block of the same size is
** mapped afresh at every malloc: the read, the pre-pass's tables and the
** merge then took 50 to 90 page faults per load, 7% of a 200 KiB object's
** load.  Two buffers (up to 16 MiB each) are kept between adds instead,
** in lock-free slots (an atomic exchange: nothing to hold across fork).
*/
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "oj_error.h"
#include "oj_file.h"
#include "tvm_ffi_orcjit/orcjit.h"

#define OJ_FILE_SPARES 2
#define OJ_FILE_SPARE_MAX ((size_t)16 << 20)
static _Atomic(void *) oj_file_spares[OJ_FILE_SPARES];

unsigned char *oj_file_buf(size_t need) {
  for (int i = 0; i < OJ_FILE_SPARES; i++) {
    void *p = atomic_exchange(&oj_file_spares[i], NULL);
    if (!p) continue;
    if (malloc_usable_size(p) >= need) return p;
    /* Too small: freed, and the buffer made now takes its place.  (Put
    ** back, it kept the slot from a larger one: a small object's spare
    ** made every later large add map a fresh buffer.) */
    free(p);
  }
  return malloc(need ? need : 1);
}

void oj_file_buf_keep(void *p) {
  if (!p) return;
  if (malloc_usable_size(p) <= OJ_FILE_SPARE_MAX)
    for (int i = 0; i < OJ_FILE_SPARES; i++) {
      void *none = NULL;
      if (atomic_compare_exchange_strong(&oj_file_spares[i], &none, p)) return;
    }
  free(p);
}

void oj_file_buf_drop(void) {
  for (int i = 0; i < OJ_FILE_SPARES; i++) free(atomic_exchange(&oj_file_spares[i], NULL));
}

int oj_file_read(const char *path, unsigned char **out, size_t *out_size) {
  *out = NULL;
  *out_size = 0;
  /* O_NONBLOCK: opening a FIFO must not wait for a writer (it is then
  ** refused as not a regular file); no effect on regular files. */
  int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) return oj_error_set(ORCJIT_EIO, "cannot open '%s': %s", path, strerror(errno));
  struct stat st;
  int rc = ORCJIT_OK;
  if (fstat(fd, &st) != 0)
    rc = oj_error_set(ORCJIT_EIO, "cannot stat '%s': %s", path, strerror(errno));
  else if (S_ISDIR(st.st_mode))
    rc = oj_error_set(ORCJIT_EIO, "cannot load '%s': is a directory", path);
  else if (!S_ISREG(st.st_mode))
    rc = oj_error_set(ORCJIT_EIO, "cannot load '%s': not a regular file", path);
  else if ((uint64_t)st.st_size > ORCJIT_MAX_INPUT_SIZE)
    rc = oj_error_set(ORCJIT_EFORMAT,
                      "cannot load '%s': file too large (%llu bytes; the limit is %zu, "
                      "ORCJIT_MAX_INPUT_SIZE)",
                      path, (unsigned long long)st.st_size, (size_t)ORCJIT_MAX_INPUT_SIZE);
  if (rc != ORCJIT_OK) {
    close(fd);
    return rc;
  }
  size_t size = (size_t)st.st_size, got = 0;
  /* With room after the bytes: the ELF pre-pass appends the grown symbol
  ** and string tables to an object read here (oj_elf_image.c, realloc),
  ** and the merged sections' bytes after them (oj_elf_merge.c), which then
  ** stay in place instead of being copied (a copy of the whole file, when
  ** the heap had no room right after the block).  The tables are a tenth
  ** to a fifth of a C++ object, the merged bytes at most its allocated
  ** sections.  The buffer lives only for the add; the room is capped
  ** (64 MiB) for large inputs, tars among them. */
  size_t room = size < ((size_t)64 << 20) ? size + 4096 : (size_t)64 << 20;
  unsigned char *buf = oj_file_buf(size + room); /* size <= ORCJIT_MAX_INPUT_SIZE */
  if (!buf) buf = malloc(size ? size : 1);
  if (!buf) {
    close(fd);
    return oj_error_set(ORCJIT_ENOMEM, "%s: out of memory (%zu bytes)", path, size);
  }
  while (got < size) {
    ssize_t r = read(fd, buf + got, size - got);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    got += (size_t)r;
  }
  int e = errno;
  close(fd);
  if (got != size) {
    free(buf);
    return oj_error_set(ORCJIT_EIO, "cannot read '%s': %s", path,
                        got < size ? "short read" : strerror(e));
  }
  *out = buf;
  *out_size = size;
  return ORCJIT_OK;
}
