#!/usr/bin/env bash
# Boot the default guest, our small Linux (guest-images/linux), on this terminal. The kernel and
# initramfs are built on first use (about 10 minutes on 2 cores) and cached outside the repo.
# Extra arguments go to `trapdoor run` (e.g. --expect/--send, --clock, --stats).
set -euo pipefail
cd "$(dirname "$0")/.."
dir=$(bash guest-images/linux/build.sh --print-path)
exec node bin/trapdoor.js run --kernel "$dir/bzImage" --initrd "$dir/initramfs.cpio.gz" \
  --append "console=ttyS0 pci=conf1" "$@"
