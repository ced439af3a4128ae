/*
** oj_gzip.c: gzip decompression (RFC 1952 members holding RFC 1951
** deflate data), for the compressed tar files that Apache TVM's
** export_library writes (`tar -czf`, named `.tar`).  A small inflate of its
** own, so that the core links no zlib (the library needs nothing beyond
** glibc, libstdc++ and libtvm_ffi: README, "Wheel").  Every read is
** bounds-checked against arbitrary bytes; each member's CRC-32 and length
** are verified.  It owns only its output buffer and knows nothing of tar.
*/
#include "oj_gzip.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oj_error.h"
#include "tvm_ffi_orcjit/orcjit.h"

/* A canonical Huffman code: the number of codes of each length, the
** symbols in code order, and a table indexed by the next OJ_GZ_FAST input
** bits for the codes that short (entry: symbol << 4 | length; 0: a longer
** code, decoded bit by bit). */
#define OJ_GZ_FAST 9
typedef struct oj_gz_code {
  uint16_t count[16];
  uint16_t sym[288];
  uint16_t fast[1u << OJ_GZ_FAST];
} oj_gz_code;

typedef struct oj_gz {
  const unsigned char *in;
  size_t insize, inpos;
  uint64_t bitbuf; /* input bits not used yet, the next one lowest */
  unsigned bitcnt;
  unsigned char *out;
  size_t outsize, outcap, limit;
  size_t member_start; /* where the current member's output starts */
  int status;          /* of the failure */
  const char *why;     /* what is wrong with the data */
} oj_gz;

static int oj_gz_fail(oj_gz *s, const char *why) {
  s->status = ORCJIT_EFORMAT;
  s->why = why;
  return -1;
}

static void oj_gz_fill(oj_gz *s) {
  while (s->bitcnt <= 56 && s->inpos < s->insize) {
    s->bitbuf |= (uint64_t)s->in[s->inpos++] << s->bitcnt;
    s->bitcnt += 8;
  }
}

/* The next n (<= 16) bits, first bit lowest; -1 past the end of the input. */
static int32_t oj_gz_bits(oj_gz *s, unsigned n) {
  if (s->bitcnt < n) {
    oj_gz_fill(s);
    if (s->bitcnt < n) return -1;
  }
  int32_t v = (int32_t)(s->bitbuf & ((1u << n) - 1));
  s->bitbuf >>= n;
  s->bitcnt -= n;
  return v;
}

/* Builds h from len[0..n) (each 0..15); -1 for an over-subscribed code.  An
** incomplete code is accepted: its unused patterns fail when decoded. */
static int oj_gz_build(oj_gz_code *h, const uint8_t *len, unsigned n) {
  uint16_t offs[16];
  int left = 1;
  memset(h->count, 0, sizeof h->count);
  for (unsigned i = 0; i < n; i++) h->count[len[i]]++;
  for (unsigned l = 1; l < 16; l++) {
    left = left * 2 - h->count[l];
    if (left < 0) return -1;
  }
  offs[1] = 0;
  for (unsigned l = 1; l < 15; l++) offs[l + 1] = (uint16_t)(offs[l] + h->count[l]);
  for (unsigned i = 0; i < n; i++)
    if (len[i]) h->sym[offs[len[i]]++] = (uint16_t)i;
  memset(h->fast, 0, sizeof h->fast);
  unsigned code = 0, k = 0;
  for (unsigned l = 1; l <= OJ_GZ_FAST; l++, code <<= 1) {
    for (unsigned j = 0; j < h->count[l]; j++, k++, code++) {
      unsigned rev = 0; /* codes are sent first bit highest */
      for (unsigned b = 0; b < l; b++) rev |= ((code >> b) & 1u) << (l - 1 - b);
      for (unsigned f = rev; f < (1u << OJ_GZ_FAST); f += 1u << l)
        h->fast[f] = (uint16_t)(h->sym[k] << 4 | l);
    }
  }
  return 0;
}

