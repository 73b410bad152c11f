#!/usr/bin/env bash
# Lab 2, section 2.6: an unprivileged container. Root makes a user with a
# range of subordinate ids; that user writes the course's
# ~/.config/lxc/default.conf (with the legacy lxc.id_map key), creates a
# busybox container, starts it, lists it, attaches to it at a terminal,
# and the host shows the container's processes and files as the mapped
# ids. Everything the lab makes (the user, its ids, its containers) is
# removed when it ends.
#
# Environment (besides lib.sh's):
#   LAB_USER   the user to make (default: ${LAB_PREFIX}lxcnp); it must not
#              exist yet

. "$(dirname "$0")/lib.sh"

command -v busybox >/dev/null 2>&1 || skip "the busybox template needs busybox (apt-get install busybox-static)"
command -v script >/dev/null 2>&1 || skip "driving attach at a terminal needs script(1) (apt-get install bsdutils)"
command -v useradd >/dev/null 2>&1 || skip "making the lab's user needs useradd (apt-get install passwd)"
command -v newuidmap >/dev/null 2>&1 || skip "a user's id maps are written by newuidmap (apt-get install uidmap)"

U=${LAB_USER:-${P}lxcnp}
C=${P}lxc-bb-np
! id "$U" >/dev/null 2>&1 || die "a user named $U already exists: remove it (userdel -r $U) or set LAB_USER"

# The user runs a copy of enclos and its links from a directory it can
# read, wherever the binary given to the lab lives.
UBIN=$LAB_TMP/user-bin
mkdir -p "$UBIN"
cp "$ENCLOS" "$UBIN/enclos"
"$UBIN/enclos" compat install "$UBIN" >/dev/null
chmod 755 "$LAB_TMP" "$UBIN"

# The course's ~/.config/lxc/default.conf includes /etc/lxc/default.conf,
# where LXC's package asks for a veth on lxcbr0. A user's veth is made by
# the setuid helper enclos-user-nic (LXC's lxc-user-nic), within what root
# allows in lxc-usernet. Where the bridge exists (or the lab may make it:
# in a network namespace of its own, or in the lab VM, a machine of its
# own) and the helper is there, the course's configuration is kept as
# written: the lab adds the user's lxc-usernet line, as LXC's documents
# do, and checks the container's veth (and its DHCP address when dnsmasq
# serves the bridge). Elsewhere (this lab never makes a bridge in the
# host's own network namespace: see own_netns) the user's part runs in a private mount
# namespace where /etc/lxc is an empty tmpfs: enclos's own default stands
# in for LXC's, as on a host without LXC.
asks_net() {
    [ -f "$1" ] && awk -F= '$1 ~ /^[ \t]*lxc\.net(work)?\.[0-9]*\.?type[ \t]*$/ {gsub(/[ \t]/, "", $2); if ($2 != "" && $2 != "empty" && $2 != "none") f = 1} END {exit !f}' "$1"
}
# own_netns: whether the lab may make the bridge: in the lab VM (a
# machine of its own: ENCLOS_VM_RESULTS is set there), or where whoever
# runs it says it runs in a network namespace of its own (LAB_OWN_NETNS=1,
# e.g. under unshare -n).
own_netns() {
    [ -n "${ENCLOS_VM_RESULTS:-}" ] || [ "${LAB_OWN_NETNS:-}" = 1 ]
}
# The helper: the installed one, or the one built next to $ENCLOS, made
# setuid root in the lab's directory.
NIC=${ENCLOS_USER_NIC:-}
if [ -z "$NIC" ] && [ -x /usr/libexec/enclos/enclos-user-nic ]; then
    NIC=/usr/libexec/enclos/enclos-user-nic
elif [ -z "$NIC" ] && [ -x "$(dirname "$ENCLOS")/enclos-user-nic" ]; then
    NIC=$UBIN/enclos-user-nic
    install -m 4755 -o root -g root "$(dirname "$ENCLOS")/enclos-user-nic" "$NIC"
