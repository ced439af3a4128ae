"""The command-line tool: ``python -m tvm_ffi_orcjit {inspect,call} ...``.

``inspect`` describes objects and archives without linking them; the work is
done by the C core (``orcjit_inspect_*``, through the global
``tvm_ffi_orcjit.InspectObject``), which validates them exactly as the loader
does.  ``call`` loads objects into a new session and calls one function.

Every failure is one line ``tvm_ffi_orcjit: error: ...`` on stderr: exit
status 1 for errors, 2 for usage errors.  No traceback is ever printed.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any, NoReturn, Sequence

PROG = "python -m tvm_ffi_orcjit"
TAG = "tvm_ffi_orcjit"

DESCRIPTION = """\
Inspect relocatable object files (.o), static archives (.a) and tars of
objects (as Apache TVM's export_library writes them), or load them into the
running process and call one of their TVM-FFI functions.

commands:
  inspect   list the TVM-FFI functions, other symbols, undefined symbols
            and init/fini sections of objects and archives
  call      load objects and print the result of calling one function

Run '%(prog)s COMMAND --help' for the options of a command."""

INSPECT_DESCRIPTION = """\
Describe object files and archives without linking them: the TVM-FFI
functions they export (symbols __tvm_ffi_<name>, shown as <name>), their
other defined global symbols, their undefined symbols and their init/fini
sections (.init_array*, .ctors*, .fini_array*, .dtors*) with priority and
number of entries.  An archive or a tar is shown member by member.  Objects are
validated as the loader validates them: what inspect refuses, loading
refuses, with the same message."""

INSPECT_EPILOG = """\
where an undefined symbol comes from (as the loader resolves it):
  object NAME    defined by another input object or archive member
  loader         provided by the loader itself (atexit, __dso_handle,
                 __cxa_atexit, __tls_get_addr, __cxa_thread_atexit(_impl),
                 _GLOBAL_OFFSET_TABLE_)
  host           found in this process (with --resolve): libc, libm,
                 libstdc++, libgcc, libtvm_ffi, Python
  NOT FOUND      nowhere (with --resolve): loading fails, unless the
                 reference is weak (then it stays NULL)
A host that links more shared libraries than this Python process resolves
more; --resolve answers for this process.

exit status: 0 if every object is valid, 1 if one is not (or a file cannot
be read), 2 for a usage error."""

CALL_DESCRIPTION = """\
Load the objects (and archives) into one library of a new session and print
the result of calling the TVM-FFI function NAME (symbol __tvm_ffi_NAME) with
the given arguments."""

CALL_EPILOG = """\
forms:
  %(prog)s OBJECT NAME [ARG ...]
  %(prog)s OBJECT [OBJECT ...] -- NAME [ARG ...]
Everything before '--' is an object or archive; after it come the function
name and its arguments (use '--' also for arguments that start with '-' and
are not numbers).

arguments: each ARG is an int if Python's int() accepts it (42, -7, 1_000),
else a float if float() accepts it (2.5, -1e3, inf, nan), else a string.
Quote for the shell as usual; --str passes every ARG as a string.

output: the result as Python's str() prints it (None for no value).
exit status: 0 on success, 1 if loading fails, the function is missing or
it raises an error, 2 for a usage error."""


class UsageError(Exception):
    """A command line that cannot be parsed (exit status 2)."""


class CliError(Exception):
    """A failure to report as one line (exit status 1)."""


class _Parser(argparse.ArgumentParser):
    """argparse with our one-line error format; raises instead of exiting."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(message, self.format_usage().rstrip())


def _one_line(text: str) -> str:
    return " ".join(part.strip() for part in str(text).splitlines() if part.strip())


def _version() -> str:
    from . import __version__

    return __version__


# --------------------------------------------------------------------------
# parsers


def _top_parser() -> _Parser:
    p = _Parser(
        prog=PROG,
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        usage="%(prog)s [-h] [--version] {inspect,call} ...",
    )
    p.add_argument("--version", action="store_true", help="print the version and exit")
    p.add_argument("command", nargs="?", choices=("inspect", "call"), help=argparse.SUPPRESS)
    p.add_argument("args", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    return p


def _inspect_parser() -> _Parser:
    p = _Parser(
        prog=f"{PROG} inspect",
        description=INSPECT_DESCRIPTION,
        epilog=INSPECT_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        usage=f"{PROG} inspect [-h] [--resolve] [--json] FILE [FILE ...]",
    )
    p.add_argument("files", nargs="*", metavar="FILE", help="object file (.o), archive (.a) or tar of objects")
    p.add_argument(
        "--resolve",
        action="store_true",
        help="also look every undefined symbol up in this process, and say where each comes from",
    )
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    return p


def _call_parser() -> _Parser:
    p = _Parser(
        prog=f"{PROG} call",
        description=CALL_DESCRIPTION,
        epilog=CALL_EPILOG.replace("%(prog)s", f"{PROG} call"),
        formatter_class=argparse.RawDescriptionHelpFormatter,
        usage=f"{PROG} call [-h] [--str] OBJECT NAME [ARG ...]\n"
        f"       {PROG} call [-h] [--str] OBJECT [OBJECT ...] -- NAME [ARG ...]",
    )
    p.add_argument("operands", nargs="*", metavar="OPERAND", help="see the forms below")
    p.add_argument("--str", action="store_true", help="pass every ARG as a string")
    return p


# --------------------------------------------------------------------------
# inspect


def _inspect_one(path: str, resolve: bool) -> dict[str, Any]:
    from . import _ffi_api

    try:
        raw = _ffi_api.InspectObject(path, "", resolve)
    except Exception as exc:  # the core's message names the file and the cause
        raise CliError(_one_line(str(exc))) from None
    objects = []
    for obj in raw["objects"]:
        symbols = [{k: (str(v) if k == "name" else bool(v)) for k, v in s.items()} for s in obj["symbols"]]
        objects.append(
            {
                "name": str(obj["name"]),
                "error": str(obj["error"]) or None,
                "ffi_functions": [s["name"][len("__tvm_ffi_") :] for s in symbols if s["ffi_function"]],
                "defined": [
                    {k: s[k] for k in ("name", "function", "weak", "hidden", "tls")}
                    for s in symbols
                    if not s["undefined"]
                ],
                "undefined": [
                    {"name": s["name"], "weak": s["weak"], "loader": s["runtime"], "host": s["host"]}
                    for s in symbols
                    if s["undefined"]
                ],
                "initfini": [
                    {"kind": str(e["kind"]), "priority": int(e["priority"]), "count": int(e["count"])}
                    for e in obj["initfini"]
                ],
            }
        )
    return {"file": path, "archive": bool(raw["archive"]), "tar": bool(raw["tar"]), "objects": objects}


def _resolve(inputs: list[dict[str, Any]], resolve: bool) -> None:
    """Sets 'resolution' (and 'object') on every undefined symbol."""
    definers: dict[str, str] = {}
    for inp in inputs:
        for obj in inp["objects"]:
            for sym in obj["defined"]:
                definers.setdefault(sym["name"], obj["name"])
    for inp in inputs:
        for obj in inp["objects"]:
            for sym in obj["undefined"]:
                where = definers.get(sym["name"])
                loader, host = sym.pop("loader"), sym.pop("host")
                if where is not None:
                    sym["resolution"], sym["object"] = "object", where
                elif loader:
                    sym["resolution"] = "loader"
                elif not resolve:
                    sym["resolution"] = None
                else:
                    sym["resolution"] = "host" if host else "missing"


def _attrs(sym: dict[str, Any]) -> str:
    out = ["function" if sym["function"] else "data"]
    out += [label for key, label in (("weak", "weak"), ("hidden", "hidden"), ("tls", "thread-local")) if sym[key]]
    return ", ".join(out)


def _where(sym: dict[str, Any]) -> str:
    res = sym["resolution"]
    weak = ["weak"] if sym["weak"] else []
    if res == "object":
        text = [f"object {sym['object']}"]
    elif res == "loader":
        text = ["loader"]
    elif res == "host":
        text = ["host"]
    elif res == "missing":
        text = ["NOT FOUND (weak: stays NULL)" if sym["weak"] else "NOT FOUND"]
        weak = []
    else:
        text = []
    return ", ".join(weak + text)


def _table(rows: list[tuple[str, str]], indent: str = "    ") -> list[str]:
    width = min(max((len(name) for name, _ in rows), default=0), 40)  # long C++ names overflow
    return [f"{indent}{name:<{width}}  {extra}".rstrip() for name, extra in rows]


LTO_HINT = "built with gcc -flto: it holds no machine code; rebuild without -flto or with -ffat-lto-objects"


def _is_slim_lto(obj: dict[str, Any]) -> bool:
    return any(s["name"] == "__gnu_lto_slim" for s in obj["defined"])


def _print_object(obj: dict[str, Any], out: list[str]) -> None:
    out.append(f"{obj['name']}:")
    if obj["error"]:
        out.append(f"  not loadable: {obj['error']}")
        return
    if _is_slim_lto(obj):
        out.append(f"  note: {LTO_HINT}")
    fns = sorted(obj["ffi_functions"])
    out.append(f"  TVM-FFI functions ({len(fns)}):" if fns else "  TVM-FFI functions: none")
    out += [f"    {name}" for name in fns]
    fn_syms = {"__tvm_ffi_" + name for name in fns}
    others = sorted((s for s in obj["defined"] if s["name"] not in fn_syms), key=lambda s: s["name"])
    out.append(f"  other defined symbols ({len(others)}):" if others else "  other defined symbols: none")
    out += _table([(s["name"], _attrs(s)) for s in others])
    und = sorted(obj["undefined"], key=lambda s: s["name"])
    out.append(f"  undefined symbols ({len(und)}):" if und else "  undefined symbols: none")
    out += _table([(s["name"], _where(s)) for s in und])
    inits = obj["initfini"]
    out.append(f"  init/fini sections ({len(inits)}):" if inits else "  init/fini sections: none")
    out += _table(
        [
            (e["kind"], f"priority {e['priority']:<5}  {e['count']} {'entry' if e['count'] == 1 else 'entries'}")
            for e in inits
        ]
    )


def _cmd_inspect(argv: list[str], extra: list[str]) -> int:
    parser = _inspect_parser()
    ns = parser.parse_intermixed_args(argv)
    files: list[str] = ns.files + extra  # after '--', names may start with '-'
    if not files:
        parser.error("no file to inspect")
    inputs = [_inspect_one(path, ns.resolve) for path in files]
    _resolve(inputs, ns.resolve)
    bad = [obj for inp in inputs for obj in inp["objects"] if obj["error"]]
    if ns.json:
        print(json.dumps({"inputs": inputs}, indent=2))
    else:
        out: list[str] = []
        for inp in inputs:
            if inp["archive"]:
                n = len(inp["objects"])
                kind = "tar" if inp["tar"] else "archive"
                out.append(f"{inp['file']}: {kind}, {n} object member{'' if n == 1 else 's'}")
            for obj in inp["objects"]:
                _print_object(obj, out)
        missing = sorted(
            {
                s["name"]
                for inp in inputs
                for obj in inp["objects"]
                for s in obj["undefined"]
                if s["resolution"] == "missing" and not s["weak"]
            }
        )
        if missing:
            out.append(f"unresolved: {len(missing)} symbol{'' if len(missing) == 1 else 's'} found nowhere: " + ", ".join(missing))
        print("\n".join(out))
    if bad:
        raise CliError(bad[0]["error"] + (f" (and {len(bad) - 1} more)" if len(bad) > 1 else ""))
    return 0


# --------------------------------------------------------------------------
# call


def _is_number(text: str) -> bool:
    return not isinstance(parse_value(text), str)


def parse_value(text: str, force_str: bool = False) -> int | float | str:
    """One command-line argument: int if int() takes it, else float, else str."""
    if force_str:
        return text
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        return text


def _cmd_call(argv: list[str], extra: list[str] | None) -> int:
    parser = _call_parser()
    # Negative numbers (-7, -1e3, -inf) are operands, not options; argparse
    # alone would take "-1e3" for an option.
    options = [a for a in argv if a.startswith("-") and not _is_number(a)]
    ns, unknown = parser.parse_known_args(options)
    if unknown:
        parser.error(f"unrecognized option {unknown[0]}: arguments that start with '-' go after '--'")
    operands = [a for a in argv if not (a.startswith("-") and not _is_number(a))]
    if not operands:
        parser.error("the following arguments are required: OPERAND")
    if extra is None:  # OBJECT NAME [ARG ...]
        if len(operands) < 2:
            parser.error("call needs an object file and a function name")
        objects, name, raw = operands[:1], operands[1], operands[2:]
    else:  # OBJECT ... -- NAME [ARG ...]
        if not extra:
            parser.error("no function name after '--'")
        objects, name, raw = operands, extra[0], extra[1:]
    args = [parse_value(a, ns.str) for a in raw]

    from .session import ExecutionSession

    lib_name = os.path.splitext(os.path.basename(objects[0]))[0] or "cli"
    try:
        mod = ExecutionSession().load_module(list(objects), name=lib_name)
    except Exception as exc:
        raise CliError(_one_line(str(exc))) from None
    try:
        fn = mod.get_function(name)
    except AttributeError:
        raise CliError(_not_found(name, objects)) from None
    try:
        result = fn(*args)
    except Exception as exc:
        raise CliError(f"{name}: {type(exc).__name__}: {_one_line(str(exc))}") from None
    print(result)
    return 0


def _not_found(name: str, objects: Sequence[str]) -> str:
    names: list[str] = []
    slim = False
    for path in objects:
        try:
            info = _inspect_one(path, False)
        except CliError:
            continue
        for obj in info["objects"]:
            names += obj["ffi_functions"]
            slim = slim or _is_slim_lto(obj)
    where = ", ".join(objects)
    if not names:
        why = f"; {LTO_HINT}" if slim else ""
        return f"function '{name}' not found: {where} exports no TVM-FFI function (no symbol __tvm_ffi_<name>){why}"
    return f"function '{name}' not found in {where}; its TVM-FFI functions: {', '.join(sorted(set(names)))}"


# --------------------------------------------------------------------------
# main


def main(argv: Sequence[str] | None = None) -> int:
    """Runs the tool; returns the exit status."""
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        top = _top_parser()
        ns = top.parse_args(args)
        if ns.version:
            print(f"{TAG} {_version()}")
            return 0
        if ns.command is None:
            top.error("missing command (inspect or call)")
        rest: list[str] = ns.args
        extra: list[str] | None = None
        if "--" in rest:
            i = rest.index("--")
            rest, extra = rest[:i], rest[i + 1 :]
        if ns.command == "inspect":
            return _cmd_inspect(rest, extra or [])
        return _cmd_call(rest, extra)
    except UsageError as exc:
        message, usage = exc.args
        print(usage, file=sys.stderr)
        print(f"{TAG}: error: {_one_line(message)}", file=sys.stderr)
        return 2
    except CliError as exc:
        print(f"{TAG}: error: {_one_line(str(exc))}", file=sys.stderr)
        return 1
    except SystemExit as exc:  # --help
        return int(exc.code or 0) if isinstance(exc.code, int) else 0
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # e.g. piped into head
        try:
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115 (no flush error at exit)
        except OSError:
            pass
        return 1
    except Exception as exc:  # a bug of the tool: still one line
        print(f"{TAG}: error: internal error: {type(exc).__name__}: {_one_line(str(exc))}", file=sys.stderr)
        return 1
