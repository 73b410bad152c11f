//! Process file descriptors and joining another process's namespaces.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::fcntl::{open, OFlag};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sched::{setns, CloneFlags};
use nix::sys::signal::Signal;
use nix::sys::stat::Mode;
use nix::sys::wait::{waitid, Id, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

use crate::error::{Error, Result};
use crate::namespace::Namespace;

/// A pidfd (pidfd_open(2), Linux 5.3): a handle on one process that stays
/// valid, and never names another process, after that process exits.
#[derive(Debug)]
pub struct PidFd {
    fd: OwnedFd,
    pid: Pid,
}

fn sys_pidfd_open(pid: Pid) -> std::result::Result<OwnedFd, Errno> {
    // SAFETY: pidfd_open takes a pid and a flags word, no pointers.
    let ret = unsafe { libc::syscall(libc::SYS_pidfd_open, pid.as_raw(), 0 as libc::c_uint) };
    let fd = Errno::result(ret)?;
    // SAFETY: on success the kernel returns a new fd that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as libc::c_int) })
}

fn sys_pidfd_send_signal(fd: BorrowedFd<'_>, sig: libc::c_int) -> std::result::Result<(), Errno> {
    // SAFETY: a null siginfo asks the kernel to fill it in as kill(2) does;
    // `fd` is a live descriptor for the duration of the call.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            fd.as_raw_fd(),
            sig,
            std::ptr::null_mut::<libc::siginfo_t>(),
            0 as libc::c_uint,
        )
    };
    Errno::result(ret).map(drop)
}

/// Polls `fd` for readability; `None` waits forever. Returns whether it
/// became readable. Retries on EINTR with the time left.
pub(crate) fn poll_readable(
    fd: BorrowedFd<'_>,
    timeout: Option<Duration>,
) -> std::result::Result<bool, Errno> {
    // A timeout too large for the clock is no deadline at all.
    let deadline = timeout.and_then(|t| Instant::now().checked_add(t));
    loop {
        let left = match deadline {
            None => PollTimeout::NONE,
            Some(d) => {
                let left = d.saturating_duration_since(Instant::now());
                // Round up so a 0.5 ms rest still waits.
                let ms = left.as_micros().div_ceil(1000).min(i32::MAX as u128) as i32;
                PollTimeout::try_from(ms).unwrap_or(PollTimeout::MAX)
            }
        };
        let mut fds = [PollFd::new(fd, PollFlags::POLLIN)];
        match poll(&mut fds, left) {
            Ok(0) => return Ok(false),
            Ok(_) => return Ok(true),
            Err(Errno::EINTR) => {
                if deadline.is_some_and(|d| Instant::now() >= d) {
                    return Ok(false);
                }
            }
            Err(e) => return Err(e),
        }
    }
}

impl PidFd {
    /// Opens a pidfd for `pid`.
    pub fn open(pid: Pid) -> Result<Self> {
        let fd = sys_pidfd_open(pid).map_err(|source| Error::PidfdOpen {
            pid: pid.as_raw(),
            source,
        })?;
        Ok(Self { fd, pid })
    }

    /// Wraps a pidfd obtained elsewhere (CLONE_PIDFD, SO_PEERPIDFD) for `pid`.
    pub fn from_owned(fd: OwnedFd, pid: Pid) -> Self {
        Self { fd, pid }
    }

    /// The process's pid, as the opener saw it.
    pub fn pid(&self) -> Pid {
        self.pid
    }

    /// Sends `signal` (pidfd_send_signal(2)).
    pub fn send_signal(&self, signal: Signal) -> Result<()> {
        sys_pidfd_send_signal(self.fd.as_fd(), signal as libc::c_int).map_err(|source| {
            Error::Signal {
                pid: self.pid.as_raw(),
                signal: signal.as_str().to_owned(),
                source,
            }
        })
    }