fi
NET=
HIDE=
if [ ! -f /etc/lxc/default.conf ] && [ -n "$NIC" ] && own_netns; then
    # As Debian's lxc package installs it (its network part).
    say "No /etc/lxc/default.conf here: the lab writes the network part of the one Debian's lxc package installs"
    mkdir -p /etc/lxc
    printf 'lxc.net.0.type = veth\nlxc.net.0.link = lxcbr0\nlxc.net.0.flags = up\n' >/etc/lxc/default.conf
    on_exit "rm -f /etc/lxc/default.conf; rmdir /etc/lxc"
fi
if asks_net /etc/lxc/default.conf; then
    if [ -z "$NIC" ]; then
        say "/etc/lxc/default.conf asks for a veth, but enclos-user-nic (which makes a user's veth) is not installed: the user's commands run with /etc/lxc hidden (unshare -m, a tmpfs over it)"
        HIDE=1
    elif ip link show lxcbr0 >/dev/null 2>&1; then
        NET=1
    elif own_netns; then
        run "$ENCLOS" net up --run-dir "$LAB_TMP/net"
        on_exit "'$ENCLOS' net down --run-dir '$LAB_TMP/net'"
        NET=1
    else
        say "/etc/lxc/default.conf asks for a veth on lxcbr0, which this host does not have (as root, enclos net up makes it; this lab makes none in the host's own network namespace): the user's commands run with /etc/lxc hidden (unshare -m, a tmpfs over it)"
        HIDE=1
    fi
fi
# su_user ARGS...: su as the user, in the namespace hiding /etc/lxc when
# HIDE is set (and, below, in the user's delegated cgroup v2 subtree when
# root places the user's logins there).
SU=(su)
[ -z "$HIDE" ] || SU=(unshare -m --propagation private sh -c 'mount -t tmpfs -o ro tmpfs /etc/lxc && exec "$@"' sh su)
su_user() {
    "${SU[@]}" "$@"
}
USER_ENV="export PATH=$UBIN:\$PATH${NIC:+ ENCLOS_USER_NIC=$NIC}"

# as_user CMD: print CMD at the user's prompt and run it as the user, in a
# login shell (its own HOME, no root environment), with the links first in
# PATH.
as_user() {
    printf '%s%s@lab:~$ %s%s\n' "$_B" "$U" "$1" "$_N"
    su_user -l "$U" -s /bin/sh -c "$USER_ENV; $1"
}
# user_out VAR CMD: like as_user, keeping the output in VAR.
user_out() {
    local __var=$1 __o
    printf '%s%s@lab:~$ %s%s\n' "$_B" "$U" "$2" "$_N"
    __o=$(su_user -l "$U" -s /bin/sh -c "$USER_ENV; $2")
    printf '%s\n' "$__o"
    printf -v "$__var" '%s' "$__o"
}

section "2.6 A user for unprivileged containers"
run useradd -c "LXC unprivileged user" -s /bin/bash -m "$U"
on_exit "userdel -r '$U'; sed -i '/^$U:/d' /etc/subuid /etc/subgid"
# On a cgroup v2 only host under systemd, the user lingers from the
# start: its systemd manager (and the scopes it holds) then outlives each
# su -l session, rather than stopping when the last one ends.
SCOPE=
if [ "$(stat -fc %T /sys/fs/cgroup)" = cgroup2fs ] && [ -d /run/systemd/system ] && command -v loginctl >/dev/null 2>&1; then
    SCOPE=1
    UID_U=$(id -u "$U")
    run loginctl enable-linger "$U"
    on_exit "loginctl disable-linger '$U'; systemctl stop 'user@$UID_U.service'"
    for _ in $(seq 100); do
        [ -S "/run/user/$UID_U/bus" ] && break
        sleep 0.2
    done
    [ -S "/run/user/$UID_U/bus" ] ||
        { systemctl --no-pager status "user@$UID_U.service"; false; } ||
        die "loginctl enable-linger $U started no user manager with a bus (no /run/user/$UID_U/bus: libpam-systemd and dbus-user-session are needed)"
