#!/bin/bash
# The payload of `cargo xtask vm box` (copied into the run's 9p share as
# payload.sh): makes the box's disk bootable. The host wrote that disk (an
# MBR, and partition 1 holding the box's ext4 root filesystem); here, from
# a chroot of that filesystem, GRUB goes on the disk and its menu is made
# (update-grub names the root filesystem by UUID), and enclos makes its
# lxc-* and cg* links.
set -euo pipefail

disk=
for dev in /sys/block/vd*; do
    if [ "$(cat "$dev/serial" 2>/dev/null)" = enclos-box ]; then disk=/dev/${dev##*/}; fi
done
[ -n "$disk" ] || { echo "payload-box: no virtio disk with serial enclos-box" >&2; exit 1; }
udevadm settle --timeout=30 2>/dev/null || true
[ -b "${disk}1" ] || { echo "payload-box: $disk has no partition 1" >&2; exit 1; }

root=/mnt/box
mkdir -p "$root"
mount "${disk}1" "$root"
for d in dev dev/pts proc sys; do mount --bind "/$d" "$root/$d"; done
echo "payload-box: grub-install --target=i386-pc $disk"
chroot "$root" grub-install --target=i386-pc "$disk"
chroot "$root" update-grub
# The lxc-* and cg* links (enclos finds itself through /proc).
chroot "$root" /usr/local/bin/enclos compat install /usr/local/bin >/dev/null
umount -R "$root"
sync
echo "payload-box: $disk is bootable"
