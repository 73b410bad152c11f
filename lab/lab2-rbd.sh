#!/usr/bin/env bash
# Lab 2, section 2.2: the rbd backing store. A one-node Ceph cluster (a
# monitor and one OSD on loopback, Debian's packages, no cephx), each step
# of its set-up timed; a busybox container on an RBD image (lxc-create -B
# rbd), started, written to through lxc-attach, stopped; its snapshot clone
# (lxc-copy -s, an RBD clone of a protected snapshot); two snapshots
# restored in place (lxc-snapshot -r without -N: a clone of the snapshot,
# flattened, under the container's name; the old image kept while clones
# need it); all destroyed, and rbd ls shows nothing left.
#
# It makes and then stops a Ceph cluster: it runs in the VM lab's ceph
# flavour (cargo xtask lab vm --with ceph lab2-rbd.sh), and skips itself
# where there is no Ceph or where one is configured already.

. "$(dirname "$0")/lib.sh"

command -v ceph-mon >/dev/null 2>&1 || skip "no Ceph (apt-get install ceph-mon ceph-osd ceph-common); in the VM lab: cargo xtask lab vm --with ceph lab2-rbd.sh"
[ ! -e /etc/ceph/ceph.conf ] || skip "/etc/ceph/ceph.conf exists: this lab makes a throwaway cluster of its own (run it in the VM lab)"
[ -e /sys/bus/rbd ] || modprobe rbd 2>/dev/null || true
[ -e /sys/bus/rbd ] || skip "this kernel has no rbd module"
command -v busybox >/dev/null 2>&1 || skip "the busybox template needs busybox (apt-get install busybox-static)"

LXP=()
if [ -n "${LAB_LXCPATH:-}" ]; then
    LXP=(-P "$LAB_LXCPATH")
    LXCPATH=$LAB_LXCPATH
else
    LXCPATH=$("$ENCLOS" config lxc.lxcpath)
fi
POOL=lxc
C=${P}rbd-bb
CLONE=${P}rbd-clone
for n in "$C" "$CLONE"; do
    [ ! -e "$LXCPATH/$n" ] || die "a container named $n already exists in $LXCPATH: destroy it or set LAB_PREFIX"
done

# timed WHAT CMD...: runs CMD, says how long it took.
SETUP_START=$SECONDS
timed() {
    local what=$1 t=$SECONDS
    shift
    "$@"
    say "   ($what: $((SECONDS - t)) s, set-up so far $((SECONDS - SETUP_START)) s)"
}
osd_up() { ceph osd stat 2>/dev/null | grep -q '1 up'; }
mon_up() { ceph -s --connect-timeout 5 >/dev/null 2>&1; }

section "A one-node Ceph cluster"
FSID=$(cat /proc/sys/kernel/random/uuid)
mkdir -p /etc/ceph /var/lib/ceph/mon/ceph-lab /var/lib/ceph/osd/ceph-0
on_exit rm -rf /etc/ceph/ceph.conf /var/lib/ceph/mon/ceph-lab /var/lib/ceph/osd/ceph-0
cat >/etc/ceph/ceph.conf <<EOF
[global]
fsid = $FSID
mon initial members = lab
mon host = [v2:127.0.0.1:3300,v1:127.0.0.1:6789]
public addr = 127.0.0.1
auth cluster required = none
auth service required = none
auth client required = none
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
mon allow pool size one = true
mon warn on pool no redundancy = false
osd crush chooseleaf type = 0
osd objectstore = memstore
memstore device bytes = 1610612736
EOF
run cat /etc/ceph/ceph.conf
timed "monitor's key" ceph-authtool --create-keyring "$LAB_TMP/mon.keyring" --gen-key -n mon. --cap mon 'allow *'
timed "monitor map" monmaptool --create --fsid "$FSID" --addv lab '[v2:127.0.0.1:3300,v1:127.0.0.1:6789]' "$LAB_TMP/monmap"
timed "monitor mkfs" ceph-mon --mkfs -i lab --monmap "$LAB_TMP/monmap" --keyring "$LAB_TMP/mon.keyring"
on_exit pkill -x ceph-mon
timed "monitor start" ceph-mon -i lab
timed "monitor answering" wait_for 300 "the monitor to answer" mon_up
on_exit pkill -x ceph-osd
OSD_UUID=$(cat /proc/sys/kernel/random/uuid)
out id ceph osd new "$OSD_UUID"
check_eq "the OSD's id" "$id" "0"
timed "OSD mkfs" ceph-osd -i 0 --mkfs --osd-uuid "$OSD_UUID"
timed "OSD start" ceph-osd -i 0
timed "OSD up" wait_for 300 "the OSD to be up" osd_up
timed "pool" ceph osd pool create "$POOL" 8
# It writes to the pool: its placement groups are active once it returns
# (their states come from a manager, which this cluster does without).
timed "pool for rbd" rbd pool init "$POOL"
run ceph -s
say "The one-node cluster was set up in $((SECONDS - SETUP_START)) s."
for n in "$C" "$CLONE"; do
    on_exit lxc-destroy "${LXP[@]}" -f -s -n "$n"
