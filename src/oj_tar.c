/*
** oj_tar.c: reads a tar file of objects, as Apache TVM's
** export_library("x.tar") writes it (GNU `tar -czf`: gzip-compressed,
** decompressed by oj_gzip.c), and picks the members to load.  POSIX ustar,
** GNU (long names 'L') and pax ('x' path and size) headers; every header's
** checksum is verified and every size checked against the end of the data,
** so a bad tar gives an error naming the file and the member, never a read
** outside it.  It only splits: oj_add.c links the members as one batch
** (all or nothing), oj_inspect.c describes them.
*/
#include "oj_tar.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oj_error.h"
#include "oj_gzip.h"
#include "tvm_ffi_orcjit/orcjit.h"

#define OJ_TAR_BLOCK 512

int oj_tar_is(const void *data, size_t size) {
  const unsigned char *p = data;
  if (!data) return 0;
  if (oj_gzip_is(data, size)) return 1;
  return size >= OJ_TAR_BLOCK &&
         (memcmp(p + 257, "ustar\0", 6) == 0 || memcmp(p + 257, "ustar  \0", 8) == 0);
}

/* A numeric header field: octal digits (leading spaces, ended by a space,
** a NUL or the field's end), or GNU's base-256 (first byte 0x80). */
static int oj_tar_number(const unsigned char *p, size_t n, uint64_t *out) {
  uint64_t v = 0;
  size_t i = 0;
  if (p[0] == 0x80) {
    for (i = 1; i < n; i++) {
      if (v > (UINT64_MAX >> 8)) return -1;
      v = v << 8 | p[i];
    }
    *out = v;
    return 0;
  }
  while (i < n && p[i] == ' ') i++;
  if (i == n || p[i] < '0' || p[i] > '7') return -1;
  for (; i < n && p[i] >= '0' && p[i] <= '7'; i++) {
    if (v > (UINT64_MAX >> 3)) return -1;
    v = v << 3 | (uint64_t)(p[i] - '0');
  }
  for (; i < n; i++)
    if (p[i] != ' ' && p[i] != '\0') return -1;
  *out = v;
  return 0;
}

static int oj_tar_checksum_ok(const unsigned char *h) {
  uint64_t stored;
  unsigned long usum = 0;
  long ssum = 0;
  if (oj_tar_number(h + 148, 8, &stored) != 0) return 0;
  for (size_t i = 0; i < OJ_TAR_BLOCK; i++) {
    unsigned char c = i >= 148 && i < 156 ? ' ' : h[i];
    usum += c;
    ssum += (signed char)c; /* some old tars summed signed bytes */
  }
  return stored == usum || (ssum >= 0 && stored == (uint64_t)ssum);
}

static int oj_tar_zero(const unsigned char *h) {
  for (size_t i = 0; i < OJ_TAR_BLOCK; i++)
    if (h[i]) return 0;
  return 1;
}

/* A malloc'd copy of the string of at most n bytes at p. */
static char *oj_tar_strndup(const unsigned char *p, size_t n) {
  size_t len = strnlen((const char *)p, n);
  char *s = malloc(len + 1);
  if (s) {
    memcpy(s, p, len);
    s[len] = '\0';
  }
  return s;
}

/* The records of a pax header ("LEN key=value\n"): path and size. */
static int oj_tar_pax(const unsigned char *p, size_t n, char **path, uint64_t *size,
                      int *has_size) {
  size_t at = 0;
  while (at < n) {
    size_t len = 0, i = at;
    if (p[i] == '\0') break; /* NUL padding */
    while (i < n && p[i] >= '0' && p[i] <= '9') {
      if (len > (SIZE_MAX - 9) / 10) return -1;
      len = len * 10 + (size_t)(p[i++] - '0');
    }
    if (i == at || i >= n || p[i] != ' ' || len > n - at || len < i - at + 3 ||
        p[at + len - 1] != '\n')
      return -1;
    const unsigned char *kv = p + i + 1, *end = p + at + len - 1;
    const unsigned char *eq = memchr(kv, '=', (size_t)(end - kv));
    if (!eq) return -1;
    if (eq - kv == 4 && memcmp(kv, "path", 4) == 0) {
      free(*path);
      if (!(*path = oj_tar_strndup(eq + 1, (size_t)(end - eq - 1)))) return -2;
    } else if (eq - kv == 4 && memcmp(kv, "size", 4) == 0) {
      uint64_t v = 0;
      if (eq + 1 == end) return -1;
      for (const unsigned char *d = eq + 1; d < end; d++) {
        if (*d < '0' || *d > '9' || v > (UINT64_MAX - 9) / 10) return -1;
        v = v * 10 + (uint64_t)(*d - '0');
      }
      *size = v;
      *has_size = 1;
    }
    at += len;
  }
  return 0;
}

