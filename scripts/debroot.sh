#!/usr/bin/env bash
# debroot.sh: Debian root directories made with debootstrap, where the
# project is tested as on another system.  KIND is one of
#   bullseye-amd64  Debian 11 (glibc 2.31, GCC 10's libstdc++ with
#                   GLIBCXX_3.4.28, Python 3.9): `make wheel-test` installs
#                   and tests the wheel there, as on an older system;
#   bookworm-arm64  Debian 12 for aarch64, run under qemu-user: LLVM 22,
#                   clang-22, gcc and Python 3.11 of the host's archive, for
#                   `make test-aarch64` and `make wheel-aarch64`.
#
#   scripts/debroot.sh KIND make          create the root if needed (idempotent)
#   scripts/debroot.sh KIND deps          install only what the host needs for
#                                         that (debootstrap, qemu-user-static)
#   scripts/debroot.sh KIND run CMD...    run CMD inside it (chroot), as root
#   scripts/debroot.sh KIND root          print where it is
#
# Where: $ORCJIT_DEBROOT_DIR/KIND, default /var/cache/tvm-ffi-orcjit/KIND
# (outside the worktree: `make clean` keeps it, every checkout shares it).
# `make` does nothing when ROOT/.orcjit-debroot names the same package list;
# otherwise it debootstraps from deb.debian.org, then installs the kind's
# packages with apt-get (bullseye-amd64: 4 minutes here, 530 MB).  A foreign
# architecture needs qemu-user-static and binfmt_misc, installed and enabled
# here if missing.  Every `run` copies in the host's DNS configuration, its
# pip configuration (/etc/pip.conf, ~/.config/pip/pip.conf, where present)
# and its CA bundle, so that pip inside reaches the same index as outside.
# `run` mounts /proc and /dev (and what ORCJIT_DEBROOT_BIND names:
# "HOSTPATH:ROOTPATH ...", directories or files) in a private mount
# namespace, so nothing stays
# mounted once CMD ends, whatever way it ends.  Needs root (or sudo),
# debootstrap (installed with apt-get if missing) and unshare.
set -euo pipefail

KIND="${1:-}"
shift || true
MIRROR="${ORCJIT_DEBROOT_MIRROR:-http://deb.debian.org/debian}"
case "$KIND" in
  bullseye-amd64)
    SUITE=bullseye ARCH=amd64
    # gcc and g++ compile the test objects in there (clang 11 of bullseye is
    # not installed: the tests' clang variants use clang-22's options and
    # skip without one, as they do on the host with LLVM hidden); gdb for
    # test_debug.  debootstrap's own dependency resolution is too simple for
    # gdb's, so apt installs these (BOOT only: what debootstrap includes).
    BOOT="python3,python3-venv,python3-pip"
    PACKAGES="gcc g++ gdb" ;;
  bookworm-arm64)
    SUITE=bookworm ARCH=arm64
    # LLVM 22 comes from the host's own archive (its sources are copied in):
    # the library is built against it (cmake, ninja) and clang-22 and gcc
    # compile the test objects, all under emulation; gdb for test_debug.
    BOOT="python3,python3-venv,python3-pip"
    PACKAGES="llvm-22-dev libclang-rt-22-dev clang-22 gcc g++ python3-dev gdb binutils make cmake ninja-build" ;;
  *) echo "usage: $0 bullseye-amd64|bookworm-arm64 make | run CMD... | root" >&2; exit 2 ;;
esac
ROOT="${ORCJIT_DEBROOT_DIR:-/var/cache/tvm-ffi-orcjit}/$KIND"
MARK="$ROOT/.orcjit-debroot"
say() { printf 'debroot: %s\n' "$*"; }
SUDO=()
[ "$(id -u)" = 0 ] || SUDO=(sudo -n)

