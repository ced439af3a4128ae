"""``python -m tvm_ffi_orcjit``: inspect objects, or load them and call a function.

See :mod:`tvm_ffi_orcjit._cli` (``python -m tvm_ffi_orcjit --help``).
"""

from __future__ import annotations

import sys

from ._cli import main

if __name__ == "__main__":
    sys.exit(main())
