#!/bin/bash
# Build qemu-system-ppc: QEMU 7.2 from Debian's source package, staged with our
# tree overlaid and patches/qemu-7.2/*.patch applied, configured minimal, built
# with ccache. Re-running only copies files whose content changed, so ninja
# rebuilds just what an edit touched. Fetching and staging are in
# qemu-stage.sh, shared with build-cross-qemu.sh.
set -euo pipefail
LOG_TAG=qemu
. "$(dirname "$0")/common.sh"
. "$(dirname "$0")/qemu-stage.sh"

CONFIGURE_ARGS=(
    --target-list=ppc-softmmu --without-default-features
    --enable-system --enable-tcg --enable-fdt=system --enable-plugins --enable-slirp
    --disable-docs --disable-tools --disable-guest-agent --disable-user
    --disable-werror
    --meson=/usr/bin/meson
)

# KVM_BT_SANITIZE=1 (make qemu-asan): the same stage built with
# AddressSanitizer and UndefinedBehaviorSanitizer, in a build of its own.
if [ "${KVM_BT_SANITIZE:-}" = 1 ]; then
    LOG_TAG=qemu-asan
    QEMU_BUILD=$KVM_BT_CACHE/qemu-asan/build
    QEMU_BIN=$QEMU_BUILD/qemu-system-ppc
    CONFIGURE_ARGS+=(--enable-sanitizers)
fi

take_lock "$KVM_BT_CACHE/qemu/.lock"
# Debian's meson runs on Debian's python: a pyenv python earlier in PATH must not shadow it.
export PATH=/usr/bin:$PATH
use_ccache

configure_build() {
    local key
    key="$(cat "$QEMU_STAGE/.kvm-bt-stamp") ${CONFIGURE_ARGS[*]}"
    if stamp_ok "$QEMU_BUILD" "$key" && [ -f "$QEMU_BUILD/build.ninja" ]; then
        return
    fi
    log "configuring QEMU (ppc-softmmu, minimal)"
    rm -rf "$QEMU_BUILD" && mkdir -p "$QEMU_BUILD"
    (cd "$QEMU_BUILD" && "$QEMU_STAGE/configure" "${CONFIGURE_ARGS[@]}" > configure.log 2>&1) \
        || { tail -30 "$QEMU_BUILD/configure.log" >&2; die "QEMU configure failed (log: $QEMU_BUILD/configure.log)"; }
    stamp_write "$QEMU_BUILD" "$key"
}

fetch_source
ensure_stage
sync_overlay
configure_build
log "building qemu-system-ppc (ninja -j$KVM_BT_JOBS)"
start=$(date +%s)
run_ninja "$QEMU_BUILD" ${KVM_BT_QEMU_TARGETS:-qemu-system-ppc}
log "built $QEMU_BIN in $(( $(date +%s) - start ))s"
