#!/bin/bash
# Cross-build a static qemu-system-ppc (QEMU 7.2 + kvm-bt, KVM and TCG) for a
# 32-bit big-endian PowerPC Linux host (powerpc-linux-gnu, e500v2), to run
# inside a nested KVM e500v2 host.
#
# 1. Libraries into a static sysroot $KVM_BT_CACHE/cross/sysroot, built with
#    -mcpu=8548 (no lwsync, which e500v2 lacks) from Debian source packages
#    (apt-get source, pinned below): zlib, libffi, pcre2 (8-bit only), glib2.0,
#    pixman; libfdt from Linux's copy (linux-source-6.1, scripts/dtc/libfdt).
#    Each is keyed by its inputs and finished by a stamp written last.
# 2. QEMU from the same staged tree as the native build (qemu-stage.sh),
#    configured in $KVM_BT_CACHE/cross/qemu-build.
# 3. $KVM_BT_CACHE/cross/qemu-system-ppc, stripped, and its key file.
set -euo pipefail
LOG_TAG=cross
. "$(dirname "$0")/common.sh"
. "$(dirname "$0")/qemu-stage.sh"

HOST=powerpc-linux-gnu
CROSS=$KVM_BT_CACHE/cross
SYSROOT=$CROSS/sysroot
CROSS_QEMU_BUILD=$CROSS/qemu-build
CROSS_QEMU_BIN=$CROSS/qemu-system-ppc
CROSS_CFLAGS="-O2 -mcpu=8548"

# Debian source packages, pinned to versions whose sources were fetchable
# (bookworm's security updates of zlib and pcre2 were not: 404).
declare -A PIN=(
    [zlib]=1:1.2.13.dfsg-1
    [libffi]=3.4.4-1
    [pcre2]=10.42-1
    [glib2.0]=2.74.6-2+deb12u9
    [pixman]=0.42.2-1
)
# pixman's Debian diff is not fetchable: its upstream tarball, checked against
# the .dsc's checksum, is used as is (Debian's diff only adds packaging).
ORIG_ONLY="pixman"
LINUX_SRC_TAR=/usr/src/linux-source-6.1.tar.xz

LIBS="zlib libffi pcre2 glib pixman libfdt"
declare -A LIB_PKG=([zlib]=zlib [libffi]=libffi [pcre2]=pcre2 [glib]=glib2.0 [pixman]=pixman)
declare -A LIB_DEPS=([glib]="zlib libffi pcre2")

CROSS_CONFIGURE_ARGS=(
    --cross-prefix=$HOST- --target-list=ppc-softmmu --without-default-features
    --enable-system --enable-tcg --enable-kvm --enable-fdt=system --static
    --disable-plugins --disable-docs --disable-tools --disable-guest-agent --disable-user
    --disable-werror
    # -B: meson looks for a static libfdt only in the directories the compiler
    # reports (gcc -print-search-dirs); -L does not show there, -B does.
    "--extra-cflags=-mcpu=8548 -I$SYSROOT/include -B$SYSROOT/lib/"
    "--extra-ldflags=-L$SYSROOT/lib"
    --meson=/usr/bin/meson
)

command -v $HOST-gcc >/dev/null || die "no $HOST-gcc: run scripts/setup.sh (gcc-powerpc-linux-gnu)"
[ -f "$LINUX_SRC_TAR" ] || die "no $LINUX_SRC_TAR (libfdt's source): run scripts/setup.sh (linux-source-6.1)"

take_lock "$CROSS/.lock"
# Debian's meson runs on Debian's python: a pyenv python earlier in PATH must not shadow it.
export PATH=/usr/bin:$PATH
# The cross compiler runs through ccache: Debian's ccache links $HOST-gcc in
# /usr/lib/ccache when the cross gcc is installed; without that link, a wrapper.
use_ccache
if [ "$(command -v $HOST-gcc)" != /usr/lib/ccache/$HOST-gcc ] && command -v ccache >/dev/null; then
    mkdir -p "$CROSS/bin"
    printf '#!/bin/sh\nexec ccache /usr/bin/%s-gcc "$@"\n' $HOST > "$CROSS/bin/$HOST-gcc"
    chmod +x "$CROSS/bin/$HOST-gcc"
    export PATH=$CROSS/bin:$PATH CCACHE_DIR=${CCACHE_DIR:-$KVM_BT_CACHE/ccache}
