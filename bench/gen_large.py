"""Writes a C source with N exported TVM-FFI safe-call functions (the "large
object" of the load benchmark): python3 gen_large.py N out.c"""
import sys

n, out = int(sys.argv[1]), sys.argv[2]
parts = [
    "#include <stdint.h>\n#include <tvm/ffi/c_api.h>\n",
    "static int bad(void) { TVMFFIErrorSetRaisedFromCStr(\"TypeError\", \"expected one int\"); return -1; }\n",
]
for i in range(n):
    parts.append(
        f"__attribute__((visibility(\"default\"))) int __tvm_ffi_f{i}(void *self, const TVMFFIAny *args, "
        f"int32_t num_args, TVMFFIAny *result) {{\n"
        f"  (void)self;\n  if (num_args != 1 || args[0].type_index != kTVMFFIInt) return bad();\n"
        f"  result->type_index = kTVMFFIInt; result->zero_padding = 0;\n"
        f"  result->v_int64 = args[0].v_int64 * {i % 97 + 1} + {i};\n  return 0;\n}}\n"
    )
with open(out, "w") as f:
    f.write("".join(parts))
