/* mx_c.c: the C object of the compile matrix (tests/c/test_matrix.c).
** Real work whose results the test recomputes with its own code:
**   mx_c_checksum(n)  over i < n: a 12-way switch (a jump table from -O1
**                     on), a table of JIT function pointers, libm through
**                     a table of host function pointers, then the CRC-32
**                     (table built on first use in static data) of a text
**                     formatted with snprintf
**   mx_c_sort(n)      n pseudo-random numbers sorted by qsort with a JIT
**                     comparator: sum of (i + 1) * a[i]
**   mx_c_text(n)      "k<i>=<7i mod 101>;" for i < n, split with strchr and
**                     parsed with strtol: length * 10^8 + sum of key*value
**   mx_c_calls()      how many times mx_c_checksum ran (static data)
** Unless MX_NO_HOST_REFS is defined (the -fno-pic builds: see the test):
**   mx_c_host()       fileno(stdout) * 10 + fileno(stderr): host data
**   mx_c_sqrt_addr()  the address of sqrt, taken in code
** All arithmetic is unsigned, so every -O level computes the same. */
#define _POSIX_C_SOURCE 200809L /* fileno */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ojt_ffi.h"

static int mx_calls;
static uint32_t mx_crc_table[256];
static int mx_crc_ready;
static char mx_text[16384];
static int64_t mx_sorted[1000];

__attribute__((noinline)) static uint64_t mx_mix(uint64_t x, int k) {
  switch (k) {
    case 0: return x * 3 + 1;
    case 1: return x ^ 0x5a5a;
    case 2: return x << 3;
    case 3: return x - 77;
    case 4: return x * x % 1009;
    case 5: return (x >> 2) + 11;
    case 6: return ~x & 0xffff;
    case 7: return x + 12345;
    case 8: return x % 97 * 5;
    case 9: return x | 0x100;
    case 10: return (x * 7) ^ (x >> 1);
    default: return 0 - x;
  }
}

static uint64_t mx_op_add(uint64_t a, uint64_t b) { return a + b; }
static uint64_t mx_op_xor(uint64_t a, uint64_t b) { return a ^ b; }
static uint64_t mx_op_rot(uint64_t a, uint64_t b) { return ((a << 7) | (a >> 57)) + b; }

static uint64_t (*const mx_ops[3])(uint64_t, uint64_t) = {mx_op_add, mx_op_xor, mx_op_rot};
static double (*const mx_math[3])(double) = {sqrt, floor, fabs};

static uint32_t mx_crc32(const char *s, size_t n) {
  if (!mx_crc_ready) {
    for (uint32_t i = 0; i < 256; i++) {
      uint32_t c = i;
      for (int k = 0; k < 8; k++) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
      mx_crc_table[i] = c;
    }
    mx_crc_ready = 1;
  }
  uint32_t c = 0xFFFFFFFFu;
  for (size_t i = 0; i < n; i++) c = mx_crc_table[(c ^ (unsigned char)s[i]) & 0xff] ^ (c >> 8);
  return c ^ 0xFFFFFFFFu;
}

OJT_FFI_FUNC(mx_c_checksum) {
  int64_t n;
  char buf[64];
  (void)self;
  if (ojt_arg_int(args, num_args, 0, &n) != 0) return -1;
  uint64_t acc = 0x12345;
  for (int64_t i = 0; i < n; i++) {
    uint64_t v = mx_mix((uint64_t)i + acc % 1000, (int)(i % 12));
    acc = mx_ops[i % 3](acc, v);
    acc += (uint64_t)(int64_t)(mx_math[i % 3]((double)i * 1.5 + 0.25) * 64.0);
  }
  snprintf(buf, sizeof buf, "mx:%llu:%lld", (unsigned long long)acc, (long long)n);
  acc ^= mx_crc32(buf, strlen(buf));
  mx_calls++;
  return ojt_ret_int(result, (int64_t)acc);
}

static int mx_cmp(const void *a, const void *b) {
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return (x > y) - (x < y);
}

OJT_FFI_FUNC(mx_c_sort) {
  int64_t n;
  (void)self;
  if (ojt_arg_int(args, num_args, 0, &n) != 0) return -1;
  if (n < 0 || n > 1000) {
    TVMFFIErrorSetRaisedFromCStr("ValueError", "mx_c_sort: n must be in [0, 1000]");
    return -1;
  }
  uint64_t x = 42;
  for (int64_t i = 0; i < n; i++) {
    x = x * 6364136223846793005u + 1442695040888963407u;
    mx_sorted[i] = (int64_t)((x >> 33) % 100000);
  }
  qsort(mx_sorted, (size_t)n, sizeof mx_sorted[0], mx_cmp);
  uint64_t sum = 0;
  for (int64_t i = 0; i < n; i++) sum += (uint64_t)(i + 1) * (uint64_t)mx_sorted[i];
  return ojt_ret_int(result, (int64_t)sum);
}

OJT_FFI_FUNC(mx_c_text) {
  int64_t n;
  size_t len = 0;
  (void)self;
  if (ojt_arg_int(args, num_args, 0, &n) != 0) return -1;
  mx_text[0] = '\0';
  for (int64_t i = 0; i < n && len + 32 < sizeof mx_text; i++)
    len += (size_t)snprintf(mx_text + len, sizeof mx_text - len, "k%lld=%lld;", (long long)i,
                            (long long)(i * 7 % 101));
  uint64_t sum = 0;
  for (const char *p = mx_text; *p;) {
    const char *eq = strchr(p, '='), *end = strchr(p, ';');
    if (!eq || !end || *p != 'k') break;
    long key = strtol(p + 1, NULL, 10), val = strtol(eq + 1, NULL, 10);
    sum += (uint64_t)key * (uint64_t)val;
    p = end + 1;
  }
  return ojt_ret_int(result, (int64_t)(strlen(mx_text) * 100000000u + sum));
}

OJT_FFI_FUNC(mx_c_calls) {
  (void)self, (void)args, (void)num_args;
  return ojt_ret_int(result, mx_calls);
}

#ifndef MX_NO_HOST_REFS
OJT_FFI_FUNC(mx_c_host) {
  (void)self, (void)args, (void)num_args;
  return ojt_ret_int(result, fileno(stdout) * 10 + fileno(stderr));
}

OJT_FFI_FUNC(mx_c_sqrt_addr) {
  double (*volatile f)(double) = sqrt;
  (void)self, (void)args, (void)num_args;
  return ojt_ret_int(result, (int64_t)(uintptr_t)f);
}
#endif
