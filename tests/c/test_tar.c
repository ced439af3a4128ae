/*
** test_tar.c: tar files of objects (src/oj_tar.c, src/oj_gzip.c), as
** Apache TVM's export_library("x.tar") writes them.
**
**   tar   a tar of objects loads as one link (ping.o and pong.o call each
**         other), from a path, from memory and inside add_many; members that
**         are not objects are skipped; GNU long names; the gzip-compressed
**         tar that `cmake -E tar czf` wrote (pingpong.tgz.tar); inspection;
**         bad tars (truncated, bad checksum, a member past the end, empty,
**         no end block, nothing to load, a corrupt object member, corrupt or
**         truncated gzip) are refused naming the file and the member, and a
**         failing tar leaves nothing behind.
**
** The plain tars are built here (ustar headers written by ojt_tar_member),
** so that each damage is exact.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oj_test.h"

typedef struct ojt_buf {
  unsigned char *p;
  size_t n, cap;
} ojt_buf;

static void ojt_put(ojt_buf *b, const void *d, size_t n) {
  if (b->n + n > b->cap) {
    size_t cap = (b->n + n) * 2;
    unsigned char *p = realloc(b->p, cap);
    REQUIRE(p != NULL);
    b->p = p;
    b->cap = cap;
  }
  if (n) memcpy(b->p + b->n, d, n);
  b->n += n;
}

/* Rewrites the checksum of the 512-byte header h. */
static void ojt_tar_sum(unsigned char *h) {
  unsigned sum = 0;
  memset(h + 148, ' ', 8);
  for (int i = 0; i < 512; i++) sum += h[i];
  snprintf((char *)h + 148, 8, "%06o", sum);
  h[155] = ' ';
}

/* One member: a ustar header (type '0' file, '5' directory, 'L' GNU long
** name) and the data padded to 512 bytes.  Returns the header's offset. */
static size_t ojt_tar_member(ojt_buf *b, const char *name, const void *data, size_t size,
                             char type) {
  unsigned char h[512];
  size_t at = b->n;
  memset(h, 0, sizeof h);
  snprintf((char *)h, 100, "%s", name);
  memcpy(h + 100, "0000644", 8);
  memcpy(h + 108, "0000000", 8);
  memcpy(h + 116, "0000000", 8);
  snprintf((char *)h + 124, 12, "%011zo", size);
  memcpy(h + 136, "00000000000", 12);
  h[156] = (unsigned char)type;
  memcpy(h + 257, "ustar", 6);
  memcpy(h + 263, "00", 2);
  ojt_tar_sum(h);
  ojt_put(b, h, sizeof h);
  ojt_put(b, data, size);
  static const unsigned char zero[512];
  ojt_put(b, zero, (512 - size % 512) % 512);
  return at;
}

static void ojt_tar_end(ojt_buf *b) {
  static const unsigned char zero[1024];
  ojt_put(b, zero, sizeof zero);
}

/* Writes b to <scratch>/<name>; returns the path (static buffer). */
static const char *ojt_tar_write(const char *name, const ojt_buf *b) {
  static char path[4096];
  snprintf(path, sizeof path, "%s/%s", ojt_scratch_dir(), name);
  ojt_write_file(path, b->p, b->n);
  return path;
}

static void ojt_check_pingpong(orcjit_library *lib) {
  CHECK_EQ(OJT_GETCALL1(lib, "ping", 7), 7);
  CHECK_EQ(OJT_GETCALL1(lib, "pp_order", 0), 12); /* ping.o's constructor first */
}