fi
# On a cgroup v2 only host without systemd, a user's process moves only
# inside a subtree that already holds it: root delegates one to the user
# (enclos cg delegate --user NAME) and places each login of the user in
# it, as pam_cgfs does at login. The lab's logins are su -l sessions:
# root's shell moves into the subtree, then becomes su (into user/NAME/0,
# or its login group once that gives its controllers to the user's
# containers). Start then puts the container's group in the subtree.
DELEG=
if [ "$(stat -fc %T /sys/fs/cgroup)" = cgroup2fs ] && [ -z "$SCOPE" ]; then
    DELEG=/sys/fs/cgroup/user/$U/0
    run "$ENCLOS" cg delegate --user "$U"
    PLACE='t=$1 u=$2; shift 2; if [ -n "$(cat "$t/cgroup.subtree_control")" ]; then t=$t/login; [ -d "$t" ] || { mkdir "$t" && chown "$u:" "$t" "$t/cgroup.procs"; }; fi; echo $$ >"$t/cgroup.procs" && exec "$@"'
    SU=(sh -c "$PLACE" sh "$DELEG" "$U" "${SU[@]}")
fi
if [ -n "$NET" ]; then
    # What the user may make on the bridge: LXC's lxc-usernet line (enclos
    # reads /etc/enclos/enclos-usernet first, when there is one).
    USERNET=/etc/lxc/lxc-usernet
    [ ! -f /etc/enclos/enclos-usernet ] || USERNET=/etc/enclos/enclos-usernet
    [ -e "$USERNET" ] || on_exit "rm -f '$USERNET'"
    run sh -c "echo '$U veth lxcbr0 10' >>$USERNET"
    on_exit "sed -i '/^$U veth lxcbr0 /d' '$USERNET'"
fi
# su -l opens a PAM session: where pam_cgfs is installed (it comes with
# LXC), it makes the user cgroups user/NAME/0 and never removes them.
on_exit "for d in /sys/fs/cgroup/*/user/'$U' /sys/fs/cgroup/user/'$U'; do [ -d \"\$d\" ] && find \"\$d\" -depth -type d -exec rmdir {} +; done; rmdir /sys/fs/cgroup/*/user 2>/dev/null"
# Containers, then the user's processes, go before the user does.
on_exit "pkill -KILL -u '$U'; su -l '$U' -s /bin/sh -c 'PATH=$UBIN:\$PATH lxc-destroy -f -n $C'"
touch /etc/subuid /etc/subgid
if ! grep -q "^$U:" /etc/subuid || ! grep -q "^$U:" /etc/subgid; then
    # useradd gives ranges only where login.defs asks for them: take the
    # first 65536 ids above every range already given.
    start=$(cat /etc/subuid /etc/subgid | awk -F: 'BEGIN {m = 165536} NF == 3 && $2 + $3 > m {m = $2 + $3} END {print m}')
    run usermod --add-subuids "$start-$((start + 65535))" --add-subgids "$start-$((start + 65535))" "$U"
fi
out ranges grep "^$U:" /etc/subuid /etc/subgid
R=$(awk -F: -v u="$U" '$1 == u {print $2; exit}' /etc/subuid)
RG=$(awk -F: -v u="$U" '$1 == u {print $2; exit}' /etc/subgid)
N=$(awk -F: -v u="$U" '$1 == u {print $3; exit}' /etc/subuid)
[ "$N" -ge 65536 ] || die "$U has only $N subordinate uids; the busybox container needs 65536"

if [ -e /proc/sys/kernel/unprivileged_userns_clone ]; then
    out clone cat /proc/sys/kernel/unprivileged_userns_clone
    check_eq "kernel.unprivileged_userns_clone" "$clone" 1
fi

