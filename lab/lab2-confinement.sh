#!/usr/bin/env bash
# Lab 2, confinement: on a host that runs AppArmor (the VM lab boots with
# apparmor=1 security=apparmor and has apparmor_parser), a busybox
# container made with the template's default configuration runs under the
# profile enclos generates for it, lxc-<name>_<lxcpath>, as LXC's does:
# init and every attached process. From inside, the usual ways out fail:
# a fresh proc or sysfs mounted elsewhere, and, through a fresh
# proc on /proc (which the profile lets init mount), writes to
# /proc/sysrq-trigger, /proc/sys/kernel and /sys. The kernel's log says
# AppArmor refused the mounts and the pivot_root. lxc-execute's command
# runs under the profile too; lxc.apparmor.profile = unconfined runs
# unconfined; the profile is unloaded when the container stops. An
# unprivileged container (lxc.idmap) made by root, its rootfs mounted
# idmapped, starts on this host whose / is shared (systemd's), runs under
# a profile of its own, and meets the same refusals.
#
# Every write attempted is harmless if it went through: sysrq's 'h' (help)
# and each file's own value written back.

. "$(dirname "$0")/lib.sh"

command -v busybox >/dev/null 2>&1 || skip "the busybox template needs busybox (apt-get install busybox-static)"
AA=/sys/kernel/security/apparmor
[ "$(cat /sys/module/apparmor/parameters/enabled 2>/dev/null)" = Y ] && [ -d "$AA" ] ||
    skip "this host does not run AppArmor (boot with apparmor=1 security=apparmor; the VM lab does)"
command -v apparmor_parser >/dev/null 2>&1 || PATH=$PATH:/usr/sbin:/sbin
command -v apparmor_parser >/dev/null 2>&1 || skip "loading a profile needs apparmor_parser (apt-get install apparmor)"

LXP=()
if [ -n "${LAB_LXCPATH:-}" ]; then
    LXP=(-P "$LAB_LXCPATH")
    LXCPATH=$LAB_LXCPATH
else
    LXCPATH=$("$ENCLOS" config lxc.lxcpath)
fi
C=${P}lxc-aa
U=${P}lxc-aa-np
for n in "$C" "$U"; do
    [ ! -e "$LXCPATH/$n" ] || die "a container named $n already exists in $LXCPATH: destroy it (lxc-destroy -f -n $n) or set LAB_PREFIX"
done
on_exit lxc-destroy "${LXP[@]}" -f -n "$C"
on_exit lxc-destroy "${LXP[@]}" -f -n "$U"

# The milliseconds since the epoch.
ms() { echo $(($(date +%s%N) / 1000000)); }
# timed_start NAME: lxc-start, its time kept in START_MS.
timed_start() {
    local t0
    t0=$(ms)
    run lxc-start "${LXP[@]}" -n "$1"
    START_MS=$(($(ms) - t0))
    say "(lxc-start took ${START_MS} ms)"
}
# init_pid NAME
init_pid() { lxc-info "${LXP[@]}" -n "$1" -p | awk '/^PID:/ {print $2}'; }
_attach_prompt() { printf "%sroot@lab:~# lxc-attach -n %s -- sh -c '%s'%s\n" "$_B" "$1" "$2" "$_N"; }
# in_c NAME SCRIPT: runs SCRIPT by sh in the container, printing it.
in_c() {
    _attach_prompt "$1" "$2"
    lxc-attach "${LXP[@]}" -n "$1" -- sh -c "$2"
}
# c_out VAR NAME SCRIPT: like in_c, keeping the output in VAR.
c_out() {
    local __var=$1 __o
    _attach_prompt "$2" "$3"
    __o=$(lxc-attach "${LXP[@]}" -n "$2" -- sh -c "$3")
    printf '%s\n' "$__o"
    printf -v "$__var" '%s' "$__o"
}
# refused NAME WHAT SCRIPT: SCRIPT, run in the container, must fail;
# its error output is kept in LAST_ERR.
refused() {
    local name=$1 what=$2 rc=0
    _attach_prompt "$name" "$3"
    LAST_ERR=$(lxc-attach "${LXP[@]}" -n "$name" -- sh -c "$3" 2>&1) || rc=$?
    printf '%s\n' "$LAST_ERR"
    [ "$rc" -ne 0 ] || die "$what succeeded in container $name"
    ok "$what: refused (exit code $rc)"
}
# denied_in_log PROFILE OPERATION: the refusal was AppArmor's: EACCES
# ("Permission denied", where a missing capability gives EPERM) and,
# within a few seconds, its denial in the kernel's log. The kernel
# rate-limits audit lines (several denials in one second may lose one):
# then EACCES stands alone, and the lab says so.
denied_in_log() {
    local log i
    check_contains "the refusal's error (EACCES, AppArmor's)" "$LAST_ERR" "Permission denied"
    for i in 1 2 3 4 5 6; do
        log=$(dmesg 2>/dev/null | grep 'apparmor="DENIED"' | grep -F "operation=\"$2\"" | grep -F "profile=\"$1\"" | tail -n 1) || true
        [ -z "$log" ] || break
        sleep 0.5
    done
    if [ -n "$log" ]; then
        ok "the kernel's log: ${log#*] }"
    else
        say "(no audit line for $2 in the kernel's log after 3 s: the kernel rate-limits them; the EACCES above is AppArmor's)"
    fi
}