void ojt_case_tar(void) {
  orcjit_session *s = ojt_new_session();
  orcjit_library *lib;
  void *p = NULL;
  size_t nping, npong, nunres, nuser;
  void *ping = ojt_read_file(ojt_obj("ping.o"), &nping);
  void *pong = ojt_read_file(ojt_obj("pong.o"), &npong);
  void *unres = ojt_read_file(ojt_obj("unres.o"), &nunres);
  void *user = ojt_read_file(ojt_obj("arch_user.o"), &nuser);
  static const char notes[] = "{\"model\": \"not an object\"}\n";
  char path[4096];

  ojt_step("a tar of ping.o and pong.o (which call each other), a directory and a text file");
  ojt_buf good = {0};
  ojt_tar_member(&good, "./", NULL, 0, '5');
  ojt_tar_member(&good, "./ping.o", ping, nping, '0');
  ojt_tar_member(&good, "./metadata.json", notes, sizeof notes - 1, '0');
  size_t pong_at = ojt_tar_member(&good, "./pong.o", pong, npong, '0');
  ojt_tar_end(&good);
  snprintf(path, sizeof path, "%s", ojt_tar_write("pp.tar", &good));
  lib = ojt_new_library(s, "from_tar");
  REQUIRE_OK(orcjit_library_add_file(lib, path));
  ojt_check_pingpong(lib);
  orcjit_library_release(lib);

  ojt_step("the same tar from memory");
  lib = ojt_new_library(s, "tar_memory");
  REQUIRE_OK(orcjit_library_add_memory(lib, good.p, good.n, "pp-in-memory.tar"));
  ojt_check_pingpong(lib);
  orcjit_library_release(lib);

  ojt_step("the gzip-compressed tar written by cmake -E tar czf");
  lib = ojt_new_library(s, "from_tgz");
  REQUIRE_OK(orcjit_library_add_file(lib, ojt_obj("pingpong.tgz.tar")));
  ojt_check_pingpong(lib);
  orcjit_library_release(lib);

  ojt_step("a tar inside add_many: its member arch_user.o served by an archive outside it");
  ojt_buf utar = {0};
  ojt_tar_member(&utar, "arch_user.o", user, nuser, '0');
  ojt_tar_end(&utar);
  char utar_path[4096], arch_path[4096];
  snprintf(utar_path, sizeof utar_path, "%s", ojt_tar_write("user.tar", &utar));
  snprintf(arch_path, sizeof arch_path, "%s", ojt_obj("libojarch.a"));
  lib = ojt_new_library(s, "tar_in_many");
  orcjit_input many[2] = {{utar_path, NULL, 0, NULL}, {arch_path, NULL, 0, NULL}};
  REQUIRE_OK(orcjit_library_add_many(lib, many, 2));
  CHECK_EQ(OJT_GETCALL1(lib, "arch_user", 1), 12 + 34);
  orcjit_library_release(lib);

  ojt_step("a GNU long name (type L) names the member in messages");
  ojt_buf longn = {0};
  char longname[300];
  memset(longname, 'n', 250);
  snprintf(longname + 250, sizeof longname - 250, "/unres.o");
  ojt_tar_member(&longn, "././@LongLink", longname, strlen(longname) + 1, 'L');
  ojt_tar_member(&longn, "shortened", unres, nunres, '0');
  ojt_tar_end(&longn);
  lib = ojt_new_library(s, "long_name");
  CHECK_STATUS(orcjit_library_add_memory(lib, longn.p, longn.n, "long.tar"),
               ORCJIT_EUNRESOLVED);
  CHECK_MSG("long_name");
  CHECK_MSG("long.tar(nnnnnnnnnn");
  CHECK_MSG("/unres.o)");

  ojt_step("a failing tar leaves nothing: ping.o and pong.o with unres.o");
  ojt_buf bad = {0};
  ojt_tar_member(&bad, "ping.o", ping, nping, '0');
  ojt_tar_member(&bad, "pong.o", pong, npong, '0');
  ojt_tar_member(&bad, "unres.o", unres, nunres, '0');
  ojt_tar_end(&bad);
  CHECK_STATUS(orcjit_library_add_memory(lib, bad.p, bad.n, "bad.tar"), ORCJIT_EUNRESOLVED);
  CHECK_MSG("bad.tar(unres.o)");
  CHECK(orcjit_library_lookup(lib, "oj_ping", &p) == ORCJIT_ENOTFOUND);
  CHECK(orcjit_library_lookup(lib, "oj_pong", &p) == ORCJIT_ENOTFOUND);
  REQUIRE_OK(orcjit_library_add_memory(lib, good.p, good.n, "good.tar"));
  ojt_check_pingpong(lib); /* each constructor ran once */
  CHECK_STILL_WORKS(lib);
  orcjit_library_release(lib);

  lib = ojt_new_library(s, "bad_tars");
  ojt_step("truncated in the middle of pong.o");
  CHECK_STATUS(orcjit_library_add_memory(lib, good.p, pong_at + 512 + npong / 2, "cut.tar"),
               ORCJIT_EFORMAT);
  CHECK_MSG("bad_tars");
  CHECK_MSG("cut.tar: truncated tar: member 4 ('./pong.o'");
  CHECK_MSG("extends past the end of the tar");

  ojt_step("truncated between two members (no end-of-archive block)");
  CHECK_STATUS(orcjit_library_add_memory(lib, good.p, pong_at, "short.tar"), ORCJIT_EFORMAT);
  CHECK_MSG("short.tar: truncated tar: it ends after 3 members without the end-of-archive");

  ojt_step("a damaged header: bad checksum");
  unsigned char *copy = malloc(good.n);
  REQUIRE(copy != NULL);
  memcpy(copy, good.p, good.n);
  copy[pong_at + 130] ^= 1; /* a digit of pong.o's size */
  CHECK_STATUS(orcjit_library_add_memory(lib, copy, good.n, "sum.tar"), ORCJIT_EFORMAT);
  CHECK_MSG("sum.tar: corrupt tar: header of member 4 ('./pong.o'");
  CHECK_MSG("bad checksum");

  ojt_step("a member whose size (checksum fixed) runs past the end");
  memcpy(copy, good.p, good.n);
  memcpy(copy + pong_at + 124, "77777777777", 11);
  ojt_tar_sum(copy + pong_at);
  CHECK_STATUS(orcjit_library_add_memory(lib, copy, good.n, "size.tar"), ORCJIT_EFORMAT);
  CHECK_MSG("size.tar: truncated tar: member 4 ('./pong.o', 8589934591 bytes");

  ojt_step("an empty tar: zero blocks only (no magic: not taken for a tar), or a directory");
  ojt_buf empty = {0};
  ojt_tar_end(&empty);
  CHECK_STATUS(orcjit_library_add_memory(lib, empty.p, empty.n, "zeros.tar"), ORCJIT_EFORMAT);
  CHECK_MSG("zeros.tar: not an ELF file");
  ojt_buf dironly = {0};
  ojt_tar_member(&dironly, "./", NULL, 0, '5');
  ojt_tar_end(&dironly);
  CHECK_STATUS(orcjit_library_add_memory(lib, dironly.p, dironly.n, "dir.tar"), ORCJIT_EFORMAT);
  CHECK_MSG("dir.tar: no usable member: empty tar");

  ojt_step("a tar with no object member");
  ojt_buf text = {0};
  ojt_tar_member(&text, "metadata.json", notes, sizeof notes - 1, '0');
  ojt_tar_end(&text);
  CHECK_STATUS(orcjit_library_add_memory(lib, text.p, text.n, "text.tar"), ORCJIT_EFORMAT);
  CHECK_MSG("text.tar: no usable member: none of its 1 files is an object file");
  CHECK_MSG("'metadata.json'");

  ojt_step("a member named .o that is not an object");
  ojt_buf noto = {0};
  ojt_tar_member(&noto, "ping.o", ping, nping, '0');
  ojt_tar_member(&noto, "fake.o", notes, sizeof notes - 1, '0');
  ojt_tar_end(&noto);
  CHECK_STATUS(orcjit_library_add_memory(lib, noto.p, noto.n, "fake.tar"), ORCJIT_EFORMAT);
  CHECK_MSG("fake.tar(fake.o): not an ELF file");
  CHECK(orcjit_library_lookup(lib, "oj_ping", &p) == ORCJIT_ENOTFOUND);

  ojt_step("a damaged and a truncated gzip tar");
  size_t ntgz;
  unsigned char *tgz = ojt_read_file(ojt_obj("pingpong.tgz.tar"), &ntgz);
  REQUIRE(ntgz > 64);
  CHECK_STATUS(orcjit_library_add_memory(lib, tgz, ntgz - 5, "cut.tgz"), ORCJIT_EFORMAT);
  CHECK_MSG("cut.tgz: corrupt gzip data: truncated");
  tgz[ntgz - 8] ^= 0xff; /* the stored CRC-32 */
  CHECK_STATUS(orcjit_library_add_memory(lib, tgz, ntgz, "crc.tgz"), ORCJIT_EFORMAT);
  CHECK_MSG("crc.tgz: corrupt gzip data: CRC-32 mismatch");
  tgz[ntgz - 8] ^= 0xff;
  for (size_t i = 20; i < ntgz - 8; i += 7) tgz[i] ^= 0x5a; /* the compressed data */
  CHECK_STATUS(orcjit_library_add_memory(lib, tgz, ntgz, "junk.tgz"), ORCJIT_EFORMAT);
  CHECK_MSG("junk.tgz: corrupt gzip data: ");
  CHECK(orcjit_library_lookup(lib, "oj_ping", &p) == ORCJIT_ENOTFOUND);
  CHECK_STILL_WORKS(lib);
  orcjit_library_release(lib);

  ojt_step("inspection lists the objects of a tar");
  orcjit_inspection *in = NULL;
  REQUIRE_OK(orcjit_inspect_memory(good.p, good.n, "pp.tar", 0, &in));
  CHECK(orcjit_inspect_is_archive(in));
  CHECK_EQ(orcjit_inspect_num_objects(in), 2);
  const char *name = NULL;
  CHECK_OK(orcjit_inspect_object(in, 0, &name, NULL));
  CHECK(name && strcmp(name, "pp.tar(ping.o)") == 0);
  CHECK_OK(orcjit_inspect_object(in, 1, &name, NULL));
  CHECK(name && strcmp(name, "pp.tar(pong.o)") == 0);
  orcjit_inspect_free(in);
  CHECK_STATUS(orcjit_inspect_memory(good.p, pong_at + 600, "cut.tar", 0, &in), ORCJIT_EFORMAT);
  CHECK_MSG("cut.tar: truncated tar: member 4 ('./pong.o'");
  CHECK(in == NULL);

  free(copy);
  free(tgz);
  free(good.p), free(utar.p), free(longn.p), free(bad.p), free(empty.p), free(dironly.p);
  free(text.p), free(noto.p);
  free(ping), free(pong), free(unres), free(user);
  orcjit_session_release(s);
}