/* The next symbol of code h; -1 past the end of the input, -2 for a bit
** pattern that is no code. */
static int oj_gz_decode(oj_gz *s, const oj_gz_code *h) {
  if (s->bitcnt < OJ_GZ_FAST) oj_gz_fill(s);
  if (s->bitcnt >= OJ_GZ_FAST) {
    unsigned e = h->fast[s->bitbuf & ((1u << OJ_GZ_FAST) - 1)];
    if (e) {
      s->bitbuf >>= e & 15;
      s->bitcnt -= e & 15;
      return (int)(e >> 4);
    }
  }
  int code = 0, first = 0, index = 0;
  for (unsigned l = 1; l < 16; l++) {
    int32_t b = oj_gz_bits(s, 1);
    if (b < 0) return -1;
    code |= b;
    int count = h->count[l];
    if (code - first < count) return h->sym[index + (code - first)];
    index += count;
    first = (first + count) << 1;
    code <<= 1;
  }
  return -2;
}

/* Makes room for n more output bytes, within the limit. */
static int oj_gz_room(oj_gz *s, size_t n) {
  if (n <= s->outcap - s->outsize) return 0;
  if (n > s->limit - s->outsize) {
    s->status = ORCJIT_EFORMAT;
    s->why = NULL; /* too large, not corrupt */
    return -1;
  }
  size_t cap = s->outcap ? s->outcap : 65536;
  while (cap - s->outsize < n) cap = cap > SIZE_MAX / 2 ? SIZE_MAX : cap * 2;
  if (cap > s->limit) cap = s->limit;
  unsigned char *p = realloc(s->out, cap);
  if (!p) {
    s->status = ORCJIT_ENOMEM;
    s->why = "out of memory";
    return -1;
  }
  s->out = p;
  s->outcap = cap;
  return 0;
}

static const uint16_t oj_gz_lbase[29] = {3,  4,  5,  6,  7,  8,  9,  10,  11,  13,
                                         15, 17, 19, 23, 27, 31, 35, 43,  51,  59,
                                         67, 83, 99, 115, 131, 163, 195, 227, 258};
static const uint8_t oj_gz_lext[29] = {0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2,
                                       2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0};
static const uint16_t oj_gz_dbase[30] = {1,    2,    3,    4,    5,    7,     9,     13,
                                         17,   25,   33,   49,   65,   97,    129,   193,
                                         257,  385,  513,  769,  1025, 1537,  2049,  3073,
                                         4097, 6145, 8193, 12289, 16385, 24577};
static const uint8_t oj_gz_dext[30] = {0, 0, 0, 0, 1, 1, 2,  2,  3,  3,  4,  4,  5,  5,  6,
                                       6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13};

/* The literals and matches of one block, up to its end-of-block code. */
static int oj_gz_codes(oj_gz *s, const oj_gz_code *lit, const oj_gz_code *dist) {
  for (;;) {
    int sym = oj_gz_decode(s, lit);
    if (sym < 0) return oj_gz_fail(s, sym == -1 ? "truncated" : "invalid literal/length code");
    if (sym < 256) {
      if (s->outsize == s->outcap && oj_gz_room(s, 1)) return -1;
      s->out[s->outsize++] = (unsigned char)sym;
      continue;
    }
    if (sym == 256) return 0;
    sym -= 257;
    if (sym >= 29) return oj_gz_fail(s, "invalid length symbol");
    int32_t e = oj_gz_bits(s, oj_gz_lext[sym]);
    if (e < 0) return oj_gz_fail(s, "truncated");
    size_t len = oj_gz_lbase[sym] + (size_t)e;
    int d = oj_gz_decode(s, dist);
    if (d < 0) return oj_gz_fail(s, d == -1 ? "truncated" : "invalid distance code");
    if (d >= 30) return oj_gz_fail(s, "invalid distance symbol");
    e = oj_gz_bits(s, oj_gz_dext[d]);
    if (e < 0) return oj_gz_fail(s, "truncated");
    size_t back = oj_gz_dbase[d] + (size_t)e;
    if (back > s->outsize - s->member_start) return oj_gz_fail(s, "distance too far back");
    if (oj_gz_room(s, len)) return -1;
    unsigned char *to = s->out + s->outsize;
    const unsigned char *from = to - back;
    if (back >= len) memcpy(to, from, len);
    else if (back == 1) memset(to, from[0], len);
    else for (size_t i = 0; i < len; i++) to[i] = from[i]; /* overlaps: byte by byte */
    s->outsize += len;
  }
}

