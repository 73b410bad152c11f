#!/usr/bin/env bash
# The Debian package in the lab VM (`cargo xtask lab vm --deb DEB`, played
# by payload-labs.sh after the labs): what a user checks after `apt install
# ./enclos_*.deb`, in two parts with a reboot of the guest between them.
#
#   package-check.sh install DEB    apt installs DEB; the units are enabled
#                                   and active; enclos-net.service made the
#                                   default network (lxcbr0 10.0.3.1/24, the
#                                   nftables table, dnsmasq): a busybox
#                                   container on the bridge gets an address
#                                   by DHCP and pings 10.0.3.1, and a stop of
#                                   the unit while it runs fails at once
#                                   instead of hanging; man pages (the compat pages only
#                                   with the compat directory on PATH or
#                                   after enclos compat install), bash
#                                   completion, checkconfig; three containers:
#                                   one marked lxc.start.auto = 1, which
#                                   `systemctl restart enclos.service` starts,
#                                   one marked in the group web, started by
#                                   hand, one not marked, started by hand
#   package-check.sh after-reboot   the default network is back; the running
#                                   containers stopped cleanly at the
#                                   shutdown; the marked one is RUNNING
#                                   again (the unit started it), the others are
#                                   not; the unit stops and starts it; apt
#                                   purges the package: none of its files is
#                                   left, nor lxcbr0, the nftables table or
#                                   dnsmasq; the containers in /var/lib/enclos
#                                   are.
#
# State between the parts: /var/lib/enclos-lab/package-files (`dpkg -L`).

# lib.sh wants an ENCLOS that runs: before the install, a placeholder.
ENCLOS=/usr/bin/enclos
[ -x "$ENCLOS" ] || ENCLOS=/bin/true
. "$(dirname "$0")/../lib.sh"
ENCLOS=/usr/bin/enclos

STATE=/var/lib/enclos-lab
AUTO=${P}autoboot
# Marked too, but in a group that the unit does not start at boot (as
# Debian's lxc.service: onboot and no group only); started by hand, the
# unit stops it at shutdown all the same.
WEB=${P}ingroup
MANUAL=${P}byhand
# On the default network's bridge (veth, DHCP).
ONNET=${P}onbridge
LXCPATH=/var/lib/enclos
# What a user's shell has: no compat directory (the package leaves the lxc-*
# names out of PATH unless asked).
USER_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
COMPAT=/usr/libexec/enclos/compat
# Not lib.sh's links to ENCLOS first on PATH: the package's own commands.
export PATH=$USER_PATH

# unit_settled: enclos.service is no longer starting (or queued to).
unit_settled() {
    local s
    s=$(systemctl is-active enclos.service)
    [ "$s" != activating ] && ! systemctl list-jobs --no-legend | grep -q enclos.service
}

# default_net_up WHAT: enclos-net.service is active, and lxcbr0, the
# nftables table and dnsmasq (in the unit's cgroup) are there.
default_net_up() {
    local what=$1 active addr table pid
    out active systemctl is-active enclos-net.service
    check_eq "systemctl is-active enclos-net.service ($what)" "$active" active
    out addr ip -4 -o addr show dev lxcbr0
    check_contains "the address of lxcbr0 ($what)" "$addr" "inet 10.0.3.1/24"
    out table nft list table inet enclos_net
    check_contains "nft list table inet enclos_net ($what)" "$table" "ip saddr 10.0.3.0/24 ip daddr != 10.0.3.0/24 masquerade"
    out pid pgrep -x dnsmasq
    check_contains "the cgroup of dnsmasq ($what)" "$(cat "/proc/$pid/cgroup")" "/system.slice/enclos-net.service"
}

# dhcp_address NAME: the 10.0.3.x/24 address eth0 of NAME has, if any.
dhcp_address() {
    "$ENCLOS" attach -n "$1" -- ip -4 -o addr show dev eth0 2>/dev/null |
        grep -o 'inet 10\.0\.3\.[0-9]*/24' | cut -d' ' -f2
}
has_dhcp_address() { [ -n "$(dhcp_address "$1")" ]; }

