//! LXC's log levels (`lxc.log.level`).

use serde::Serialize;

/// LXC's log levels, 0 (trace) to 8 (fatal).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LogLevel {
    Trace = 0,
    Debug = 1,
    Info = 2,
    Notice = 3,
    Warn = 4,
    Error = 5,
    Crit = 6,
    Alert = 7,
    Fatal = 8,
}

impl LogLevel {
    const ALL: [LogLevel; 9] = [
        LogLevel::Trace,
        LogLevel::Debug,
        LogLevel::Info,
        LogLevel::Notice,
        LogLevel::Warn,
        LogLevel::Error,
        LogLevel::Crit,
        LogLevel::Alert,
        LogLevel::Fatal,
    ];

    /// The name LXC prints (`TRACE` ... `FATAL`).
    pub fn name(self) -> &'static str {
        match self {
            LogLevel::Trace => "TRACE",
            LogLevel::Debug => "DEBUG",
            LogLevel::Info => "INFO",
            LogLevel::Notice => "NOTICE",
            LogLevel::Warn => "WARN",
            LogLevel::Error => "ERROR",
            LogLevel::Crit => "CRIT",
            LogLevel::Alert => "ALERT",
            LogLevel::Fatal => "FATAL",
        }
    }

    /// A number 0-8 or a name, in any case.
    pub fn parse(value: &str) -> Result<LogLevel, String> {
        let by_number = value
            .parse::<usize>()
            .ok()
            .and_then(|n| LogLevel::ALL.get(n).copied());
        by_number
            .or_else(|| {
                LogLevel::ALL
                    .into_iter()
                    .find(|l| l.name().eq_ignore_ascii_case(value))
            })
            .ok_or_else(|| {
                "a level from 0 to 8 or TRACE, DEBUG, INFO, NOTICE, WARN, ERROR, CRIT, ALERT, FATAL"
                    .to_string()
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case("0", LogLevel::Trace)]
    #[case("8", LogLevel::Fatal)]
    #[case("DEBUG", LogLevel::Debug)]
    #[case("warn", LogLevel::Warn)]
    #[case("Error", LogLevel::Error)]
    fn log_levels(#[case] value: &str, #[case] expected: LogLevel) {
        assert_eq!(LogLevel::parse(value), Ok(expected));
    }
}
