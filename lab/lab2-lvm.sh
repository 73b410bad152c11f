#!/usr/bin/env bash
# Lab 2, section 2.2: the LVM backing store. A volume group on a spare
# disk; a busybox container on a logical volume (lxc-create -B lvm), started,
# written to through lxc-attach, stopped; its snapshot (lxc-snapshot, an LVM
# snapshot) restored as a new container; a snapshot clone (lxc-copy -s);
# the snapshot restored in place (lxc-snapshot -r without -N): a new volume
# under the container's name, the old one kept while the snapshot and the
# clone need it and removed with the last of them; the same on a thin pool;
# a volume of another filesystem (xfs, else ext3) restored and copied keeps
# it; everything destroyed, and lvs shows nothing left.
#
# It wipes the disk $LAB_LVM_DISK: it runs in the VM lab (cargo xtask lab vm
# lab2-lvm.sh), whose spare disk that is, and skips itself elsewhere.

. "$(dirname "$0")/lib.sh"

[ -n "${LAB_LVM_DISK:-}" ] || skip "LVM needs a spare disk to wipe (LAB_LVM_DISK) and device-mapper: it runs in the VM lab (cargo xtask lab vm lab2-lvm.sh)"
[ -b "$LAB_LVM_DISK" ] || die "LAB_LVM_DISK=$LAB_LVM_DISK is not a block device"
command -v lvcreate >/dev/null 2>&1 || skip "no lvm2 (apt-get install lvm2 thin-provisioning-tools)"
[ -e /dev/mapper/control ] || modprobe dm_mod 2>/dev/null || true
[ -e /dev/mapper/control ] || skip "this kernel has no device-mapper (/dev/mapper/control)"
command -v busybox >/dev/null 2>&1 || skip "the busybox template needs busybox (apt-get install busybox-static)"

LXP=()
if [ -n "${LAB_LXCPATH:-}" ]; then
    LXP=(-P "$LAB_LXCPATH")
    LXCPATH=$LAB_LXCPATH
else
    LXCPATH=$("$ENCLOS" config lxc.lxcpath)
fi
VG=lxc
C=${P}lvm-bb
RESTORED=${C}-snap0
CLONE=${P}lvm-clone
FULL=${P}lvm-full
THIN=${P}lvm-thin
THIN_CLONE=${P}lvm-thin-clone
AGAIN=${C}-again
THIN_RESTORED=${THIN}-snap0
FS_C=${P}lvm-fs
FS_NEW=${FS_C}-snap0
FS_COPY=${P}lvm-fs-copy
for n in "$C" "$RESTORED" "$CLONE" "$FULL" "$THIN" "$THIN_CLONE" "$AGAIN" "$THIN_RESTORED" "$FS_C" "$FS_NEW" "$FS_COPY"; do
    [ ! -e "$LXCPATH/$n" ] || die "a container named $n already exists in $LXCPATH: destroy it or set LAB_PREFIX"
done

# lv_field VOLUME FIELD: one field of lvs for VG/VOLUME, trimmed.
lv_field() { lvs --noheadings -o "$2" "$VG/$1" | tr -d ' '; }
# The volumes of the group, one per line, sorted.
volumes() { lvs --noheadings -o lv_name "$VG" | tr -d ' ' | LC_ALL=C sort; }
# The volumes of the group on one line.
volume_list() { volumes | tr '\n' ' '; }
# is_closed VOLUME: no mount or process holds the volume open.
is_closed() { [ "$(lvs --noheadings -o lv_attr "$VG/$1" | tr -d ' ' | cut -c6)" != o ]; }

# Starts container $1, writes $2 in its /root/testdata, stops it and
# waits until its volume is closed.
write_data() {
    up "$1"
    run lxc-attach "${LXP[@]}" -n "$1" -- sh -c "echo $2 > /root/testdata"
    run lxc-stop "${LXP[@]}" -n "$1"
    wait_for 20 "the volume of $1 to be closed after the stop" is_closed "$1"
}

section "A volume group on the spare disk"
if ! vgs "$VG" >/dev/null 2>&1; then
    run pvcreate -ff -y "$LAB_LVM_DISK"
    run vgcreate "$VG" "$LAB_LVM_DISK"
    # Last of all (registered first).
    on_exit pvremove -ff -y "$LAB_LVM_DISK"
    on_exit vgremove -f "$VG"
