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

#endif /* OJ_FILE_H */
