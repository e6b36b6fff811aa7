#!/bin/bash
# Build QEMU's ppc qtests (tests/qtest, our kvm-bt-test among them) next to
# qemu-system-ppc, and give the build-tree binary the firmware Debian packages
# for the boards those tests start. The test list is meson's own (suite
# qtest-ppc), so what runs is what "make check-qtest-ppc" would run.
set -euo pipefail
LOG_TAG=qtests
. "$(dirname "$0")/common.sh"

[ -f "$QEMU_BUILD/build.ninja" ] || "$KVM_BT_TOP/scripts/build-qemu.sh"
export PATH=/usr/bin:$PATH
targets=$(cd "$QEMU_BUILD" && meson introspect --tests | python3 -c '
import json, os, sys
for t in json.load(sys.stdin):
    if "qemu:qtest-ppc" in t["suite"]:
        print(os.path.relpath(t["cmd"][0]))
')
[ -n "$targets" ] || die "meson lists no qtest-ppc tests in $QEMU_BUILD"
KVM_BT_QEMU_TARGETS="qemu-system-ppc $(echo $targets)" "$KVM_BT_TOP/scripts/build-qemu.sh"

# A build-tree QEMU searches qemu-bundle/.../qemu-firmware first (-L help
# lists it); Debian installs the same blobs under these names.
fw=$QEMU_BUILD/qemu-bundle/usr/local/share/qemu-firmware
mkdir -p "$fw"
link() { [ -e "$1" ] || die "$1 missing (scripts/setup.sh installs it)"; ln -sfn "$1" "$fw/$2"; }
link /usr/share/qemu/openbios-ppc openbios-ppc          # qemu-system-data
link /usr/share/qemu/vof.bin vof.bin                    # qemu-system-data
link /usr/lib/u-boot/qemu-ppce500/uboot.elf u-boot.e500 # u-boot-qemu
for f in /usr/share/seabios/vgabios*.bin /usr/lib/ipxe/qemu/*.rom; do
    link "$f" "$(basename "$f")"                        # seabios, ipxe-qemu
done
log "qtests ready: $(echo $targets | wc -w) binaries"