make_root() {
  "${SUDO[@]}" mkdir -p "$(dirname "$ROOT")"
  # One maker at a time (several checkouts share the root): the others wait.
  exec 9> "${TMPDIR:-/tmp}/tvm-ffi-orcjit-debroot-$KIND.lock"
  flock 9
  if [ -f "$MARK" ] && [ "$(cat "$MARK")" = "$SUITE $ARCH $BOOT $PACKAGES" ]; then
    say "$ROOT: Debian $SUITE/$ARCH, ready"
    return 0
  fi
  # The same release with another package list: apt-get brings it up to date.
  if [ -f "$MARK" ] && [ "$(cut -d' ' -f1-3 "$MARK")" = "$SUITE $ARCH $BOOT" ]; then
    say "$ROOT: apt-get install $PACKAGES"
    # shellcheck disable=SC2086  # PACKAGES: words on purpose
    if run_in_root "$ROOT" sh -c "apt-get update -qq &&
         DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $PACKAGES &&
         apt-get clean" >> "$ROOT.log" 2>&1; then
      echo "$SUITE $ARCH $BOOT $PACKAGES" | "${SUDO[@]}" tee "$MARK" >/dev/null
      say "$ROOT: Debian $SUITE/$ARCH, ready"
      return 0
    fi
    say "apt-get failed (log: $ROOT.log); making the root again"
  fi
  host_deps
  say "debootstrap $SUITE/$ARCH into $ROOT ($BOOT; then apt-get install $PACKAGES)"
  local t0=$SECONDS log
  log="$ROOT.log"
  "${SUDO[@]}" rm -rf "$ROOT.tmp"
  if ! "${SUDO[@]}" debootstrap --arch="$ARCH" --variant=minbase --include="$BOOT" "$SUITE" "$ROOT.tmp" "$MIRROR" \
       > "$log" 2>&1; then
    tail -n 20 "$log" >&2; say "FAIL: debootstrap (log: $log)"; exit 1
  fi
  if [ "$SUITE" = "$(. /etc/os-release; echo "${VERSION_CODENAME:-}")" ] && [ -d /etc/apt/sources.list.d ]; then
    # The host's own release: its archive list (LLVM 22 may come from any of
    # its suites, security updates included).
    "${SUDO[@]}" cp -L /etc/apt/sources.list.d/*.sources "$ROOT.tmp/etc/apt/sources.list.d/" 2>/dev/null || true
    [ -f /etc/apt/sources.list ] && "${SUDO[@]}" cp -L /etc/apt/sources.list "$ROOT.tmp/etc/apt/sources.list"
  else
    echo "deb $MIRROR $SUITE main" | "${SUDO[@]}" tee "$ROOT.tmp/etc/apt/sources.list" >/dev/null
  fi
  # shellcheck disable=SC2086  # PACKAGES: words on purpose
  if ! run_in_root "$ROOT.tmp" sh -c "apt-get update -qq &&
       DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $PACKAGES &&
       apt-get clean" >> "$log" 2>&1; then
    tail -n 20 "$log" >&2; say "FAIL: apt-get install $PACKAGES in $ROOT.tmp (log: $log)"; exit 1
  fi
  echo "$SUITE $ARCH $BOOT $PACKAGES" | "${SUDO[@]}" tee "$ROOT.tmp/.orcjit-debroot" >/dev/null
  "${SUDO[@]}" rm -rf "$ROOT"
  "${SUDO[@]}" mv "$ROOT.tmp" "$ROOT"
  say "$ROOT ready in $((SECONDS - t0)) s"
}

# What the host needs: debootstrap, and for a foreign ARCH the emulator.
host_deps() {
  if ! command -v debootstrap >/dev/null 2>&1; then
    say "installing debootstrap"
    "${SUDO[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${SUDO[@]}" apt-get install -y -qq debootstrap >/dev/null
  fi
  if [ "$ARCH" != "$(dpkg --print-architecture)" ]; then foreign_ready; fi
}

# qemu-user-static and a binfmt_misc entry for ARCH, so that the kernel runs
# the root's programs (debootstrap's second stage included) under emulation.
foreign_ready() {
  local q
  case "$ARCH" in arm64) q=aarch64 ;; *) q=$ARCH ;; esac
  if ! command -v "qemu-$q-static" >/dev/null 2>&1 || ! command -v update-binfmts >/dev/null 2>&1; then
    say "installing qemu-user-static and binfmt-support"
    "${SUDO[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${SUDO[@]}" apt-get install -y -qq qemu-user-static binfmt-support >/dev/null
  fi
  [ -e /proc/sys/fs/binfmt_misc/status ] ||
    "${SUDO[@]}" mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
  [ -e "/proc/sys/fs/binfmt_misc/qemu-$q" ] || "${SUDO[@]}" update-binfmts --enable "qemu-$q" ||
    { say "FAIL: cannot enable binfmt_misc for qemu-$q"; exit 1; }
}

run_in_root() { # ROOT CMD...
  local ROOT=$1
  shift
  [ -x "$ROOT/usr/bin/env" ] || { say "FAIL: no root at $ROOT (scripts/debroot.sh $KIND make)"; exit 1; }
  if [ "$ARCH" != "$(dpkg --print-architecture)" ]; then foreign_ready; fi
  # What pip and DNS need, copied fresh on every run (the host's may change).
  "${SUDO[@]}" cp -L /etc/resolv.conf "$ROOT/etc/resolv.conf"
  [ -f /etc/pip.conf ] && "${SUDO[@]}" cp -L /etc/pip.conf "$ROOT/etc/pip.conf"
  if [ -f "$HOME/.config/pip/pip.conf" ]; then
    "${SUDO[@]}" mkdir -p "$ROOT/root/.config/pip"
    "${SUDO[@]}" cp -L "$HOME/.config/pip/pip.conf" "$ROOT/root/.config/pip/pip.conf"
  fi
  if [ -f /etc/ssl/certs/ca-certificates.crt ]; then
    "${SUDO[@]}" mkdir -p "$ROOT/etc/ssl/certs"
    "${SUDO[@]}" cp -L /etc/ssl/certs/ca-certificates.crt "$ROOT/etc/ssl/certs/ca-certificates.crt"
  fi
  # The mounts, in a private mount namespace: gone when the command ends.
  local inner='set -e
    R=$1; shift
    mount --make-rprivate /
    mount -t proc proc "$R/proc"
    mount --rbind /dev "$R/dev"
    for b in ${ORCJIT_DEBROOT_BIND:-}; do
      if [ -d "${b%%:*}" ]; then
        mkdir -p "$R${b#*:}"
      else # a file over a file (made empty where missing)
        mkdir -p "$(dirname "$R${b#*:}")"
        [ -e "$R${b#*:}" ] || : > "$R${b#*:}"
      fi
      mount --bind "${b%%:*}" "$R${b#*:}"
    done
    exec chroot "$R" /usr/bin/env -i HOME=/root LANG=C.UTF-8 TERM=dumb \
      PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin "$@"'
  "${SUDO[@]}" env ORCJIT_DEBROOT_BIND="${ORCJIT_DEBROOT_BIND:-}" \
    unshare -m sh -c "$inner" debroot "$ROOT" "$@"
}

case "${1:-}" in
  make) make_root ;;
  deps) host_deps ;;
  run)
    shift
    [ $# -gt 0 ] || { say "run: no command"; exit 2; }
    [ -f "$MARK" ] || { say "FAIL: no root at $ROOT (scripts/debroot.sh $KIND make)"; exit 1; }
    run_in_root "$ROOT" "$@" ;;
  root) echo "$ROOT" ;;
  *) echo "usage: $0 KIND make | deps | run CMD... | root" >&2; exit 2 ;;
esac