# on_bridge_part: a busybox container on lxcbr0 gets its address by DHCP
# and pings the bridge; with it running, stopping enclos-net.service fails
# at once (`net down` refuses) and leaves the bridge.
on_bridge_part() {
    section "enclos-net.service: the default network, a container on it"
    out enabled systemctl is-enabled enclos-net.service
    check_eq "systemctl is-enabled enclos-net.service" "$enabled" enabled
    default_net_up "after the install"
    [ ! -e "$LXCPATH/$ONNET" ] || die "a container $ONNET already exists in $LXCPATH"
    run "$ENCLOS" create -n "$ONNET" -t busybox
    run sh -c "printf 'lxc.net =\nlxc.net.0.type = veth\nlxc.net.0.link = lxcbr0\nlxc.net.0.flags = up\nlxc.net.0.hwaddr = 00:16:3e:xx:xx:xx\n' >>$LXCPATH/$ONNET/config"
    run "$ENCLOS" start -n "$ONNET"
    say "The template's rcS runs udhcpc; dnsmasq answers:"
    wait_for 60 "an address from dnsmasq in $ONNET" has_dhcp_address "$ONNET"
    ok "$ONNET got $(dhcp_address "$ONNET") by DHCP"
    run "$ENCLOS" attach -n "$ONNET" -- ping -c 1 -W 5 10.0.3.1

    say "Stopped while a container uses the bridge, the unit fails at once (net down refuses):"
    local started=$SECONDS state addr
    # A stop job completes whatever ExecStop says: the unit is then failed.
    run systemctl stop enclos-net.service
    [ $((SECONDS - started)) -lt 25 ] || die "systemctl stop enclos-net.service took $((SECONDS - started)) s with $ONNET on the bridge"
    ok "systemctl stop enclos-net.service returned after $((SECONDS - started)) s"
    state=$(systemctl is-active enclos-net.service || true)
    check_eq "systemctl is-active enclos-net.service after the refused net down" "$state" failed
    check_contains "the journal of enclos-net.service" "$(journalctl -q -u enclos-net.service --no-pager)" "Bridge lxcbr0 still has ports"
    out addr ip -4 -o addr show dev lxcbr0
    check_contains "lxcbr0 after the refused stop" "$addr" "inet 10.0.3.1/24"
    run "$ENCLOS" stop -n "$ONNET"
    run systemctl start enclos-net.service
    default_net_up "started again"
}

state_of() { "$ENCLOS" info -n "$1" -s | awk '{print $2}'; }

# shutdown_marker NAME: the file the container's busybox init writes when
# it runs its ::shutdown: action (a SIGKILL after the stop timeout would
# not).
shutdown_marker() { printf '%s/%s/rootfs/stopped-cleanly' "$LXCPATH" "$1"; }

