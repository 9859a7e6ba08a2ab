#!/usr/bin/env bash
# Build trapdoor's Linux guest: a small i386 kernel (bzImage) and a busybox initramfs.
#
#   guest-images/linux/build.sh               build if needed, then print where the images are
#   guest-images/linux/build.sh --print-path  same, but stdout is only the cache directory
#   guest-images/linux/build.sh --help
#
# Inputs (all from Debian 12 packages; missing ones are installed with apt-get):
#   linux-source-6.1        /usr/src/linux-source-6.1.tar.xz
#   gcc-i686-linux-gnu      the cross compiler (+ binutils-i686-linux-gnu)
#   busybox-static:i386     downloaded as a .deb with a private apt state (the system's dpkg
#                           architectures are left alone) and unpacked with dpkg-deb -x
#   config.fragment, init   in this directory
#
# Products go to ${TRAPDOOR_CACHE:-$HOME/.cache/trapdoor}/linux/<key>/, never into the repo:
#   bzImage  initramfs.cpio.gz  config  System.map  vmlinux  build.log  key.txt
# <key> is the first 16 hex digits of a sha256 over key.txt: this script, config.fragment, init,
# the versions of the Debian packages used and the busybox .deb's sha256. A directory that has
# bzImage and initramfs.cpio.gz is a finished build and is reused as it is.
#
# The source is unpacked and compiled in a temporary directory (removed afterwards;
# TRAPDOOR_KEEP_BUILD=1 keeps it). Progress goes to stderr as "[linux] ..." lines; make's output
# goes to build.log, whose tail is printed if the build fails.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
print_path=0
case "${1:-}" in
    "") ;;
    --print-path) print_path=1 ;;
    -h | --help)
        sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"
        exit 0
        ;;
    *)
        echo "build.sh: unknown argument '$1' (try --help)" >&2
        exit 2
        ;;
esac

export LC_ALL=C
start=$(date +%s)
say() { echo "[linux] $*" >&2; }
die() {
    echo "[linux] error: $*" >&2
    exit 1
}
elapsed() { echo "$(($(date +%s) - start)) s"; }

SRC_PKG=linux-source-6.1
SRC_TAR=/usr/src/linux-source-6.1.tar.xz
CROSS=i686-linux-gnu-
cache_root=${TRAPDOOR_CACHE:-$HOME/.cache/trapdoor}/linux
mkdir -p "$cache_root"

# --- Debian packages --------------------------------------------------------------------------
host_pkgs=(linux-source-6.1 gcc-i686-linux-gnu binutils-i686-linux-gnu gcc libc6-dev make bc
    flex bison cpio gzip lz4 xz-utils)
as_root() {
    if [ "$(id -u)" = 0 ]; then
        "$@"
    elif command -v sudo >/dev/null; then
        sudo "$@"
    else
        die "need root (or sudo) to run: $*"
    fi
}
missing=()
for p in "${host_pkgs[@]}"; do
    dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q ' installed$' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    say "installing Debian packages: ${missing[*]}"
    as_root apt-get update -qq || say "apt-get update reported errors; trying to install anyway"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        "${missing[@]}" >&2 || die "apt-get install failed"
fi
[ -f "$SRC_TAR" ] || die "$SRC_TAR not found (is $SRC_PKG installed?)"

