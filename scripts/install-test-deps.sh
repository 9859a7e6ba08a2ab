#!/usr/bin/env bash
# Install everything the full test suite needs on a fresh Debian machine: npm packages, Debian's
# Chromium (driven by playwright-core for the browser tests) and e2fsprogs (mke2fs and debugfs
# make and check the virtio-blk test disks independently of our code). The Linux guest's own
# packages are installed by guest-images/linux/build.sh when it first builds. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium)
# Our guest images are rebuilt and compared byte for byte (gcc -m32 -ffreestanding, ld, objcopy).
command -v gcc >/dev/null 2>&1 || missing+=(gcc)
{ command -v ld && command -v objcopy; } >/dev/null 2>&1 || missing+=(binutils)
{ command -v mke2fs || [ -x /usr/sbin/mke2fs ] || [ -x /sbin/mke2fs ]; } >/dev/null 2>&1 || missing+=(e2fsprogs)
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing Debian packages for the tests: ${missing[*]}..."
  SUDO=""
  if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

npm ci --no-audit --no-fund
