#!/usr/bin/env bash
# Lab 2, networks: busybox containers on each link type, with LXC's
# commands answered by enclos, inside a network namespace of the lab's own
# (the whole lab re-runs itself under `unshare -n`: its links, addresses,
# forwarding, nftables table and dnsmasq are the namespace's, never the
# host's):
#   - two macvlan containers (bridge mode) on one parent ping each other;
#   - two ipvlan containers ping each other, in each mode: l2, l3, l3s
#     (where this kernel has no ipvlan driver at all, the lab says so and
#     checks that lxc-start refuses in one clear line instead; the VM lab's
#     Debian kernel has it, so there it must work);
#   - a vlan container (vlan.id 10 on a veth) pings the other end's vlan
#     (where the kernel has 8021q);
#   - `lxc-ls -f` shows each one's IPV4;
#   - `enclos net up` makes the default network (lxcbr0, NAT, dnsmasq) in
#     the namespace: a container on it gets its address by DHCP, which
#     `lxc-ls -f` then shows, and pings the bridge.

if [ -z "${LAB_IN_NETNS:-}" ]; then
    if [ "$(id -u)" -ne 0 ]; then
        printf 'LAB SKIPPED: %s\n' "the labs run as root (they create network namespaces, links and containers)"
        exit 77
    fi
    LAB_IN_NETNS=1 exec unshare -n bash "$0" "$@"
fi

. "$(dirname "$0")/lib.sh"

command -v busybox >/dev/null 2>&1 || skip "the busybox template needs busybox (apt-get install busybox-static)"
command -v ip >/dev/null 2>&1 || skip "the lab makes its links with ip (apt-get install iproute2)"

LXP=()
if [ -n "${LAB_LXCPATH:-}" ]; then
    LXP=(-P "$LAB_LXCPATH")
    LXCPATH=$LAB_LXCPATH
else
    LXCPATH=$("$ENCLOS" config lxc.lxcpath)
fi
A=${P}net-a
B=${P}net-b
D=${P}net-dhcp
for c in "$A" "$B" "$D"; do
    [ ! -e "$LXCPATH/$c" ] || die "a container named $c already exists in $LXCPATH: destroy it (lxc-destroy -f -n $c) or set LAB_PREFIX"
    on_exit lxc-destroy "${LXP[@]}" -f -n "$c"
done

# with_net NAME KEYS: NAME's config with KEYS as its only network.
with_net() {
    local config=$LXCPATH/$1/config
    [ -f "$config.base" ] || cp "$config" "$config.base"
    { cat "$config.base"; printf 'lxc.net =\n%s\n' "$2"; } >"$config"
}

# ipv4_of NAME: the IPV4 column of `lxc-ls -f` for NAME.
ipv4_of() {
    lxc-ls "${LXP[@]}" -f -F NAME,IPV4 | awk -v n="$1" '$1 == n {print $2}'
}

# pair_ping KIND PARENT MODEKEY SUBNET: A and B on PARENT ping each other,
# and lxc-ls -f shows their addresses.
pair_ping() {
    local kind=$1 parent=$2 mode=$3 subnet=$4 c i=2 listing
    for c in "$A" "$B"; do
        with_net "$c" "lxc.net.0.type = $kind
lxc.net.0.link = $parent
lxc.net.0.flags = up
lxc.net.0.$mode
lxc.net.0.ipv4.address = $subnet.$i/24"
        i=$((i + 1))
        run lxc-start "${LXP[@]}" -n "$c"
    done
    run lxc-attach "${LXP[@]}" -n "$A" -- ping -c 1 -W 5 "$subnet.3"
    run lxc-attach "${LXP[@]}" -n "$B" -- ping -c 1 -W 5 "$subnet.2"
    local pid
    pid=$(lxc-info "${LXP[@]}" -n "$A" -p | awk '{print $2}')
    out listing nsenter --net="/proc/$pid/ns/net" ip -d link show eth0
    check_contains "ip -d link show eth0 in $A (busybox's ip has no -d: the host's, in its namespace)" "$listing" "$kind"
    out listing lxc-ls "${LXP[@]}" -f
    check_eq "the IPV4 of $A in lxc-ls -f ($kind $mode)" "$(ipv4_of "$A")" "$subnet.2"
    check_eq "the IPV4 of $B in lxc-ls -f ($kind $mode)" "$(ipv4_of "$B")" "$subnet.3"
    run lxc-stop "${LXP[@]}" -n "$A" -k
    run lxc-stop "${LXP[@]}" -n "$B" -k
}

# parent NAME: a link for the containers' links to sit on: a dummy where
# the kernel has one, else one end of a veth pair.
parent() {
    if ! ip link add "$1" type dummy 2>/dev/null; then
        ip link add "$1" type veth peer name "$1p"
        ip link set "$1p" up
    fi
    ip link set "$1" up
}

# has_kind KIND PARENT [ARGS...]: this kernel makes links of KIND on PARENT.
has_kind() {
    local kind=$1 parent=$2
    shift 2
    ip link add link "$parent" name probe0 type "$kind" "$@" >/dev/null 2>&1 || return 1
    ip link del probe0
}

section "A network namespace of the lab's own"
run ip link set lo up
out links ip -o link show
check_eq "the links of the lab's namespace" "$(printf '%s\n' "$links" | awk -F': ' '{print $2}')" "lo"
run lxc-create "${LXP[@]}" -n "$A" -t busybox
run lxc-create "${LXP[@]}" -n "$B" -t busybox

