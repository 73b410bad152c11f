#!/usr/bin/env bash
# Lab 1, continued: the rest of cgroup-tools, past what the course types.
# lssubsys lists the hierarchies, cgxset/cgxget speak cgroup v1 and v2
# whatever the host runs, cgsnapshot writes the groups as a cgconfig.conf
# that cgconfigparser loads back, cgclear removes what a file made, and
# cgrulesengd moves a new process into the group its rule names; then
# what scripts written for libcgroup expect of cgget, cgset, lscgroup and
# cgdelete. Runs on cgroup v1, v2 and hybrid hosts.

. "$(dirname "$0")/lib.sh"

mem_v1=$(awk '$0 ~ / - cgroup cgroup / && $NF ~ /(^|,)memory(,|$)/ {print $5; exit}' /proc/self/mountinfo)
if [ -n "$mem_v1" ]; then
    MEM=$mem_v1 LIMIT=memory.limit_in_bytes
    HOST=1 OTHER=2 OTHER_LIMIT=memory.max
else
    MEM=$(awk '$0 ~ / - cgroup2 / {print $5; exit}' /proc/self/mountinfo)
    [ -n "$MEM" ] || skip "no cgroup hierarchy is mounted"
    grep -qw memory "$MEM/cgroup.controllers" || skip "the memory controller is not available on this host's cgroup v2"
    LIMIT=memory.max
    HOST=2 OTHER=1 OTHER_LIMIT=memory.limit_in_bytes
fi
cpu_v1=$(awk '$0 ~ / - cgroup cgroup / && $NF ~ /(^|,)cpu(,|$)/ {print $5; exit}' /proc/self/mountinfo)
cpu_ok=1
if [ -z "$cpu_v1" ] && ! grep -qw cpu "$MEM/cgroup.controllers"; then cpu_ok=0; fi
PAGE=$(getconf PAGESIZE)
say "memory controller: cgroup v$HOST at $MEM"

G=${P}cgtools
[ ! -e "$MEM/$G" ] || die "a group named $G already exists in $MEM: remove it (cgdelete -r memory:$G) or set LAB_PREFIX"
cleanup_group() {
    local d
    for d in "$MEM/$G" ${cpu_v1:+"$cpu_v1/$G"}; do
        [ -d "$d" ] || continue
        find "$d" -name cgroup.procs -exec cat {} + 2>/dev/null | xargs -r kill -9 2>/dev/null || true
        for _ in 1 2 3 4 5 6 7 8 9 10; do
            find "$d" -depth -type d -exec rmdir {} + 2>/dev/null
            [ -d "$d" ] || break
            sleep 0.1
        done
    done
}
on_exit cleanup_group
cd "$LAB_TMP"

section "lssubsys: the hierarchies and where they are mounted"
out subsys lssubsys -m memory
check_contains "lssubsys -m memory" "$subsys" "memory $MEM"
out every lssubsys -a
check_contains "lssubsys -a" "$every" "memory"

section "cgxset and cgxget: settings in either version's terms"
ctrls=memory
[ "$cpu_ok" = 0 ] || ctrls=memory,cpu
run cgcreate -g "$ctrls:$G"
say "This host serves memory with cgroup v$HOST; the limit is given in v$OTHER's terms:"
run cgxset -"$OTHER" -r "$OTHER_LIMIT=40000000" "$G"
out kept cat "$MEM/$G/$LIMIT"
check_eq "$LIMIT written for $OTHER_LIMIT (whole pages)" "$kept" "$((40000000 / PAGE * PAGE))"
out back cgxget -"$OTHER" -n -v -r "$OTHER_LIMIT" "$G"
check_eq "$OTHER_LIMIT read back in v$OTHER's terms" "$back" "$kept"
if [ "$cpu_ok" = 1 ]; then
    say "cpu.weight and cpu.shares scale by their defaults (100 and 1024), as libcgroup converts them:"
    run cgxset -2 -r cpu.weight=200 "$G"
    out shares cgxget -1 -n -v -r cpu.shares "$G"
    check_eq "cpu.shares for cpu.weight 200" "$shares" 2048
    out weight cgxget -2 -n -v -r cpu.weight "$G"
    check_eq "cpu.weight read back" "$weight" 200
fi

section "cgsnapshot: the groups as a cgconfig.conf, loaded back"
run cgsnapshot -s -f "$LAB_TMP/snapshot.conf" memory
awk -v g="group $G {" '$0 == g, /^}/' "$LAB_TMP/snapshot.conf" >"$LAB_TMP/mine.conf"
run cat "$LAB_TMP/mine.conf"
check_contains "the snapshot of $G" "$(cat "$LAB_TMP/mine.conf")" "$LIMIT=\"$kept\""
run cgdelete "memory:$G"
fails 2 ls "$MEM/$G/"
run cgconfigparser -l "$LAB_TMP/mine.conf"
out again cat "$MEM/$G/$LIMIT"
check_eq "$LIMIT of $G loaded back from the snapshot" "$again" "$kept"

