#!/usr/bin/env bash
# Lab 2, section 2.2: the ZFS backing store. A pool on a file; a busybox
# container on a dataset (lxc-create -B zfs, its root from
# lxc.bdev.zfs.root or --zfsroot), started, written to through lxc-attach
# and lxc-execute, stopped; its snapshot (lxc-snapshot, a ZFS snapshot and
# clone) restored as a new container; a snapshot clone (lxc-copy -s); two
# snapshots restored in place (lxc-snapshot -r without -N: a clone of the
# snapshot, promoted, under the container's name; the old dataset kept
# while clones need it); the snapshots destroyed (lxc-snapshot -d), the
# container destroyed, and zfs list shows nothing left.
#
# It needs the zfs module and tools: it runs in the VM lab's zfs flavour
# (cargo xtask lab vm --with zfs lab2-zfs.sh), and skips itself where
# there is no ZFS. It makes the pool lxc, so it refuses to run where one
# of that name exists.

. "$(dirname "$0")/lib.sh"

command -v zpool >/dev/null 2>&1 || skip "no ZFS tools (apt-get install zfsutils-linux zfs-dkms, from contrib); in the VM lab: cargo xtask lab vm --with zfs lab2-zfs.sh"
[ -e /dev/zfs ] || modprobe zfs 2>/dev/null || true
[ -e /dev/zfs ] || skip "this kernel has no zfs module (/dev/zfs): in the VM lab, cargo xtask lab vm --with zfs lab2-zfs.sh"
command -v busybox >/dev/null 2>&1 || skip "the busybox template needs busybox (apt-get install busybox-static)"

LXP=()
if [ -n "${LAB_LXCPATH:-}" ]; then
    LXP=(-P "$LAB_LXCPATH")
    LXCPATH=$LAB_LXCPATH
else
    LXCPATH=$("$ENCLOS" config lxc.lxcpath)
fi
POOL=lxc
ROOT=$POOL/enclos
VDEV=/var/tmp/${P}lab-zfs.img
CONF=/etc/enclos/enclos.conf
C=${P}zfs-bb
RESTORED=${C}-snap0
CLONE=${P}zfs-clone
OTHER=${P}zfs-other
FULL=${P}zfs-full
for n in "$C" "$RESTORED" "$CLONE" "$OTHER" "$FULL"; do
    [ ! -e "$LXCPATH/$n" ] || die "a container named $n already exists in $LXCPATH: destroy it or set LAB_PREFIX"
done
if zpool list -H "$POOL" >/dev/null 2>&1; then
    die "a ZFS pool named $POOL exists already: this lab makes its own (zpool destroy $POOL, or run it in the VM lab)"
fi
[ ! -e "$VDEV" ] || die "$VDEV exists already: remove it"

# The datasets of the pool, one per line, sorted (snapshots too).
datasets() { zfs list -H -r -t filesystem,snapshot -o name "$POOL" | sort; }
# ds_prop DATASET PROPERTY: one property's value.
ds_prop() { zfs get -H -o value "$2" "$1"; }

section "A pool on a file, a dataset for the containers"
run truncate -s 2G "$VDEV"
run zpool create -O mountpoint=none "$POOL" "$VDEV"
# Last of all (registered first).
on_exit rm -f "$VDEV"
on_exit zpool destroy -f "$POOL"
run zfs create "$ROOT"
out pools zpool list -H -o name,health "$POOL"
check_eq "the pool" "$pools" "$POOL	ONLINE"
for n in "$C" "$RESTORED" "$CLONE" "$OTHER" "$FULL"; do
    on_exit lxc-destroy "${LXP[@]}" -f -s -n "$n"
done
# Runs first: a clone holds its origin back.
on_exit lxc-destroy "${LXP[@]}" -f -n "$CLONE"

section "lxc.bdev.zfs.root: where -B zfs puts the containers"
mkdir -p "$(dirname "$CONF")"
if [ -e "$CONF" ]; then
    cp -p "$CONF" "$LAB_TMP/enclos.conf"
    on_exit cp -p "$LAB_TMP/enclos.conf" "$CONF"
else
    on_exit rm -f "$CONF"
