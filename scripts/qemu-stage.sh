# The QEMU tree both builds compile (sourced by build-qemu.sh and
# build-cross-qemu.sh after common.sh, with $KVM_BT_CACHE/qemu/.lock held):
# Debian's source package in $QEMU_SRC, and the stage $QEMU_STAGE = pristine +
# our tree overlaid + patches/qemu-7.2/*.patch. Also the ninja step with its
# check that our own files compile without warnings.

OVERLAY_DIRS="accel/kvm-bt hw/ppc target/ppc tests/qtest docs qapi"

fetch_source() {
    if [ -f "$QEMU_SRC/.kvm-bt-stamp" ]; then
        return
    fi
    local tmp=$KVM_BT_CACHE/qemu/fetch.tmp
    rm -rf "$tmp" "$QEMU_SRC" && mkdir -p "$tmp"
    log "fetching Debian source package qemu ($QEMU_DEB_VERSION_PREFIX-*) with apt-get source"
    local ver
    ver=$(apt-cache showsrc qemu 2>/dev/null | sed -n 's/^Version: //p' \
          | grep -F "$QEMU_DEB_VERSION_PREFIX-" | sort -V | tail -1)
    [ -n "$ver" ] || die "no source package qemu $QEMU_DEB_VERSION_PREFIX in apt's lists; run scripts/setup.sh (it adds deb-src entries)"
    (cd "$tmp" && apt-get -q -o Acquire::Retries=2 -o Acquire::http::Timeout=30 \
        source "qemu=$ver" > apt-source.log 2>&1) \
        || { tail -20 "$tmp/apt-source.log" >&2; die "apt-get source qemu=$ver failed (see above)"; }
    local dir
    dir=$(find "$tmp" -mindepth 1 -maxdepth 1 -type d -name 'qemu-7.2*' | head -1)
    [ -n "$dir" ] && [ -f "$dir/VERSION" ] || die "apt-get source produced no QEMU tree"
    grep -q '^7\.2\.' "$dir/VERSION" || die "unexpected QEMU version $(cat "$dir/VERSION")"
    mv "$dir" "$QEMU_SRC"
    rm -rf "$tmp"
    stamp_write "$QEMU_SRC" "$ver"
    log "QEMU source $ver in $QEMU_SRC"
}

# The stage is a full copy of the pristine tree; we then only ever touch the
# files our overlay and patches produce (listed in the stage's manifest).
ensure_stage() {
    local want
    want="src=$(cat "$QEMU_SRC/.kvm-bt-stamp")"
    if ! stamp_ok "$QEMU_STAGE" "$want"; then
        log "creating staging tree"
        rm -rf "$QEMU_STAGE" "$QEMU_STAGE.tmp" "$QEMU_BUILD"
        cp -a "$QEMU_SRC" "$QEMU_STAGE.tmp"
        rm -f "$QEMU_STAGE.tmp/.kvm-bt-stamp"
        mv "$QEMU_STAGE.tmp" "$QEMU_STAGE"
        stamp_write "$QEMU_STAGE" "$want"
    fi
}

# Build the set of files that differ from pristine in a scratch folder, then
# copy into the stage only those whose bytes changed.
sync_overlay() {
    local view
    view=$(mktemp -d)
    trap 'rm -rf "$view"' RETURN

    local p f
    for p in "$KVM_BT_TOP"/patches/qemu-7.2/*.patch; do
        [ -e "$p" ] || continue
        for f in $(sed -n 's|^+++ b/\([^[:space:]]*\).*|\1|p' "$p"); do
            if [ ! -e "$view/$f" ] && [ -e "$QEMU_SRC/$f" ]; then
                mkdir -p "$view/$(dirname "$f")"
                cp "$QEMU_SRC/$f" "$view/$f"
            fi
        done
        patch -d "$view" -p1 -s -f --no-backup-if-mismatch < "$p" \
            || die "patch $(basename "$p") does not apply to QEMU $(cat "$QEMU_SRC/.kvm-bt-stamp")"
    done

    local d
    for d in $OVERLAY_DIRS; do
        [ -d "$KVM_BT_TOP/$d" ] || continue
        while IFS= read -r f; do
            if [ -e "$QEMU_SRC/$f" ]; then
                die "overlay file $f would replace an upstream file: change it with a patch instead"
            fi
            mkdir -p "$view/$(dirname "$f")"
            cp "$KVM_BT_TOP/$f" "$view/$f"
        done < <(cd "$KVM_BT_TOP" && find "$d" -type f ! -name '*~' ! -name '.*' | sort)
    done

    local manifest=$QEMU_STAGE/.kvm-bt-manifest
    local new old changed=0
    new=$(cd "$view" && find . -type f | sed 's|^\./||' | sort)
    old=$(cat "$manifest" 2>/dev/null || true)
    # Files we produced last time but no longer do: back to pristine.
    while IFS= read -r f; do
        [ -n "$f" ] || continue
        if [ -e "$QEMU_SRC/$f" ]; then
            cmp -s "$QEMU_SRC/$f" "$QEMU_STAGE/$f" || { cp "$QEMU_SRC/$f" "$QEMU_STAGE/$f"; changed=$((changed+1)); }
        else
            rm -f "$QEMU_STAGE/$f"; changed=$((changed+1))
        fi
    done < <(comm -23 <(echo "$old") <(echo "$new"))
    while IFS= read -r f; do
        [ -n "$f" ] || continue
        if ! cmp -s "$view/$f" "$QEMU_STAGE/$f"; then
            mkdir -p "$QEMU_STAGE/$(dirname "$f")"
            cp "$view/$f" "$QEMU_STAGE/$f"
            changed=$((changed+1))
        fi
    done <<< "$new"
    echo "$new" > "$manifest"
    log "overlay: $(echo "$new" | grep -c . || true) files, $changed updated"
}

# run_ninja BUILD_DIR TARGET...: build with progress lines (the full output
# goes to BUILD_DIR/ninja-last.log); die on failure or on a compiler warning
# in our own files, sources or headers (QEMU builds without -Werror;
# accel/kvm-bt must be clean on every host).
run_ninja() {
    local build=$1; shift
    local ninja_log=$build/ninja-last.log
    ninja -C "$build" -j"$KVM_BT_JOBS" "$@" 2>&1 \
        | tee "$ninja_log" \
        | { if [ -t 1 ]; then cat; else grep --line-buffered -E '^\[[0-9]+/[0-9]+\]|error:|warning:|undefined reference|FAILED:' \
            | awk '/error:|undefined reference|FAILED:/ || (/warning:/ && /accel\/kvm-bt\//) {print substr($0, 1, 300); next} /warning:/ {next} {split($1,a,"[/[\\]]"); n=a[2]; t=a[3]; if (t>0 && (n*10/t > p || n==t)) {p=int(n*10/t)+1; print "  " $1 " " int(n*100/t) "%"; fflush()}}'; fi; }
    [ "${PIPESTATUS[0]}" = 0 ] || die "QEMU build failed (log: $ninja_log)"
    local warned
    warned=$(grep -oE '[^ :]*accel/kvm-bt/[^ :]+\.[ch]:[0-9]+:[0-9]+: warning:' "$ninja_log" \
             | sed -E 's|^.*(accel/kvm-bt/[^:]+):.*|\1|' | sort -u || true)
    if [ -n "$warned" ]; then
        # recompiled (and warned about) again next time, not taken as built
        local f
        for f in $warned; do touch "$QEMU_STAGE/$f"; done
        die "compiler warnings in $(echo $warned) (see above or $ninja_log)"
    fi
}