static int oj_gz_stored(oj_gz *s) {
  /* To a byte boundary; whole bytes already buffered go back to the input. */
  s->inpos -= s->bitcnt / 8;
  s->bitbuf = 0;
  s->bitcnt = 0;
  if (s->insize - s->inpos < 4) return oj_gz_fail(s, "truncated");
  const unsigned char *p = s->in + s->inpos;
  size_t len = p[0] | (size_t)p[1] << 8, nlen = p[2] | (size_t)p[3] << 8;
  if (len != (~nlen & 0xffff)) return oj_gz_fail(s, "stored block length check fails");
  s->inpos += 4;
  if (s->insize - s->inpos < len) return oj_gz_fail(s, "truncated");
  if (oj_gz_room(s, len)) return -1;
  if (len) memcpy(s->out + s->outsize, s->in + s->inpos, len); /* out may be NULL yet */
  s->outsize += len;
  s->inpos += len;
  return 0;
}

static int oj_gz_dynamic(oj_gz *s, oj_gz_code *lit, oj_gz_code *dist) {
  static const uint8_t order[19] = {16, 17, 18, 0, 8, 7, 9, 6, 10, 5,
                                    11, 4, 12, 3, 13, 2, 14, 1, 15};
  uint8_t len[286 + 30];
  int32_t nlen = oj_gz_bits(s, 5), ndist = oj_gz_bits(s, 5), ncode = oj_gz_bits(s, 4);
  if (nlen < 0 || ndist < 0 || ncode < 0) return oj_gz_fail(s, "truncated");
  nlen += 257, ndist += 1, ncode += 4;
  if (nlen > 286 || ndist > 30) return oj_gz_fail(s, "too many length or distance codes");
  memset(len, 0, sizeof len);
  for (int i = 0; i < ncode; i++) {
    int32_t v = oj_gz_bits(s, 3);
    if (v < 0) return oj_gz_fail(s, "truncated");
    len[order[i]] = (uint8_t)v;
  }
  if (oj_gz_build(lit, len, 19)) return oj_gz_fail(s, "over-subscribed code-length code");
  int idx = 0;
  while (idx < nlen + ndist) {
    int sym = oj_gz_decode(s, lit);
    if (sym < 0) return oj_gz_fail(s, sym == -1 ? "truncated" : "invalid code-length code");
    if (sym < 16) {
      len[idx++] = (uint8_t)sym;
      continue;
    }
    uint8_t v = 0;
    int32_t rep;
    if (sym == 16) {
      if (idx == 0) return oj_gz_fail(s, "length repeat with no first length");
      v = len[idx - 1];
      rep = oj_gz_bits(s, 2), rep = rep < 0 ? rep : rep + 3;
    } else if (sym == 17) {
      rep = oj_gz_bits(s, 3), rep = rep < 0 ? rep : rep + 3;
    } else {
      rep = oj_gz_bits(s, 7), rep = rep < 0 ? rep : rep + 11;
    }
    if (rep < 0) return oj_gz_fail(s, "truncated");
    if (idx + rep > nlen + ndist) return oj_gz_fail(s, "too many code lengths");
    while (rep--) len[idx++] = v;
  }
  if (len[256] == 0) return oj_gz_fail(s, "no end-of-block code");
  if (oj_gz_build(lit, len, (unsigned)nlen) ||
      oj_gz_build(dist, len + nlen, (unsigned)ndist))
    return oj_gz_fail(s, "over-subscribed literal/length or distance code");
  return oj_gz_codes(s, lit, dist);
}

