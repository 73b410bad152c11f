#!/usr/bin/env bash
# Lab 2, section 2.8: backing up a container. A tar of its config and
# rootfs; lxc-snapshot (of a running container too, frozen for it; snaps/snap0 with
# its config, rootfs and ts, the listing, a restore into a new container
# that starts with the snapshot's files); and enclos's own backups, export
# to a .tar.zst with a checksum and import back, where a cut archive
# leaves nothing behind.

. "$(dirname "$0")/lib.sh"

command -v busybox >/dev/null 2>&1 || skip "the busybox template needs busybox (apt-get install busybox-static)"
command -v tar >/dev/null 2>&1 || skip "the tar backup needs tar"

LXP=()
if [ -n "${LAB_LXCPATH:-}" ]; then
    LXP=(-P "$LAB_LXCPATH")
    LXCPATH=$LAB_LXCPATH
else
    LXCPATH=$("$ENCLOS" config lxc.lxcpath)
fi
C=${P}lxc-bb
SNAP=${C}-snap0
FROM_TAR=${C}-tar
FROM_EXPORT=${C}-restored
for n in "$C" "$SNAP" "$FROM_TAR" "$FROM_EXPORT"; do
    [ ! -e "$LXCPATH/$n" ] || die "a container named $n already exists in $LXCPATH: destroy it or set LAB_PREFIX"
    on_exit lxc-destroy "${LXP[@]}" -f -n "$n"
done
# Runs before the destroys (last registered, first run).
on_exit lxc-snapshot "${LXP[@]}" -n "$C" -d ALL

section "Setting up: a busybox container holding a file of ours"
run lxc-create "${LXP[@]}" -n "$C" -t busybox
run lxc-execute "${LXP[@]}" -n "$C" -- sh -c 'echo test > /root/testdata'
out data cat "$LXCPATH/$C/rootfs/root/testdata"
check_eq "the control file" "$data" "test"

section "2.8 A tar of config and rootfs"
run tar -C "$LXCPATH/$C" --numeric-owner -czf "$LAB_TMP/backup.tar.gz" config rootfs
out members sh -c "tar -tzf '$LAB_TMP/backup.tar.gz' | grep -E '^(config|rootfs/bin/busybox|rootfs/root/testdata)$'"
check_contains "the archive" "$members" "config"
check_contains "the archive" "$members" "rootfs/bin/busybox"
check_contains "the archive" "$members" "rootfs/root/testdata"
say "enclos import reads such a tar back as a container (no checksum in it to verify):"
out imported "$ENCLOS" import "${LXP[@]}" "$LAB_TMP/backup.tar.gz" -n "$FROM_TAR"
check_contains "the import" "$imported" "plain tar"
out data lxc-execute "${LXP[@]}" -n "$FROM_TAR" -- cat /root/testdata
check_eq "the control file in $FROM_TAR" "$data" "test"
run lxc-destroy "${LXP[@]}" -n "$FROM_TAR"

section "2.8 lxc-snapshot of a running container: frozen, taken, thawed"
say "LXC refuses it; enclos freezes the container for the time of the snapshot, so that it is consistent:"
run lxc-start "${LXP[@]}" -n "$C"
run lxc-snapshot "${LXP[@]}" -q -n "$C"
out data cat "$LXCPATH/$C/snaps/snap0/rootfs/root/testdata"
check_eq "the control file in the running container's snapshot" "$data" "test"
out state lxc-info "${LXP[@]}" -n "$C" -s
check_contains "the container's state afterwards" "$state" "RUNNING"
run lxc-snapshot "${LXP[@]}" -n "$C" -d snap0
run lxc-stop "${LXP[@]}" -n "$C"
out running lxc-ls "${LXP[@]}" -f --running
check_eq "running containers (the header line only)" "$(printf '%s\n' "$running" | sed 1d)" ""