fi
# Only the sysroot's .pc files, through the plain pkg-config (QEMU's configure
# would otherwise run $HOST-pkg-config).
export PKG_CONFIG=pkg-config PKG_CONFIG_LIBDIR=$SYSROOT/lib/pkgconfig
unset PKG_CONFIG_PATH PKG_CONFIG_SYSROOT_DIR
T0=$(date +%s)
since() { echo "$(( $(date +%s) - $1 ))s"; }

TOOLCHAIN_ID="$($HOST-gcc --version | head -1); libc $(dpkg-query -W -f='${Version}' libc6-dev-powerpc-cross 2>/dev/null || true)"

# ---------------------------------------------------------------- sources

# fetch_deb_src PKG: Debian source package PKG=${PIN[PKG]}, unpacked (with
# Debian's patches) into $CROSS/src/PKG_VERSION; prints that path.
fetch_deb_src() {
    local pkg=$1 ver=${PIN[$1]}
    local dest=$CROSS/src/${pkg}_${ver#*:}
    if stamp_ok "$dest" "$pkg=$ver"; then
        echo "$dest"; return
    fi
    apt-cache showsrc "$pkg" 2>/dev/null | grep -x "Version: $ver" >/dev/null \
        || die "Debian source package $pkg=$ver is not in apt's lists: run scripts/setup.sh (deb-src entries), or pin another version of $pkg in $0 ('apt-cache showsrc $pkg')"
    local tmp=$CROSS/src/.fetch-$pkg
    rm -rf "$tmp" "$dest" && mkdir -p "$tmp"
    log "fetching Debian source package $pkg=$ver" >&2
    if ! (cd "$tmp" && apt-get -q -o Acquire::Retries=2 -o Acquire::http::Timeout=30 \
            source --download-only "$pkg=$ver" > apt-source.log 2>&1); then
        if [[ " $ORIG_ONLY " == *" $pkg "* ]] && orig_only "$tmp" "$pkg" "$ver" "$dest"; then
            rm -rf "$tmp"; stamp_write "$dest" "$pkg=$ver"; echo "$dest"; return
        fi
        grep -E '^E:' "$tmp/apt-source.log" >&2 || tail -5 "$tmp/apt-source.log" >&2
        die "source package $pkg=$ver could not be fetched (apt-get source, above); pin a fetchable version of $pkg in $0"
    fi
    (cd "$tmp" && dpkg-source -x ./*.dsc tree > dpkg-source.log 2>&1) \
        || { tail -5 "$tmp/dpkg-source.log" >&2; die "dpkg-source could not unpack $pkg=$ver"; }
    mv "$tmp/tree" "$dest"
    rm -rf "$tmp"
    stamp_write "$dest" "$pkg=$ver"
    echo "$dest"
}

# orig_only DIR PKG VER DEST: apt-get fetched the .dsc and the upstream
# tarball but not Debian's diff: unpack the tarball if its sha256 is the .dsc's.
orig_only() {
    local tmp=$1 pkg=$2 ver=$3 dest=$4 dsc orig sum
    dsc=$(ls "$tmp"/*.dsc 2>/dev/null | head -1)
    orig=$(ls "$tmp"/*.orig.tar.* 2>/dev/null | head -1)
    [ -n "$dsc" ] && [ -n "$orig" ] || return 1
    sum=$(sed -n '/^Checksums-Sha256:/,/^[^ ]/p' "$dsc" | awk -v f="$(basename "$orig")" '$3 == f {print $1}')
    [ -n "$sum" ] && [ "$(sha256sum < "$orig" | cut -d' ' -f1)" = "$sum" ] || return 1
    log "$pkg=$ver: Debian's diff not fetchable; using $(basename "$orig") (sha256 as in the .dsc)" >&2
    mkdir -p "$tmp/tree" && tar -xf "$orig" -C "$tmp/tree" --strip-components=1 && mv "$tmp/tree" "$dest"
}

# libfdt from Linux's copy of dtc (Debian's device-tree-compiler source was not
# fetchable); prints its path.
fetch_libfdt_src() {
    local ver dest
    ver=$(dpkg-query -W -f='${Version}' linux-source-6.1)
    dest=$CROSS/src/libfdt_linux-$ver
    if ! stamp_ok "$dest" "linux-source-6.1=$ver"; then
        log "extracting scripts/dtc/libfdt from $LINUX_SRC_TAR" >&2
        rm -rf "$dest" "$dest.tmp" && mkdir -p "$dest.tmp"
        tar -xJf "$LINUX_SRC_TAR" -C "$dest.tmp" --strip-components=3 \
            linux-source-6.1/scripts/dtc/libfdt linux-source-6.1/scripts/dtc/version_gen.h \
            || die "could not extract scripts/dtc/libfdt from $LINUX_SRC_TAR"
        mv "$dest.tmp" "$dest"
        stamp_write "$dest" "linux-source-6.1=$ver"
    fi
    echo "$dest"
}

lib_source() {
    if [ "$1" = libfdt ]; then fetch_libfdt_src; else fetch_deb_src "${LIB_PKG[$1]}"; fi
}
lib_version() {
    if [ "$1" = libfdt ]; then echo "linux-source-6.1=$(dpkg-query -W -f='${Version}' linux-source-6.1)"
    else echo "${LIB_PKG[$1]}=${PIN[${LIB_PKG[$1]}]}"; fi
}

# ---------------------------------------------------------------- libraries
# Each build_X runs in a fresh copy of X's source and installs with
# DESTDIR=$DEST (prefix $SYSROOT); CC etc. are set for the cross compiler.

build_zlib() {
    CHOST=$HOST ./configure --static --prefix="$SYSROOT"
    make -j"$KVM_BT_JOBS" libz.a
    make install DESTDIR="$DEST"
}

build_libffi() {
    ./configure --host=$HOST --prefix="$SYSROOT" --disable-shared --enable-static \
        --disable-docs --disable-multi-os-directory
    make -j"$KVM_BT_JOBS"
    make install DESTDIR="$DEST"
}

build_pcre2() {
    ./configure --host=$HOST --prefix="$SYSROOT" --disable-shared --enable-static \
        --enable-pcre2-8 --disable-pcre2-16 --disable-pcre2-32 --disable-jit \
        --disable-pcre2grep-libz --disable-pcre2grep-libbz2 --disable-pcre2test-libreadline
    make -j"$KVM_BT_JOBS"
    make install DESTDIR="$DEST"
}

# meson_cross_file FILE: a meson cross file for $HOST and the sysroot.
meson_cross_file() {
    cat > "$1" <<EOF
[binaries]
c = '$HOST-gcc'
ar = '$HOST-ar'
strip = '$HOST-strip'
pkgconfig = 'pkg-config'

[host_machine]
system = 'linux'
cpu_family = 'ppc'
cpu = 'ppc'
endian = 'big'

[properties]
pkg_config_libdir = '$SYSROOT/lib/pkgconfig'
# what glib would run test programs for (glibc 2.36 on the host)
have_c99_vsnprintf = true
have_c99_snprintf = true
have_unix98_printf = true
va_val_copy = true
growing_stack = false
have_strlcpy = false
have_proc_self_cmdline = true

[built-in options]
c_args = [$(printf "'%s', " $CROSS_CFLAGS)'-I$SYSROOT/include']
c_link_args = ['-L$SYSROOT/lib']
EOF
}

build_glib() {
    meson_cross_file cross.txt
    meson setup _build --cross-file cross.txt --prefix="$SYSROOT" --libdir=lib \
        --buildtype=plain --default-library=static --wrap-mode=nodownload \
        -Dtests=false -Dinstalled_tests=false -Dnls=disabled -Dselinux=disabled \
        -Dlibmount=disabled -Dxattr=false -Dman=false -Dgtk_doc=false \
        -Dlibelf=disabled -Dsysprof=disabled -Ddtrace=false -Dsystemtap=false
    ninja -C _build -j"$KVM_BT_JOBS"
    DESTDIR="$DEST" meson install -C _build --no-rebuild
}

build_pixman() {
    meson_cross_file cross.txt
    meson setup _build --cross-file cross.txt --prefix="$SYSROOT" --libdir=lib \
        --buildtype=plain --default-library=static --wrap-mode=nodownload \
        -Dloongson-mmi=disabled -Dmmx=disabled -Dsse2=disabled -Dssse3=disabled \
        -Dvmx=disabled -Darm-simd=disabled -Dneon=disabled -Da64-neon=disabled \
        -Diwmmxt=disabled -Dmips-dspr2=disabled -Dopenmp=disabled \
        -Dgtk=disabled -Dlibpng=disabled -Dtimers=false -Dtests=disabled
    ninja -C _build -j"$KVM_BT_JOBS"
    DESTDIR="$DEST" meson install -C _build --no-rebuild
}

# Linux's scripts/dtc/libfdt has no build file of its own: libfdt.a from its
# .c files (fdt_check.c is not in Linux's copy: no fdt_check_full(), which
# ppc-softmmu does not use), the three public headers and a libfdt.pc.
build_libfdt() {
    local ver f
    ver=$(sed -n 's/^#define DTC_VERSION "DTC \([0-9.]*\).*/\1/p' version_gen.h)
    cd libfdt
    for f in fdt*.c; do
        $CC $CFLAGS -I. -c "$f" -o "${f%.c}.o"
    done
    $AR rcs libfdt.a fdt*.o
    mkdir -p "$DEST$SYSROOT"/{lib/pkgconfig,include}
    cp libfdt.a "$DEST$SYSROOT/lib/"
    cp fdt.h libfdt.h libfdt_env.h "$DEST$SYSROOT/include/"
    cat > "$DEST$SYSROOT/lib/pkgconfig/libfdt.pc" <<EOF
prefix=$SYSROOT
libdir=\${prefix}/lib
includedir=\${prefix}/include

Name: libfdt
Description: Flat Device Tree manipulation (Linux's scripts/dtc/libfdt)
Version: ${ver:-0}
Libs: -L\${libdir} -lfdt
Cflags: -I\${includedir}
EOF
}

# Cache key of library X: its source version, flags, toolchain, the script
# text that builds it, and its dependencies' keys.
declare -A KEY=()
lib_key() {
    local lib=$1 d deps=""
    if [ -z "${KEY[$lib]:-}" ]; then
        for d in ${LIB_DEPS[$lib]:-}; do lib_key "$d" >/dev/null; deps+="$d=${KEY[$d]} "; done
        KEY[$lib]=$( { lib_version "$lib"; echo "$CROSS_CFLAGS"; echo "$TOOLCHAIN_ID"
                       declare -f "build_$lib" meson_cross_file; echo "$deps"; } | sha256sum | cut -c1-16)
    fi
    echo "${KEY[$lib]}"
}

# The sysroot holds every library's files, each library's listed in
# $SYSROOT/.manifests/X so a rebuild removes what the old one installed.
lib_installed() {
    local m=$SYSROOT/.manifests/$1 f
    [ -f "$m" ] || return 1
    while IFS= read -r f; do [ -e "$SYSROOT/$f" ] || return 1; done < "$m"
}

build_lib() {
    local lib=$1 key src b start
    key="$(lib_version "$lib") $(lib_key "$lib")"
    b=$CROSS/build/$lib
    if stamp_ok "$b" "$key" && lib_installed "$lib"; then
        log "$lib: up to date ($(lib_version "$lib"))"
        return
    fi
    src=$(lib_source "$lib")
    start=$(date +%s)
    log "$lib: building $(lib_version "$lib")"
    rm -rf "$b" && mkdir -p "$b"
    if [ -f "$SYSROOT/.manifests/$lib" ]; then
        (cd "$SYSROOT" && xargs -d '\n' rm -f < ".manifests/$lib")
        rm -f "$SYSROOT/.manifests/$lib"
    fi
    cp -a "$src" "$b/src"
    rm -f "$b/src/.kvm-bt-stamp"
    # errexit holds inside the subshell only if its status is not tested by ||
    local rc
    set +e
    (
        set -e
        cd "$b/src"
        export CC=$HOST-gcc AR=$HOST-ar RANLIB=$HOST-ranlib STRIP=$HOST-strip
        export CFLAGS="$CROSS_CFLAGS -I$SYSROOT/include" LDFLAGS="-L$SYSROOT/lib"
        export DEST=$b/dest
        "build_$lib"
    ) > "$b/build.log" 2>&1
    rc=$?
    set -e
    [ $rc = 0 ] || { tail -30 "$b/build.log" >&2; die "$lib ($(lib_version "$lib")) failed to build (log: $b/build.log)"; }
    [ -d "$b/dest$SYSROOT" ] || die "$lib installed nothing under $SYSROOT (log: $b/build.log)"
    mkdir -p "$SYSROOT/.manifests"
    (cd "$b/dest$SYSROOT" && find . ! -type d | sed 's|^\./||' | sort) > "$SYSROOT/.manifests/$lib"
    cp -a "$b/dest$SYSROOT/." "$SYSROOT/"
    rm -rf "$b/src" "$b/dest"
    stamp_write "$b" "$key"
    log "$lib: built in $(since "$start")"
}

for lib in $LIBS; do
    build_lib "$lib"
done
SYSROOT_KEY=$(for lib in $LIBS; do echo "$lib $(lib_key "$lib")"; done | sha256sum | cut -c1-16)
log "sysroot $SYSROOT ready ($(since "$T0"))"

# ---------------------------------------------------------------- QEMU
# The stage is shared with the native build: hold its lock from staging to
# the end of the build so a native run cannot change files under ninja.
take_lock "$KVM_BT_CACHE/qemu/.lock"
fetch_source
ensure_stage
sync_overlay

cross_configure() {
    local key
    # The stage's stamp is rewritten only when the stage is created anew.
    key="$(cat "$QEMU_STAGE/.kvm-bt-stamp") $(stat -c %Y "$QEMU_STAGE/.kvm-bt-stamp") sysroot=$SYSROOT_KEY $TOOLCHAIN_ID ${CROSS_CONFIGURE_ARGS[*]}"
    if stamp_ok "$CROSS_QEMU_BUILD" "$key" && [ -f "$CROSS_QEMU_BUILD/build.ninja" ]; then
        return
    fi
    local start
    start=$(date +%s)
    log "configuring QEMU for $HOST (ppc-softmmu, static, kvm + tcg)"
    rm -rf "$CROSS_QEMU_BUILD" && mkdir -p "$CROSS_QEMU_BUILD"
    (cd "$CROSS_QEMU_BUILD" && "$QEMU_STAGE/configure" "${CROSS_CONFIGURE_ARGS[@]}" > configure.log 2>&1) \
        || { tail -30 "$CROSS_QEMU_BUILD/configure.log" >&2; die "QEMU cross configure failed (log: $CROSS_QEMU_BUILD/configure.log)"; }
    stamp_write "$CROSS_QEMU_BUILD" "$key"
    log "configured in $(since "$start")"
}

cross_configure
start=$(date +%s)
log "building qemu-system-ppc for $HOST (ninja -j$KVM_BT_JOBS)"
run_ninja "$CROSS_QEMU_BUILD" qemu-system-ppc
log "built in $(since "$start")"

# The stripped binary and its key: QEMU source, overlay and patch contents,
# libraries, configure arguments.
key_text() {
    echo "qemu=$(cat "$QEMU_SRC/.kvm-bt-stamp")"
    echo "overlay=$( (cd "$QEMU_STAGE" && xargs -d '\n' sha256sum < .kvm-bt-manifest) | sha256sum | cut -c1-16)"
    local lib
    for lib in $LIBS; do echo "lib $lib $(lib_version "$lib") key=$(lib_key "$lib")"; done
    echo "toolchain=$TOOLCHAIN_ID"
    echo "configure=${CROSS_CONFIGURE_ARGS[*]}"
}
key=$(key_text)
if [ ! -f "$CROSS_QEMU_BIN" ] || [ "$CROSS_QEMU_BUILD/qemu-system-ppc" -nt "$CROSS_QEMU_BIN" ] \
        || [ "$(sed '$d' "$CROSS_QEMU_BIN.key" 2>/dev/null)" != "$key" ]; then
    $HOST-strip -o "$CROSS_QEMU_BIN.tmp" "$CROSS_QEMU_BUILD/qemu-system-ppc"
    mv "$CROSS_QEMU_BIN.tmp" "$CROSS_QEMU_BIN"
    { echo "$key"; echo "sha256=$(sha256sum < "$CROSS_QEMU_BIN" | cut -d' ' -f1)"; } > "$CROSS_QEMU_BIN.key.tmp"
    mv "$CROSS_QEMU_BIN.key.tmp" "$CROSS_QEMU_BIN.key"
fi
log "$CROSS_QEMU_BIN: $(stat -c %s "$CROSS_QEMU_BIN") bytes, stripped ($(file -b "$CROSS_QEMU_BIN" | cut -d, -f1-2)); total $(since "$T0")"