    /// Sends the signal numbered `signal`, which may be a realtime signal
    /// (`SIGRTMIN+3`, systemd's halt signal) that [`Signal`] cannot name.
    pub fn send_signal_number(&self, signal: i32) -> Result<()> {
        sys_pidfd_send_signal(self.fd.as_fd(), signal).map_err(|source| Error::Signal {
            pid: self.pid.as_raw(),
            signal: Signal::try_from(signal)
                .map(|s| s.as_str().to_owned())
                .unwrap_or_else(|_| format!("signal {signal}")),
            source,
        })
    }

    /// Whether the process is still running (not yet exited; a zombie
    /// counts as exited).
    pub fn is_alive(&self) -> Result<bool> {
        Ok(!self.wait_exit(Some(Duration::ZERO))?)
    }

    /// Waits until the process exits, at most `timeout` (`None`: forever).
    /// Returns whether it exited. Does not reap it: see [`PidFd::reap`].
    pub fn wait_exit(&self, timeout: Option<Duration>) -> Result<bool> {
        poll_readable(self.fd.as_fd(), timeout).map_err(|source| Error::Wait {
            pid: self.pid.as_raw(),
            source,
        })
    }

    /// Reaps the process, which must be a child of the caller, waiting for
    /// it to exit (waitid(P_PIDFD), Linux 5.4).
    pub fn reap(&self) -> Result<WaitStatus> {
        loop {
            match waitid(Id::PIDFd(self.fd.as_fd()), WaitPidFlag::WEXITED) {
                Err(Errno::EINTR) => continue,
                other => {
                    return other.map_err(|source| Error::Wait {
                        pid: self.pid.as_raw(),
                        source,
                    })
                }
            }
        }
    }

    /// Reaps the process if it has exited, without waiting.
    pub fn try_reap(&self) -> Result<Option<WaitStatus>> {
        match waitid(
            Id::PIDFd(self.fd.as_fd()),
            WaitPidFlag::WEXITED | WaitPidFlag::WNOHANG,
        ) {
            Ok(WaitStatus::StillAlive) => Ok(None),
            Ok(status) => Ok(Some(status)),
            Err(source) => Err(Error::Wait {
                pid: self.pid.as_raw(),
                source,
            }),
        }
    }

    /// Enters the process's `namespaces` (see [`join`]).
    pub fn join(&self, namespaces: &[Namespace]) -> Result<()> {
        join_pidfd(self, namespaces)
    }
}

impl AsFd for PidFd {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl AsRawFd for PidFd {
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        self.fd.as_raw_fd()
    }
}

impl From<PidFd> for OwnedFd {
    fn from(p: PidFd) -> OwnedFd {
        p.fd
    }
}

/// Enters the `namespaces` of process `pid`, race-free: through a pidfd and
/// one setns(2) call (Linux 5.8). On older kernels (setns answers EINVAL on
/// a pidfd) it opens `/proc/PID/ns/*` one by one, checks through the pidfd
/// that the process is still the same live one, and then enters them, the
/// user namespace first.
///
/// Joining a mount or user namespace needs a single-threaded caller; a pid
/// (or time) namespace applies to the caller's later children only.
pub fn join(pid: Pid, namespaces: &[Namespace]) -> Result<()> {
    let pidfd = PidFd::open(pid)?;
    join_pidfd(&pidfd, namespaces)
}

/// [`join`] with a pidfd the caller already holds.
pub fn join_pidfd(pidfd: &PidFd, namespaces: &[Namespace]) -> Result<()> {
    if namespaces.is_empty() {
        return Ok(());
    }
    let flags = Namespace::flags(namespaces);
    let pid = pidfd.pid().as_raw();
    match setns(pidfd.as_fd(), flags) {
        Ok(()) => {
            tracing::debug!(pid, namespaces = %Namespace::describe(namespaces), "joined namespaces through pidfd");
            Ok(())
        }
        Err(Errno::EINVAL) => join_by_files(pidfd, namespaces),
        Err(source) => Err(Error::Setns {
            pid,
            namespaces: Namespace::describe(namespaces),
            source,
        }),
    }
}