section "2.8 Taking the snapshot"
say "A directory-backed container's snapshot is a full copy; lxc-snapshot says so on its error output:"
printf '%sroot@lab:~# lxc-snapshot %s -n %s%s\n' "$_B" "${LXP[*]}" "$C" "$_N"
warning=$(lxc-snapshot "${LXP[@]}" -n "$C" 2>&1 >/dev/null) || die "lxc-snapshot failed: $warning"
printf '%s\n' "$warning"
check_contains "the warning" "$warning" "full copy"
out listing ls "$LXCPATH/$C/snaps"
check_eq "the snapshots directory" "$listing" "snap0"
out listing ls "$LXCPATH/$C/snaps/snap0"
# LXC's layout (config, rootfs, ts), and the seccomp deny-list the busybox
# template put next to the container's config: the snapshot's config
# names its own copy.
say "config, rootfs and ts as LXC lays them out; common.seccomp is the template's seccomp deny-list, which the snapshot's config names:"
check_eq "snap0" "$(printf '%s\n' "$listing" | tr '\n' ' ')" "common.seccomp config rootfs ts "
out ts cat "$LXCPATH/$C/snaps/snap0/ts"
[[ $ts =~ ^[0-9]{4}:[0-9]{2}:[0-9]{2}\ [0-9]{2}:[0-9]{2}:[0-9]{2}$ ]] || die "ts is '$ts', not YYYY:MM:DD HH:MM:SS"
[ "$(tail -c 1 "$LXCPATH/$C/snaps/snap0/ts" | od -An -c | tr -d ' ')" != '\n' ] || die "ts ends with a newline; LXC writes none"
ok "ts is the time taken, as LXC writes it ($ts, no newline)"
out config grep -E '^lxc.(rootfs.path|uts.name)' "$LXCPATH/$C/snaps/snap0/config"
check_contains "the snapshot's config" "$config" "lxc.rootfs.path = dir:$LXCPATH/$C/snaps/snap0/rootfs"
check_contains "the snapshot's config" "$config" "lxc.uts.name = $C"
out orig du -sk "$LXCPATH/$C/rootfs/"
out copy du -sk "$LXCPATH/$C/snaps/snap0/rootfs/"
check_eq "KiB used by the snapshot's rootfs (a full copy)" "${copy%%[[:space:]]*}" "${orig%%[[:space:]]*}"
out list lxc-snapshot "${LXP[@]}" -n "$C" -L
check_eq "lxc-snapshot -L" "$list" "snap0 ($LXCPATH/$C/snaps) $ts"

section "2.8 Restoring the snapshot as a new container"
run lxc-execute "${LXP[@]}" -n "$C" -- sh -c 'echo changed > /root/testdata'
run lxc-snapshot "${LXP[@]}" -r snap0 -n "$C" -N "$SNAP"
out names lxc-ls "${LXP[@]}" -1
check_eq "lxc-ls" "$(printf '%s\n' "$names" | tr '\n' ' ')" "$C $SNAP "
run lxc-start "${LXP[@]}" -n "$SNAP"
out data lxc-attach "${LXP[@]}" -n "$SNAP" -- cat /root/testdata
check_eq "the control file in $SNAP (as snapshotted)" "$data" "test"
out host lxc-attach "${LXP[@]}" -n "$SNAP" -- hostname
check_eq "its hostname" "$host" "$SNAP"
run lxc-stop "${LXP[@]}" -n "$SNAP"
out data cat "$LXCPATH/$C/rootfs/root/testdata"
check_eq "the control file in $C (left as it was)" "$data" "changed"

section "Backups done well: export to .tar.zst, import back"
out exported "$ENCLOS" export "${LXP[@]}" -n "$C" -s -o "$LAB_TMP/$C.tar.zst"
check_contains "the export" "$exported" "sha256"
out imported "$ENCLOS" import "${LXP[@]}" "$LAB_TMP/$C.tar.zst" -n "$FROM_EXPORT"
check_contains "the import" "$imported" "checksum verified"
check_contains "the import" "$imported" "with snap0"
out data lxc-execute "${LXP[@]}" -n "$FROM_EXPORT" -- cat /root/testdata
check_eq "the control file in $FROM_EXPORT" "$data" "changed"
out list lxc-snapshot "${LXP[@]}" -n "$FROM_EXPORT" -L
check_contains "its snapshots" "$list" "snap0 ($LXCPATH/$FROM_EXPORT/snaps) $ts"
run lxc-snapshot "${LXP[@]}" -n "$FROM_EXPORT" -d ALL

section "A cut archive is refused, and leaves nothing"
size=$(stat -c %s "$LAB_TMP/$C.tar.zst")
run sh -c "head -c $((size / 2)) '$LAB_TMP/$C.tar.zst' > '$LAB_TMP/cut.tar.zst'"
before=$(ls -A "$LXCPATH")
fails 1 "$ENCLOS" import "${LXP[@]}" "$LAB_TMP/cut.tar.zst" -n "${P}lxc-bb-cut"
check_contains "the error" "$LAST_ERR" "it is truncated"
check_eq "the lxcpath after the failed import" "$(ls -A "$LXCPATH")" "$before"
fails 1 "$ENCLOS" import "${LXP[@]}" "$LAB_TMP/$C.tar.zst" -n "$SNAP"
check_contains "the error" "$LAST_ERR" "already exists"

section "Destroying snapshots"
run lxc-snapshot "${LXP[@]}" -n "$C" -d snap0
out list lxc-snapshot "${LXP[@]}" -n "$C" -L
check_eq "lxc-snapshot -L" "$list" "No snapshots"

section "Lab 2 (section 2.8) passed"