section "A privileged container under its generated profile"
run lxc-create "${LXP[@]}" -n "$C" -t busybox
out keys sh -c "grep -c '^lxc.apparmor' '$LXCPATH/$C/config' || true"
check_eq "lxc.apparmor keys in the template's configuration" "$keys" 0
PROFILE="lxc-${C}_<$LXCPATH>"
timed_start "$C"
FIRST_MS=$START_MS
pid=$(init_pid "$C")
out label cat "/proc/$pid/attr/current"
check_eq "init's label (as ps -Z shows it)" "$label" "$PROFILE (enforce)"
out loaded grep -F "$PROFILE" "$AA/profiles"
check_eq "the loaded profile" "$loaded" "$PROFILE (enforce)"
c_out label "$C" 'cat /proc/self/attr/current'
check_eq "an attached process's label" "$label" "$PROFILE (enforce)"

section "The ways out, from inside"
refused "$C" "a fresh proc on /tmp/p" 'mkdir -p /tmp/p && mount -t proc proc /tmp/p'
denied_in_log "$PROFILE" mount
refused "$C" "a fresh sysfs on /tmp/s" 'mkdir -p /tmp/s && mount -t sysfs sysfs /tmp/s'
refused "$C" "a bind of /proc elsewhere" 'mkdir -p /tmp/b && mount --bind /proc /tmp/b'
if busybox --list | grep -qx pivot_root; then
    refused "$C" "pivot_root" 'mkdir -p /tmp/r && mount -t tmpfs t /tmp/r && mkdir -p /tmp/r/old && cd /tmp/r && pivot_root . old'
    denied_in_log "$PROFILE" pivotroot
else
    say "(this busybox has no pivot_root applet: that attempt is left out)"
fi
say "A fresh proc on /proc (which the profile lets a container's init mount): the writes stay refused."
in_c "$C" 'mount -t proc proc /proc && grep " /proc proc " /proc/self/mounts'
refused "$C" "echo h > /proc/sysrq-trigger" 'echo h > /proc/sysrq-trigger'
check_contains "its error" "$LAST_ERR" "Permission denied"
say "(the profile's deny rules are quiet: the kernel's log has no line for them)"
refused "$C" "writing /proc/sys/kernel/printk" 'v=$(cat /proc/sys/kernel/printk) && echo "$v" > /proc/sys/kernel/printk'
check_contains "its error" "$LAST_ERR" "Permission denied"
refused "$C" "writing /proc/sys/vm/overcommit_memory" 'v=$(cat /proc/sys/vm/overcommit_memory) && echo "$v" > /proc/sys/vm/overcommit_memory'
say "/sys: not writable (sys:mixed mounts it read-only; the profile denies it too), /sys/firmware not even readable."
refused "$C" "writing /sys/module/printk/parameters/time" 'v=$(cat /sys/module/printk/parameters/time) && echo "$v" > /sys/module/printk/parameters/time'
refused "$C" "reading /sys/firmware" 'ls /sys/firmware'
check_contains "its error" "$LAST_ERR" "Permission denied"
run lxc-stop "${LXP[@]}" -n "$C"
out left sh -c "grep -cF '$PROFILE' '$AA/profiles' || true"
check_eq "the profile after lxc-stop (loaded profiles naming it)" "$left" 0
out label lxc-execute "${LXP[@]}" -n "$C" -- cat /proc/self/attr/current
check_eq "the label of lxc-execute's command" "$label" "$PROFILE (enforce)"
out left sh -c "grep -cF '$PROFILE' '$AA/profiles' || true"
check_eq "the profile after lxc-execute" "$left" 0

