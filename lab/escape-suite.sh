#!/usr/bin/env bash
# The escape suite (tests/escape.rs: each case an attempt at a known way
# out of a privileged and of an unprivileged busybox container, made with
# the template's default configuration) played in the lab VM, on
# Debian's kernel with AppArmor and cgroup v2 or v1, which the build host
# may lack. Run it with `cargo xtask lab vm escape-suite.sh` (every VM
# run of all the labs plays it last): the host builds the suite's test
# binary and its syscall probe (the guest has no Rust toolchain) and
# ships them in the run's share, the directory LAB_ESCAPE_SUITE.
#
# The suite runs as CI runs it on the host: against this lab's enclos,
# ENCLOS_REQUIRE_PRIVILEGED=1 (a case that would skip fails), as many
# test threads as CPUs. The lab fails unless every case passed.

. "$(dirname "$0")/lib.sh"

SUITE=${LAB_ESCAPE_SUITE:-}
[ -n "$SUITE" ] && [ -x "$SUITE/escape" ] && [ -x "$SUITE/enclos-probe" ] ||
    skip "the escape suite's test binary is built on the build host: play this lab with \`cargo xtask lab vm escape-suite.sh\`"
command -v busybox >/dev/null 2>&1 || skip "the busybox template needs busybox (apt-get install busybox-static)"

SUITE_ENV=(env "ENCLOS_BIN=$ENCLOS" ENCLOS_REQUIRE_PRIVILEGED=1 CI=true
    "ENCLOS_ESCAPE_PROBE=$SUITE/enclos-probe")

section "The escape suite's cases, each against a privileged and an unprivileged container"
out CASES "${SUITE_ENV[@]}" "$SUITE/escape" --list
TOTAL=$(grep -c ': test$' <<<"$CASES" || true)
[ "$TOTAL" -gt 0 ] || die "the suite's test binary lists no case"
say "$TOTAL tests: each case against a privileged and an unprivileged container"

section "Every attempt, as CI runs the suite (ENCLOS_REQUIRE_PRIVILEGED=1, $(nproc) test threads)"
LOG=$LAB_TMP/escape.log
rc=0
run "${SUITE_ENV[@]}" "$SUITE/escape" --test-threads "$(nproc)" 2>&1 | tee "$LOG" || rc=$?
RESULT=$(grep '^test result:' "$LOG" | tail -n 1 || true)

section "The suite's summary"
say "${RESULT:-the suite printed no summary}"
grep '^test .* FAILED$' "$LOG" | sed 's/^/    /' || true
[ "$rc" -eq 0 ] || die "the escape suite failed (exit code $rc): the failed cases and their output are above"
check_contains "the suite's result" "$RESULT" "test result: ok. $TOTAL passed; 0 failed; 0 ignored"