section "macvlan: two containers on one parent (bridge mode)"
parent macpar0
pair_ping macvlan macpar0 "macvlan.mode = bridge" 10.0.81

section "ipvlan: two containers on one parent, in l2, l3 and l3s modes"
parent ipvpar0
if has_kind ipvlan ipvpar0; then
    pair_ping ipvlan ipvpar0 "ipvlan.mode = l2" 10.0.82
    pair_ping ipvlan ipvpar0 "ipvlan.mode = l3" 10.0.83
    pair_ping ipvlan ipvpar0 "ipvlan.mode = l3s" 10.0.84
else
    modinfo ipvlan >/dev/null 2>&1 && die "this kernel has an ipvlan module, but ip link add ... type ipvlan fails"
    say "This kernel has no ipvlan driver (no module ipvlan): lxc-start must refuse in one clear line."
    with_net "$A" "lxc.net.0.type = ipvlan
lxc.net.0.link = ipvpar0
lxc.net.0.ipvlan.mode = l2"
    fails 1 lxc-start "${LXP[@]}" -n "$A"
    check_contains "the error of lxc-start" "$LAST_ERR" "this kernel has no ipvlan driver"
    check_eq "the state of $A" "$(lxc-info "${LXP[@]}" -n "$A" -s | awk '{print $2}')" STOPPED
fi

section "vlan: a container on VLAN 10 of a veth, the other end's VLAN 10 answers"
run ip link add vlpar0 type veth peer name vlpeer0
run ip link set vlpar0 up
run ip link set vlpeer0 up
if has_kind vlan vlpeer0 id 9; then
    run ip link add link vlpeer0 name vlpeer0.10 type vlan id 10
    run ip addr add 10.0.85.1/24 dev vlpeer0.10
    run ip link set vlpeer0.10 up
    with_net "$A" "lxc.net.0.type = vlan
lxc.net.0.link = vlpar0
lxc.net.0.vlan.id = 10
lxc.net.0.flags = up
lxc.net.0.ipv4.address = 10.0.85.2/24"
    run lxc-start "${LXP[@]}" -n "$A"
    run lxc-attach "${LXP[@]}" -n "$A" -- ping -c 1 -W 5 10.0.85.1
    out listing lxc-ls "${LXP[@]}" -f
    check_eq "the IPV4 of $A in lxc-ls -f (vlan 10)" "$(ipv4_of "$A")" 10.0.85.2
    run lxc-stop "${LXP[@]}" -n "$A" -k
else
    modinfo 8021q >/dev/null 2>&1 && die "this kernel has an 8021q module, but ip link add ... type vlan fails"
    say "This kernel has no 8021q driver (no module 8021q): no vlan here."
fi

section "The default network: enclos net up, a container gets its address by DHCP"
if ! command -v dnsmasq >/dev/null 2>&1 || ! command -v nft >/dev/null 2>&1; then
    say "dnsmasq or nft is missing (apt-get install dnsmasq-base nftables): no default network here."
else
    # Settings of the lab's own (lxc-net's defaults: lxcbr0, 10.0.3.1/24),
    # whatever the host's /etc/default/lxc-net and /etc/enclos/enclos.conf say.
    NET=(--settings "$LAB_TMP/lxc-net" --config "$LAB_TMP/enclos.conf" --run-dir "$LAB_TMP/net")
    : >"$LAB_TMP/lxc-net"
    : >"$LAB_TMP/enclos.conf"
    # shellcheck disable=SC2016 # expanded when the lab ends
    on_exit '"$ENCLOS" net down "${NET[@]}"; [ ! -f "$LAB_TMP/net/dnsmasq.pid" ] || kill -9 "$(cat "$LAB_TMP/net/dnsmasq.pid")"'
    run "$ENCLOS" net up "${NET[@]}"
    out status "$ENCLOS" net status "${NET[@]}"
    check_contains "enclos net status" "$status" "State:       up"
    run lxc-create "${LXP[@]}" -n "$D" -t busybox
    run sh -c "printf 'lxc.net =\nlxc.net.0.type = veth\nlxc.net.0.link = lxcbr0\nlxc.net.0.flags = up\nlxc.net.0.hwaddr = 00:16:3e:xx:xx:xx\n' >>$LXCPATH/$D/config"
    run lxc-start "${LXP[@]}" -n "$D"
    say "The template's rcS asks for an address (udhcpc); dnsmasq answers:"
    has_dhcp_address() { case "$(ipv4_of "$D")" in 10.0.3.*) return 0 ;; *) return 1 ;; esac }
    wait_for 60 "an address from dnsmasq in $D" has_dhcp_address
    out listing lxc-ls "${LXP[@]}" -f
    check_contains "the IPV4 of $D in lxc-ls -f" "$(ipv4_of "$D")" "10.0.3."
    run lxc-attach "${LXP[@]}" -n "$D" -- ping -c 1 -W 5 10.0.3.1
    run lxc-stop "${LXP[@]}" -n "$D" -k
    run "$ENCLOS" net down "${NET[@]}"
fi

section "Nothing is left: only the lab's own links"
out links ip -o link show
for l in $(printf '%s\n' "$links" | awk -F': ' '{print $2}' | sed 's/@.*//'); do
    case "$l" in
    lo | macpar0* | ipvpar0* | vlpar0 | vlpeer0 | vlpeer0.10) ;;
    *) die "a link $l is left in the lab's namespace after the containers stopped" ;;
    esac
done
ok "no container's link is left"