fi
printf 'lxc.bdev.zfs.root = %s\n' "$ROOT" >>"$CONF"
out root lxc-config lxc.bdev.zfs.root
check_eq "lxc-config lxc.bdev.zfs.root" "$root" "$ROOT"

section "What a missing root says"
fails 1 lxc-create "${LXP[@]}" -n "$C" -t busybox -B zfs --zfsroot "${P}nopool/ct"
check_contains "the error" "$LAST_ERR" "${P}nopool/ct"
check_contains "the error" "$LAST_ERR" "zpool create"
[ ! -e "$LXCPATH/$C" ] || die "a refused create left $LXCPATH/$C"
ok "nothing was left"

section "2.2 lxc-create -B zfs"
run lxc-create "${LXP[@]}" -n "$C" -t busybox -B zfs
out rootfs grep '^lxc.rootfs.path' "$LXCPATH/$C/config"
check_eq "the rootfs in the config" "$rootfs" "lxc.rootfs.path = zfs:$ROOT/$C"
out mp ds_prop "$ROOT/$C" mountpoint
check_eq "the dataset's mountpoint (the container mounts it)" "$mp" "legacy"
out mounted ds_prop "$ROOT/$C" mounted
check_eq "the dataset mounted once created" "$mounted" "no"

section "Started, written to, stopped"
run lxc-start "${LXP[@]}" -n "$C"
run lxc-wait "${LXP[@]}" -n "$C" -s RUNNING -t 30
run lxc-attach "${LXP[@]}" -n "$C" -- sh -c 'echo on-zfs > /root/testdata'
out data lxc-attach "${LXP[@]}" -n "$C" -- cat /root/testdata
check_eq "the file written in the container" "$data" "on-zfs"
if grep -q " zfs $ROOT/$C " /proc/self/mountinfo; then
    die "the dataset is mounted in the host's mount namespace"
fi
ok "the dataset is mounted in the container's mount namespace only"
run lxc-stop "${LXP[@]}" -n "$C"
out data lxc-execute "${LXP[@]}" -n "$C" -- cat /root/testdata
check_eq "the file, read by lxc-execute" "$data" "on-zfs"
out used ds_prop "$ROOT/$C" used
say "The container's dataset uses $used."

section "2.8 lxc-snapshot: a ZFS snapshot"
run lxc-snapshot "${LXP[@]}" -n "$C"
out config grep '^lxc.rootfs.path' "$LXCPATH/$C/snaps/snap0/config"
check_eq "the snapshot's rootfs" "$config" "lxc.rootfs.path = zfs:$ROOT/${C}_snap0"
out origin ds_prop "$ROOT/${C}_snap0" origin
check_eq "the snapshot dataset's origin" "$origin" "$ROOT/$C@${C}_snap0"
say "The container changes after its snapshot:"
run lxc-execute "${LXP[@]}" -n "$C" -- sh -c 'echo changed > /root/testdata'
out listing lxc-snapshot "${LXP[@]}" -n "$C" -L
check_contains "lxc-snapshot -L" "$listing" "snap0"

section "2.8 Restoring snap0 as a new container"
run lxc-snapshot "${LXP[@]}" -n "$C" -r snap0 -N "$RESTORED"
out rootfs grep '^lxc.rootfs.path' "$LXCPATH/$RESTORED/config"
check_eq "the restored rootfs" "$rootfs" "lxc.rootfs.path = zfs:$ROOT/$RESTORED"
check_data "$RESTORED" "the file in the restored container (as at the snapshot)" on-zfs

section "lxc-copy -s: a snapshot clone"
run lxc-copy "${LXP[@]}" -s -n "$C" -N "$CLONE"
out rootfs grep '^lxc.rootfs.path' "$LXCPATH/$CLONE/config"
check_eq "the clone's rootfs" "$rootfs" "lxc.rootfs.path = zfs:$ROOT/$CLONE"
out origin ds_prop "$ROOT/$CLONE" origin
check_eq "the clone dataset's origin" "$origin" "$ROOT/$C@$CLONE"
check_data "$CLONE" "the file in the clone" changed

