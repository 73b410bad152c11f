# Shared helpers of the lab scripts: print each command as a terminal
# session would, run it, and check what a trainee would check.
#
# Environment:
#   ENCLOS      the enclos binary to play the lab with (required)
#   LAB_PREFIX  prefix of every group/container name the lab makes, so that
#               concurrent runs (tests) do not collide; empty in the demo

set -euo pipefail

: "${ENCLOS:?set ENCLOS to the enclos binary, e.g. ENCLOS=target/release/enclos}"
ENCLOS=$(readlink -f "$ENCLOS")
P=${LAB_PREFIX:-}

if [ -t 1 ]; then
    _B=$'\e[1m' _G=$'\e[32m' _R=$'\e[31m' _N=$'\e[0m'
else
    _B='' _G='' _R='' _N=''
fi

LAB_TMP=$(mktemp -d "${TMPDIR:-/tmp}/enclos-lab.XXXXXX")
# Links named after the tools (cgcreate, lxc-start, ...) come first in PATH,
# so the lab types the course's commands and enclos answers them.
mkdir -p "$LAB_TMP/bin"
"$ENCLOS" compat install "$LAB_TMP/bin" >/dev/null
export PATH="$LAB_TMP/bin:$PATH"

_cleanups=()
# on_exit CMD...: run CMD when the lab ends, however it ends (last first).
on_exit() { _cleanups+=("$*"); }
_run_cleanups() {
    local rc=$? i
    set +e
    for ((i = ${#_cleanups[@]} - 1; i >= 0; i--)); do
        eval "${_cleanups[$i]}" >/dev/null 2>&1
    done
    rm -rf "$LAB_TMP"
    exit $rc
}
trap _run_cleanups EXIT

section() { printf '\n%s== %s ==%s\n' "$_B" "$*" "$_N"; }
say() { printf '%s\n' "$*"; }

# run CMD...: print it as typed at a root prompt, then run it; fails the lab
# if it fails.
run() {
    printf '%sroot@lab:~# %s%s\n' "$_B" "$*" "$_N"
    "$@"
}

# out VAR CMD...: like run, but also keeps the output in VAR.
out() {
    local __var=$1
    shift
    printf '%sroot@lab:~# %s%s\n' "$_B" "$*" "$_N"
    local __o
    __o=$("$@")
    printf '%s\n' "$__o"
    printf -v "$__var" '%s' "$__o"
}

# fails CODE CMD...: print and run CMD, which must exit with CODE; its
# error output is kept in LAST_ERR.
fails() {
    local code=$1 rc=0
    shift
    printf '%sroot@lab:~# %s%s\n' "$_B" "$*" "$_N"
    LAST_ERR=$("$@" 2>&1 >/dev/null) || rc=$?
    printf '%s\n' "$LAST_ERR"
    [ "$rc" -eq "$code" ] || die "expected exit code $code from '$*', got $rc"
}

die() {
    printf '%sLAB FAILED: %s%s\n' "$_R" "$*" "$_N" >&2
    exit 1
}

ok() { printf '%s  ok: %s%s\n' "$_G" "$*" "$_N"; }

# check_eq WHAT ACTUAL EXPECTED
check_eq() {
    [ "$2" = "$3" ] || die "$1: expected '$3', got '$2'"
    ok "$1 = $3"
}

# check_contains WHAT HAYSTACK NEEDLE
check_contains() {
    case "$2" in
    *"$3"*) ok "$1 contains '$3'" ;;
    *) die "$1: expected it to contain '$3', got '$2'" ;;
    esac
}

# wait_for SECONDS DESCRIPTION CMD...: polls CMD until it succeeds.
wait_for() {
    local secs=$1 what=$2 i
    shift 2
    for ((i = 0; i < secs * 10; i++)); do
        if "$@" >/dev/null 2>&1; then return 0; fi
        sleep 0.1
    done
    die "timed out after ${secs}s waiting for $what"
}

skip() {
    printf 'LAB SKIPPED: %s\n' "$*"
    exit 77
}

# The container commands below take the lxcpath options in LXP (an array).

# up NAME [SECONDS]: starts container NAME and waits until it runs.
up() {
    run lxc-start "${LXP[@]}" -n "$1"
    run lxc-wait "${LXP[@]}" -n "$1" -s RUNNING -t "${2:-30}"
}

# check_data NAME WHAT EXPECTED [SECONDS]: starts NAME, checks that its
# /root/testdata holds EXPECTED (the check named WHAT), and stops it.
check_data() {
    up "$1" "${4:-30}"
    out data lxc-attach "${LXP[@]}" -n "$1" -- cat /root/testdata
    check_eq "$2" "$data" "$3"
    run lxc-stop "${LXP[@]}" -n "$1"
}

# files_of NAME: the stopped container's /root/testdata, then which of
# /root/after-snap0 and /root/after-snap1 it has, on one line.
files_of() {
    lxc-execute "${LXP[@]}" -n "$1" -- sh -c 'cat /root/testdata; for f in after-snap0 after-snap1; do [ -e /root/$f ] && echo $f; done; true' | paste -sd ' '
}

[ "$(id -u)" -eq 0 ] || skip "the labs run as root (they create control groups and containers)"

# Interactive sessions at a terminal, as a trainee types them: the command
# runs on a pty of script(1), the lab types into it and reads the screen,
# with bounded waits.
#   term_start CMD...      start CMD on a new terminal (one at a time)
#   term_send TEXT         type TEXT (printf %b: '\r' is Enter, '\003' Ctrl+C)
#   term_expect NEEDLE     wait until the screen shows NEEDLE (after what
#                          was already matched)
#   term_run CMD           type CMD at a shell; its output goes to TERM_GOT
#   term_wait              wait for the command to end; its status in TERM_RC
#   TERM_SCREEN            everything the screen showed
term_start() {
    TERM_SCREEN='' TERM_POS=0 TERM_RC=''
    local cmd
    printf -v cmd '%q ' "$@"
    printf '%sroot@lab:~# %s%s    (at a terminal)\n' "$_B" "$*" "$_N"
    # The screen goes to a file that the lab reads back whole: bash's
    # `read -t` on the pty's output could drop a character that arrived
    # as its timeout fired.
    TERM_LOG=$(mktemp)
    coproc TERM_CO { exec script -qfec "$cmd" /dev/null >"$TERM_LOG" 2>&1; }
    TERM_PID=$TERM_CO_PID
    exec {TERM_W}>&"${TERM_CO[1]}"
    TERM_LIVE=$TERM_PID
    # shellcheck disable=SC2016 # expanded when the lab ends
    on_exit '[ -z "$TERM_LIVE" ] || kill -9 "$TERM_LIVE"; rm -f "$TERM_LOG"'
}

term_send() { printf '%b' "$1" >&"$TERM_W"; }

# _term_read SECS: waits SECS seconds, then reads what the screen shows.
_term_read() {
    sleep "$1"
    TERM_SCREEN=$(cat "$TERM_LOG" && echo .)
    TERM_SCREEN=${TERM_SCREEN%.}
}

term_expect() {
    local needle=$1 end=$((SECONDS + ${2:-20})) rest
    while :; do
        rest=${TERM_SCREEN:$TERM_POS}
        if [[ $rest == *"$needle"* ]]; then
            rest=${rest#*"$needle"}
            TERM_POS=$((${#TERM_SCREEN} - ${#rest}))
            return 0
        fi
        [ "$SECONDS" -lt "$end" ] || die "waited for '$needle' on the terminal; it showed:
$(printf '%s' "$TERM_SCREEN" | tr -d '\r')"
        _term_read 0.1
    done
}

term_run() {
    term_send "echo B\"\"EGIN; $1; echo E\"\"ND\r"
    term_expect BEGIN
    local from=$TERM_POS
    term_expect END
    TERM_GOT=${TERM_SCREEN:$from:$((TERM_POS - from - 3))}
    TERM_GOT=$(printf '%s' "$TERM_GOT" | tr -d '\r' | sed '/^$/d')
}

term_wait() {
    local end=$((SECONDS + ${1:-20}))
    while kill -0 "$TERM_PID" 2>/dev/null; do
        [ "$SECONDS" -lt "$end" ] || die "the command on the terminal did not end; it showed:
$(printf '%s' "$TERM_SCREEN" | tr -d '\r')"
        _term_read 0.2
    done
    TERM_RC=0
    wait "$TERM_PID" || TERM_RC=$?
    TERM_LIVE=''
    _term_read 0
    rm -f "$TERM_LOG"
    exec {TERM_W}>&-
}

# term_show: the screen of the session, indented.
term_show() { printf '%s\n' "$TERM_SCREEN" | tr -d '\r' | sed 's/\x1b\[[0-9;?]*[a-zA-Z]//g; s/^/    /'; }
