#!/bin/bash
# Build the guest images into $KVM_BT_CACHE/guests:
#   workload         static PowerPC workload program (the initramfs' /init)
#   vmlinux-stock    Linux 6.1, corenet32_smp_defconfig + guests/linux/kvm-bt.config (e500mc)
#   vmlinux-pv       the same plus guests/linux/pv.config (CONFIG_KVM_GUEST=y)
#   vmlinux-e500v2-stock  mpc85xx_smp_defconfig + kvm-bt.config + e500v2.config (e500v2)
#   vmlinux-e500v2-pv     the same plus pv.config
#   vmlinux-kvm-host      e500v2 + kvm-host.config: a Linux KVM e500v2 host (no initramfs)
#   conformance.elf, pv.elf, smc.elf, hostile.elf   bare-metal test payloads (tests/conformance)
# Each output is keyed by a hash of everything it is made from; a key that
# matches skips the build, anything else rebuilds incrementally.
set -euo pipefail
LOG_TAG=guests
. "$(dirname "$0")/common.sh"

GUESTS=$KVM_BT_CACHE/guests
LINUX=$KVM_BT_CACHE/linux
LINUX_SRC=$LINUX/src
LINUX_TARBALL=/usr/src/linux-source-6.1.tar.xz
CROSS=powerpc-linux-gnu-
# Reproducible kernels: Linux mixes its version string (build number, time,
# user, host) into its random pool at boot, so a rebuilt kernel would
# otherwise make different exit counts even under -icount -seed.
KBUILD_ID=(KBUILD_BUILD_TIMESTAMP="Thu Jan  1 00:00:00 UTC 1970" KBUILD_BUILD_VERSION=1
           KBUILD_BUILD_USER=kvm-bt KBUILD_BUILD_HOST=kvm-bt)
KMAKE=(env "${KBUILD_ID[@]}" make -s ARCH=powerpc CROSS_COMPILE=$CROSS -j"$KVM_BT_JOBS")

take_lock "$KVM_BT_CACHE/guests.lock"
use_ccache
mkdir -p "$GUESTS"

