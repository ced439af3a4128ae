/*
** oj_hash.h: the hash of symbol names that the core's tables use (the
** library symbol tables of oj_symtab.c, the pre-pass's deduplication of an
** object's globals in oj_elf_sym.c).  Eight bytes at a time: C++ names are
** long, and hashing them a byte at a time was a tenth of this project's
** share of loading a C++ object.  Never 0 (tables use 0 for empty slots).
** Values are not stable across versions and never leave the process.
*/
#ifndef OJ_HASH_H
#define OJ_HASH_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

static inline uint32_t oj_hash_bytes(const char *s, size_t n) {
  const uint64_t m = 0x9e3779b97f4a7c15u;
  const unsigned char *p = (const unsigned char *)s;
  uint64_t h = (uint64_t)n * m, w = 0;
  uint32_t a, b;
  /* Fixed-size copies only: they compile to plain loads (a copy of a
  ** variable size is a call to memcpy). */
  if (n >= 8) {
    const unsigned char *end = p + n;
    for (; end - p > 8; p += 8) {
      memcpy(&w, p, 8);
      h = (h ^ w) * m;
      h ^= h >> 32;
    }
    memcpy(&w, end - 8, 8); /* the last 8 bytes, maybe overlapping */
  } else if (n >= 4) {
    memcpy(&a, p, 4);
    memcpy(&b, p + n - 4, 4);
    w = a | (uint64_t)b << 32;
  } else if (n > 0) {
    w = p[0] | (uint64_t)p[n / 2] << 8 | (uint64_t)p[n - 1] << 16;
  }
  h = (h ^ w) * 0xff51afd7ed558ccdu;
  h ^= h >> 29;
  h *= m;
  uint32_t r = (uint32_t)(h >> 32);
  return r ? r : 1;
}

#endif /* OJ_HASH_H */