section "2.6 The user's id map"
as_user "mkdir -p ~/.config/lxc"
as_user "echo 'lxc.include = /etc/lxc/default.conf' >> ~/.config/lxc/default.conf"
as_user "echo 'lxc.id_map = u 0 $R 65536' >> ~/.config/lxc/default.conf"
as_user "echo 'lxc.id_map = g 0 $RG 65536' >> ~/.config/lxc/default.conf"
user_out conf "cat ~/.config/lxc/default.conf"
check_contains "the user's default.conf" "$conf" "lxc.id_map = u 0 $R 65536"
user_out doctor "enclos doctor"
check_contains "enclos doctor" "$doctor" "subuid"

section "2.6 Creating the container as $U"
as_user "lxc-create -n $C -t busybox"
user_out path "enclos config lxc.lxcpath"
out listing ls -ln "$path/$C/rootfs"
for d in bin dev etc root sbin usr; do
    owner=$(stat -c '%u:%g' "$path/$C/rootfs/$d")
    check_eq "the owner of rootfs/$d on the host" "$owner" "$R:$RG"
done

section "2.6 Starting it and checking the map"
# The course's lxc-start, as the user. A user may not make cgroups where
# root's are: the container gets one in a subtree delegated to the user.
# On cgroup v1 and hybrid hosts, `enclos cg delegate --user NAME`, run
# once as root, makes it, as pam_cgfs does at login; this lab delegates
# nothing there, so start runs the container without cgroup limits and
# says so in one warning, with what would give it a cgroup. On a cgroup
# v2 only host under systemd (the VM lab), start asks the user's systemd
# manager for a scope with Delegate=yes: the lab makes the user linger,
# which starts that manager, and checks a limit of the container's
# config in its cgroup.
# attach, from another login session, first moves itself into a scope
# of the same manager, so that it may join the container's group.
if [ -n "$SCOPE" ]; then
    out delegated cat "/sys/fs/cgroup/user.slice/user-$UID_U.slice/user@$UID_U.service/cgroup.controllers"
    check_contains "the controllers systemd delegates to $U" "$delegated" "pids"
    as_user "echo 'lxc.cgroup2.pids.max = 77' >> $path/$C/config"
elif [ -n "$DELEG" ]; then
    out delegated cat "$DELEG/cgroup.controllers"
    check_contains "the controllers root delegates to $U" "$delegated" "pids"
    as_user "echo 'lxc.cgroup2.pids.max = 77' >> $path/$C/config"
