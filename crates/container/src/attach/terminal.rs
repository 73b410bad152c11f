//! The attach process's side of an interactive session: our terminal in
//! raw mode, proxied to the pty master the child opened in the container,
//! the window size passed on, and the terminal restored on every way out.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::time::Duration;

use enclos_namespaces::{PidFd, RawTerminal};
use nix::errno::Errno;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{SigSet, SigmaskHow, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};

/// How a session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum End {
    /// The command (the attach child) exited.
    Exited,
    /// We were sent this signal (SIGTERM, SIGHUP...): the session was hung
    /// up, the command's exit was waited for only briefly.
    Signaled(Signal),
}

/// The signals the session handles instead of dying of them.
const HANDLED: [Signal; 5] = [
    Signal::SIGWINCH,
    Signal::SIGTERM,
    Signal::SIGHUP,
    Signal::SIGINT,
    Signal::SIGQUIT,
];

/// How long a hung-up command is given to exit before attach leaves it.
const HANGUP_GRACE: Duration = Duration::from_secs(2);

/// The signals of [`HANDLED`] blocked and readable from a signalfd while
/// the guard lives; the previous mask comes back on drop.
struct Signals {
    fd: SignalFd,
    old: SigSet,
}

impl Signals {
    fn catch() -> nix::Result<Self> {
        let mut set = SigSet::empty();
        for s in HANDLED {
            set.add(s);
        }
        let old = set.thread_swap_mask(SigmaskHow::SIG_BLOCK)?;
        match SignalFd::with_flags(&set, SfdFlags::SFD_CLOEXEC | SfdFlags::SFD_NONBLOCK) {
            Ok(fd) => Ok(Self { fd, old }),
            Err(e) => {
                let _ = old.thread_set_mask();
                Err(e)
            }
        }
    }

    fn next(&self) -> Option<Signal> {
        let info = self.fd.read_signal().ok()??;
        Signal::try_from(info.ssi_signo as i32).ok()
    }
}

impl Drop for Signals {
    fn drop(&mut self) {
        // Read what is pending so that unblocking delivers nothing.
        while self.next().is_some() {}
        let _ = self.old.thread_set_mask();
    }
}

/// Proxies between our terminal (stdin, stdout) and `master` until the
/// child ends or we are told to stop; the terminal is in raw mode meanwhile
/// and restored before this returns.
pub(super) fn proxy(master: OwnedFd, child: &PidFd) -> End {
    let signals = Signals::catch().ok();
    let stdin = std::io::stdin();
    copy_window_size(stdin.as_fd(), master.as_fd());
    let raw = RawTerminal::enter(stdin.as_fd()).ok();
    let end = Session {
        master: Some(master),
        stdin_open: true,
        master_open: true,
    }
    .run(child, signals.as_ref());
    drop(raw);
    drop(signals);
    end
}

fn copy_window_size(from: BorrowedFd<'_>, to: BorrowedFd<'_>) {
    if let Ok((rows, cols)) = enclos_namespaces::window_size(from) {
        let _ = enclos_namespaces::set_window_size(to, rows, cols);
    }
}

struct Session {
    /// None once hung up (EOF on our side).
    master: Option<OwnedFd>,
    stdin_open: bool,
    /// False once every slave is closed (reads give EIO).
    master_open: bool,
}

impl Session {
    fn run(&mut self, child: &PidFd, signals: Option<&Signals>) -> End {
        let stdin = std::io::stdin();
        loop {
            let master = self.master.as_ref().filter(|_| self.master_open);
            let mut fds = vec![PollFd::new(child.as_fd(), PollFlags::POLLIN)];
            let m = master.map(|m| push(&mut fds, m.as_fd()));
            let s = self.stdin_open.then(|| push(&mut fds, stdin.as_fd()));
            let g = signals.map(|g| push(&mut fds, g.fd.as_fd()));
            match poll(&mut fds, PollTimeout::NONE) {
                Ok(_) | Err(Errno::EINTR) => {}
                Err(_) => return self.finish(),
            }
            let ready = |i: Option<usize>| {
                i.and_then(|i| fds[i].revents())
                    .is_some_and(|r| !r.is_empty())
            };
            let (child_done, m, s, g) = (ready(Some(0)), ready(m), ready(s), ready(g));
            drop(fds);
            if m {
                self.copy_out();
            }
            if s {
                self.copy_in();
            }
            if g {
                if let Some(end) = self.on_signals(signals, child) {
                    return end;
                }
            }
            if child_done {
                return self.finish();
            }
        }
    }

    /// Master to stdout; EIO (every slave closed) stops reading it.
    fn copy_out(&mut self) -> bool {
        let Some(master) = &self.master else {
            return false;
        };
        let mut buf = [0u8; 8192];
        match nix::unistd::read(master, &mut buf) {
            Ok(n) if n > 0 => {
                write_all(std::io::stdout().as_fd(), &buf[..n]);
                true
            }
            Err(Errno::EINTR) | Err(Errno::EAGAIN) => false,
            _ => {
                self.master_open = false;
                false
            }
        }
    }

    /// Stdin to the master. EOF on our terminal (it hung up) ends the
    /// session: the master is closed, which hangs up the command's.
    fn copy_in(&mut self) {
        let mut buf = [0u8; 4096];
        match nix::unistd::read(std::io::stdin(), &mut buf) {
            Ok(n) if n > 0 => {
                if let Some(m) = &self.master {
                    write_all(m.as_fd(), &buf[..n]);
                }
            }
            Err(Errno::EINTR) | Err(Errno::EAGAIN) => {}
            _ => {
                self.stdin_open = false;
                self.master = None;
            }
        }
    }

    fn on_signals(&mut self, signals: Option<&Signals>, child: &PidFd) -> Option<End> {
        while let Some(sig) = signals?.next() {
            if sig == Signal::SIGWINCH {
                if let Some(m) = &self.master {
                    copy_window_size(std::io::stdin().as_fd(), m.as_fd());
                }
                continue;
            }
            // Hang up the command's terminal, as closing a terminal does.
            self.master = None;
            let _ = child.wait_exit(Some(HANGUP_GRACE));
            return Some(End::Signaled(sig));
        }
        None
    }

    /// The child exited: what it wrote last is still in the master.
    fn finish(&mut self) -> End {
        if let Some(m) = &self.master {
            let _ = nix::fcntl::fcntl(
                m,
                nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::O_NONBLOCK),
            );
            while self.master_open && self.copy_out() {}
        }
        End::Exited
    }
}

fn push<'a>(fds: &mut Vec<PollFd<'a>>, fd: BorrowedFd<'a>) -> usize {
    fds.push(PollFd::new(fd, PollFlags::POLLIN));
    fds.len() - 1
}

fn write_all(fd: BorrowedFd<'_>, mut buf: &[u8]) {
    while !buf.is_empty() {
        match nix::unistd::write(fd, buf) {
            Ok(0) => return,
            Ok(n) => buf = &buf[n..],
            Err(Errno::EINTR) => {}
            Err(_) => return,
        }
    }
}