section "lxc-copy: a full copy, on a dataset of its own"
run lxc-copy "${LXP[@]}" -n "$C" -N "$FULL"
out rootfs grep '^lxc.rootfs.path' "$LXCPATH/$FULL/config"
check_eq "the copy's rootfs" "$rootfs" "lxc.rootfs.path = zfs:$ROOT/$FULL"
out origin ds_prop "$ROOT/$FULL" origin
check_eq "the copy dataset's origin (none: it stands alone)" "$origin" "-"
out data lxc-execute "${LXP[@]}" -n "$FULL" -- cat /root/testdata
check_eq "the file in the copy" "$data" "changed"
run lxc-destroy "${LXP[@]}" -n "$FULL"

section "--zfsroot: a container elsewhere"
run zfs create "$POOL/other"
run lxc-create "${LXP[@]}" -n "$OTHER" -t busybox -B zfs --zfsroot "$POOL/other"
out rootfs grep '^lxc.rootfs.path' "$LXCPATH/$OTHER/config"
check_eq "the rootfs in the config" "$rootfs" "lxc.rootfs.path = zfs:$POOL/other/$OTHER"
run lxc-destroy "${LXP[@]}" -n "$OTHER"
run zfs destroy "$POOL/other"

section "Destroying"
say "The origin of a clone is not destroyed under it:"
fails 1 lxc-destroy "${LXP[@]}" -s -n "$C"
check_contains "the error" "$LAST_ERR" "$CLONE"
out there ds_prop "$ROOT/$C" type
check_eq "the refused destroy left the dataset" "$there" "filesystem"
run lxc-destroy "${LXP[@]}" -n "$CLONE"
run lxc-destroy "${LXP[@]}" -n "$RESTORED"

section "2.8 Restoring in place (lxc-snapshot -r without -N)"
say "snap0 holds 'on-zfs'; the container holds 'changed' and, from now on, files written after each snapshot:"
run lxc-execute "${LXP[@]}" -n "$C" -- sh -c 'echo after > /root/after-snap0'
run lxc-snapshot "${LXP[@]}" -n "$C"
run lxc-execute "${LXP[@]}" -n "$C" -- sh -c 'echo later > /root/after-snap1'
run lxc-snapshot "${LXP[@]}" -n "$C" -r snap0
out rootfs grep '^lxc.rootfs.path' "$LXCPATH/$C/config"
check_eq "the container's rootfs (unchanged)" "$rootfs" "lxc.rootfs.path = zfs:$ROOT/$C"
out got files_of "$C"
check_eq "the container's files once snap0 is restored" "$got" "on-zfs"
run zfs list -r -t all -o name,origin "$POOL"
out left datasets
check_contains "the datasets" "$left" "$ROOT/$C:retired0"
out origin ds_prop "$ROOT/${C}_snap1" origin
check_eq "snap1's origin: the old dataset, kept aside" "$origin" "$ROOT/$C:retired0@${C}_snap1"
check_data "$C" "the file in the restored container, started" on-zfs
out listing lxc-snapshot "${LXP[@]}" -n "$C" -L
check_contains "lxc-snapshot -L" "$listing" "snap0"
check_contains "lxc-snapshot -L" "$listing" "snap1"
say "Restored again, from snap1:"
run lxc-snapshot "${LXP[@]}" -n "$C" -r snap1
out got files_of "$C"
check_eq "the container's files once snap1 is restored" "$got" "changed after-snap0"
run zfs list -r -t all -o name,origin "$POOL"
say "The container no longer hangs on the snapshots it was restored from:"
run lxc-snapshot "${LXP[@]}" -n "$C" -d snap0
out got files_of "$C"
check_eq "the container's files once snap0 is destroyed" "$got" "changed after-snap0"
run lxc-snapshot "${LXP[@]}" -n "$C" -d ALL
out listing lxc-snapshot "${LXP[@]}" -n "$C" -L
check_eq "lxc-snapshot -L once all are destroyed" "$listing" "No snapshots"
run zfs list -r -t all -o name,origin "$POOL"
run lxc-destroy "${LXP[@]}" -n "$C"
[ ! -e "$LXCPATH/$C" ] || die "lxc-destroy left $LXCPATH/$C"
ok "$LXCPATH/$C is gone"

section "Nothing left"
out left datasets
check_eq "the datasets and snapshots left in $POOL" "$(printf '%s\n' "$left" | tr '\n' ' ')" "$POOL $ROOT "