fi
run vgs "$VG"
for n in "$THIN" "$THIN_CLONE" "$THIN_RESTORED" "$C" "$RESTORED" "$AGAIN" "$CLONE" "$FULL" "$FS_C" "$FS_NEW" "$FS_COPY"; do
    on_exit lxc-destroy "${LXP[@]}" -f -s -n "$n"
done
# Runs first: a clone holds its origin back.
on_exit lxc-destroy "${LXP[@]}" -f -n "$CLONE"
on_exit lxc-destroy "${LXP[@]}" -f -n "$THIN_CLONE"

section "What a missing volume group says"
fails 1 lxc-create "${LXP[@]}" -n "$C" -t busybox -B lvm --vgname "${P}novg"
check_contains "the error" "$LAST_ERR" "LVM volume group '${P}novg' does not exist"
check_contains "the error" "$LAST_ERR" "vgcreate ${P}novg"
[ ! -e "$LXCPATH/$C" ] || die "a refused create left $LXCPATH/$C"
ok "nothing was left"

section "2.2 lxc-create -B lvm"
run lxc-create "${LXP[@]}" -n "$C" -t busybox -B lvm --vgname "$VG" --fssize 256M
out rootfs grep '^lxc.rootfs.path' "$LXCPATH/$C/config"
check_eq "the rootfs in the config" "$rootfs" "lxc.rootfs.path = lvm:/dev/$VG/$C"
out size lv_field "$C" lv_size
check_eq "the volume's size" "$size" "256.00m"
out fstype blkid -o value -s TYPE "/dev/$VG/$C"
check_eq "the volume's filesystem" "$fstype" "ext4"

section "Started, written to, stopped"
up "$C"
run lxc-attach "${LXP[@]}" -n "$C" -- sh -c 'echo on-lvm > /root/testdata'
out data lxc-attach "${LXP[@]}" -n "$C" -- cat /root/testdata
check_eq "the file written in the container" "$data" "on-lvm"
if grep -q " /dev/mapper/$VG-$C \| /dev/$VG/$C " /proc/self/mountinfo; then
    die "the volume is mounted in the host's mount namespace"
fi
ok "the volume is mounted in the container's mount namespace only"
run lxc-stop "${LXP[@]}" -n "$C"
wait_for 20 "the volume to be unmounted after the stop" is_closed "$C"
ok "the volume is closed once stopped"

section "2.8 lxc-snapshot: an LVM snapshot"
run lxc-snapshot "${LXP[@]}" -n "$C"
out config grep '^lxc.rootfs.path' "$LXCPATH/$C/snaps/snap0/config"
check_eq "the snapshot's rootfs" "$config" "lxc.rootfs.path = lvm:/dev/$VG/${C}_snap0"
out origin lv_field "${C}_snap0" origin
check_eq "the snapshot volume's origin" "$origin" "$C"
say "The container changes after its snapshot:"
up "$C"
run lxc-attach "${LXP[@]}" -n "$C" -- sh -c 'echo changed > /root/testdata'
run lxc-stop "${LXP[@]}" -n "$C"
out listing lxc-snapshot "${LXP[@]}" -n "$C" -L
check_contains "lxc-snapshot -L" "$listing" "snap0"

section "2.8 Restoring snap0 as a new container"
run lxc-snapshot "${LXP[@]}" -n "$C" -r snap0 -N "$RESTORED"
out rootfs grep '^lxc.rootfs.path' "$LXCPATH/$RESTORED/config"
check_eq "the restored rootfs" "$rootfs" "lxc.rootfs.path = lvm:/dev/$VG/$RESTORED"
check_data "$RESTORED" "the file in the restored container (as at the snapshot)" "on-lvm"

section "lxc-copy -s: a snapshot clone"
run lxc-copy "${LXP[@]}" -s -n "$C" -N "$CLONE"
out rootfs grep '^lxc.rootfs.path' "$LXCPATH/$CLONE/config"
check_eq "the clone's rootfs" "$rootfs" "lxc.rootfs.path = lvm:/dev/$VG/$CLONE"
out origin lv_field "$CLONE" origin
check_eq "the clone volume's origin" "$origin" "$C"
check_data "$CLONE" "the file in the clone" "changed"

