//! Signals as `lxc.signal.*` and kill(1) write them.

/// Signal names and numbers of Linux on the common architectures (x86,
/// arm, arm64, riscv, powerpc, s390).
#[rustfmt::skip]
const SIGNALS: &[(&str, i32)] = &[
    ("HUP", 1), ("INT", 2), ("QUIT", 3), ("ILL", 4), ("TRAP", 5), ("ABRT", 6), ("IOT", 6),
    ("BUS", 7), ("FPE", 8), ("KILL", 9), ("USR1", 10), ("SEGV", 11), ("USR2", 12),
    ("PIPE", 13), ("ALRM", 14), ("TERM", 15), ("STKFLT", 16), ("CHLD", 17), ("CLD", 17),
    ("CONT", 18), ("STOP", 19), ("TSTP", 20), ("TTIN", 21), ("TTOU", 22), ("URG", 23),
    ("XCPU", 24), ("XFSZ", 25), ("VTALRM", 26), ("PROF", 27), ("WINCH", 28), ("IO", 29),
    ("POLL", 29), ("PWR", 30), ("SYS", 31),
];

/// SIGRTMIN as the C library reports it (glibc keeps 32 and 33 for itself).
pub const SIGRTMIN: i32 = 34;
/// SIGRTMAX.
pub const SIGRTMAX: i32 = 64;

pub const SIGINT: i32 = 2;
pub const SIGKILL: i32 = 9;
pub const SIGPWR: i32 = 30;

const SIGNAL_EXPECTED: &str = "a signal name (SIGPWR, PWR, SIGRTMIN+3) or number from 1 to 64";

/// Parses a signal the way kill(1) writes it: a number, a name with or
/// without `SIG` (any case), or `RTMIN+n` / `RTMAX-n`.
pub fn parse_signal(value: &str) -> Result<i32, String> {
    let expected = || SIGNAL_EXPECTED.to_string();
    if value.bytes().all(|b| b.is_ascii_digit()) {
        return match value.parse::<i32>() {
            Ok(n) if (1..=SIGRTMAX).contains(&n) => Ok(n),
            _ => Err(expected()),
        };
    }
    let upper = value.to_ascii_uppercase();
    let name = upper.strip_prefix("SIG").unwrap_or(&upper);
    if let Some(rest) = name.strip_prefix("RTMIN") {
        return realtime(SIGRTMIN, rest).ok_or_else(expected);
    }
    if let Some(rest) = name.strip_prefix("RTMAX") {
        return realtime(SIGRTMAX, rest).ok_or_else(expected);
    }
    SIGNALS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, number)| *number)
        .ok_or_else(expected)
}

fn realtime(base: i32, offset: &str) -> Option<i32> {
    let number = if offset.is_empty() {
        base
    } else if let Some(n) = offset.strip_prefix('+') {
        base + n.parse::<u8>().ok()? as i32
    } else if let Some(n) = offset.strip_prefix('-') {
        base - n.parse::<u8>().ok()? as i32
    } else {
        return None;
    };
    (SIGRTMIN..=SIGRTMAX).contains(&number).then_some(number)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case("SIGPWR", 30)]
    #[case("PWR", 30)]
    #[case("sigpwr", 30)]
    #[case("SIGKILL", 9)]
    #[case("SIGUSR1", 10)]
    #[case("term", 15)]
    #[case("SIGRTMIN", 34)]
    #[case("SIGRTMIN+3", 37)]
    #[case("RTMIN+14", 48)]
    #[case("SIGRTMAX-10", 54)]
    #[case("SIGRTMAX", 64)]
    #[case("9", 9)]
    #[case("64", 64)]
    fn signals(#[case] value: &str, #[case] expected: i32) {
        assert_eq!(parse_signal(value), Ok(expected));
    }

    #[rstest]
    #[case("SIGFOO")]
    #[case("0")]
    #[case("65")]
    #[case("-1")]
    #[case("SIGRTMIN+40")]
    #[case("SIGRTMAX+1")]
    #[case("SIGRTMIN3")]
    #[case("SIG")]
    #[case("")]
    fn bad_signals(#[case] value: &str) {
        assert!(parse_signal(value).is_err(), "{value}");
    }
}
