# Shared helpers for kvm-bt's build scripts (sourced, not run).
#
# KVM_BT_CACHE: where everything fetched or built lives (never in the clone).
KVM_BT_CACHE=${KVM_BT_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kvm-bt}
KVM_BT_JOBS=${KVM_BT_JOBS:-$(nproc)}
KVM_BT_TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export KVM_BT_CACHE KVM_BT_TOP

QEMU_DEB_VERSION_PREFIX="1:7.2+dfsg"
QEMU_SRC=$KVM_BT_CACHE/qemu/pristine
QEMU_STAGE=$KVM_BT_CACHE/qemu/stage
QEMU_BUILD=$KVM_BT_CACHE/qemu/build
QEMU_BIN=$QEMU_BUILD/qemu-system-ppc

log()  { echo "[$(date +%H:%M:%S)] ${LOG_TAG:-kvm-bt}: $*"; }
die()  { echo "${LOG_TAG:-kvm-bt}: error: $*" >&2; exit 1; }

# Run the rest of the calling script holding an exclusive lock on $1, so two
# concurrent runs sharing one cache cannot interleave writes to it.
take_lock() {
    local lock=$1
    mkdir -p "$(dirname "$lock")"
    exec {KVM_BT_LOCK_FD}>"$lock"
    if ! flock -n "$KVM_BT_LOCK_FD"; then
        log "waiting for another run holding $lock"
        flock "$KVM_BT_LOCK_FD"
    fi
}

# A stamp file is written last: a directory without its stamp is incomplete
# (interrupted or corrupt) and is rebuilt from scratch.
stamp_ok()    { [ -f "$1/.kvm-bt-stamp" ] && [ "$(cat "$1/.kvm-bt-stamp")" = "$2" ]; }
stamp_write() { echo "$2" > "$1/.kvm-bt-stamp.tmp" && mv "$1/.kvm-bt-stamp.tmp" "$1/.kvm-bt-stamp"; }

# Content hash of files (names relative to the clone, and bytes), for cache
# keys that stay valid across clones in different folders.
hash_files() { (for f in "$@"; do echo "== ${f#"$KVM_BT_TOP"/}"; cat "$f"; done) | sha256sum | cut -c1-16; }

# Use ccache through Debian's compiler symlinks, with the cache under ours.
use_ccache() {
    if [ -d /usr/lib/ccache ]; then
        export PATH=/usr/lib/ccache:$PATH
        export CCACHE_DIR=${CCACHE_DIR:-$KVM_BT_CACHE/ccache}
        export CCACHE_MAXSIZE=${CCACHE_MAXSIZE:-5G}
        # Clones live in different folders; hash relative paths so they share hits.
        export CCACHE_BASEDIR=${CCACHE_BASEDIR:-$KVM_BT_CACHE}
    fi
}