command -v ${CROSS}gcc >/dev/null || die "${CROSS}gcc not found: run scripts/setup.sh"
[ -f "$LINUX_TARBALL" ] || die "$LINUX_TARBALL not found: run scripts/setup.sh (package linux-source-6.1)"
LINUX_VERSION=$(dpkg-query -W -f='${Version}' linux-source-6.1)
# Our fixes to Linux (KVM e500v2), applied at unpack time: the source's
# stamp names the version and the patch set.
LINUX_PATCHES=("$KVM_BT_TOP"/patches/linux-6.1/*.patch)
[ -f "${LINUX_PATCHES[0]}" ] || die "no patches in $KVM_BT_TOP/patches/linux-6.1"
LINUX_PATCHES_KEY=$(hash_files "${LINUX_PATCHES[@]}")
LINUX_SRC_KEY="$LINUX_VERSION patches=$LINUX_PATCHES_KEY"

build_workload() {
    local src=$KVM_BT_TOP/guests/workload/workload.c
    local key out=$GUESTS/workload
    key=$(hash_files "$src")
    if [ -x "$out" ] && [ "$(cat "$out.key" 2>/dev/null)" = "$key" ]; then
        return
    fi
    log "building workload"
    ${CROSS}gcc -static -O2 -Wall -Wextra -Werror -o "$out.tmp" "$src"
    mv "$out.tmp" "$out"
    echo "$key" > "$out.key"
    cat > "$GUESTS/initramfs.list.tmp" <<EOL
dir /dev 0755 0 0
nod /dev/console 0600 0 0 c 5 1
dir /proc 0555 0 0
file /init $out 0755 0 0
EOL
    mv "$GUESTS/initramfs.list.tmp" "$GUESTS/initramfs.list"
}

# Bare-metal test payloads (tests/conformance): start.S + one C file each,
# small, rebuilt when any of their sources changes.
#   conformance.elf  payload.c: privileged instructions and interrupts
#   pv.elf           pv.c: the paravirtual interface (hypercalls, magic page)
#   smc.elf          smc.c: self-modifying code over translated sites (bt=on)
#   hostile.elf      hostile.c: a guest going where the monitor's pages and TC are
build_payload() {
    local name=$1 csrc=$2
    local dir=$KVM_BT_TOP/tests/conformance out=$GUESTS/$1.elf key
    key=$(hash_files "$dir/start.S" "$dir/baremetal.c" "$dir/baremetal.h" "$dir/$csrc" \
                     "$dir/conformance.ld")
    if [ -f "$out" ] && [ "$(cat "$out.key" 2>/dev/null)" = "$key" ]; then
        return
    fi
    log "building $name payload"
    local flags=(-mcpu=e500mc -m32 -mbig-endian -msoft-float -ffreestanding -fno-builtin
                 -fno-stack-protector -nostdlib -fno-pic -mno-sdata -G0 -O2 -Wall -Wextra -Werror)
    local tmp
    tmp=$(mktemp -d)
    ${CROSS}gcc "${flags[@]}" -c "$dir/start.S" -o "$tmp/start.o"
    ${CROSS}gcc "${flags[@]}" -c "$dir/baremetal.c" -o "$tmp/baremetal.o"
    ${CROSS}gcc "${flags[@]}" -c "$dir/$csrc" -o "$tmp/payload.o"
    ${CROSS}gcc "${flags[@]}" -static -Wl,-T,"$dir/conformance.ld" -Wl,--build-id=none \
        -Wl,--no-warn-rwx-segments -Wl,-z,noexecstack -o "$out.tmp" "$tmp/start.o" \
        "$tmp/baremetal.o" "$tmp/payload.o" -lgcc
    rm -rf "$tmp"
    mv "$out.tmp" "$out"
    echo "$key" > "$out.key"
}

build_payloads() {
    build_payload conformance payload.c
    build_payload pv pv.c
    build_payload smc smc.c
    build_payload hostile hostile.c
}

# Files a patch changes (its +++ lines), relative to the source's top.
patched_files() { sed -n 's|^+++ b/\([^[:space:]]*\).*|\1|p' "$@" | sort -u; }

# The source tree: linux-source-6.1 with patches/linux-6.1/*.patch applied.
# A new Linux version removes the kernels' build folders; a changed patch
# set keeps them and gives every file the old or the new patches change (and
# those the PV fixes edit) a new time, so make rebuilds just what they touch.
unpack_linux() {
    if stamp_ok "$LINUX_SRC" "$LINUX_SRC_KEY"; then
        return
    fi
    local old touch=() f p
    old=$(cat "$LINUX_SRC/.kvm-bt-stamp" 2>/dev/null || true)
    if [ -n "$old" ] && [ "${old%% *}" = "$LINUX_VERSION" ]; then
        log "unpacking linux-source-6.1 $LINUX_VERSION (patch set changed: build folders kept)"
        [ ! -f "$LINUX_SRC/.kvm-bt-patched" ] || mapfile -t touch < "$LINUX_SRC/.kvm-bt-patched"
        rm -rf "$LINUX_SRC" "$LINUX/unpack.tmp"
    else
        log "unpacking linux-source-6.1 $LINUX_VERSION"
        rm -rf "$LINUX_SRC" "$LINUX/unpack.tmp" "$LINUX"/build-*
    fi
    mkdir -p "$LINUX/unpack.tmp"
    tar -C "$LINUX/unpack.tmp" -xJf "$LINUX_TARBALL"
    local src=$LINUX/unpack.tmp/linux-source-6.1
    for p in "${LINUX_PATCHES[@]}"; do
        log "applying ${p#"$KVM_BT_TOP"/}"
        patch -d "$src" -p1 -s -N --batch --no-backup-if-mismatch -r - < "$p" > "$LINUX/patch.log" 2>&1 \
            || { cat "$LINUX/patch.log" >&2
                 die "${p#"$KVM_BT_TOP"/} does not apply to linux-source-6.1 $LINUX_VERSION"; }
    done
    rm -f "$LINUX/patch.log"
    patched_files "${LINUX_PATCHES[@]}" > "$src/.kvm-bt-patched"
    mapfile -t -O ${#touch[@]} touch < <(cat "$src/.kvm-bt-patched"
        sed -n '1s/^# file: //p' "$KVM_BT_TOP"/guests/linux/*.pl)
    for f in "${touch[@]}"; do
        [ ! -f "$src/$f" ] || touch "$src/$f"
    done
    mv "$src" "$LINUX_SRC"
    rm -rf "$LINUX/unpack.tmp"
    stamp_write "$LINUX_SRC" "$LINUX_SRC_KEY"
}

# build_kernel NAME DEFCONFIG FRAGMENT... : vmlinux-NAME from Linux's DEFCONFIG
# target and the listed config fragments merged over it;
# KVM_GUEST_FIXES: perl scripts applied first, each to the source file its first line names
# SEED_FROM: a kernel whose build folder a first build of this one starts from
build_kernel() {
    local name=$1 defconfig=$2; shift 2
    local frags=("$@")
    local out=$GUESTS/vmlinux-$name bdir=$LINUX/build-$name key merged_opts
    # Later fragments override earlier ones, option by option.
    merged_opts=$(cat "${frags[@]}" \
        | awk '/^(# )?CONFIG_/ { match($0, /CONFIG_[A-Za-z0-9_]+/); k = substr($0, RSTART, RLENGTH);
                                  if (!(k in v)) order[++n] = k; v[k] = $0 }
               END { for (i = 1; i <= n; i++) print v[order[i]] }')
    # The key: what the kernel is made from. The workload counts when it is
    # built in; kernels from another defconfig than the e500mc pair's name it,
    # the Linux patch set and the build identity (the e500mc keys predate them).
    local made_of=("${frags[@]}")
    ! grep -q '@INITRAMFS_LIST@' <<< "$merged_opts" || made_of+=("$GUESTS/workload")
    key="$LINUX_VERSION $(hash_files "${made_of[@]}" ${KVM_GUEST_FIXES:-})"
    [ "$defconfig" = corenet32_smp_defconfig ] ||
        key+=" $defconfig patches=$LINUX_PATCHES_KEY kbuild=$(echo "${KBUILD_ID[*]}" | sha256sum | cut -c1-8)"
    if [ -f "$out" ] && [ "$(cat "$out.key" 2>/dev/null)" = "$key" ]; then
        log "vmlinux-$name up to date"
        return
    fi
    # A PV build differs from stock in a handful of options: start from the
    # stock objects so only what depends on them is rebuilt.
    if [ ! -f "$bdir/.config" ] && [ -n "${SEED_FROM:-}" ] && [ -f "$LINUX/build-$SEED_FROM/vmlinux" ]; then
        log "seeding build-$name from build-$SEED_FROM"
        rm -rf "$bdir.tmp" && cp -a "$LINUX/build-$SEED_FROM" "$bdir.tmp" && mv "$bdir.tmp" "$bdir"
    fi
    mkdir -p "$bdir"
    local fix
    for fix in ${KVM_GUEST_FIXES:-}; do
        perl -0pi "$fix" "$LINUX_SRC/$(sed -n '1s/^# file: //p' "$fix")"
    done
    local merged=$bdir/kvm-bt.fragment
    sed "s|@INITRAMFS_LIST@|$GUESTS/initramfs.list|" <<< "$merged_opts" > "$merged.tmp"
    mv "$merged.tmp" "$merged"
    log "configuring vmlinux-$name ($defconfig + ${frags[*]##*/})"
    "${KMAKE[@]}" -C "$LINUX_SRC" O="$bdir" "$defconfig" > "$bdir/config.log" 2>&1
    (cd "$bdir" && KCONFIG_CONFIG=.config "$LINUX_SRC/scripts/kconfig/merge_config.sh" \
        -m -O "$bdir" .config "$merged" >> config.log 2>&1)
    "${KMAKE[@]}" -C "$LINUX_SRC" O="$bdir" olddefconfig >> "$bdir/config.log" 2>&1
    # Every option the fragments ask for must have taken.
    local line opt bad=()
    while IFS= read -r line; do
        case "$line" in
            "# CONFIG_"*" is not set") opt=${line#\# }; opt=${opt%% *}
                ! grep -q "^$opt=" "$bdir/.config" || bad+=("$opt is still set") ;;
            CONFIG_*=*) grep -qxF "$line" "$bdir/.config" || bad+=("'$line' did not take") ;;
        esac
    done < "$merged"
    [ ${#bad[@]} = 0 ] || die "vmlinux-$name configuration: ${bad[*]} (a dependency overrides the fragment; see $bdir/config.log)"
    log "building vmlinux-$name (make -j$KVM_BT_JOBS; a cold build takes ~8 min on 2 cores)"
    local start=$(date +%s)
    if ! "${KMAKE[@]}" -C "$LINUX_SRC" O="$bdir" vmlinux > "$bdir/build.log" 2>&1; then
        grep -E 'error|Error' "$bdir/build.log" | head -20 >&2
        die "kernel build failed (log: $bdir/build.log)"
    fi
    cp "$bdir/vmlinux" "$out.tmp" && mv "$out.tmp" "$out"
    cp "$bdir/System.map" "$out.map"
    echo "$key" > "$out.key"
    log "vmlinux-$name built in $(( $(date +%s) - start ))s"
}

# KVM e500v2 copies one exit handler per interrupt to the host's IVOR offsets
# (kvmppc_booke_init(), kvmppc_e500_init()); check in the host's System.map
# that no copy reaches another vector (patches/linux-6.1/0003-*).
check_kvm_vectors() {
    local map=$1 bad
    bad=$(awk '
        function hex(s,   i, v) { v = 0; for (i = 1; i <= length(s); i++) v = v * 16 + index("0123456789abcdef", substr(s, i, 1)) - 1; return v }
        BEGIN { n = split("CriticalInput MachineCheck DataStorage InstructionStorage ExternalInput " \
                          "Alignment Program FloatingPointUnavailable SystemCall " \
                          "AuxillaryProcessorUnavailable Decrementer FixedIntervalTimer WatchdogTimer " \
                          "DataTLBError InstructionTLBError DebugCrit SPEUnavailable " \
                          "SPEFloatingPointData SPEFloatingPointRound", label, " ")
                split("0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 32 33 34", ivor, " ") }
        { addr[$3] = hex(tolower($1)) }
        END {
            for (i = 1; i <= n; i++) {
                h = "kvmppc_handler_" ivor[i]; nh = (i < n) ? "kvmppc_handler_" ivor[i + 1] : "kvmppc_handlers_end"
                if (!(label[i] in addr) || !(h in addr) || !(nh in addr)) { print "no symbol for IVOR" ivor[i]; continue }
                off[i] = addr[label[i]] % 65536; len[i] = addr[nh] - addr[h]
            }
            for (i = 1; i <= n; i++) for (j = 1; j <= n; j++)
                if (i != j && (i in off) && (j in off) && off[j] >= off[i] && off[j] < off[i] + len[i])
                    printf "IVOR%d handler (0x%x bytes at 0x%x) reaches IVOR%d (0x%x)\n", ivor[i], len[i], off[i], ivor[j], off[j]
        }' "$map")
    [ -z "$bad" ] || die "vmlinux-kvm-host: KVM exit handlers overlap host vectors: $bad"
}

build_workload
build_payloads
unpack_linux
L=$KVM_BT_TOP/guests/linux
PV_FIXES="$L/pv-magic-page-selftest.pl $L/pv-template-space.pl"
# e500mc (-cpu e500mc)
build_kernel stock corenet32_smp_defconfig "$L/kvm-bt.config"
KVM_GUEST_FIXES=$PV_FIXES SEED_FROM=stock \
    build_kernel pv corenet32_smp_defconfig "$L/kvm-bt.config" "$L/pv.config"
# e500v2 (-cpu e500v2): guests, and a KVM host seeded from the stock guest's objects
build_kernel e500v2-stock mpc85xx_smp_defconfig "$L/kvm-bt.config" "$L/e500v2.config"
KVM_GUEST_FIXES=$PV_FIXES SEED_FROM=e500v2-stock \
    build_kernel e500v2-pv mpc85xx_smp_defconfig "$L/kvm-bt.config" "$L/e500v2.config" "$L/pv.config"
SEED_FROM=e500v2-stock \
    build_kernel kvm-host mpc85xx_smp_defconfig "$L/kvm-bt.config" "$L/e500v2.config" "$L/kvm-host.config"
check_kvm_vectors "$GUESTS/vmlinux-kvm-host.map"
log "guest images in $GUESTS"
