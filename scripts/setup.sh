#!/bin/bash
# Install every Debian package kvm-bt needs to build QEMU, the guests and run the tests.
# Idempotent: packages already present are not reinstalled; apt-get update runs at most once
# per invocation, and only when something is missing.
set -euo pipefail

PKGS_BUILD="build-essential ccache git dpkg-dev python3 python3-venv meson ninja-build pkg-config
 libglib2.0-dev libfdt-dev libpixman-1-dev zlib1g-dev libslirp-dev flex bison"
PKGS_GUEST="gcc-powerpc-linux-gnu binutils-powerpc-linux-gnu libc6-dev-powerpc-cross
 linux-source-6.1 bc libssl-dev libelf-dev cpio xz-utils device-tree-compiler"
# qemu-system-data: openbios-ppc and vof.bin for the ppc boards QEMU's own qtests start
PKGS_TEST="seabios ipxe-qemu u-boot-qemu qemu-system-data gnuplot-nox"
# The cross-built QEMU (scripts/build-cross-qemu.sh) also uses the powerpc toolchain and
# linux-source-6.1 above; qemu-user-static runs the result in tests (qemu-ppc-static).
PKGS_CROSS="qemu-user-static file"

log() { echo "setup: $*"; }
die() { echo "setup: error: $*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || SUDO=sudo
SUDO=${SUDO:-}
export DEBIAN_FRONTEND=noninteractive

# deb-src entries are needed for 'apt-get source qemu'; mirror the configured deb suites.
ensure_deb_src() {
    local f=/etc/apt/sources.list.d/kvm-bt-src.sources
    if grep -rqsE '^(deb-src|Types:.*deb-src)' /etc/apt/sources.list /etc/apt/sources.list.d/ ; then
        return 1
    fi
    log "adding deb-src entries for the configured Debian suites ($f)"
    local tmp
    tmp=$(mktemp)
    if [ -f /etc/apt/sources.list.d/debian.sources ]; then
        sed -e 's/^Types: deb$/Types: deb-src/' /etc/apt/sources.list.d/debian.sources > "$tmp"
    elif [ -f /etc/apt/sources.list ]; then
        grep -E '^deb ' /etc/apt/sources.list | sed -e 's/^deb /deb-src /' > "$tmp"
        f=/etc/apt/sources.list.d/kvm-bt-src.list
    else
        rm -f "$tmp"; die "no Debian apt sources found to derive deb-src entries from"
    fi
    $SUDO install -m 644 "$tmp" "$f"
    rm -f "$tmp"
    return 0
}

missing=()
for p in $PKGS_BUILD $PKGS_GUEST $PKGS_TEST $PKGS_CROSS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

need_update=0
ensure_deb_src && need_update=1
# apt-get source also needs the source index to exist
ls /var/lib/apt/lists/*_source_Sources* >/dev/null 2>&1 || need_update=1
[ ${#missing[@]} -gt 0 ] && need_update=1

if [ $need_update = 1 ]; then
    log "apt-get update"
    # A dead route to the archive must fail fast, not hang.
    $SUDO apt-get -o Acquire::Retries=2 -o Acquire::http::Timeout=30 -q update \
        || die "apt-get update failed: is the Debian archive reachable?"
fi

if [ ${#missing[@]} -gt 0 ]; then
    log "installing: ${missing[*]}"
    if ! $SUDO apt-get -o Acquire::Retries=2 -o Acquire::http::Timeout=30 -y -q \
            install --no-install-recommends "${missing[@]}"; then
        # Name the package that fails by retrying one at a time.
        for p in "${missing[@]}"; do
            $SUDO apt-get -y -q install --no-install-recommends "$p" >/dev/null 2>&1 \
                || die "could not install Debian package '$p'"
        done
    fi
fi
log "all packages present"