/* One deflate stream, starting at s->inpos. */
static int oj_gz_inflate(oj_gz *s) {
  oj_gz_code lit, dist, flit, fdist;
  int have_fixed = 0, last;
  do {
    int32_t hdr = oj_gz_bits(s, 3);
    if (hdr < 0) return oj_gz_fail(s, "truncated");
    last = hdr & 1;
    int rc;
    switch (hdr >> 1) {
    case 0: rc = oj_gz_stored(s); break;
    case 1:
      if (!have_fixed) {
        uint8_t len[288];
        memset(len, 8, 144);
        memset(len + 144, 9, 112);
        memset(len + 256, 7, 24);
        memset(len + 280, 8, 8);
        oj_gz_build(&flit, len, 288);
        memset(len, 5, 30);
        oj_gz_build(&fdist, len, 30);
        have_fixed = 1;
      }
      rc = oj_gz_codes(s, &flit, &fdist);
      break;
    case 2: rc = oj_gz_dynamic(s, &lit, &dist); break;
    default: rc = oj_gz_fail(s, "invalid block type 3");
    }
    if (rc) return rc;
  } while (!last);
  return 0;
}

/* CRC-32 (the gzip polynomial, reflected), eight bytes a step from eight
** tables made once per process. */
static uint32_t oj_gz_crc_table[8][256];
static pthread_once_t oj_gz_crc_once = PTHREAD_ONCE_INIT;

static void oj_gz_crc_init(void) {
  for (uint32_t i = 0; i < 256; i++) {
    uint32_t c = i;
    for (int k = 0; k < 8; k++) c = c & 1 ? (c >> 1) ^ 0xedb88320u : c >> 1;
    oj_gz_crc_table[0][i] = c;
  }
  for (uint32_t i = 0; i < 256; i++)
    for (int t = 1; t < 8; t++)
      oj_gz_crc_table[t][i] =
          (oj_gz_crc_table[t - 1][i] >> 8) ^ oj_gz_crc_table[0][oj_gz_crc_table[t - 1][i] & 0xff];
}

static uint32_t oj_gz_crc32(const unsigned char *p, size_t n) {
  const uint32_t(*t)[256] = (const uint32_t(*)[256])oj_gz_crc_table;
  uint32_t c = 0xffffffffu;
  pthread_once(&oj_gz_crc_once, oj_gz_crc_init);
  for (; n >= 8; n -= 8, p += 8) {
    uint32_t lo = c ^ (p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24);
    c = t[7][lo & 0xff] ^ t[6][(lo >> 8) & 0xff] ^ t[5][(lo >> 16) & 0xff] ^ t[4][lo >> 24] ^
        t[3][p[4]] ^ t[2][p[5]] ^ t[1][p[6]] ^ t[0][p[7]];
  }
  while (n--) c = (c >> 8) ^ t[0][(c ^ *p++) & 0xff];
  return ~c;
}

