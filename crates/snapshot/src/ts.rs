//! The `ts` file of a snapshot: its creation time as LXC writes it,
//! `YYYY:MM:DD HH:MM:SS` in the host's local time (LXC calls
//! `localtime_r` and `strftime("%Y:%m:%d %H:%M:%S")`), with no newline.
#![allow(unsafe_code)]

use std::time::{SystemTime, UNIX_EPOCH};

/// `when` in LXC's `ts` format, in local time.
pub fn format_ts(when: SystemTime) -> String {
    let secs = match when.duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_secs() as libc::time_t,
        Err(e) => -(e.duration().as_secs() as libc::time_t),
    };
    let tm = local_time(secs);
    format!(
        "{:04}:{:02}:{:02} {:02}:{:02}:{:02}",
        tm.tm_year + 1900,
        tm.tm_mon + 1,
        tm.tm_mday,
        tm.tm_hour,
        tm.tm_min,
        tm.tm_sec
    )
}

/// Whether `text` has the shape of LXC's `ts` (`2020:07:29 17:34:36`).
pub fn is_ts(text: &str) -> bool {
    let b = text.as_bytes();
    b.len() == 19
        && b.iter().enumerate().all(|(i, c)| match i {
            4 | 7 | 13 | 16 => *c == b':',
            10 => *c == b' ',
            _ => c.is_ascii_digit(),
        })
}

/// The broken-down local time of `secs` since the epoch.
fn local_time(secs: libc::time_t) -> libc::tm {
    // SAFETY: tm is plain old data; all-zero is a valid value.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    // SAFETY: both pointers point to live values of the right types for
    // the whole call; localtime_r is the reentrant form and only writes
    // into `tm`. On failure tm stays zeroed (1900:01:00), which is still
    // printable.
    unsafe { libc::localtime_r(&secs, &mut tm) };
    tm
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lxc_shape() {
        let ts = format_ts(SystemTime::now());
        assert!(is_ts(&ts), "{ts}");
        assert!(!ts.ends_with('\n'));
        assert!(is_ts("2020:07:29 17:34:36"));
        assert!(!is_ts("2020-07-29 17:34:36"));
        assert!(!is_ts("2020:07:29 17:34:36\n"));
    }

    #[test]
    fn local_time_follows_tz() {
        // Under TZ=UTC the epoch is 1970:01:01 00:00:00; the test only
        // checks the fields line up, whatever this host's zone is.
        let ts = format_ts(UNIX_EPOCH + std::time::Duration::from_secs(86_400 * 365));
        assert!(
            ts.starts_with("1971:01:0") || ts.starts_with("1970:12:31"),
            "{ts}"
        );
    }
}