/* Whether a regular-file member is to be loaded: named *.o or *.a, or
** with ELF or ar content. */
static int oj_tar_wanted(const char *name, const unsigned char *d, size_t n) {
  size_t len = strlen(name);
  if (len >= 2 && name[len - 2] == '.' && (name[len - 1] == 'o' || name[len - 1] == 'a'))
    return 1;
  return (n >= 4 && memcmp(d, "\177ELF", 4) == 0) || (n >= 8 && memcmp(d, "!<arch>\n", 8) == 0);
}

void oj_tar_close(oj_tar *t) {
  if (!t) return;
  for (size_t i = 0; i < t->nobjects; i++) free(t->objects[i].name);
  free(t->objects);
  free(t->plain);
  memset(t, 0, sizeof *t);
}

int oj_tar_open(const void *data, size_t size, const char *what, oj_tar *out) {
  const unsigned char *p = data;
  char *longname = NULL, *paxpath = NULL, skipped[160] = "";
  uint64_t paxsize = 0;
  int has_paxsize = 0, rc = ORCJIT_OK;
  size_t off = 0, cap = 0, index = 0;
  memset(out, 0, sizeof *out);
  if (oj_gzip_is(data, size)) {
    rc = oj_gzip_inflate(data, size, what, ORCJIT_MAX_INPUT_SIZE, &out->plain, &size);
    if (rc != ORCJIT_OK) return rc;
    p = out->plain;
    if (!oj_tar_is(p, size) || oj_gzip_is(p, size)) {
      oj_tar_close(out);
      return oj_error_set(ORCJIT_EFORMAT,
                          "%s: gzip-compressed data that is not a tar file (no ustar header)",
                          what);
    }
  }
  for (;;) {
    if (size - off < OJ_TAR_BLOCK) {
      rc = oj_error_set(ORCJIT_EFORMAT,
                        "%s: truncated tar: it ends after %zu members without the "
                        "end-of-archive block",
                        what, index);
      goto fail;
    }
    const unsigned char *h = p + off;
    if (oj_tar_zero(h)) break;
    index++;
    /* The member's name as its header gives it, for messages. */
    char hname[101];
    snprintf(hname, sizeof hname, "%.*s", (int)strnlen((const char *)h, 100), (const char *)h);
    uint64_t fsize;
    if (!oj_tar_checksum_ok(h)) {
      rc = oj_error_set(ORCJIT_EFORMAT,
                        "%s: corrupt tar: header of member %zu ('%s', at byte %zu) has a bad "
                        "checksum",
                        what, index, hname, off);
      goto fail;
    }
    if (oj_tar_number(h + 124, 12, &fsize) != 0) {
      rc = oj_error_set(ORCJIT_EFORMAT,
                        "%s: corrupt tar: member %zu ('%s') has a bad size field", what, index,
                        hname);
      goto fail;
    }
    char type = (char)h[156];
    int meta = type == 'L' || type == 'K' || type == 'x' || type == 'g';
    if (has_paxsize && !meta) fsize = paxsize;
    size_t room = size - off - OJ_TAR_BLOCK;
    if (fsize > room) {
      rc = oj_error_set(ORCJIT_EFORMAT,
                        "%s: truncated tar: member %zu ('%s', %llu bytes at byte %zu) extends "
                        "past the end of the tar (%zu bytes)",
                        what, index, longname ? longname : paxpath ? paxpath : hname,
                        (unsigned long long)fsize, off + OJ_TAR_BLOCK, size);
      goto fail;
    }
    const unsigned char *body = h + OJ_TAR_BLOCK;
    size_t n = (size_t)fsize, pad = (OJ_TAR_BLOCK - n % OJ_TAR_BLOCK) % OJ_TAR_BLOCK;
    off += OJ_TAR_BLOCK + (pad > room - n ? room : n + pad);
    if (type == 'L') { /* GNU: the next member's long name */
      free(longname);
      if (!(longname = oj_tar_strndup(body, n))) goto nomem;
      continue;
    }
    if (type == 'x') { /* pax: the next member's attributes */
      int prc = oj_tar_pax(body, n, &paxpath, &paxsize, &has_paxsize);
      if (prc == -2) goto nomem;
      if (prc != 0) {
        rc = oj_error_set(ORCJIT_EFORMAT,
                          "%s: corrupt tar: member %zu ('%s') is a malformed pax header", what,
                          index, hname);
        goto fail;
      }
      continue;
    }
    if (meta) continue; /* global pax header, GNU long link name */
    char *name = paxpath ? paxpath : longname;
    if (!name) { /* ustar: prefix "/" name */
      size_t plen = memcmp(h + 257, "ustar\0", 6) == 0 ? strnlen((const char *)h + 345, 155) : 0;
      if (!(name = malloc(plen + 1 + 100 + 1))) goto nomem;
      snprintf(name, plen + 102, "%.*s%s%s", (int)plen, (const char *)h + 345, plen ? "/" : "",
               hname);
    }
    if (name == paxpath) free(longname);
    paxpath = longname = NULL;
    has_paxsize = 0;
    if (type != '0' && type != '\0' && type != '7') { /* not a regular file */
      free(name);
      continue;
    }
    out->nfiles++;
    const char *shown = name;
    while (shown[0] == '.' && shown[1] == '/') shown += 2;
    if (!oj_tar_wanted(shown, body, n)) {
      size_t used = strlen(skipped);
      if (used < sizeof skipped - 1)
        snprintf(skipped + used, sizeof skipped - used, "%s'%s'", used ? ", " : "", shown);
      free(name);
      continue;
    }
    if (oj_tar_is(body, n)) {
      rc = oj_error_set(ORCJIT_EFORMAT,
                        "%s: member %zu ('%s') is itself a tar or gzip file; nested tars are "
                        "not loaded",
                        what, index, shown);
      free(name);
      goto fail;
    }
    if (out->nobjects == cap) {
      size_t ncap = cap ? cap * 2 : 8;
      oj_tar_member *m = realloc(out->objects, ncap * sizeof *m);
      if (!m) {
        free(name);
        goto nomem;
      }
      out->objects = m;
      cap = ncap;
    }
    size_t len = strlen(what) + strlen(shown) + 3;
    char *full = malloc(len);
    if (!full) {
      free(name);
      goto nomem;
    }
    snprintf(full, len, "%s(%s)", what, shown);
    free(name);
    out->objects[out->nobjects].name = full;
    out->objects[out->nobjects].data = body;
    out->objects[out->nobjects].size = n;
    out->nobjects++;
  }
  free(longname);
  free(paxpath);
  if (out->nobjects == 0) {
    if (out->nfiles == 0)
      rc = oj_error_set(ORCJIT_EFORMAT, "%s: no usable member: empty tar", what);
    else
      rc = oj_error_set(ORCJIT_EFORMAT,
                        "%s: no usable member: none of its %zu files is an object file (*.o "
                        "or *.a, or ELF content): %s",
                        what, out->nfiles, skipped);
    oj_tar_close(out);
  }
  return rc;
nomem:
  rc = oj_error_set(ORCJIT_ENOMEM, "%s: out of memory", what);
fail:
  free(longname);
  free(paxpath);
  oj_tar_close(out);
  return rc;
}