# busybox-static for i386: one .deb, cached beside the builds. Delete $cache_root/debs to pick up
# a newer Debian version (which then changes the key).
debs=$cache_root/debs
bb_deb=$(ls -1 "$debs"/busybox-static_*_i386.deb 2>/dev/null | sort -V | tail -n 1 || true)
if [ -z "$bb_deb" ]; then
    say "downloading busybox-static:i386..."
    apt_dir=$(mktemp -d "${TMPDIR:-/tmp}/trapdoor-apt.XXXXXX")
    mkdir -p "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial" "$debs"
    apt_opts=(-o APT::Architecture=i386 -o APT::Architectures::=i386
        -o Dir::State::Lists="$apt_dir/lists" -o Dir::Cache="$apt_dir/cache"
        -o Dir::State::status=/dev/null -o APT::Sandbox::User=root -qq)
    # A mirror that is out of sync for one suite (e.g. security) is not fatal: busybox-static
    # only has to be found in one of them.
    apt-get "${apt_opts[@]}" update >&2 || say "apt-get update (i386 lists) reported errors"
    (cd "$debs" && apt-get "${apt_opts[@]}" download busybox-static >&2) ||
        { rm -rf "$apt_dir"; die "could not download busybox-static:i386"; }
    rm -rf "$apt_dir"
    bb_deb=$(ls -1 "$debs"/busybox-static_*_i386.deb | sort -V | tail -n 1)
fi
[ "$(dpkg-deb -f "$bb_deb" Architecture)" = i386 ] || die "$bb_deb is not an i386 package"

# --- cache key ----------------------------------------------------------------------------------
key_text() {
    echo "trapdoor linux guest, key format 1"
    (cd "$here" && sha256sum build.sh config.fragment init)
    dpkg-query -W -f='${Package} ${Version}\n' linux-source-6.1 gcc-i686-linux-gnu \
        binutils-i686-linux-gnu
    "${CROSS}gcc" --version | head -n 1
    "${CROSS}ld" --version | head -n 1
    echo "busybox-static:i386 $(dpkg-deb -f "$bb_deb" Version) $(sha256sum <"$bb_deb" | cut -d' ' -f1)"
}
key=$(key_text | sha256sum | cut -c1-16)
out=$cache_root/$key

finish() {
    if [ $print_path = 1 ]; then
        echo "$out"
    else
        say "bzImage:   $out/bzImage ($(stat -c %s "$out/bzImage") bytes)"
        say "initramfs: $out/initramfs.cpio.gz ($(stat -c %s "$out/initramfs.cpio.gz") bytes)"
        echo "$out"
    fi
    exit 0
}
have_images() { [ -s "$out/bzImage" ] && [ -s "$out/initramfs.cpio.gz" ]; }
have_images && finish

# One build at a time per cache (tests and the CLI may ask at once).
exec 9>"$cache_root/.lock"
if ! flock -n 9; then
    say "another build is running; waiting for it..."
    flock 9
fi
have_images && finish

stage=$cache_root/.$key.partial
rm -rf "$stage"
mkdir -p "$stage"
log=$stage/build.log
key_text >"$stage/key.txt"
work=$(mktemp -d "${TMPDIR:-/tmp}/trapdoor-linux.XXXXXX")
make_pid=
cleanup() {
    if [ -n "$make_pid" ] && kill -0 "$make_pid" 2>/dev/null; then
        kill -- "-$make_pid" 2>/dev/null || kill "$make_pid" 2>/dev/null || true
    fi
    if [ "${TRAPDOOR_KEEP_BUILD:-}" = 1 ]; then
        say "build tree kept in $work"
    else
        rm -rf "$work"
    fi
}
trap cleanup EXIT
fail() {
    echo "[linux] error: $* (after $(elapsed)); last lines of $log:" >&2
    tail -n 40 "$log" >&2 || true
    exit 1
}

say "building the Linux guest (key $key) in $work; log: $log"
say "first use: about 10 minutes on an idle 2-core machine (longer when busy); later runs reuse $out"

say "extracting source ($SRC_TAR)..."
tar -xf "$SRC_TAR" -C "$work" || fail "tar failed"
src=$work/linux-source-6.1
[ -f "$src/Makefile" ] || fail "no Makefile in the unpacked source"

kmake() {
    nice -n 10 make -C "$src" ARCH=i386 CROSS_COMPILE=$CROSS \
        KBUILD_BUILD_USER=trapdoor KBUILD_BUILD_HOST=trapdoor KBUILD_BUILD_VERSION=1 \
        KBUILD_BUILD_TIMESTAMP="Thu Jan 1 00:00:00 UTC 1970" "$@"
}

