#!/usr/bin/env bash
# Boot the Linux guest under QEMU (the independent reference) and check that it reaches the shell
# and that its drivers find the devices trapdoor will emulate:
#   - Pentium II CPU (-cpu pentium2,-apic: QEMU's pentium2 model advertises an APIC; trapdoor's
#     CPU has none), 64 MiB, serial console on stdio, plain TCG
#   - an ext2 disk on virtio-blk (/dev/vda) and one on PIIX IDE via libata (/dev/sda)
# Waits for the banner, types commands, and exits when the guest reboots (-no-reboot).
#
#   guest-images/linux/qemu-check.sh [DIR]   DIR: the images (default: build.sh --print-path)
#
# QEMU_EXTRA adds QEMU options and APPEND_EXTRA kernel parameters, e.g.
#   QEMU_EXTRA="-icount shift=auto" APPEND_EXTRA="tsc=reliable"   (then the clocksource is tsc)
# Needs qemu-system-x86 and e2fsprogs (installed with apt-get when missing). Prints the console
# transcript and the seconds from start to the banner; exits non-zero if a check fails.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
dir=${1:-$("$here/build.sh" --print-path)}
for tool in qemu-system-i386:qemu-system-x86 mke2fs:e2fsprogs; do
    if ! command -v "${tool%%:*}" >/dev/null; then
        apt-get install -y -qq --no-install-recommends "${tool##*:}" >&2
    fi
done

t=$(mktemp -d "${TMPDIR:-/tmp}/trapdoor-qemu.XXXXXX")
qpid=
cleanup() {
    [ -n "$qpid" ] && kill "$qpid" 2>/dev/null || true
    rm -rf "$t"
}
trap cleanup EXIT

# Two small ext2 disks, each with a file naming the bus it is on.
for bus in virtio ide; do
    mkdir -p "$t/$bus-root"
    echo "hello from the $bus disk" >"$t/$bus-root/hello.txt"
    mke2fs -q -t ext2 -d "$t/$bus-root" "$t/$bus.img" 4M
done

mkfifo "$t/in"
start=$(date +%s.%N)
# shellcheck disable=SC2086 # QEMU_EXTRA is a list of words
timeout 180 qemu-system-i386 -M pc -cpu pentium2,-apic -m 64 -display none -monitor none \
    -serial stdio -no-reboot ${QEMU_EXTRA:-} \
    -kernel "$dir/bzImage" -initrd "$dir/initramfs.cpio.gz" \
    -append "console=ttyS0 pci=conf1 earlyprintk=serial,ttyS0,115200 ${APPEND_EXTRA:-}" \
    -drive "file=$t/virtio.img,format=raw,if=virtio" \
    -drive "file=$t/ide.img,format=raw,if=ide" \
    <"$t/in" >"$t/out" 2>&1 &
qpid=$!
exec 3>"$t/in"

ready=
for _ in $(seq 1 1200); do
    if grep -q "trapdoor linux guest ready" "$t/out"; then
        ready=$(echo "$(date +%s.%N) - $start" | bc)
        break
    fi
    kill -0 "$qpid" 2>/dev/null || break
    sleep 0.1
done
if [ -z "$ready" ]; then
    cat "$t/out"
    echo "qemu-check: FAILED: no banner" >&2
    exit 1
fi
# Input sent before the shell's first prompt can be lost (the tty changes modes under it): wait
# for the prompt, then type line by line. busybox's line editor sends ESC [ 6 n (cursor position
# query) after each prompt; a terminal would answer it, so answer once too (it is optional).
for _ in $(seq 1 100); do
    tr -d '\r' <"$t/out" | sed -n '/trapdoor linux guest ready/,$p' | grep -q '# ' && break
    sleep 0.1
done
printf '\033[1;1R' >&3
sleep 0.5
while IFS= read -r cmd; do
    printf '%s\n' "$cmd" >&3
    sleep 0.2
done <<'EOF'
echo hi from $(tty)
uname -a
cat /proc/cpuinfo
cat /sys/devices/system/clocksource/clocksource0/current_clocksource
cat /proc/interrupts
ls /sys/bus/pci/devices
cat /proc/partitions
mount -t ext2 /dev/vda /mnt && cat /mnt/hello.txt && umount /mnt
mount -t ext2 /dev/sda /mnt && cat /mnt/hello.txt && umount /mnt
sleep 1 & jobs; wait
echo checks-done
reboot -f
EOF
wait "$qpid" || true
qpid=
exec 3>&-
tr -d '\r' <"$t/out" >"$t/log"
cat "$t/log"
echo "---"
echo "qemu-check: banner after ${ready} s"

fails=0
check() {
    if grep -qE "$2" "$t/log"; then
        echo "qemu-check: ok: $1"
    else
        echo "qemu-check: FAILED: $1" >&2
        fails=$((fails + 1))
    fi
}
check "shell on ttyS0" '^hi from /dev/ttyS0'
check "kernel 6.1 i686" '^Linux trapdoor 6\.1\.[0-9]+ .* i686 GNU/Linux'
check "cpuinfo flags without apic" '^flags[[:space:]]*: fpu .*tsc.*cx8.*pge.*cmov'
if grep -qE '^flags.* apic( |$)' "$t/log"; then
    echo "qemu-check: FAILED: the CPU advertises an APIC" >&2
    fails=$((fails + 1))
fi
# Informational: under plain TCG Linux cannot calibrate the TSC against the PIT and uses the PIT.
echo "qemu-check: clocksource: $(grep -m1 -axE 'tsc|pit|jiffies|tsc-early' "$t/log" || echo '?')"
check "virtio-blk ext2" '^hello from the virtio disk'
check "PIIX IDE ext2" '^hello from the ide disk'
check "commands finished" '^checks-done'
[ $fails = 0 ] || exit 1
echo "qemu-check: all checks passed"
