#!/usr/bin/env bash
# oldroot.sh: a Debian 11 (bullseye: glibc 2.31, GCC 10's libstdc++ with
# GLIBCXX_3.4.28, Python 3.9) root directory made with debootstrap, where
# `make wheel-test` installs and tests the wheel as on an older system.
#
#   scripts/oldroot.sh make          create the root if needed (idempotent)
#   scripts/oldroot.sh run CMD...    run CMD inside it (chroot), as root
#   scripts/oldroot.sh root          print where it is
#
# Where: $ORCJIT_OLDROOT, default /var/cache/tvm-ffi-orcjit/bullseye-amd64
# (outside the worktree: `make clean` keeps it, every checkout shares it).
# `make` does nothing when ROOT/.orcjit-oldroot names the same package list;
# otherwise it debootstraps from deb.debian.org, then installs gcc, g++ and
# gdb with apt-get (4 minutes here, 530 MB).  Every `run`
# copies in the host's DNS configuration, its pip configuration
# (/etc/pip.conf, ~/.config/pip/pip.conf, where present) and its CA bundle,
# so that pip inside reaches the same index as outside.  `run` mounts /proc
# and /dev (and what ORCJIT_OLDROOT_BIND names: "HOSTDIR:ROOTDIR ...") in a
# private mount namespace, so nothing stays mounted once CMD ends, whatever
# way it ends.  Needs root (or sudo), debootstrap (installed with apt-get if
# missing) and unshare.
set -euo pipefail

ROOT="${ORCJIT_OLDROOT:-/var/cache/tvm-ffi-orcjit/bullseye-amd64}"
SUITE=bullseye
MIRROR="${ORCJIT_OLDROOT_MIRROR:-http://deb.debian.org/debian}"
# gcc and g++ compile the test objects in there (clang 11 of bullseye is not
# installed: the tests' clang variants use clang-22's options and skip
# without one, as they do on the host with LLVM hidden); gdb for test_debug.
# debootstrap's own dependency resolution is too simple for gdb's, so apt
# installs these (BOOT only: what debootstrap includes).
BOOT="python3,python3-venv,python3-pip"
PACKAGES="gcc g++ gdb"
MARK="$ROOT/.orcjit-oldroot"
say() { printf 'oldroot: %s\n' "$*"; }
SUDO=()
[ "$(id -u)" = 0 ] || SUDO=(sudo -n)

make_root() {
  "${SUDO[@]}" mkdir -p "$(dirname "$ROOT")"
  # One maker at a time (several checkouts share the root): the others wait.
  exec 9> "${TMPDIR:-/tmp}/tvm-ffi-orcjit-oldroot.lock"
  flock 9
  if [ -f "$MARK" ] && [ "$(cat "$MARK")" = "$SUITE $BOOT $PACKAGES" ]; then
    say "$ROOT: Debian $SUITE, ready"
    return 0
  fi
  if ! command -v debootstrap >/dev/null 2>&1; then
    say "installing debootstrap"
    "${SUDO[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${SUDO[@]}" apt-get install -y -qq debootstrap >/dev/null
  fi
  say "debootstrap $SUITE into $ROOT ($BOOT; then apt-get install $PACKAGES)"
  local t0=$SECONDS log
  log="$(dirname "$ROOT")/oldroot.log"
  "${SUDO[@]}" rm -rf "$ROOT.tmp"
  if ! "${SUDO[@]}" debootstrap --variant=minbase --include="$BOOT" "$SUITE" "$ROOT.tmp" "$MIRROR" \
       > "$log" 2>&1; then
    tail -n 20 "$log" >&2; say "FAIL: debootstrap (log: $log)"; exit 1
  fi
  echo "deb $MIRROR $SUITE main" | "${SUDO[@]}" tee "$ROOT.tmp/etc/apt/sources.list" >/dev/null
  # shellcheck disable=SC2086  # PACKAGES: words on purpose
  if ! run_in_root "$ROOT.tmp" sh -c "apt-get update -qq &&
       DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $PACKAGES &&
       apt-get clean" >> "$log" 2>&1; then
    tail -n 20 "$log" >&2; say "FAIL: apt-get install $PACKAGES in $ROOT.tmp (log: $log)"; exit 1
  fi
  echo "$SUITE $BOOT $PACKAGES" | "${SUDO[@]}" tee "$ROOT.tmp/.orcjit-oldroot" >/dev/null
  "${SUDO[@]}" rm -rf "$ROOT"
  "${SUDO[@]}" mv "$ROOT.tmp" "$ROOT"
  say "$ROOT ready in $((SECONDS - t0)) s"
}

run_in_root() { # ROOT CMD...
  local ROOT=$1
  shift
  [ -x "$ROOT/usr/bin/env" ] || { say "FAIL: no root at $ROOT (scripts/oldroot.sh make)"; exit 1; }
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
    for b in ${ORCJIT_OLDROOT_BIND:-}; do
      mkdir -p "$R${b#*:}"
      mount --bind "${b%%:*}" "$R${b#*:}"
    done
    exec chroot "$R" /usr/bin/env -i HOME=/root LANG=C.UTF-8 TERM=dumb \
      PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin "$@"'
  "${SUDO[@]}" env ORCJIT_OLDROOT_BIND="${ORCJIT_OLDROOT_BIND:-}" \
    unshare -m sh -c "$inner" oldroot "$ROOT" "$@"
}

case "${1:-}" in
  make) make_root ;;
  run)
    shift
    [ $# -gt 0 ] || { say "run: no command"; exit 2; }
    [ -f "$MARK" ] || { say "FAIL: no root at $ROOT (scripts/oldroot.sh make)"; exit 1; }
    run_in_root "$ROOT" "$@" ;;
  root) echo "$ROOT" ;;
  *) echo "usage: $0 make | run CMD... | root" >&2; exit 2 ;;
esac