section "lxc-copy: a full copy, on a volume of its own"
run lxc-copy "${LXP[@]}" -n "$C" -N "$FULL"
out rootfs grep '^lxc.rootfs.path' "$LXCPATH/$FULL/config"
check_eq "the copy's rootfs" "$rootfs" "lxc.rootfs.path = lvm:/dev/$VG/$FULL"
out origin lv_field "$FULL" origin
check_eq "the copy volume's origin (none: it stands alone)" "$origin" ""
out size lv_field "$FULL" lv_size
check_eq "the copy volume's size (its original's)" "$size" "256.00m"
check_data "$FULL" "the file in the copy" "changed"
run lxc-destroy "${LXP[@]}" -n "$FULL"

section "The origin of a clone is not destroyed under it"
fails 1 lxc-destroy "${LXP[@]}" -s -n "$C"
check_contains "the error" "$LAST_ERR" "/dev/$VG/$CLONE"
[ -e "/dev/$VG/$C" ] && [ -e "/dev/$VG/${C}_snap0" ] || die "the refused destroy removed a volume of $C"
ok "/dev/$VG/$C and its snapshot are still there"

section "2.8 Restoring snap0 in place (lxc-snapshot -r without -N)"
say "The container holds 'changed', written after snap0; snap0 and the clone need its volume."
run lxc-snapshot "${LXP[@]}" -n "$C" -r snap0
out rootfs grep '^lxc.rootfs.path' "$LXCPATH/$C/config"
check_eq "the container's rootfs (unchanged)" "$rootfs" "lxc.rootfs.path = lvm:/dev/$VG/$C"
out origin lv_field "$C" origin
check_eq "the container's new volume's origin (none: a plain copy)" "$origin" ""
out size lv_field "$C" lv_size
check_eq "the new volume's size (the old one's)" "$size" "256.00m"
out left volume_list
check_eq "the volumes" "$left" "$C $C+retired0 $RESTORED ${C}_snap0 $CLONE "
out origin lv_field "${C}_snap0" origin
check_eq "snap0's origin: the old volume, kept aside" "$origin" "$C+retired0"
out origin lv_field "$CLONE" origin
check_eq "the clone's origin: the old volume too" "$origin" "$C+retired0"
out config grep '^lxc.rootfs.path' "$LXCPATH/$C/snaps/snap0/config"
check_eq "the snapshot's rootfs (unchanged)" "$config" "lxc.rootfs.path = lvm:/dev/$VG/${C}_snap0"
check_data "$C" "the file in the restored container (as at the snapshot)" "on-lvm"
wait_for 20 "the volume to be unmounted after the stop" is_closed "$C"
out listing lxc-snapshot "${LXP[@]}" -n "$C" -L
check_contains "lxc-snapshot -L" "$listing" "snap0"
say "snap0 is still whole: restored again, as a new container:"
run lxc-snapshot "${LXP[@]}" -n "$C" -r snap0 -N "$AGAIN"
check_data "$AGAIN" "the file in the second restore of snap0" "on-lvm"
run lxc-destroy "${LXP[@]}" -n "$AGAIN"

section "Destroying"
say "$C and snap0 go; the old volume stays for the clone:"
run lxc-destroy "${LXP[@]}" -s -n "$C"
out left volume_list
check_eq "the volumes once $C is destroyed with its snapshots" "$left" "$C+retired0 $RESTORED $CLONE "
check_data "$CLONE" "the file in the clone, on the old volume" "changed"
say "The old volume goes with its last snapshot:"
run lxc-destroy "${LXP[@]}" -n "$CLONE"
out left volume_list
check_eq "the volumes once the clone is destroyed" "$left" "$RESTORED "
run lxc-destroy "${LXP[@]}" -n "$RESTORED"

section "The same on a thin pool"
run lvcreate --type thin-pool -L 1G -n pool0 "$VG"
run lxc-create "${LXP[@]}" -n "$THIN" -t busybox -B lvm --vgname "$VG" --thinpool pool0 --fssize 512M
out pool lv_field "$THIN" pool_lv
check_eq "the thin volume's pool" "$pool" "pool0"
write_data "$THIN" thin
run lxc-copy "${LXP[@]}" -s -n "$THIN" -N "$THIN_CLONE"
out pool lv_field "$THIN_CLONE" pool_lv
check_eq "the thin snapshot's pool" "$pool" "pool0"
out origin lv_field "$THIN_CLONE" origin
check_eq "the thin snapshot's origin" "$origin" "$THIN"
check_data "$THIN_CLONE" "the file in the thin clone" "thin"
run lxc-destroy "${LXP[@]}" -n "$THIN_CLONE"

