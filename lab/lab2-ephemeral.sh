#!/usr/bin/env bash
# Lab 2, section 2.7: an ephemeral container. lxc-copy -e makes a copy of a
# stopped container that starts at once and is destroyed, storage and all,
# when it stops. What is written in it lives in its own upper layer over the
# original's rootfs, survives as long as it runs, and goes with it.

. "$(dirname "$0")/lib.sh"

command -v busybox >/dev/null 2>&1 || skip "the busybox template needs busybox (apt-get install busybox-static)"
grep -qw overlay /proc/filesystems || modprobe overlay 2>/dev/null || true
grep -qw overlay /proc/filesystems || skip "ephemeral copies stack an overlay on the original: this kernel has no overlayfs"

# LAB_LXCPATH keeps test runs apart from the default lxcpath.
LXP=()
if [ -n "${LAB_LXCPATH:-}" ]; then
    LXP=(-P "$LAB_LXCPATH")
    LXCPATH=$LAB_LXCPATH
else
    LXCPATH=$("$ENCLOS" config lxc.lxcpath)
fi
C=${P}lxc-bb
E=${P}lxc-bb-eph
for n in "$C" "$E"; do
    [ ! -e "$LXCPATH/$n" ] || die "a container named $n already exists in $LXCPATH: destroy it (lxc-destroy -f -n $n) or set LAB_PREFIX"
done
# The copy first: the original cannot go while the copy stacks on it.
on_exit lxc-destroy "${LXP[@]}" -f -n "$C"
on_exit lxc-destroy "${LXP[@]}" -f -n "$E"

section "The original: a busybox container with a script in /root"
run lxc-create "${LXP[@]}" -n "$C" -t busybox
printf '#!/bin/sh\necho "Hello from $(hostname)"\n' >"$LXCPATH/$C/rootfs/root/hi.sh"
chmod 755 "$LXCPATH/$C/rootfs/root/hi.sh"
run lxc-start "${LXP[@]}" -n "$C"
out fancy lxc-ls "${LXP[@]}" -f --running
check_contains "lxc-ls -f --running" "$fancy" "$C RUNNING"

section "2.7 lxc-copy -e needs the original stopped"
fails 1 lxc-copy "${LXP[@]}" -e -N "$E" -n "$C"
check_contains "the error" "$LAST_ERR" "Original container ($C) is running"
check_contains "the error" "$LAST_ERR" "stop it first"
[ ! -e "$LXCPATH/$E" ] || die "the refused copy left $LXCPATH/$E"
ok "the refused copy left nothing"

run lxc-stop "${LXP[@]}" -n "$C"
out running lxc-ls "${LXP[@]}" --running
[ -z "$running" ] || die "lxc-ls --running still lists '$running'"

section "2.7 The ephemeral copy"
out created lxc-copy "${LXP[@]}" -e -N "$E" -n "$C"
check_eq "lxc-copy's report" "$created" "Created $E as clone of $C"
out state lxc-info "${LXP[@]}" -n "$E" -s
check_contains "its state (it started at once)" "$state" "RUNNING"
out config cat "$LXCPATH/$E/config"
check_contains "its config" "$config" "lxc.rootfs.path = overlay:$LXCPATH/$C/rootfs:$LXCPATH/$E/delta0"
check_contains "its config" "$config" "lxc.ephemeral = 1"
check_contains "its config" "$config" "lxc.uts.name = $E"

section "2.7 A file written in it survives a new attach"
out shell sh -c "printf 'cd /root\nls -l\necho test > testdata\nls -l\nexit\n' | lxc-attach ${LXP[*]} -n $E"
check_contains "ls -l in /root" "$shell" "hi.sh"
check_contains "ls -l in /root" "$shell" "testdata"
out again sh -c "printf 'cat /root/testdata\n/root/hi.sh\nexit\n' | lxc-attach ${LXP[*]} -n $E"
check_contains "the second attach" "$again" "test"
check_contains "the second attach" "$again" "Hello from $E"

section "2.7 Where the change lives: the copy's upper layer, not the original"
out upper ls "$LXCPATH/$E/delta0/root"
check_eq "the upper layer's /root" "$upper" "testdata"
[ ! -e "$LXCPATH/$C/rootfs/root/testdata" ] || die "testdata reached the original's rootfs"
ok "the original's rootfs has no testdata"
out du du -sk "$LXCPATH/$E/delta0"
upper_kb=${du%%[[:space:]]*}
[ "$upper_kb" -lt 200 ] || die "the upper layer takes ${upper_kb} KiB: it should hold only the changes"
ok "the upper layer holds only the changes (${upper_kb} KiB)"

section "2.7 Stopped, the ephemeral copy is gone"
run lxc-stop "${LXP[@]}" -n "$E"
wait_for 20 "the copy's directory to go" test ! -e "$LXCPATH/$E"
out listing lxc-ls "${LXP[@]}"
check_eq "lxc-ls" "$listing" "$C"
fails 1 lxc-start "${LXP[@]}" -n "$E"
check_contains "the error" "$LAST_ERR" "does not exist"
[ ! -e "$LXCPATH/$C/lxc_snapshots" ] || die "the original still records the gone copy"
ok "the original no longer records a clone"

run lxc-destroy "${LXP[@]}" -n "$C"
[ ! -e "$LXCPATH/$C" ] || die "lxc-destroy left $LXCPATH/$C"
ok "the original is gone"

section "Lab 2 (section 2.7) passed"
