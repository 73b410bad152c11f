#!/bin/bash
# The payload of `cargo xtask lab vm` (copied into the run's 9p share as
# payload.sh, next to run.env, the enclos binary, a copy of lab/ and, for
# lab/escape-suite.sh, the escape suite in escape/): plays
# each lab of $LABS as a trainee would, `ENCLOS=<enclos>
# LAB_LXCPATH=<empty dir> bash lab/<lab>`, keeps each lab's output in
# out/<lab>.log and reports on the results port:
#   ENCLOS_LAB_BEGIN <lab>
#   ENCLOS_LAB_RESULT <lab> <exit code> <seconds>
# Exits with the first failing lab's code (77, skipped, is not a failure).
#
# With DEB=<file in the share> in run.env, the package check follows the
# labs (lab/guest/package-check.sh, reported as the lab `package`): its
# first part ends in a reboot of the guest (ENCLOS_VM_REBOOT on the results
# port; the host boots the same disk again), and this payload, started
# again, plays its second part and exits with the status of the whole run.

set -u
SHARE=$(dirname "$(readlink -f "$0")")
. "$SHARE/run.env"
: "${LABS?run.env names no LABS}" "${LAB_TIMEOUT:=600}" "${DEB:=}"

report() { printf '%s\n' "$*" >"${ENCLOS_VM_RESULTS:-/dev/ttyS1}"; }

# The state the package check keeps across the reboot.
REBOOTED=/var/lib/enclos-lab/rebooted

# package_check PART [ARG]: one part of the package check, its output
# appended to out/package.log.
package_check() {
    (cd /root && timeout -k 10 "$LAB_TIMEOUT" bash lab/guest/package-check.sh "$@" </dev/null) 2>&1 |
        tee -a "$SHARE/out/package.log"
    return "${PIPESTATUS[0]}"
}

if [ -f "$REBOOTED" ]; then
    # shellcheck disable=SC1090 # status= and started= of the first boot
    . "$REBOOTED"
    printf '\n== lab VM: after the reboot: bash lab/guest/package-check.sh after-reboot ==\n'
    package_check after-reboot
    rc=$?
    report "ENCLOS_LAB_RESULT package $rc $((${started:-0} + SECONDS))"
    [ "$status" -ne 0 ] || status=$rc
    sync
    exit "$status"
fi

install -m 0755 "$SHARE/enclos" /usr/local/bin/enclos
[ ! -f "$SHARE/enclos-user-nic" ] || install -m 0755 "$SHARE/enclos-user-nic" /usr/local/bin/enclos-user-nic
[ ! -f "$SHARE/enclos-init-exec" ] || install -m 0755 "$SHARE/enclos-init-exec" /usr/local/bin/enclos-init-exec
rm -rf /root/lab && cp -r "$SHARE/lab" /root/lab
# The escape suite's test binary and probe, built by the host for
# lab/escape-suite.sh.
[ ! -d "$SHARE/escape" ] || export LAB_ESCAPE_SUITE=$SHARE/escape
mkdir -p "$SHARE/out"

# The extra disks, by the serial number the host gave them.
udevadm settle --timeout=30 2>/dev/null || true
for dev in /sys/block/vd*; do
    case "$(cat "$dev/serial" 2>/dev/null)" in
    enclos-lvm) export LAB_LVM_DISK=/dev/${dev##*/} ;;
    enclos-btrfs) export LAB_BTRFS_DISK=/dev/${dev##*/} ;;
    esac
done

cgroup=$(stat -fc %T /sys/fs/cgroup)
case "$cgroup" in
cgroup2fs) cgroup="v2 (cgroup2 on /sys/fs/cgroup)" ;;
tmpfs) if [ -d /sys/fs/cgroup/unified ]; then cgroup=hybrid; else cgroup=v1; fi ;;
esac
printf '\n== lab VM: Linux %s, init %s, cgroup %s, LVM disk %s, btrfs disk %s ==\n' \
    "$(uname -r)" "$(ps -o comm= -p 1)" "$cgroup" "${LAB_LVM_DISK:-none}" "${LAB_BTRFS_DISK:-none}"

status=0
for lab in $LABS; do
    report "ENCLOS_LAB_BEGIN $lab"
    printf '\n== lab VM: bash lab/%s ==\n' "$lab"
    lxcpath=$(mktemp -d /var/tmp/enclos-lxcpath.XXXXXX)
    start=$SECONDS
    (cd /root && ENCLOS=/usr/local/bin/enclos LAB_LXCPATH=$lxcpath \
        timeout -k 10 "$LAB_TIMEOUT" bash "lab/$lab" </dev/null) 2>&1 | tee "$SHARE/out/$lab.log"
    rc=${PIPESTATUS[0]}
    [ "$rc" -ne 124 ] || echo "lab VM: $lab timed out after ${LAB_TIMEOUT}s and was killed"
    rm -rf "$lxcpath"
    report "ENCLOS_LAB_RESULT $lab $rc $((SECONDS - start))"
    case "$rc" in
    0 | 77) ;;
    *) [ "$status" -ne 0 ] || status=$rc ;;
    esac
done
if [ -n "$DEB" ]; then
    report "ENCLOS_LAB_BEGIN package"
    printf '\n== lab VM: bash lab/guest/package-check.sh install %s ==\n' "$DEB"
    # The package's enclos, not the labs' copy ahead of it on PATH.
    rm -f /usr/local/bin/enclos
    start=$SECONDS
    package_check install "$SHARE/$DEB"
    rc=$?
    if [ "$rc" -ne 0 ]; then
        report "ENCLOS_LAB_RESULT package $rc $((SECONDS - start))"
        [ "$status" -ne 0 ] || status=$rc
    else
        mkdir -p "${REBOOTED%/*}"
        printf 'status=%s\nstarted=%s\n' "$status" "$((SECONDS - start))" >"$REBOOTED"
        sync
        report "ENCLOS_VM_REBOOT"
        printf '\n== lab VM: rebooting (a clean shutdown: enclos.service stops the containers) ==\n'
        if systemctl reboot; then
            # systemd ends this payload on its way down.
            sleep infinity
        fi
        report "ENCLOS_VM_ERROR systemctl reboot failed: the package check cannot go on"
        rm -f "$REBOOTED"
        [ "$status" -ne 0 ] || status=1
    fi
fi
sync
exit "$status"
