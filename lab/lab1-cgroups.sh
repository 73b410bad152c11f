#!/usr/bin/env bash
# Lab 1: control groups. A memory limit that the kernel rounds to whole
# pages, a script placed in a group and measured, a limit so small that the
# kernel kills it (read from the group's own OOM counters), the cgcreate /
# cgexec / cgdelete tools, and a cgconfig.conf applied with cgconfigparser.
# Runs on cgroup v1, v2 and hybrid hosts: on v2 the v2 file names are used.

. "$(dirname "$0")/lib.sh"

# Where is the memory controller, and which file names does it use?
mem_v1=$(awk '$0 ~ / - cgroup cgroup / && $NF ~ /(^|,)memory(,|$)/ {print $5; exit}' /proc/self/mountinfo)
if [ -n "$mem_v1" ]; then
    MEM=$mem_v1 LIMIT=memory.limit_in_bytes USAGE=memory.usage_in_bytes
    VERSION=v1
else
    MEM=$(awk '$0 ~ / - cgroup2 / {print $5; exit}' /proc/self/mountinfo)
    [ -n "$MEM" ] || skip "no cgroup hierarchy is mounted"
    grep -qw memory "$MEM/cgroup.controllers" || skip "the memory controller is not available on this host's cgroup v2"
    LIMIT=memory.max USAGE=memory.current
    VERSION=v2
fi
cpu_v1=$(awk '$0 ~ / - cgroup cgroup / && $NF ~ /(^|,)cpu(,|$)/ {print $5; exit}' /proc/self/mountinfo)
PAGE=$(getconf PAGESIZE)
say "memory controller: cgroup $VERSION at $MEM (pages of $PAGE bytes)"

G=${P}helloworld G1=${P}helloworld1 G2=${P}helloworld2
for g in "$G" "$G1" "$G2"; do
    [ ! -e "$MEM/$g" ] || die "a group named $g already exists in $MEM: remove it (cgdelete -r memory:$g) or set LAB_PREFIX"
done

# A group removed at the end whatever happens: kill what is left in it.
cleanup_group() {
    local g=$1 d
    for d in "$MEM/$g" ${cpu_v1:+"$cpu_v1/$g"}; do
        [ -d "$d" ] || continue
        xargs -r kill -9 <"$d/cgroup.procs" 2>/dev/null || true
        for _ in 1 2 3 4 5 6 7 8 9 10; do rmdir "$d" 2>/dev/null && break; sleep 0.1; done
    done
}
for g in "$G" "$G1" "$G2"; do on_exit cleanup_group "$g"; done

cat >"$LAB_TMP/hello-world.sh" <<'EOF'
#!/bin/bash
while [ 1 ]; do
    echo "hello world"
    sleep ${HELLO_INTERVAL:-1}
done
EOF
chmod u+x "$LAB_TMP/hello-world.sh"
cd "$LAB_TMP"

section "1.1 Limiting memory"
say "A group in the memory controller, limited to 40000000 bytes:"
run cgcreate -g "memory:$G"
run cgset -r "$LIMIT=40000000" "$G"
out kept cat "$MEM/$G/$LIMIT"
check_eq "$LIMIT (40000000 rounded down to whole pages)" "$kept" "$((40000000 / PAGE * PAGE))"

say "The script runs, then joins the group:"
./hello-world.sh >/dev/null &
pid=$!
on_exit kill -9 "$pid"
run ps -o pid,args -p "$pid"
run cgclassify -g "memory:$G" "$pid"
out groups ps -ww -o cgroup= -p "$pid"
if [ "$VERSION" = v1 ]; then check_contains "its groups" "$groups" "memory:/$G"; else check_contains "its group" "$groups" "0::/$G"; fi
say "Memory is charged to the group as the script allocates (its next loop):"
wait_for 10 "the group to account memory" sh -c "[ \$(cgget -n -v -r $USAGE $G) -gt 0 ]"
out usage cgget -n -v -r "$USAGE" "$G"
[ "$usage" -gt 0 ] || die "the group's memory usage should be above 0 once the script is in it, got $usage"
ok "the group accounts $usage bytes for the script"
run cgget -r "$LIMIT" -r "$USAGE" "$G"
run kill "$pid"
wait "$pid" 2>/dev/null || true

say "A second group, limited to 6000 bytes, which the kernel makes one page:"
run cgcreate -g "memory:$G1"
run cgset -r "$LIMIT=6000" "$G1"
out kept cat "$MEM/$G1/$LIMIT"
check_eq "$LIMIT of $G1" "$kept" "$((6000 / PAGE * PAGE))"
./hello-world.sh >/dev/null &
pid=$!
on_exit kill -9 "$pid"
run cgclassify -g "memory:$G1" "$pid"
say "The script's next fork needs more than one page: the kernel kills it."
wait_for 20 "the OOM killer to end the script" sh -c "! kill -0 $pid"
rc=0
wait "$pid" 2>/dev/null || rc=$?
check_eq "exit status of the script (128 + SIGKILL)" "$rc" 137
if [ "$VERSION" = v1 ]; then
    out oom cgget -n -v -r memory.oom_control "$G1"
    check_contains "memory.oom_control" "$oom" "oom_kill 1"
    out failcnt cgget -n -v -r memory.failcnt "$G1"
    [ "$failcnt" -gt 0 ] || die "memory.failcnt should count the hits of the limit, got $failcnt"
    ok "memory.failcnt = $failcnt"