section "Restoring a thin snapshot in place"
run lxc-snapshot "${LXP[@]}" -n "$THIN"
out origin lv_field "${THIN}_snap0" origin
check_eq "the thin snapshot's origin" "$origin" "$THIN"
write_data "$THIN" thin-changed
run lxc-snapshot "${LXP[@]}" -n "$THIN" -r snap0
out rootfs grep '^lxc.rootfs.path' "$LXCPATH/$THIN/config"
check_eq "the container's rootfs (unchanged)" "$rootfs" "lxc.rootfs.path = lvm:/dev/$VG/$THIN"
out left volume_list
check_eq "the volumes (the old one removed: a thin snapshot needs no origin)" "$left" "$THIN ${THIN}_snap0 pool0 "
out origin lv_field "$THIN" origin
check_eq "the container's new volume: a thin snapshot of snap0" "$origin" "${THIN}_snap0"
out pool lv_field "$THIN" pool_lv
check_eq "its pool" "$pool" "pool0"
check_data "$THIN" "the file in the restored thin container (as at the snapshot)" "thin"
wait_for 20 "the thin volume to be closed after the stop" is_closed "$THIN"
out listing lxc-snapshot "${LXP[@]}" -n "$THIN" -L
check_contains "lxc-snapshot -L" "$listing" "snap0"
run lxc-snapshot "${LXP[@]}" -n "$THIN" -r snap0 -N "$THIN_RESTORED"
check_data "$THIN_RESTORED" "the file in snap0 restored as a new container" "thin"
run lxc-destroy "${LXP[@]}" -n "$THIN_RESTORED"
run lxc-destroy "${LXP[@]}" -s -n "$THIN"
out left volume_list
check_eq "the volumes once $THIN is destroyed with its snapshot" "$left" "pool0 "
run lvremove -f "$VG/pool0"

section "A restore or a copy keeps the volume's filesystem"
if command -v mkfs.xfs >/dev/null 2>&1; then
    FS=xfs
else
    FS=ext3
    say "No xfsprogs in this system: ext3 stands in for a filesystem other than the default (ext4)."
fi
run lxc-create "${LXP[@]}" -n "$FS_C" -t busybox -B lvm --vgname "$VG" --fssize 256M --fstype "$FS"
out fstype blkid -o value -s TYPE "/dev/$VG/$FS_C"
check_eq "the volume's filesystem" "$fstype" "$FS"
write_data "$FS_C" before
run lxc-snapshot "${LXP[@]}" -n "$FS_C"
write_data "$FS_C" after
run lxc-snapshot "${LXP[@]}" -n "$FS_C" -r snap0 -N "$FS_NEW"
out fstype blkid -o value -s TYPE "/dev/$VG/$FS_NEW"
check_eq "the filesystem of snap0 restored as a new container" "$fstype" "$FS"
check_data "$FS_NEW" "the file in snap0 restored as a new container" "before"
run lxc-copy "${LXP[@]}" -n "$FS_NEW" -N "$FS_COPY"
out fstype blkid -o value -s TYPE "/dev/$VG/$FS_COPY"
check_eq "the filesystem of a full copy" "$fstype" "$FS"
check_data "$FS_COPY" "the file in the copy" "before"
run lxc-snapshot "${LXP[@]}" -n "$FS_C" -r snap0
out fstype blkid -o value -s TYPE "/dev/$VG/$FS_C"
check_eq "the filesystem of snap0 restored in place" "$fstype" "$FS"
check_data "$FS_C" "the file in snap0 restored in place" "before"
wait_for 20 "the volume of $FS_C to be closed after the stop" is_closed "$FS_C"
run lxc-destroy "${LXP[@]}" -n "$FS_COPY"
run lxc-destroy "${LXP[@]}" -n "$FS_NEW"
run lxc-destroy "${LXP[@]}" -s -n "$FS_C"

section "Nothing left"
out left volumes
check_eq "the volumes left in $VG" "$left" ""
