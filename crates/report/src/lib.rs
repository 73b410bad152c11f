#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

use std::error::Error;
use std::fmt;

/// Displays an error and its causes, `: `-separated, each message once.
/// Line breaks inside messages are kept (see [`chain`] for one line).
#[derive(Debug, Clone, Copy)]
pub struct Chain<'a>(pub &'a (dyn Error + 'a));

impl fmt::Display for Chain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut shown = self.0.to_string();
        let mut cause = self.0.source();
        while let Some(c) = cause {
            let text = c.to_string();
            if !text.is_empty() && !shown.contains(&text) {
                shown.push_str(": ");
                shown.push_str(&text);
            }
            cause = c.source();
        }
        f.write_str(&shown)
    }
}

/// An error and its causes on one line (line breaks become blanks), for
/// a log line, a status file or the CLI's last word.
pub fn chain(e: &dyn Error) -> String {
    Chain(e).to_string().replace('\n', " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    enum Inner {
        #[error("Permission denied")]
        Denied,
    }

    #[derive(Debug, thiserror::Error)]
    enum Mid {
        #[error("Cannot mount proc on /proc")]
        Mount(#[source] Inner),
        #[error(transparent)]
        Transparent(#[from] Inner),
        #[error("Cannot mount sysfs: {0}")]
        Repeats(#[source] Inner),
    }

    #[derive(Debug, thiserror::Error)]
    #[error("Cannot start c1\nsee the log")]
    struct Top(#[source] Mid);

    #[test]
    fn every_cause_once() {
        let e = Top(Mid::Mount(Inner::Denied));
        assert_eq!(
            Chain(&e).to_string(),
            "Cannot start c1\nsee the log: Cannot mount proc on /proc: Permission denied"
        );
        assert_eq!(
            chain(&e),
            "Cannot start c1 see the log: Cannot mount proc on /proc: Permission denied"
        );
    }

    #[test]
    fn a_repeated_source_is_not_printed_twice() {
        let e = Top(Mid::Transparent(Inner::Denied));
        assert_eq!(chain(&e), "Cannot start c1 see the log: Permission denied");
        let e = Top(Mid::Repeats(Inner::Denied));
        assert_eq!(
            chain(&e),
            "Cannot start c1 see the log: Cannot mount sysfs: Permission denied"
        );
    }

    #[test]
    fn a_lone_error() {
        assert_eq!(chain(&Inner::Denied), "Permission denied");
    }
}
