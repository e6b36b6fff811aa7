#!/bin/bash
# Build the pieces of the nested KVM rig into $KVM_BT_CACHE/nested (the host
# kernel, guests and cross-built QEMU come from build-guests.sh and
# build-cross-qemu.sh):
#   runner            static powerpc /init of the KVM host (guests/kvm-host/runner.c)
#   phase-insns.so    TCG plugin for the outer QEMU: instructions per phase (tools/)
#   gen_init_cpio     Linux's initramfs packer, built for this machine
#   vmlinux-*         the e500v2 guests, stripped, as the inner QEMU loads them
#   exitcost.elf      bare-metal exit-cost microbenchmark (tests/conformance), for e500v2
#   kvmbt.elf         bare-metal payload for kvm,bt=on (tests/conformance/kvmbt.c), e500v2
# Each output is keyed by a hash of what it is made from.
set -euo pipefail
LOG_TAG=nested
. "$(dirname "$0")/common.sh"

NESTED=$KVM_BT_CACHE/nested
GUESTS=$KVM_BT_CACHE/guests
CROSS=powerpc-linux-gnu-

take_lock "$KVM_BT_CACHE/nested.lock"
mkdir -p "$NESTED"

# up_to_date OUT KEY: OUT exists and was made from KEY
up_to_date() { [ -e "$1" ] && [ "$(cat "$1.key" 2>/dev/null)" = "$2" ]; }
finish() { mv "$1.tmp" "$1"; echo "$2" > "$1.key"; }

build_runner() {
    local src=$KVM_BT_TOP/guests/kvm-host/runner.c out=$NESTED/runner key
    key=$(hash_files "$src")
    up_to_date "$out" "$key" && return
    log "building the KVM host's runner"
    # -mcpu=8548: e500v2 has no lwsync and no classic FPU
    ${CROSS}gcc -static -O2 -mcpu=8548 -Wall -Wextra -Werror -o "$out.tmp" "$src"
    ${CROSS}strip "$out.tmp"
    finish "$out" "$key"
}

build_plugin() {
    local src=$KVM_BT_TOP/tools/phase-insns.c out=$NESTED/phase-insns.so key
    local inc=$QEMU_SRC/include/qemu
    [ -f "$inc/qemu-plugin.h" ] || die "$inc/qemu-plugin.h missing: run 'make qemu' first"
    key=$(hash_files "$src" "$inc/qemu-plugin.h")
    up_to_date "$out" "$key" && return
    log "building the phase-insns plugin"
    # shellcheck disable=SC2046
    gcc -O2 -shared -fPIC -Wall -Wextra -Wno-unused-parameter -Werror -I"$inc" $(pkg-config --cflags glib-2.0) \
        -o "$out.tmp" "$src"
    finish "$out" "$key"
}

build_gen_init_cpio() {
    local out=$NESTED/gen_init_cpio src=$KVM_BT_CACHE/linux/src/usr/gen_init_cpio.c key
    [ -f "$src" ] || die "$src missing: run 'make guests' first"
    key=$(hash_files "$src")
    up_to_date "$out" "$key" && return
    gcc -O2 -o "$out.tmp" "$src"
    finish "$out" "$key"
}

strip_guest() {
    local name=$1 in=$GUESTS/vmlinux-$1 out=$NESTED/vmlinux-$1 key
    [ -f "$in" ] || die "$in missing: run 'make guests'"
    key=$(cat "$in.key")
    up_to_date "$out" "$key" && return
    ${CROSS}strip -o "$out.tmp" "$in"
    finish "$out" "$key"
}

# A payload of tests/conformance built on the conformance runtime for e500v2
# (no e500mc-only instructions), as build-guests.sh builds the others.
build_e500v2_payload() {
    local name=$1 dir=$KVM_BT_TOP/tests/conformance out=$NESTED/$1.elf key
    local srcs=("$dir/start.S" "$dir/baremetal.c" "$dir/$1.c")
    key=$(hash_files "${srcs[@]}" "$dir/baremetal.h" "$dir/conformance.ld")
    up_to_date "$out" "$key" && return
    log "building the $name payload"
    local flags=(-mcpu=8548 -m32 -mbig-endian -msoft-float -ffreestanding -fno-builtin
                 -fno-stack-protector -nostdlib -fno-pic -mno-sdata -G0 -O2 -Wall -Wextra -Werror
                 -static -Wl,-T,"$dir/conformance.ld" -Wl,--build-id=none
                 -Wl,--no-warn-rwx-segments -Wl,-z,noexecstack)
    ${CROSS}gcc "${flags[@]}" -o "$out.tmp" "${srcs[@]}" -lgcc
    finish "$out" "$key"
}

build_runner
build_e500v2_payload exitcost    # host instructions per exit
build_e500v2_payload kvmbt       # kvm,bt=on: the guest's own code and mappings win
build_plugin
build_gen_init_cpio
strip_guest e500v2-stock
strip_guest e500v2-pv
for f in "$GUESTS/vmlinux-kvm-host" "$KVM_BT_CACHE/cross/qemu-system-ppc"; do
    [ -f "$f" ] || die "$f missing: run 'make guests cross-qemu'"
done
log "nested rig pieces in $NESTED"