fn join_by_files(pidfd: &PidFd, namespaces: &[Namespace]) -> Result<()> {
    let pid = pidfd.pid().as_raw();
    tracing::debug!(
        pid,
        "setns on a pidfd refused, falling back to /proc/{pid}/ns"
    );
    // Open them all first: entering a mount namespace changes what /proc
    // shows, and the files must all belong to the same process.
    let mut ordered: Vec<Namespace> = namespaces.to_vec();
    ordered.sort_by_key(|ns| if *ns == Namespace::User { 0 } else { 1 });
    let mut files = Vec::with_capacity(ordered.len());
    for ns in ordered {
        let path = PathBuf::from(format!("/proc/{pid}/ns/{}", ns.proc_name()));
        let fd = open(&path, OFlag::O_RDONLY | OFlag::O_CLOEXEC, Mode::empty())
            .map_err(|source| Error::OpenNamespace { path, source })?;
        files.push((ns, fd));
    }
    // The pid could have been reused between pidfd_open and the opens
    // above; a live pidfd proves it was not.
    if !pidfd.is_alive()? {
        return Err(Error::ProcessGone { pid });
    }
    for (ns, fd) in &files {
        setns(fd.as_fd(), CloneFlags::empty()).map_err(|source| Error::Setns {
            pid,
            namespaces: ns.lxc_name().to_owned(),
            source,
        })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spawn::spawn;
    use nix::sys::wait::waitpid;

    #[test]
    fn pidfd_follows_a_child_to_its_exit() {
        let _serial = crate::serial();
        let (r, w) = nix::unistd::pipe2(OFlag::O_CLOEXEC).unwrap();
        // The child blocks on a pipe nobody writes to.
        let pid = spawn(&[], || {
            let mut b = [0u8; 1];
            let _ = nix::unistd::read(&r, &mut b);
            5
        })
        .unwrap();
        let pidfd = PidFd::open(pid).unwrap();
        assert!(pidfd.is_alive().unwrap());
        assert!(!pidfd.wait_exit(Some(Duration::from_millis(20))).unwrap());
        pidfd.send_signal(Signal::SIGTERM).unwrap();
        assert!(pidfd.wait_exit(Some(Duration::from_secs(10))).unwrap());
        assert!(!pidfd.is_alive().unwrap());
        assert_eq!(
            pidfd.try_reap().unwrap(),
            Some(WaitStatus::Signaled(pid, Signal::SIGTERM, false))
        );
        drop(w);
        // Already reaped: waitpid has nothing left.
        assert!(waitpid(pid, None).is_err());
    }

    #[test]
    fn open_names_the_pid_on_failure() {
        // Pid numbers wrap well below i32::MAX; this one cannot exist.
        let err = PidFd::open(Pid::from_raw(i32::MAX - 1)).unwrap_err();
        assert!(
            err.to_string().contains(&(i32::MAX - 1).to_string()),
            "{err}"
        );
    }

    #[test]
    fn fallback_through_proc_files() {
        let _serial = crate::serial();
        if !crate::require_root("fallback_through_proc_files") {
            return;
        }
        let (parent, child) = crate::sync_pair().unwrap();
        let p = &parent;
        let (pid, pidfd) = crate::spawn_pidfd(&[Namespace::Uts], move || {
            let _ = p.close_in_child();
            if nix::unistd::sethostname("enclos-fallback").is_err() || child.send(1).is_err() {
                return 1;
            }
            let _ = child.recv(Duration::from_secs(60));
            0
        })
        .unwrap();
        parent.expect(1, Duration::from_secs(30)).unwrap();
        let helper = spawn(&[], || {
            if join_by_files(&pidfd, &[Namespace::Uts]).is_err() {
                return 2;
            }
            match nix::unistd::gethostname() {
                Ok(h) if h == "enclos-fallback" => 0,
                _ => 3,
            }
        })
        .unwrap();
        let helper_status = crate::wait_pid(helper, std::time::Duration::from_secs(30));
        drop(parent);
        assert_eq!(
            crate::wait_pid(pid, std::time::Duration::from_secs(30)),
            WaitStatus::Exited(pid, 0)
        );
        assert_eq!(helper_status, WaitStatus::Exited(helper, 0));
    }

    #[test]
    fn join_nothing_is_a_no_op() {
        join(nix::unistd::getpid(), &[]).unwrap();
    }
}
