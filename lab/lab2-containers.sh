#!/usr/bin/env bash
# Lab 2, sections 2.2 to 2.5: a busybox system container created, started,
# attached to, reached on its console, stopped, executed, inspected,
# frozen and thawed, changed live through its cgroup, and destroyed, with
# LXC's commands (lxc-create, lxc-start, ...) answered by enclos.

. "$(dirname "$0")/lib.sh"

command -v busybox >/dev/null 2>&1 || skip "the busybox template needs busybox (apt-get install busybox-static)"
command -v script >/dev/null 2>&1 || skip "driving attach and the console at a terminal needs script(1) (apt-get install bsdutils)"

# LAB_LXCPATH keeps test runs apart from the default lxcpath.
LXP=()
if [ -n "${LAB_LXCPATH:-}" ]; then
    LXP=(-P "$LAB_LXCPATH")
    LXCPATH=$LAB_LXCPATH
else
    LXCPATH=$("$ENCLOS" config lxc.lxcpath)
fi
C=${P}lxc-bb
[ ! -e "$LXCPATH/$C" ] || die "a container named $C already exists in $LXCPATH: destroy it (lxc-destroy -f -n $C) or set LAB_PREFIX"
on_exit lxc-destroy "${LXP[@]}" -f -n "$C"

mem_v1=$(awk '$0 ~ / - cgroup cgroup / && $NF ~ /(^|,)memory(,|$)/ {print $5; exit}' /proc/self/mountinfo)
if [ -n "$mem_v1" ]; then
    MEM=$mem_v1 LIMIT=memory.limit_in_bytes
else
    MEM=$(awk '$0 ~ / - cgroup2 / {print $5; exit}' /proc/self/mountinfo) LIMIT=memory.max
fi
FRZ=$(awk '$0 ~ / - cgroup cgroup / && $NF ~ /(^|,)freezer(,|$)/ {print $5; exit}' /proc/self/mountinfo)
[ -n "$FRZ" ] || FRZ=$(awk '$0 ~ / - cgroup2 / {print $5; exit}' /proc/self/mountinfo)
CG=enclos.payload.$C

section "2.2 Creating a simple container"
run lxc-create "${LXP[@]}" -n "$C" -t busybox
out listing ls "$LXCPATH/$C"
check_contains "the container's directory" "$listing" "config"
check_contains "the container's directory" "$listing" "rootfs"
out listing ls "$LXCPATH/$C/rootfs"
for d in bin dev etc proc root sbin sys tmp usr var; do
    check_contains "the rootfs" "$listing" "$d"
done
out config cat "$LXCPATH/$C/config"
check_contains "the config" "$config" "lxc.rootfs.path = dir:$LXCPATH/$C/rootfs"
check_contains "the config" "$config" "lxc.uts.name = $C"

section "2.3 Starting it"
run lxc-start "${LXP[@]}" --name "$C"
out state lxc-info "${LXP[@]}" -n "$C" -s
check_contains "its state" "$state" "RUNNING"

section "2.4 Attaching to it"
out uname lxc-attach "${LXP[@]}" --name "$C" -- uname -a
check_contains "uname -a in the container" "$uname" "Linux $C "
out ps lxc-attach "${LXP[@]}" --name "$C" -- ps
init_line=$(printf '%s\n' "$ps" | awk '$1 == 1')
check_contains "PID 1 in the container" "$init_line" "init"
say "A shell reading its commands from standard input; leaving it does not stop the container:"
out shell sh -c "printf 'hostname\nwhich passwd || echo no passwd here\nexit\n' | lxc-attach ${LXP[*]} --name $C"
check_contains "the shell's output" "$shell" "$C"
say "At a terminal: a shell on a terminal of the container's own, keys and exit status passed through:"
term_start lxc-attach "${LXP[@]}" --name "$C"
term_expect "# "
term_run tty
tty=$TERM_GOT
check_contains "tty in the container" "$tty" "/dev/pts/"
term_run "test -c $tty && echo Y\"\"ES"
check_eq "$tty exists in the container" "$TERM_GOT" YES
term_run "ps -o pid,tty,comm"
check_contains "ps in the container shows the shell on $tty" "$TERM_GOT" "136,${tty#/dev/pts/}  sh"
term_send 'sleep 100\r'
sleep_pid() {
    local p
    for p in $(cat "$FRZ/$CG/cgroup.procs"); do
        [ "$(cat "/proc/$p/comm" 2>/dev/null)" = sleep ] && return 0
    done
    return 1
}
wait_for 20 "the sleep in the container" sleep_pid
term_send '\003'
term_send 's=$?; echo S""TATUS=$s.\r'
term_expect "STATUS=130."
ok "Ctrl+C ended the sleep in the container (status 130)"
term_send 'exit 7\r'
term_wait
term_show
check_eq "lxc-attach's exit status after 'exit 7'" "$TERM_RC" 7
case "$TERM_SCREEN" in
*WARN* | *enclos:* | *"can't access tty"*) die "warnings on the terminal" ;;
esac
ok "no warnings on the terminal"
out running lxc-ls "${LXP[@]}" --running
check_contains "lxc-ls --running" "$running" "$C"
out fancy lxc-ls "${LXP[@]}" -f --running
check_contains "lxc-ls -f header" "$fancy" "NAME"
check_contains "lxc-ls -f header" "$fancy" "STATE   AUTOSTART GROUPS IPV4 IPV6 UNPRIVILEGED"
row=$(printf '%s\n' "$fancy" | awk -v c="$C" '$1 == c')
check_contains "lxc-ls -f row" "$row" "RUNNING 0"