static uint32_t oj_gz_le32(const unsigned char *p) {
  return p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

int oj_gzip_is(const void *data, size_t size) {
  const unsigned char *p = data;
  return data && size >= 3 && p[0] == 0x1f && p[1] == 0x8b && p[2] == 8;
}

/* Skips a NUL-terminated header field; -1 if it runs past the end. */
static int oj_gz_skip_string(const unsigned char *p, size_t size, size_t *pos) {
  const unsigned char *nul = memchr(p + *pos, 0, size - *pos);
  if (!nul) return -1;
  *pos = (size_t)(nul - p) + 1;
  return 0;
}

int oj_gzip_inflate(const void *data, size_t size, const char *what, size_t limit,
                    unsigned char **out, size_t *nout) {
  const unsigned char *p = data;
  oj_gz s;
  size_t pos = 0, member = 0;
  char detail[96];
  memset(&s, 0, sizeof s);
  s.in = p;
  s.insize = size;
  s.limit = limit;
  *out = NULL;
  *nout = 0;
  while (pos < size) {
    size_t at = pos;
    if (member > 0) { /* after the last member: only zero padding */
      size_t z = pos;
      while (z < size && p[z] == 0) z++;
      if (z == size) break;
    }
    if (size - pos < 10 || p[pos] != 0x1f || p[pos + 1] != 0x8b) {
      snprintf(detail, sizeof detail, "%s",
               member ? "trailing data after the last member" : "truncated header");
      s.why = detail;
      goto corrupt;
    }
    if (p[pos + 2] != 8) {
      snprintf(detail, sizeof detail, "compression method %u is not deflate", p[pos + 2]);
      s.why = detail;
      goto corrupt;
    }
    unsigned flg = p[pos + 3];
    if (flg & 0xe0) {
      s.why = "reserved header flags set";
      goto corrupt;
    }
    pos += 10;
    if (flg & 4) { /* FEXTRA */
      if (size - pos < 2 || (size_t)(p[pos] | p[pos + 1] << 8) > size - pos - 2) {
        s.why = "truncated header";
        goto corrupt;
      }
      pos += 2 + (size_t)(p[pos] | p[pos + 1] << 8);
    }
    if (((flg & 8) && oj_gz_skip_string(p, size, &pos)) || /* FNAME */
        ((flg & 16) && oj_gz_skip_string(p, size, &pos))) { /* FCOMMENT */
      s.why = "truncated header";
      goto corrupt;
    }
    if (flg & 2) { /* FHCRC: the low 16 bits of the header's CRC-32 */
      if (size - pos < 2) {
        s.why = "truncated header";
        goto corrupt;
      }
      if ((oj_gz_crc32(p + at, pos - at) & 0xffff) != (uint32_t)(p[pos] | p[pos + 1] << 8)) {
        s.why = "header CRC mismatch";
        goto corrupt;
      }
      pos += 2;
    }
    s.inpos = pos;
    s.bitbuf = 0;
    s.bitcnt = 0;
    s.member_start = s.outsize;
    if (oj_gz_inflate(&s)) {
      if (s.status == ORCJIT_ENOMEM) goto nomem;
      pos = s.inpos;
      goto corrupt;
    }
    pos = s.inpos - s.bitcnt / 8; /* unused whole bytes go back */
    if (size - pos < 8) {
      s.why = "truncated (no CRC-32 and length after the compressed data)";
      goto corrupt;
    }
    uint32_t crc = oj_gz_crc32(s.out + s.member_start, s.outsize - s.member_start);
    if (crc != oj_gz_le32(p + pos)) {
      snprintf(detail, sizeof detail, "CRC-32 mismatch (stored %08x, computed %08x)",
               oj_gz_le32(p + pos), crc);
      s.why = detail;
      goto corrupt;
    }
    if (oj_gz_le32(p + pos + 4) != (uint32_t)(s.outsize - s.member_start)) {
      s.why = "length mismatch";
      goto corrupt;
    }
    pos += 8;
    member++;
  }
  if (!s.out && !(s.out = malloc(1))) goto nomem;
  *out = s.out;
  *nout = s.outsize;
  return ORCJIT_OK;
corrupt:
  free(s.out);
  if (!s.why)
    return oj_error_set(ORCJIT_EFORMAT,
                        "%s: gzip data decompresses to more than %zu bytes (the limit)", what,
                        limit);
  return oj_error_set(ORCJIT_EFORMAT, "%s: corrupt gzip data: %s (member %zu, at byte %zu)",
                      what, s.why, member + 1, pos);
nomem:
  free(s.out);
  return oj_error_set(ORCJIT_ENOMEM, "%s: out of memory decompressing gzip data", what);
}