install_part() {
    local deb=$1
    section "apt installs the package"
    cp "$deb" /tmp/ && deb=/tmp/${deb##*/}
    run env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$deb"
    out status dpkg-query -W -f '${Status} ${Version}' enclos
    check_contains "dpkg's status of enclos" "$status" "install ok installed"
    mkdir -p "$STATE"
    dpkg -L enclos >"$STATE/package-files"
    check_contains "the package's files" "$(cat "$STATE/package-files")" /usr/bin/enclos
    out where env PATH="$USER_PATH" bash -c 'command -v enclos'
    check_eq "enclos on a user's PATH" "$where" /usr/bin/enclos
    out where env PATH="$USER_PATH" bash -c 'command -v lxc-start || echo none'
    check_eq "lxc-start on a user's PATH (the package does not put it there)" "$where" none

    section "enclos.service: enabled, and started by the install"
    out enabled systemctl is-enabled enclos.service
    check_eq "systemctl is-enabled enclos.service" "$enabled" enabled
    out active systemctl is-active enclos.service
    check_eq "systemctl is-active enclos.service" "$active" active

    on_bridge_part

    section "man pages"
    out page env MANPAGER=cat MANWIDTH=80 man enclos
    check_contains "man enclos" "$page" "enclos"
    check_contains "man enclos" "$page" "checkconfig"
    out path man -w enclos-start
    check_eq "man -w enclos-start" "$path" /usr/share/man/man1/enclos-start.1.gz
    fails 16 env PATH="$USER_PATH" man -w lxc-attach
    say "Without the compat directory on PATH, man has no lxc-attach: Debian's lxc owns that name."
    out path env PATH="$COMPAT:$USER_PATH" man -w lxc-attach
    check_contains "man -w lxc-attach with $COMPAT on PATH" "$path" "/enclos/man/man1/lxc-attach.1.gz"
    out page env PATH="$COMPAT:$USER_PATH" MANPAGER=cat MANWIDTH=80 man lxc-attach
    check_contains "man lxc-attach" "$page" "NAME"
    check_contains "man lxc-attach" "$page" "attach"
    say "enclos compat install puts the names on PATH, and their pages where man finds them:"
    local links
    links=$("$ENCLOS" compat install /usr/local/bin) || die "enclos compat install /usr/local/bin failed"
    out path env PATH="$USER_PATH" man -w lxc-attach
    # man -w prints the page the link leads to.
    check_eq "man -w lxc-attach after enclos compat install /usr/local/bin" "$path" /usr/share/enclos/man/man1/lxc-attach.1.gz
    check_eq "the link enclos compat install made" "$(readlink /usr/local/share/man/man1/lxc-attach.1.gz)" /usr/share/enclos/man/man1/lxc-attach.1.gz
    out page env PATH="$USER_PATH" MANPAGER=cat MANWIDTH=80 man lxc-attach
    check_contains "man lxc-attach after compat install" "$page" "attach"
    # Remove what compat install made: the purge below checks the package's
    # own files only.
    printf '%s\n' "$links" | sed -n 's/ -> .*//p' | xargs rm -f
    [ ! -e /usr/local/bin/lxc-attach ] && [ ! -e /usr/local/share/man/man1/lxc-attach.1.gz ] \
        || die "the links of enclos compat install are still there"

    section "three containers, two marked lxc.start.auto = 1 (one in the group web)"
    local c
    for c in "$AUTO" "$WEB" "$MANUAL"; do
        [ ! -e "$LXCPATH/$c" ] || die "a container $c already exists in $LXCPATH"
        run "$ENCLOS" create -n "$c" -t busybox
        # busybox init runs its shutdown actions on lxc.signal.halt.
        [ -x "$LXCPATH/$c/rootfs/bin/touch" ] || die "the busybox rootfs of $c has no /bin/touch"
        echo '::shutdown:/bin/touch /stopped-cleanly' >>"$LXCPATH/$c/rootfs/etc/inittab"
    done
    run sh -c "echo 'lxc.start.auto = 1' >>$LXCPATH/$AUTO/config"
    # Its monitor in a cgroup of its own, as LXC's always is: started from
    # a unit or a login session, a monitor left in that unit's cgroup is
    # killed when systemd stops the unit at shutdown, and its container
    # with it (lxc.monitor.signal.pdeath), before enclos.service stops it.
    run sh -c "printf 'lxc.start.auto = 1\nlxc.group = web\nlxc.cgroup.dir.monitor = enclos.monitor.$WEB\nlxc.cgroup.dir.container = enclos.payload.$WEB\n' >>$LXCPATH/$WEB/config"
    out listed "$ENCLOS" autostart -L
    check_eq "enclos autostart -L (the group onboot, then no group)" "$listed" "$AUTO 0"
    say "The unit starts what is marked (the reboot below then stops it and starts it again):"
    run systemctl restart enclos.service
    check_eq "the state of $AUTO after systemctl restart enclos.service" "$(state_of "$AUTO")" RUNNING
    check_eq "the state of $WEB (group web)" "$(state_of "$WEB")" STOPPED
    check_eq "the state of $MANUAL (not marked)" "$(state_of "$MANUAL")" STOPPED
    run "$ENCLOS" start -n "$WEB"
    say "Started by hand and not marked: the unit stops it at shutdown too, as Debian's lxc.service does (autostart -a -A -s)."
    run "$ENCLOS" start -n "$MANUAL"
    for c in "$AUTO" "$WEB" "$MANUAL"; do
        [ ! -e "$(shutdown_marker "$c")" ] || die "$(shutdown_marker "$c") is there before any stop"
    done

    section "bash completion, as at a prompt"
    # What Tab does in an interactive bash: bash-completion loads the
    # package's completion on first use of the command.
    local script='_completion_loader enclos; complete -p enclos
        COMP_WORDS=(enclos st); COMP_CWORD=1; COMP_LINE="enclos st"; COMP_POINT=${#COMP_LINE}
        $(complete -p enclos | sed "s/.*-F \([^ ]*\) .*/\1/") enclos st enclos
        echo "st: ${COMPREPLY[*]}"
        COMP_WORDS=(enclos start -n ""); COMP_CWORD=3; COMP_LINE="enclos start -n "; COMP_POINT=${#COMP_LINE}
        $(complete -p enclos | sed "s/.*-F \([^ ]*\) .*/\1/") enclos "" -n
        echo "names: ${COMPREPLY[*]}"'
    # A login shell, as on a console: /etc/profile.d/bash_completion.sh
    # loads bash-completion in interactive shells.
    out comp bash -l -i -c "$script" </dev/null
    check_contains "complete -p enclos" "$comp" "-F _enclos_with_names enclos"
    check_contains "enclos st<Tab>" "$(grep '^st:' <<<"$comp")" "start"
    check_contains "enclos st<Tab>" "$(grep '^st:' <<<"$comp")" "stop"
    check_contains "enclos start -n <Tab>" "$(grep '^names:' <<<"$comp")" "$AUTO"
    check_contains "enclos start -n <Tab>" "$(grep '^names:' <<<"$comp")" "$WEB"
    check_contains "enclos start -n <Tab>" "$(grep '^names:' <<<"$comp")" "$MANUAL"

    section "enclos checkconfig in the guest"
    out report "$ENCLOS" checkconfig
    check_contains "enclos checkconfig" "$report" "enabled user namespace"
    check_contains "enclos checkconfig" "$report" "enabled cgroup layout: unified (cgroup v2)"
    check_contains "enclos checkconfig" "$report" "enabled kernel config: read /boot/config-$(uname -r)"
    check_contains "enclos checkconfig" "$report" "enabled overlay"
    # The truth of what it says: the module it names loads and serves.
    run modprobe overlay
    check_contains "/proc/filesystems" "$(cat /proc/filesystems)" overlay
    report=$(env PATH="$COMPAT:$USER_PATH" lxc-checkconfig --format json)
    check_contains "lxc-checkconfig --format json" "$report" '"feature": "pid namespace"'
}

after_reboot_part() {
    section "after the reboot: enclos-net.service made the network, enclos.service started the marked container"
    # This payload runs beside the boot's other units.
    wait_for 300 "enclos.service to finish starting" unit_settled
    default_net_up "after the reboot"
    out active systemctl is-active enclos.service
    check_eq "systemctl is-active enclos.service" "$active" active
    local c
    for c in "$AUTO" "$WEB" "$MANUAL"; do
        [ -e "$(shutdown_marker "$c")" ] || die "$c was running at the reboot, but its init did not run its shutdown action: it was not stopped cleanly"
        ok "$c stopped cleanly at the shutdown (its init ran its ::shutdown: action)"
    done
    check_eq "the state of $AUTO (lxc.start.auto = 1)" "$(state_of "$AUTO")" RUNNING
    check_eq "the state of $WEB (group web: not at boot)" "$(state_of "$WEB")" STOPPED
    check_eq "the state of $MANUAL (not marked)" "$(state_of "$MANUAL")" STOPPED

    section "the unit stops and starts the marked container"
    rm -f "$(shutdown_marker "$AUTO")"
    run systemctl stop enclos.service
    check_eq "the state of $AUTO after systemctl stop" "$(state_of "$AUTO")" STOPPED
    [ -e "$(shutdown_marker "$AUTO")" ] || die "systemctl stop enclos.service did not stop $AUTO cleanly"
    ok "$AUTO stopped cleanly"
    run systemctl start enclos.service
    check_eq "the state of $AUTO after systemctl start" "$(state_of "$AUTO")" RUNNING

    section "apt purges the package"
    say "What enclos net up made at boot (/run/enclos/net/made): $(tr '\n' ' ' </run/enclos/net/made 2>&1)"
    run env DEBIAN_FRONTEND=noninteractive apt-get purge -y -q enclos
    fails 1 dpkg-query -W enclos
    check_contains "dpkg-query -W enclos after the purge" "$LAST_ERR" "no packages found matching enclos"
    local f left=()
    while read -r f; do
        [ -e "$f" ] || [ -L "$f" ] || continue
        # A directory stays when something else is in it (/lib, /usr/bin)
        # or another package owns it; an empty one of ours would be left.
        if [ -d "$f" ]; then
            [ -z "$(ls -A "$f")" ] && [ -z "$(dpkg -S "$f" 2>/dev/null)" ] || continue
        fi
        left+=("$f")
    done <"$STATE/package-files"
    [ "${#left[@]}" -eq 0 ] || die "the purge left files of the package: ${left[*]}"
    ok "no file of the package is left ($(wc -l <"$STATE/package-files") paths checked)"
    for f in /etc/enclos /usr/libexec/enclos /usr/share/enclos /usr/share/doc/enclos \
        /etc/systemd/system/multi-user.target.wants/enclos.service \
        /var/lib/systemd/deb-systemd-helper-enabled/enclos.service.dsh-also \
        /var/lib/systemd/deb-systemd-helper-masked/enclos.service \
        /etc/systemd/system/multi-user.target.wants/enclos-net.service \
        /var/lib/systemd/deb-systemd-helper-enabled/enclos-net.service.dsh-also \
        /var/lib/systemd/deb-systemd-helper-masked/enclos-net.service; do
        [ ! -e "$f" ] && [ ! -L "$f" ] || die "the purge left $f"
    done
    ok "no directory, link or state of the package is left"
    fails 4 systemctl status enclos.service
    fails 4 systemctl status enclos-net.service
    if ip link show lxcbr0 >/dev/null 2>&1; then
        journalctl -q -b -u enclos-net.service --no-pager | tail -n 20 >&2
        ip -o link show master lxcbr0 >&2 || true
        die "the purge left the bridge lxcbr0"
    fi
    ! nft list table inet enclos_net >/dev/null 2>&1 || die "the purge left the nftables table inet enclos_net"
    ! pgrep -x dnsmasq >/dev/null || die "the purge left dnsmasq running (pid $(pgrep -x dnsmasq))"
    ok "no lxcbr0, no nftables table inet enclos_net, no dnsmasq after the purge"
    [ -f "$LXCPATH/$AUTO/config" ] && [ -f "$LXCPATH/$WEB/config" ] && [ -f "$LXCPATH/$MANUAL/config" ] ||
        die "the purge removed containers from $LXCPATH; Debian's policy keeps them"
    ok "the containers stay in $LXCPATH, as Debian's policy wants"
    [ ! -d "/sys/fs/cgroup/enclos.payload.$AUTO" ] ||
        die "the cgroup of $AUTO outlived the package's removal: prerm did not stop enclos.service"
    ok "the removal stopped $AUTO (no cgroup enclos.payload.$AUTO left)"
}

case "${1:-}" in
install) install_part "${2:?package-check.sh install DEB}" ;;
after-reboot) after_reboot_part ;;
*) die "usage: package-check.sh install DEB | after-reboot" ;;
esac