section "2.5 The console"
term_start lxc-console "${LXP[@]}" --name "$C" -t 1
term_expect "Ctrl+a q"
term_send '\r'
term_expect "$C login:"
term_send 'root\r'
term_expect "#"
term_run hostname
check_eq "hostname on the console" "$TERM_GOT" "$C"
term_send '\001q'
term_wait
term_show
check_eq "lxc-console's exit status after Ctrl+a q" "$TERM_RC" 0
check_contains "the console" "$TERM_SCREEN" "$C login:"

section "2.5 Stopping it"
run lxc-stop "${LXP[@]}" --name "$C"
out running lxc-ls "${LXP[@]}" --running
[ -z "$running" ] || die "lxc-ls --running still lists '$running'"
ok "no container runs"
[ ! -e "$MEM/$CG" ] || die "the container's cgroup $MEM/$CG is still there"
ok "its cgroup is gone"

section "2.5 lxc-execute: one command in a fresh container"
out uname lxc-execute "${LXP[@]}" -n "$C" -- uname -a
check_contains "uname -a under lxc-execute" "$uname" "Linux $C "
out pid1 lxc-execute "${LXP[@]}" -n "$C" -- sh -c 'echo $$'
check_eq "the command's pid (our init is PID 1)" "$pid1" 2
fails 3 lxc-execute "${LXP[@]}" -n "$C" -- sh -c 'exit 3'
ok "the command's exit status is lxc-execute's"
out running lxc-ls "${LXP[@]}" --running
[ -z "$running" ] || die "the container should be stopped after lxc-execute"

section "2.5 lxc-info"
out info lxc-info "${LXP[@]}" -n "$C"
check_contains "lxc-info" "$info" "Name:           $C"
check_contains "lxc-info" "$info" "State:          STOPPED"

section "2.5 lxc-freeze and lxc-unfreeze"
run lxc-start "${LXP[@]}" -n "$C"
out info lxc-info "${LXP[@]}" -n "$C"
for field in "State:          RUNNING" "PID:" "CPU use:" "BlkIO use:" "Memory use:"; do
    check_contains "lxc-info" "$info" "$field"
done
say "A busy loop in the container, to see freezing at work:"
lxc-attach "${LXP[@]}" -n "$C" -- sh -c 'while :; do :; done' >/dev/null 2>&1 &
on_exit kill $!
busy=""
for _ in $(seq 50); do
    for p in $(cat "$FRZ/$CG/cgroup.procs" 2>/dev/null); do
        # The loop itself (comm "sh"), not lxc-attach's helper in the container.
        if [ "$(cat "/proc/$p/comm" 2>/dev/null)" = sh ] &&
            tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | grep -q 'while :; do :; done'; then busy=$p; fi
    done
    [ -n "$busy" ] && break
    sleep 0.1
done
[ -n "$busy" ] || die "the busy loop did not show up in the container's cgroup"
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
ticks "$busy" >/dev/null || die "the busy loop $busy is gone"
run lxc-freeze "${LXP[@]}" -n "$C"
out state lxc-info "${LXP[@]}" -n "$C" -s
check_contains "its state" "$state" "FROZEN"
t0=$(ticks "$busy"); sleep 0.5; t1=$(ticks "$busy")
[ -n "$t0" ] && [ -n "$t1" ] || die "the busy loop $busy is gone"
check_eq "CPU ticks of the frozen loop over 0.5 s" "$((t1 - t0))" 0
run lxc-unfreeze "${LXP[@]}" -n "$C"
out state lxc-info "${LXP[@]}" -n "$C" -s
check_contains "its state" "$state" "RUNNING"
t0=$(ticks "$busy"); sleep 0.5; t1=$(ticks "$busy")
[ "$((t1 - t0))" -gt 0 ] || die "the thawed loop should run again"
ok "the thawed loop runs again ($((t1 - t0)) ticks in 0.5 s)"
lxc-attach "${LXP[@]}" -n "$C" -- kill -9 "$(lxc-attach "${LXP[@]}" -n "$C" -- pidof sh | tr ' ' '\n' | sort -n | tail -1)" 2>/dev/null || true

section "Other commands: lxc-cgroup, lxc-wait, lxc-destroy"
run lxc-cgroup "${LXP[@]}" -n "$C" "$LIMIT" 64000000
out limit cat "$MEM/$CG/$LIMIT"
PAGE=$(getconf PAGESIZE)
check_eq "$LIMIT of the container on the host" "$limit" "$((64000000 / PAGE * PAGE))"
out limit lxc-cgroup "${LXP[@]}" -n "$C" "$LIMIT"
check_eq "lxc-cgroup reading it back" "$limit" "$((64000000 / PAGE * PAGE))"
run lxc-wait "${LXP[@]}" -n "$C" -s RUNNING -t 5
run lxc-stop "${LXP[@]}" -n "$C"
run lxc-wait "${LXP[@]}" -n "$C" -s STOPPED -t 5

section "Bad input gets one clear error and exit code 1"
fails 1 lxc-attach "${LXP[@]}" -n "$C" -- true
check_contains "the error" "$LAST_ERR" "is STOPPED"
fails 1 lxc-stop "${LXP[@]}" -n "$C"
check_contains "the error" "$LAST_ERR" "is STOPPED"
fails 1 lxc-create "${LXP[@]}" -n "$C" -t busybox
check_contains "the error" "$LAST_ERR" "already exists"
fails 1 lxc-start "${LXP[@]}" -n "${P}nosuch"
check_contains "the error" "$LAST_ERR" "does not exist"

run lxc-destroy "${LXP[@]}" -n "$C"
[ ! -e "$LXCPATH/$C" ] || die "lxc-destroy left $LXCPATH/$C"
ok "the container is gone"

section "Lab 2 (sections 2.2 to 2.5) passed"