else
    out events cgget -n -v -r memory.events "$G1"
    check_contains "memory.events" "$events" "oom_kill 1"
fi
say "(the first script's last 'sleep' leaves $G within its interval)"
wait_for 10 "$G to empty" sh -c "[ -z \"\$(cat $MEM/$G/cgroup.procs)\" ]"
run cgdelete "memory:$G" "memory:$G1"
[ ! -e "$MEM/$G" ] && [ ! -e "$MEM/$G1" ] || die "cgdelete left the groups behind"
ok "both groups are gone"

section "1.2 The cgcreate, cgexec and cgdelete tools"
run cgcreate -g "memory:$G2"
run ls "$MEM/$G2/"
[ -e "$MEM/$G2/$LIMIT" ] || die "$G2 has no $LIMIT"
run sh -c "echo 40000000 > $MEM/$G2/$LIMIT"
cgexec -g "memory:$G2" ./hello-world.sh >/dev/null &
pid=$!
on_exit kill -9 "$pid"
say "root@lab:~# cgexec -g memory:$G2 ./hello-world.sh &"
wait_for 5 "cgexec to place the script" grep -qx "$pid" "$MEM/$G2/cgroup.procs"
out procs cat "$MEM/$G2/cgroup.procs"
check_contains "$G2/cgroup.procs" "$procs" "$pid"
say "A group that still holds a process is not deleted:"
fails 1 cgdelete "memory:$G2"
check_contains "the error" "$LAST_ERR" "still holds"
run kill "$pid"
wait "$pid" 2>/dev/null || true
say "(the script's last 'sleep' ends within its interval)"
wait_for 10 "$G2 to empty" sh -c "[ -z \"\$(cat $MEM/$G2/cgroup.procs)\" ]"
run cgdelete "memory:$G2"
fails 2 ls "$MEM/$G2/"

section "1.2 Persistent groups: cgconfig.conf"
cat >"$LAB_TMP/cgconfig.conf" <<EOF
# The course's file: a CPU weight and a memory limit for one group.
group $G2 {
    cpu {
        cpu.shares = 100;
    }
    memory {
        memory.limit_in_bytes = 40000;
    }
}
EOF
run cat "$LAB_TMP/cgconfig.conf"
cpu_ok=1
if [ -z "$cpu_v1" ] && ! grep -qw cpu "$MEM/cgroup.controllers"; then cpu_ok=0; fi
if [ "$cpu_ok" = 0 ]; then
    say "(this host offers no cpu controller: the cpu block is left out)"
    sed -i '/cpu {/,/}/d' "$LAB_TMP/cgconfig.conf"
fi
run cgconfigparser -l "$LAB_TMP/cgconfig.conf"
out kept cat "$MEM/$G2/$LIMIT"
check_eq "$LIMIT of $G2 (40000 rounded down to whole pages)" "$kept" "$((40000 / PAGE * PAGE))"
if [ "$cpu_ok" = 1 ]; then
    if [ -n "$cpu_v1" ]; then
        out shares cat "$cpu_v1/$G2/cpu.shares"
        check_eq "cpu.shares of $G2" "$shares" 100
    else
        out weight cat "$MEM/$G2/cpu.weight"
        # Converted as libcgroup does (100 x 100 / 1024, the course's 9.77%).
        check_eq "cpu.weight of $G2 (cpu.shares 100 converted)" "$weight" 9
    fi
fi
run cgdelete "memory:$G2" ${cpu_v1:+"cpu:$G2"}

section "Bad input gets one clear error and exit code 1"
fails 1 cgcreate -g "nosuchcontroller:$G"
check_contains "the error" "$LAST_ERR" "Unknown controller 'nosuchcontroller'"
fails 1 cgdelete "memory:$G"
check_contains "the error" "$LAST_ERR" "does not exist"
run cgcreate -g "memory:$G"
fails 1 cgset -r "$LIMIT=lots" "$G"
check_contains "the error" "$LAST_ERR" "Invalid argument"
run cgdelete "memory:$G"
printf 'group %s {\n    memory {\n        memory.limit_in_bytes = 40000\n    }\n}\n' "$G" >"$LAB_TMP/bad.conf"
fails 1 cgconfigparser -l "$LAB_TMP/bad.conf"
check_contains "the error" "$LAST_ERR" "bad.conf:4:"
[ ! -e "$MEM/$G" ] || die "a malformed cgconfig.conf must create nothing"
ok "nothing was created"

section "Lab 1 passed"
