/*
** oj_file.h: reading an input file whole (oj_file.c).
*/
#ifndef OJ_FILE_H
#define OJ_FILE_H

#include <stddef.h>

/* Reads the file at path into *out (malloc'd, *out_size bytes).  Refuses,
** with an ORCJIT_E* status and a message naming the path, what cannot be
** opened, directories, non-regular files (FIFOs are not waited for) and
** files over ORCJIT_MAX_INPUT_SIZE (checked before reading). */
int oj_file_read(const char *path, unsigned char **out, size_t *out_size);

/* Input buffers, kept between adds: a buffer of at least `need` bytes (a
** spare, or malloc'd; NULL if out of memory), and one handed back when the
** add is done with it (kept as a spare, or freed; NULL is ignored).  Any
** of them may also be freed with free().  oj_file_buf_drop frees the
** spares (orcjit_session_clear_free_slabs). */
unsigned char *oj_file_buf(size_t need);
void oj_file_buf_keep(void *p);
void oj_file_buf_drop(void);

#endif /* OJ_FILE_H */