done
on_exit lxc-destroy "${LXP[@]}" -f -n "$CLONE"

section "What a missing pool says"
fails 1 lxc-create "${LXP[@]}" -n "$C" -t busybox -B rbd --rbdpool "${P}nopool" --fssize 256M
check_contains "the error" "$LAST_ERR" "ceph osd pool create"
[ ! -e "$LXCPATH/$C" ] || die "a refused create left $LXCPATH/$C"
ok "nothing was left"

section "2.2 lxc-create -B rbd"
run lxc-create "${LXP[@]}" -n "$C" -t busybox -B rbd --rbdpool "$POOL" --fssize 256M
out rootfs grep '^lxc.rootfs.path' "$LXCPATH/$C/config"
check_eq "the rootfs in the config" "$rootfs" "lxc.rootfs.path = rbd:/dev/rbd/$POOL/$C"
out size rbd info --format json "$POOL/$C"
check_contains "the image's size" "$size" '"size":268435456'
out mapped rbd showmapped
check_eq "the images mapped once created" "$mapped" ""

section "Started, written to, stopped"
run lxc-start "${LXP[@]}" -n "$C"
run lxc-wait "${LXP[@]}" -n "$C" -s RUNNING -t 60
run lxc-attach "${LXP[@]}" -n "$C" -- sh -c 'echo on-rbd > /root/testdata'
out data lxc-attach "${LXP[@]}" -n "$C" -- cat /root/testdata
check_eq "the file written in the container" "$data" "on-rbd"
run lxc-stop "${LXP[@]}" -n "$C"
out mapped rbd showmapped
check_eq "the images mapped once stopped" "$mapped" ""

section "lxc-copy -s: a snapshot clone"
run lxc-copy "${LXP[@]}" -s -n "$C" -N "$CLONE"
out rootfs grep '^lxc.rootfs.path' "$LXCPATH/$CLONE/config"
check_eq "the clone's rootfs" "$rootfs" "lxc.rootfs.path = rbd:/dev/rbd/$POOL/$CLONE"
out children rbd children "$POOL/$C@$CLONE"
check_eq "the clone of the snapshot" "$children" "$POOL/$CLONE"
check_data "$CLONE" "the file in the clone" on-rbd 60

section "The origin of a clone is not destroyed under it"
fails 1 lxc-destroy "${LXP[@]}" -n "$C"
check_contains "the error" "$LAST_ERR" "$CLONE"
run lxc-destroy "${LXP[@]}" -n "$CLONE"

section "2.8 Restoring in place (lxc-snapshot -r without -N)"
say "snap0 holds 'on-rbd'; the container gets files written after each snapshot:"
run lxc-snapshot "${LXP[@]}" -n "$C"
run lxc-execute "${LXP[@]}" -n "$C" -- sh -c 'echo after > /root/after-snap0'
run lxc-snapshot "${LXP[@]}" -n "$C"
run lxc-execute "${LXP[@]}" -n "$C" -- sh -c 'echo later > /root/after-snap1'
run lxc-snapshot "${LXP[@]}" -n "$C" -r snap0
out rootfs grep '^lxc.rootfs.path' "$LXCPATH/$C/config"
check_eq "the container's rootfs (unchanged)" "$rootfs" "lxc.rootfs.path = rbd:/dev/rbd/$POOL/$C"
out got files_of "$C"
check_eq "the container's files once snap0 is restored" "$got" "on-rbd"
out images rbd ls "$POOL"
check_contains "the images" "$images" "$C:retired0"
out parent rbd info --format json "$POOL/$C"
case $parent in *'"parent"'*) die "the restored image still has a parent: $parent" ;; esac
ok "the restored image stands alone (flattened)"
out children rbd children "$POOL/$C:retired0@${C}_snap1"
check_eq "the clone of snap1: on the old image, kept aside" "$children" "$POOL/${C}_snap1"
check_data "$C" "the file in the restored container, started" on-rbd 60
out mapped rbd showmapped
check_eq "the images mapped once stopped" "$mapped" ""
say "Restored again, from snap1:"
run lxc-snapshot "${LXP[@]}" -n "$C" -r snap1
out got files_of "$C"
check_eq "the container's files once snap1 is restored" "$got" "on-rbd after-snap0"
run rbd ls -l "$POOL"
run lxc-snapshot "${LXP[@]}" -n "$C" -d snap0
out got files_of "$C"
check_eq "the container's files once snap0 is destroyed" "$got" "on-rbd after-snap0"
run lxc-snapshot "${LXP[@]}" -n "$C" -d ALL
out listing lxc-snapshot "${LXP[@]}" -n "$C" -L
check_eq "lxc-snapshot -L once all are destroyed" "$listing" "No snapshots"
run lxc-destroy "${LXP[@]}" -n "$C"

section "Nothing left"
out left rbd ls "$POOL"
check_eq "the images left in $POOL" "$left" ""
