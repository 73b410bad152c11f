//! Waiting on the kernel without spinning: cgroup v2 event files are
//! polled (kernfs wakes POLLPRI on change); where the kernel gives no
//! notification (v1 freezer.state, a dying task still counted), an
//! exponential back-off that starts at a few microseconds.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::os::fd::AsFd;
use std::path::Path;
use std::time::{Duration, Instant};

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};

use crate::error::{Error, Result};

/// Exponential back-off from 20 µs up to 10 ms per step, within a budget.
#[derive(Debug)]
pub struct Backoff {
    start: Instant,
    budget: Duration,
    step: Duration,
}

impl Backoff {
    pub fn new(budget: Duration) -> Self {
        Backoff {
            start: Instant::now(),
            budget,
            step: Duration::from_micros(20),
        }
    }

    /// Sleeps one step; false once the budget is spent.
    pub fn wait(&mut self) -> bool {
        let elapsed = self.start.elapsed();
        if elapsed >= self.budget {
            return false;
        }
        std::thread::sleep(self.step.min(self.budget - elapsed));
        self.step = (self.step * 2).min(Duration::from_millis(10));
        true
    }

    pub fn elapsed(&self) -> Duration {
        self.start.elapsed()
    }
}

/// The instant `timeout` from now; a timeout too large for the clock
/// (`-t 18446744073709551615`) is a century away, as good as none.
pub fn deadline_after(timeout: Duration) -> Instant {
    let now = Instant::now();
    now.checked_add(timeout)
        .or_else(|| now.checked_add(Duration::from_secs(100 * 365 * 86400)))
        .unwrap_or(now)
}

/// Whether a flat keyed file (`cgroup.events`) has the line `key value`.
pub fn has_line(text: &str, key: &str, value: &str) -> bool {
    text.lines().any(|l| {
        let mut it = l.split_whitespace();
        it.next() == Some(key) && it.next() == Some(value)
    })
}

/// Waits until the events file at `path` has `key value`, polling for
/// POLLPRI between reads; false when `deadline` passes first.
pub fn wait_events(path: &Path, key: &str, value: &str, deadline: Instant) -> Result<bool> {
    let read_err = |source| Error::Read {
        path: path.to_path_buf(),
        source,
    };
    let mut file = File::open(path).map_err(read_err)?;
    let mut buf = String::new();
    loop {
        buf.clear();
        file.seek(SeekFrom::Start(0)).map_err(read_err)?;
        file.read_to_string(&mut buf).map_err(read_err)?;
        if has_line(&buf, key, value) {
            return Ok(true);
        }
        let now = Instant::now();
        if now >= deadline {
            return Ok(false);
        }
        let ms = (deadline - now).as_millis().clamp(1, i32::MAX as u128) as i32;
        let mut fds = [PollFd::new(file.as_fd(), PollFlags::POLLPRI)];
        let timeout = PollTimeout::try_from(ms).unwrap_or(PollTimeout::MAX);
        match poll(&mut fds, timeout) {
            Ok(_) | Err(nix::errno::Errno::EINTR) => {}
            Err(e) => return Err(read_err(std::io::Error::from(e))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_huge_timeout_is_a_far_deadline_not_a_panic() {
        let far = deadline_after(Duration::from_secs(u64::MAX));
        assert!(far > Instant::now() + Duration::from_secs(50 * 365 * 86400));
        let near = deadline_after(Duration::from_secs(1));
        assert!(near <= Instant::now() + Duration::from_secs(1));
    }
}
