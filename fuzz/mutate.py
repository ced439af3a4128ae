#!/usr/bin/env python3
"""mutate.py OBJECT PREFIX: hand-made corruptions of a real x86-64 ELF object.

Writes PREFIX<name> for each corruption and prints how many were written.
Each one aims at one check of src/oj_elf.c: truncated headers, bad e_shoff /
e_shnum / e_shentsize / e_shstrndx, extended section numbering, bad
sh_offset / sh_size / sh_name / sh_link / sh_info / sh_entsize, string tables
without a final NUL, symbols with st_name or st_shndx out of range, odd
symbol kinds, relocations with a bad symbol index / offset / type, init/fini
sections with odd sizes and priorities, groups with bad members, another
ELF class / byte order / machine / type.
"""
import struct
import sys

EH = struct.Struct("<16sHHIQQQIHHHHHH")
SH = struct.Struct("<IIQQQQIIQQ")
SYM = struct.Struct("<IBBHQQ")
RELA = struct.Struct("<QQq")
SHT_SYMTAB, SHT_STRTAB, SHT_RELA, SHT_GROUP = 2, 3, 4, 17
SHT_INIT_ARRAY, SHT_FINI_ARRAY = 14, 15


def main():
    src, prefix = sys.argv[1], sys.argv[2]
    data = bytes(open(src, "rb").read())
    eh = list(EH.unpack_from(data, 0))
    shoff, shentsize, shnum, shstrndx = eh[6], eh[11], eh[12], eh[13]
    shdrs = [list(SH.unpack_from(data, shoff + i * 64)) for i in range(shnum)]
    shstr = shdrs[shstrndx]

    def secname(i):
        off = shstr[4] + shdrs[i][0]
        return data[off:data.index(b"\0", off)].decode("latin-1")

    names = [secname(i) for i in range(shnum)]
    out = []

    def emit(name, buf):
        out.append((name, bytes(buf)))

    def with_eh(name, **kw):
        fields = ["ident", "type", "machine", "version", "entry", "phoff",
                  "shoff", "flags", "ehsize", "phentsize", "phnum",
                  "shentsize", "shnum", "shstrndx"]
        e = list(eh)
        for k, v in kw.items():
            e[fields.index(k)] = v
        b = bytearray(data)
        EH.pack_into(b, 0, *e)
        emit(name, b)

    def with_sh(name, i, field, value, extra=None):
        fields = ["name", "type", "flags", "addr", "offset", "size", "link",
                  "info", "addralign", "entsize"]
        s = list(shdrs[i])
        s[fields.index(field)] = value & ((1 << (32 if field in (
            "name", "type", "link", "info") else 64)) - 1)
        b = bytearray(data)
        SH.pack_into(b, shoff + i * 64, *s)
        if extra:
            extra(b)
        emit(name, b)

    def idx(pred):
        return [i for i in range(shnum) if pred(i)]

    symtab = (idx(lambda i: shdrs[i][1] == SHT_SYMTAB) or [None])[0]
    relas = idx(lambda i: shdrs[i][1] == SHT_RELA)
    text = (idx(lambda i: names[i] == ".text") or [1])[0]
    initfini = idx(lambda i: shdrs[i][1] in (SHT_INIT_ARRAY, SHT_FINI_ARRAY)
                   or names[i].startswith((".ctors", ".dtors")))
    groups = idx(lambda i: shdrs[i][1] == SHT_GROUP)

    # ---- truncations
    for n in (1, 4, 16, 52, 63, 64, shoff + 1, shoff + shnum * 64 - 1,
              len(data) // 2, len(data) - 1):
        if 0 < n < len(data):
            emit("trunc_%d" % n, data[:n])
    # ---- identification and header
    ident = bytearray(eh[0])
    for tag, pos, val in (("class32", 4, 1), ("classbad", 4, 7),
                          ("bigendian", 5, 2), ("databad", 5, 0),
                          ("identversion", 6, 0)):
        i2 = bytearray(ident)
        i2[pos] = val
        with_eh(tag, ident=bytes(i2))
    with_eh("machine_aarch64", machine=183)
    with_eh("machine_i386", machine=3)
    with_eh("type_exec", type=2)
    with_eh("type_dyn", type=3)
    with_eh("type_core", type=4)
    with_eh("version0", version=0)
    for v in (0xFFFFFFFFFFFFFFFF, len(data), len(data) - 63, 1, 0,
              0x8000000000000000, len(data) - shnum * 64 + 1):
        with_eh("shoff_%x" % v, shoff=v & 0xFFFFFFFFFFFFFFFF)
    for v in (0, 1, 0xFF00, 0xFFFF, shnum + 1):
        with_eh("shnum_%x" % v, shnum=v)
    for v in (0, 40, 63, 65, 0xFFFF):
        with_eh("shentsize_%x" % v, shentsize=v)
    for v in (0, shnum, 0xFEFF, 0xFFFF, symtab or 1):
        with_eh("shstrndx_%x" % v, shstrndx=v)
    with_eh("ehsize_0", ehsize=0)
    with_eh("phnum_ff", phnum=0xFF, phoff=64, phentsize=56)
    # Extended numbering: e_shnum = 0 and section 0 carries the count.
    with_sh("xnum_ok", 0, "size", shnum,
            lambda b: struct.pack_into("<H", b, 60, 0))
    with_sh("xnum_huge", 0, "size", 0xFFFFFFFF,
            lambda b: struct.pack_into("<H", b, 60, 0))
    with_sh("xstrndx_ok", 0, "link", shstrndx,
            lambda b: struct.pack_into("<H", b, 62, 0xFFFF))
    with_sh("xstrndx_bad", 0, "link", 0xFFFFFF,
            lambda b: struct.pack_into("<H", b, 62, 0xFFFF))
    with_sh("sec0_nonzero", 0, "offset", 0x40)
    # ---- section headers
    targets = sorted(set([text, shstrndx] + ([symtab, shdrs[symtab][6]]
                                               if symtab is not None else [])
                         + relas[:1] + initfini[:1] + groups[:1]))
    for i in targets:
        o, s = shdrs[i][4], shdrs[i][5]
        n = "s%d_" % i
        with_sh(n + "off_huge", i, "offset", 0xFFFFFFFFFFFFFF00)
        with_sh(n + "off_end", i, "offset", len(data))
        with_sh(n + "off_odd", i, "offset", o + 1)
        with_sh(n + "size_plus1", i, "size", len(data) - o + 1)
        with_sh(n + "size_huge", i, "size", 0xFFFFFFFFFFFFFFFF)
        with_sh(n + "size_0", i, "size", 0)
        with_sh(n + "size_odd", i, "size", max(s - 1, 1))
        with_sh(n + "name_huge", i, "name", 0xFFFFFFFF)
        with_sh(n + "name_end", i, "name", shstr[5])
        with_sh(n + "link_huge", i, "link", shnum + 3)
        with_sh(n + "link_self", i, "link", i)
        with_sh(n + "info_huge", i, "info", 0xFFFFFFFF)
        with_sh(n + "entsize_0", i, "entsize", 0)
        with_sh(n + "entsize_23", i, "entsize", 23)
        with_sh(n + "type_symtab", i, "type", SHT_SYMTAB)
        with_sh(n + "type_nobits", i, "type", 8)
        with_sh(n + "type_group", i, "type", SHT_GROUP)
        with_sh(n + "type_initarray", i, "type", SHT_INIT_ARRAY)
    # ---- string tables without their final NUL
    for i in set([shstrndx] + ([shdrs[symtab][6]] if symtab is not None else [])):
        o, s = shdrs[i][4], shdrs[i][5]
        if s:
            b = bytearray(data)
            b[o + s - 1] = 0x41
            emit("s%d_nonul" % i, b)
    # ---- symbols
    if symtab is not None:
        so, ss, strndx, first_global = (shdrs[symtab][4], shdrs[symtab][5],
                                        shdrs[symtab][6], shdrs[symtab][7])
        nsyms = ss // 24
        strsize = shdrs[strndx][5]
        for k in sorted(set([1, first_global, nsyms - 1]) & set(range(1, nsyms))):
            sym = list(SYM.unpack_from(data, so + k * 24))

            def with_sym(tag, field, value):
                s2 = list(sym)
                s2[["name", "info", "other", "shndx", "value", "size"]
                   .index(field)] = value
                b = bytearray(data)
                SYM.pack_into(b, so + k * 24, *s2)
                emit("sym%d_%s" % (k, tag), b)

            with_sym("name_end", "name", strsize)
            with_sym("name_huge", "name", 0xFFFFFFFF)
            with_sym("shndx_range", "shndx", shnum + 5)
            with_sym("shndx_lores", "shndx", 0xFF00)
            with_sym("shndx_abs", "shndx", 0xFFF1)
            with_sym("shndx_common", "shndx", 0xFFF2)
            with_sym("shndx_xindex", "shndx", 0xFFFF)
            with_sym("shndx_lcommon", "shndx", 0xFF02)
            with_sym("shndx_0", "shndx", 0)
            with_sym("shndx_symtab", "shndx", symtab)
            with_sym("type_ifunc", "info", (sym[1] & 0xF0) | 10)
            with_sym("type_tls", "info", (sym[1] & 0xF0) | 6)
            with_sym("type_section", "info", (sym[1] & 0xF0) | 3)
            with_sym("type_file", "info", (sym[1] & 0xF0) | 4)
            with_sym("bind_global", "info", 0x10 | (sym[1] & 0xF))
            with_sym("bind_weak", "info", 0x20 | (sym[1] & 0xF))
            with_sym("bind_gnuunique", "info", 0xA0 | (sym[1] & 0xF))
            with_sym("bind_bad", "info", 0xF0 | (sym[1] & 0xF))
            with_sym("vis_internal", "other", 1)
            with_sym("vis_protected", "other", 3)
            with_sym("value_huge", "value", 0xFFFFFFFFFFFFFFF0)
            with_sym("size_huge", "size", 0xFFFFFFFFFFFFFFF0)
        # Duplicate an existing global name onto another global.
        if first_global + 1 < nsyms:
            a = list(SYM.unpack_from(data, so + first_global * 24))
            b2 = list(SYM.unpack_from(data, so + (nsyms - 1) * 24))
            b2[0] = a[0]
            b = bytearray(data)
            SYM.pack_into(b, so + (nsyms - 1) * 24, *b2)
            emit("sym_dupname", b)
    # ---- relocations
    for i in relas[:3]:
        ro = shdrs[i][4]
        if shdrs[i][5] < 24:
            continue
        r = list(RELA.unpack_from(data, ro))
        nsyms = shdrs[symtab][5] // 24 if symtab is not None else 0

        def with_rel(tag, off=None, sym=None, typ=None):
            s2 = list(r)
            if off is not None:
                s2[0] = off
            cs, ct = s2[1] >> 32, s2[1] & 0xFFFFFFFF
            s2[1] = ((cs if sym is None else sym) << 32) | (ct if typ is None else typ)
            b = bytearray(data)
            RELA.pack_into(b, ro, *s2)
            emit("r%d_%s" % (i, tag), b)

        with_rel("sym_end", sym=nsyms)
        with_rel("sym_huge", sym=0xFFFFFFFF)
        with_rel("sym_0", sym=0)
        with_rel("off_huge", off=0xFFFFFFFFFFFFFFF8)
        with_rel("off_end", off=shdrs[shdrs[i][7]][5] if shdrs[i][7] < shnum else 0)
        with_rel("type_gotpcrelx", typ=41)
        with_rel("type_rexgotpcrelx", typ=42)
        with_rel("type_gottpoff", typ=22)
        with_rel("type_tpoff32", typ=23)
        with_rel("type_32", typ=10)
        with_rel("type_bad", typ=0xFFFF)
        with_sh("r%d_info_0" % i, i, "info", 0)
        with_sh("r%d_info_self" % i, i, "info", i)
        with_sh("r%d_info_symtab" % i, i, "info", symtab or 0)
        with_sh("r%d_link_0" % i, i, "link", 0)
        with_sh("r%d_link_text" % i, i, "link", text)
        with_sh("r%d_type_rel" % i, i, "type", 9)
        with_sh("r%d_type_crel" % i, i, "type", 0x40000014)
    # ---- init/fini sections: odd sizes and names
    for i in initfini[:2]:
        with_sh("if%d_size7" % i, i, "size", 7)
        with_sh("if%d_size0" % i, i, "size", 0)
        nm = names[i]
        off = shstr[4] + shdrs[i][0]
        for tag, new in (("prio_big", nm.split(".")[1] and "." + nm.split(".")[1] + ".99999999999"),
                         ("prio_alpha", "." + nm.split(".")[1] + ".x1"),
                         ("prio_empty", "." + nm.split(".")[1] + "."),
                         ("prio_65536", "." + nm.split(".")[1] + ".65536")):
            nb = new.encode()
            if len(nb) <= len(nm):
                b = bytearray(data)
                b[off:off + len(nm)] = nb + b"\0" * (len(nm) - len(nb))
                emit("if%d_%s" % (i, tag), b)
    # ---- groups with bad members
    for i in groups[:1]:
        go, gs = shdrs[i][4], shdrs[i][5]
        if gs >= 8:
            for tag, v in (("member_huge", 0xFFFFFFFF), ("member_self", i),
                           ("member_0", 0)):
                b = bytearray(data)
                struct.pack_into("<I", b, go + 4, v)
                emit("g%d_%s" % (i, tag), b)
            b = bytearray(data)
            struct.pack_into("<I", b, go, 0xFFFFFFFF)
            emit("g%d_flags" % i, b)

    for name, buf in out:
        with open(prefix + name, "wb") as f:
            f.write(buf)
    print(len(out))


if __name__ == "__main__":
    main()