section "cgclear: remove what a configuration made"
run cgclear -l "$LAB_TMP/mine.conf"
fails 2 ls "$MEM/$G/"
ok "$G is gone"

section "cgrulesengd: new processes go where their rule says"
run cgcreate -g "memory:$G"
# A command of our own name, so that the rule touches nothing else.
prog=${P}cgrules-lab
prog=${prog:0:15}
cp "$(command -v sleep)" "$LAB_TMP/$prog"
printf '*:%s memory %s\n' "$prog" "$G" >"$LAB_TMP/cgrules.conf"
run cat "$LAB_TMP/cgrules.conf"
say "The daemon, in the foreground, with this rules file:"
cgrulesengd --nodaemon -v -f "$LAB_TMP/rules.log" --rules "$LAB_TMP/cgrules.conf" \
    --rules-dir "$LAB_TMP/cgrules.d" --sticky-file "$LAB_TMP/sticky" &
daemon=$!
on_exit kill -9 "$daemon" 2>/dev/null
wait_for 10 "cgrulesengd to start" grep -q started "$LAB_TMP/rules.log"
"$LAB_TMP/$prog" 60 &
sleeper=$!
on_exit kill -9 "$sleeper" 2>/dev/null
wait_for 5 "$prog to land in $G" grep -qx "$sleeper" "$MEM/$G/cgroup.procs"
ok "process $sleeper ($prog) is in memory:/$G"
kill "$sleeper"
wait "$sleeper" 2>/dev/null || true
run kill -TERM "$daemon"
rc=0
wait "$daemon" || rc=$?
check_eq "cgrulesengd's exit code after SIGTERM" "$rc" 0
run cgdelete "memory:$G" ${cpu_v1:+"cpu:$G"}

section "what scripts written for libcgroup expect"
run cgcreate -g "memory:$G/a/b"
run cgset -r "$LIMIT=81920000" "$G"
out all cgget "$G"
check_eq "the first line of cgget $G (every setting, under its name)" "${all%%$'\n'*}" "$G:"
check_contains "cgget $G" "$all" "$LIMIT: 81920000"
out listed cgget -a "$G/a"
check_contains "cgget -a $G/a (the controllers it is in)" "$listed" "$LIMIT: "
out two cgget -v -r "$LIMIT" "$G" "$G/a"
check_eq "cgget -v -r $LIMIT $G $G/a (each value under its group)" "$two" "$G:
81920000

$G/a:
$(cat "$MEM/$G/a/$LIMIT")"
say "cgset -R sets the group and every group below it:"
run cgset -R -r "$LIMIT=40960000" "$G"
for sub in "" /a /a/b; do
    check_eq "$LIMIT of $G$sub" "$(cat "$MEM/$G$sub/$LIMIT")" 40960000
done
run cgcreate -g "memory:${G}copy"
on_exit 'rmdir "$MEM/${G}copy" 2>/dev/null'
run cgset --copy-from "$G" "${G}copy"
check_eq "$LIMIT of ${G}copy, copied from $G" "$(cat "$MEM/${G}copy/$LIMIT")" 40960000
run cgdelete "memory:${G}copy"
out tree lscgroup -g "memory:/$G"
check_contains "lscgroup -g memory:/$G (the group itself, with a slash)" "${tree%%$'\n'*}" ":/$G/"
check_contains "lscgroup -g memory:/$G (then what is below)" "$tree" ":/$G/a/b"
say "cgdelete -r moves the processes of the groups it removes to the parent, and says which:"
sleep 60 &
held=$!
on_exit kill -9 "$held" 2>/dev/null
echo "$held" >"$MEM/$G/a/b/cgroup.procs"
fails 0 cgdelete -r "memory:$G"
check_contains "cgdelete -r's notice" "$LAST_ERR" "$held"
[ ! -e "$MEM/$G" ] || die "cgdelete -r left $MEM/$G"
grep -qx "$held" "$MEM/cgroup.procs" || die "process $held is not in the parent group after cgdelete -r"
ok "process $held is in the parent group, $G is gone"
kill "$held"
wait "$held" 2>/dev/null || true
say "Bad input: libcgroup's words first, then what to do:"
fails 1 cgget -Z x
check_contains "cgget -Z's first line" "${LAST_ERR%%$'\n'*}" "Wrong input parameters"
fails 1 cgdelete "memory:$G"
check_eq "cgdelete of a missing group" "${LAST_ERR%%$'\n'*}" "cgdelete: cannot remove group '$G': No such file or directory"