section "A second start: the compiled profile is cached"
timed_start "$C"
SECOND_MS=$START_MS
run lxc-stop "${LXP[@]}" -n "$C"

section "lxc.apparmor.profile = unconfined"
run sh -c "echo 'lxc.apparmor.profile = unconfined' >> '$LXCPATH/$C/config'"
timed_start "$C"
UNCONFINED_MS=$START_MS
pid=$(init_pid "$C")
out label cat "/proc/$pid/attr/current"
check_eq "init's label" "$label" "unconfined"
out n sh -c "grep -cF '$PROFILE' '$AA/profiles' || true"
check_eq "profiles loaded for it" "$n" 0
say "Unconfined, the same mount goes through (what stopped it was AppArmor):"
in_c "$C" 'mkdir -p /tmp/p && mount -t proc proc /tmp/p && umount /tmp/p && echo mounted'
run lxc-stop "${LXP[@]}" -n "$C"

section "An unprivileged container (lxc.idmap), made by root"
run lxc-create "${LXP[@]}" -n "$U" -t busybox
run sh -c "printf 'lxc.idmap = u 0 165536 65536\nlxc.idmap = g 0 165536 65536\n' >> '$LXCPATH/$U/config'"
say "Its root (uid 165536 on the host) goes through the directories to its rootfs:"
run chmod o+x "$LXCPATH" "$LXCPATH/$U"
out root_tags sh -c "awk '\$5 == \"/\" {print \$7}' /proc/self/mountinfo | tail -n 1"
say "(the host's / is mounted with propagation '$root_tags')"
run lxc-start "${LXP[@]}" -n "$U"
UPROFILE="lxc-${U}_<$LXCPATH>"
pid=$(init_pid "$U")
out owner stat -c %u "/proc/$pid"
check_eq "init's uid on the host" "$owner" 165536
c_out uid "$U" 'id -u'
check_eq "its uid inside" "$uid" 0
out mounted sh -c "grep -c ' $LXCPATH/$U/rootfs' /proc/self/mountinfo || true"
check_eq "the container's mounts seen on the host" "$mounted" 0
out label cat "/proc/$pid/attr/current"
check_eq "init's label" "$label" "$UPROFILE (enforce)"
c_out label "$U" 'cat /proc/self/attr/current'
check_eq "an attached process's label" "$label" "$UPROFILE (enforce)"
refused "$U" "a fresh proc on /tmp/p" 'mkdir -p /tmp/p && mount -t proc proc /tmp/p'
refused "$U" "a fresh sysfs on /tmp/s" 'mkdir -p /tmp/s && mount -t sysfs sysfs /tmp/s'
refused "$U" "a bind of /proc elsewhere" 'mkdir -p /tmp/b && mount --bind /proc /tmp/b'
refused "$U" "echo h > /proc/sysrq-trigger" 'echo h > /proc/sysrq-trigger'
refused "$U" "writing /proc/sys/kernel/printk" 'v=$(cat /proc/sys/kernel/printk) && echo "$v" > /proc/sys/kernel/printk'
refused "$U" "writing /sys/module/printk/parameters/time" 'v=$(cat /sys/module/printk/parameters/time) && echo "$v" > /sys/module/printk/parameters/time'
run lxc-stop "${LXP[@]}" -n "$U"
out left sh -c "grep -cF '$UPROFILE' '$AA/profiles' || true"
check_eq "its profile after lxc-stop" "$left" 0

section "Start times"
say "lxc-start: ${FIRST_MS} ms with the profile compiled and loaded, ${SECOND_MS} ms from apparmor_parser's cache, ${UNCONFINED_MS} ms unconfined"