fi
user_out started "lxc-start -n $C 2>&1 || echo \"lxc-start failed: exit code \$?\""
case "$started" in *"lxc-start failed"*) die "lxc-start failed: $started" ;; esac
warnings=$(printf '%s\n' "$started" | grep -c 'warning' || true)
if [ -n "$SCOPE" ]; then
    [ "$warnings" = 0 ] || die "lxc-start printed a warning where the user's systemd manager delegates a scope"
    ok "lxc-start printed no warning"
    user_out init_pid "lxc-info -n $C -p -H"
    init_pid=$(printf '%s' "$init_pid" | tr -dc 0-9)
    out init_cg cat "/proc/$init_pid/cgroup"
    check_contains "init's cgroup" "$init_cg" "user@$UID_U.service/"
    check_contains "init's cgroup" "$init_cg" "/enclos-$C-"
    cg_path=${init_cg#0::}
    out pids_max cat "/sys/fs/cgroup$cg_path/pids.max"
    check_eq "pids.max of the container's cgroup (lxc.cgroup2.pids.max)" "$pids_max" 77
elif [ -n "$DELEG" ]; then
    [ "$warnings" = 0 ] || die "lxc-start printed a warning in the subtree root delegated to $U"
    ok "lxc-start printed no warning"
    user_out init_pid "lxc-info -n $C -p -H"
    init_pid=$(printf '%s' "$init_pid" | tr -dc 0-9)
    out init_cg cat "/proc/$init_pid/cgroup"
    check_eq "init's cgroup" "$init_cg" "0::/user/$U/0/enclos.payload.$C"
    out pids_max cat "$DELEG/enclos.payload.$C/pids.max"
    check_eq "pids.max of the container's cgroup (lxc.cgroup2.pids.max)" "$pids_max" 77
    out login_cg su_user -l "$U" -s /bin/sh -c "cat /proc/self/cgroup"
    check_eq "the cgroup of $U's next login" "$login_cg" "0::/user/$U/0/login"
else
    [ "$warnings" -le 1 ] || die "lxc-start printed $warnings warnings; one at most"
    if [ "$warnings" = 1 ]; then
        check_contains "lxc-start's warning" "$started" "container '$C' runs without cgroup limits"
    fi
fi
user_out listing "lxc-ls -f --running"
check_contains "lxc-ls -f --running" "$listing" "$C"
check_contains "lxc-ls -f --running" "$listing" "RUNNING"
row=$(printf '%s\n' "$listing" | awk -v c="$C" '$1 == c')
check_contains "the container's row" "$row" "true"
if [ -n "$NET" ]; then
    # The course's configuration, as written: LXC's veth on lxcbr0, made
    # by enclos-user-nic within the user's lxc-usernet line.
    user_out nics "lxc-attach -n $C -- ls /sys/class/net"
    check_contains "the container's interfaces" "$nics" "eth0"
    out ports ip -o link show master lxcbr0
    check_contains "the ports of lxcbr0" "$ports" "veth"
    if pgrep -f 'dnsmasq.*lxcbr0' >/dev/null; then
        # The bridge's /24 (10.0.3. with lxc-net's defaults).
        net=$(ip -4 -o addr show dev lxcbr0 | awk '{split($4, a, "."); print a[1] "." a[2] "." a[3] "."; exit}')
        say "dnsmasq serves lxcbr0: the container's udhcpc gets an address in ${net}0/24, which lxc-ls -f shows"
        for _ in $(seq 60); do
            row=$(su_user -l "$U" -s /bin/sh -c "$USER_ENV; lxc-ls -f" | awk -v c="$C" '$1 == c')
            case "$row" in *" $net"*) break ;; esac
            sleep 0.5
        done
        user_out listing "lxc-ls -f"
        row=$(printf '%s\n' "$listing" | awk -v c="$C" '$1 == c')
        case "$row" in
        *" $net"*) ;;
        *)
            # What the container shows, for the failure below.
            as_user "lxc-attach -n $C -- ps" || true
            ;;
        esac
        check_contains "the container's row in lxc-ls -f (its IPV4)" "$row" " $net"
    fi
fi
user_out ps "lxc-attach -n $C -- ps"
init_line=$(printf '%s\n' "$ps" | awk '$1 == 1')
check_contains "PID 1 in the container" "$init_line" "root"

say "At a terminal, as the course does it:"
term_start "${SU[@]}" -l "$U" -s /bin/sh -c "$USER_ENV; exec lxc-attach -n $C"
term_expect "# "
term_run "ps aux"
check_contains "ps aux in the container" "$TERM_GOT" "init"
term_run "id -u"
check_eq "uid of the attached shell" "$TERM_GOT" 0
if [ -n "$SCOPE" ]; then
    # attach, from su -l's session, waits in a scope of the user's manager.
    out attach_scope ls -d "/sys/fs/cgroup/user.slice/user-$UID_U.slice/user@$UID_U.service/app.slice/enclos-attach-$C-"*.scope
    check_contains "the attach's scope of the user's manager" "$attach_scope" "enclos-attach-$C-"
fi
term_send 'exit\r'
term_wait
term_show
check_eq "attach's exit status" "$TERM_RC" 0
case "$TERM_SCREEN" in
*WARN* | *warning*) die "attach printed a warning at the terminal" ;;
esac
ok "no warning at the terminal"

say "On the host, the container's processes belong to the mapped uid:"
out host_ps ps -o user=,pid=,args= -u "$R"
check_contains "processes of uid $R" "$host_ps" "init"

section "2.6 Stopping and destroying it"
as_user "lxc-stop -n $C"
user_out state "lxc-info -n $C -s"
check_contains "its state" "$state" "STOPPED"
as_user "lxc-destroy -n $C"
[ ! -e "$path/$C" ] || die "lxc-destroy left $path/$C"
ok "the container is gone"

section "Lab 2 (section 2.6) passed"