say "configuring (tinyconfig + config.fragment)..."
{
    kmake tinyconfig &&
        (cd "$src" && ./scripts/kconfig/merge_config.sh -m .config "$here/config.fragment") &&
        kmake olddefconfig
} >>"$log" 2>&1 || fail "configuration failed"

# Kconfig drops options whose dependencies are not met without a word: check every line.
bad=()
while IFS= read -r line; do
    case "$line" in
        CONFIG_*=*)
            grep -qxF -- "$line" "$src/.config" ||
                bad+=("$line (got: $(grep -E "^(# )?${line%%=*}[= ]" "$src/.config" || echo absent))")
            ;;
        "# CONFIG_"*" is not set")
            sym=${line#\# }
            sym=${sym%% *}
            if grep -q "^$sym=" "$src/.config"; then
                bad+=("$line (got: $(grep "^$sym=" "$src/.config"))")
            fi
            ;;
    esac
done <"$here/config.fragment"
if [ ${#bad[@]} -gt 0 ]; then
    echo "[linux] error: these config.fragment options did not end up in .config as requested:" >&2
    printf '[linux]   %s\n' "${bad[@]}" >&2
    exit 1
fi
cp "$src/.config" "$stage/config"

jobs=$(nproc)
# About 680 files for config.fragment as committed (only used for the progress lines).
total=680
say "compiling about $total files with $jobs jobs, at nice 10 (this takes a few minutes)..."
# Own process group so that cleanup can stop make and all its children.
set -m
kmake -j"$jobs" bzImage >>"$log" 2>&1 &
make_pid=$!
set +m
last=$(date +%s)
while kill -0 "$make_pid" 2>/dev/null; do
    sleep 2
    if [ $(($(date +%s) - last)) -ge 30 ]; then
        last=$(date +%s)
        say "  ... $(grep -c '^  CC ' "$log" || true) of about $total files compiled ($(elapsed))"
    fi
done
if ! wait "$make_pid"; then
    make_pid=
    fail "make failed"
fi
make_pid=
say "compiled $(grep -c '^  CC ' "$log" || true) files ($(elapsed))"
cp "$src/arch/x86/boot/bzImage" "$src/System.map" "$src/vmlinux" "$stage/"

say "building initramfs (busybox $(dpkg-deb -f "$bb_deb" Version))..."
bb=$work/busybox
dpkg-deb -x "$bb_deb" "$bb"
[ -f "$bb/bin/busybox" ] || fail "no bin/busybox in $bb_deb"
cc -O2 -o "$work/gen_init_cpio" "$src/usr/gen_init_cpio.c" >>"$log" 2>&1 || fail "gen_init_cpio"
cat >"$work/initramfs.list" <<EOF
dir /dev 0755 0 0
nod /dev/console 0600 0 0 c 5 1
nod /dev/null 0666 0 0 c 1 3
dir /bin 0755 0 0
file /bin/busybox $bb/bin/busybox 0755 0 0
slink /bin/sh busybox 0777 0 0
file /init $here/init 0755 0 0
dir /sbin 0755 0 0
dir /usr 0755 0 0
dir /usr/bin 0755 0 0
dir /usr/sbin 0755 0 0
dir /proc 0755 0 0
dir /sys 0755 0 0
dir /etc 0755 0 0
dir /root 0700 0 0
dir /tmp 1777 0 0
dir /mnt 0755 0 0
EOF
"$work/gen_init_cpio" -t 0 "$work/initramfs.list" >"$work/initramfs.cpio" 2>>"$log" ||
    fail "gen_init_cpio failed"
gzip -9 -n <"$work/initramfs.cpio" >"$stage/initramfs.cpio.gz"

rm -rf "$out"
mv "$stage" "$out"
log=$out/build.log
say "done in $(elapsed)"
finish
