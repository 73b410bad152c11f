//! Pseudo-terminals for container consoles and ttys, and raw mode for the
//! terminal of a console or attach client.

use std::io::{IoSlice, IoSliceMut};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{fcntl, open, FcntlArg, OFlag};
use nix::pty::{grantpt, posix_openpt, ptsname_r, unlockpt};
use nix::sys::socket::{recvmsg, sendmsg, ControlMessage, ControlMessageOwned, MsgFlags};
use nix::sys::stat::Mode;
use nix::sys::termios::{cfmakeraw, tcgetattr, tcsetattr, SetArg, Termios};

use crate::error::{Error, Result};

/// A pty pair from `/dev/ptmx`: the master, kept by the monitor or the
/// console client, and the slave's path (`/dev/pts/N`), which is
/// bind-mounted into the container or opened by the process that runs on
/// it.
#[derive(Debug)]
pub struct Pty {
    /// The master side (close-on-exec).
    pub master: OwnedFd,
    /// The slave device, e.g. `/dev/pts/7`.
    pub slave_path: PathBuf,
}

fn pty_err(action: &'static str) -> impl FnOnce(Errno) -> Error {
    move |source| Error::Pty { action, source }
}

impl Pty {
    /// Opens a new pty pair with a blocking master.
    pub fn open() -> Result<Self> {
        Self::open_with(false)
    }

    /// Opens a new pty pair; `nonblocking` sets O_NONBLOCK on the master
    /// (for event loops).
    pub fn open_with(nonblocking: bool) -> Result<Self> {
        let mut flags = OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_CLOEXEC;
        if nonblocking {
            flags |= OFlag::O_NONBLOCK;
        }
        let master = posix_openpt(flags).map_err(pty_err("open /dev/ptmx"))?;
        grantpt(&master).map_err(pty_err("grant the slave"))?;
        unlockpt(&master).map_err(pty_err("unlock the slave"))?;
        let slave = ptsname_r(&master).map_err(pty_err("get the slave's name"))?;
        Ok(Self {
            master: master.into(),
            slave_path: PathBuf::from(slave),
        })
    }

    /// Opens the slave side (read-write, no controlling-terminal side
    /// effect, close-on-exec).
    pub fn open_slave(&self) -> Result<OwnedFd> {
        open(
            &self.slave_path,
            OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .map_err(|source| Error::Fs {
            action: "open the pty slave",
            path: self.slave_path.clone(),
            source,
        })
    }

    /// Sets the window size the programs on the slave see.
    pub fn set_size(&self, rows: u16, cols: u16) -> Result<()> {
        set_window_size(self.master.as_fd(), rows, cols)
    }

    /// The window size as (rows, cols).
    pub fn size(&self) -> Result<(u16, u16)> {
        window_size(self.master.as_fd())
    }

    /// Switches O_NONBLOCK on the master.
    pub fn set_nonblocking(&self, nonblocking: bool) -> Result<()> {
        let err = pty_err("change the master's flags");
        let flags = fcntl(self.master.as_fd(), FcntlArg::F_GETFL)
            .map_err(pty_err("read the master's flags"))?;
        let mut flags = OFlag::from_bits_retain(flags);
        flags.set(OFlag::O_NONBLOCK, nonblocking);
        fcntl(self.master.as_fd(), FcntlArg::F_SETFL(flags)).map_err(err)?;
        Ok(())
    }
}

/// A pty pair opened through a given `ptmx` (e.g. a container's
/// `/dev/pts/ptmx`, after joining its mount namespace), so that the slave
/// lives in that devpts instance. The slave is opened from the master
/// (TIOCGPTPEER), never by path.
#[derive(Debug)]
pub struct PtyPair {
    /// The master side (close-on-exec).
    pub master: OwnedFd,
    /// The slave side (close-on-exec, not yet anyone's controlling tty).
    pub slave: OwnedFd,
}

impl PtyPair {
    /// Opens `ptmx`, unlocks the slave and opens it.
    pub fn open_at(ptmx: &Path) -> Result<Self> {
        let master = open(
            ptmx,
            OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .map_err(|source| Error::Fs {
            action: "open the pty multiplexer",
            path: ptmx.to_path_buf(),
            source,
        })?;
        let mut unlock: libc::c_int = 0;
        // SAFETY: TIOCSPTLCK reads one int through the pointer, which
        // points to a live one; master is an open ptmx.
        let ret = unsafe { libc::ioctl(master.as_raw_fd(), libc::TIOCSPTLCK, &mut unlock) };
        Errno::result(ret).map_err(pty_err("unlock the slave"))?;
        let slave = open_peer(master.as_fd())?;
        Ok(Self { master, slave })
    }
}

/// Opens the slave of the pty `master` from the master itself
/// (TIOCGPTPEER: read-write, no controlling-terminal side effect,
/// close-on-exec), in whatever devpts instance it lives, e.g. a master
/// that a container sent over a socket.
pub fn open_peer(master: BorrowedFd<'_>) -> Result<OwnedFd> {
    // SAFETY: TIOCGPTPEER takes open flags by value and returns a new
    // descriptor, which we own from here on.
    let slave = unsafe {
        libc::ioctl(
            master.as_raw_fd(),
            libc::TIOCGPTPEER,
            libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC,
        )
    };
    let slave = Errno::result(slave).map_err(pty_err("open the slave"))?;
    // SAFETY: the ioctl returned a new descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(slave) })
}

/// Makes the terminal `fd` the controlling terminal of the caller, which
/// must be a session leader without one (after setsid).
pub fn set_controlling_terminal(fd: BorrowedFd<'_>) -> Result<()> {
    // SAFETY: TIOCSCTTY takes an int by value; fd is open.
    let ret = unsafe { libc::ioctl(fd.as_raw_fd(), libc::TIOCSCTTY, 0) };
    Errno::result(ret)
        .map(drop)
        .map_err(|source| Error::Terminal {
            action: "make it the controlling terminal",
            source,
        })
}

/// Sends one descriptor over a unix socket (SCM_RIGHTS), e.g. a pty master
/// from inside a container to the process that will serve it.
pub fn send_fd(sock: BorrowedFd<'_>, fd: BorrowedFd<'_>) -> Result<()> {
    let fds = [fd.as_raw_fd()];
    let iov = [IoSlice::new(b"F")];
    sendmsg::<()>(
        sock.as_raw_fd(),
        &iov,
        &[ControlMessage::ScmRights(&fds)],
        MsgFlags::MSG_NOSIGNAL,
        None,
    )
    .map(drop)
    .map_err(pty_err("send the master"))
}

/// Receives one descriptor sent by [`send_fd`]; `None` when the peer
/// closed the socket without sending one (it failed; its reason travels
/// elsewhere).
pub fn recv_fd(sock: BorrowedFd<'_>) -> Result<Option<OwnedFd>> {
    let mut byte = [0u8; 1];
    let mut iov = [IoSliceMut::new(&mut byte)];
    let mut space = nix::cmsg_space!([std::os::fd::RawFd; 1]);
    let msg = loop {
        match recvmsg::<()>(
            sock.as_raw_fd(),
            &mut iov,
            Some(&mut space),
            MsgFlags::MSG_CMSG_CLOEXEC,
        ) {
            Err(Errno::EINTR) => continue,
            r => break r.map_err(pty_err("receive the master"))?,
        }
    };
    let mut got = None;
    for c in msg.cmsgs().map_err(pty_err("receive the master"))? {
        if let ControlMessageOwned::ScmRights(fds) = c {
            for fd in fds {
                // SAFETY: the kernel installed these descriptors for us;
                // nothing else owns them.
                let fd = unsafe { OwnedFd::from_raw_fd(fd) };
                got.get_or_insert(fd);
            }
        }
    }
    Ok(got)
}

fn ioctl_winsize(
    fd: BorrowedFd<'_>,
    request: libc::Ioctl,
    ws: &mut libc::winsize,
) -> std::result::Result<(), Errno> {
    // SAFETY: TIOCGWINSZ and TIOCSWINSZ read or write one `struct winsize`
    // through the pointer, which points to a live, initialised one.
    let ret = unsafe { libc::ioctl(fd.as_raw_fd(), request, ws as *mut libc::winsize) };
    Errno::result(ret).map(drop)
}

/// Sets the window size of the terminal `fd` (TIOCSWINSZ).
pub fn set_window_size(fd: BorrowedFd<'_>, rows: u16, cols: u16) -> Result<()> {
    let mut ws = libc::winsize {
        ws_row: rows,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    ioctl_winsize(fd, libc::TIOCSWINSZ, &mut ws).map_err(|source| Error::Terminal {
        action: "set the window size",
        source,
    })
}

/// The window size of the terminal `fd` as (rows, cols) (TIOCGWINSZ).
pub fn window_size(fd: BorrowedFd<'_>) -> Result<(u16, u16)> {
    let mut ws = libc::winsize {
        ws_row: 0,
        ws_col: 0,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    ioctl_winsize(fd, libc::TIOCGWINSZ, &mut ws).map_err(|source| Error::Terminal {
        action: "read the window size",
        source,
    })?;
    Ok((ws.ws_row, ws.ws_col))
}

/// Raw mode on a terminal for as long as the guard lives; the saved
/// settings come back on drop (also on panic unwinding).
#[derive(Debug)]
pub struct RawTerminal {
    fd: OwnedFd,
    saved: Termios,
}

impl RawTerminal {
    /// Puts the terminal `fd` in raw mode (cfmakeraw). The guard keeps its
    /// own duplicate of `fd`.
    pub fn enter(fd: impl AsFd) -> Result<Self> {
        let fd = fd
            .as_fd()
            .try_clone_to_owned()
            .map_err(|e| Error::Terminal {
                action: "duplicate the descriptor",
                source: Errno::from_raw(e.raw_os_error().unwrap_or(libc::EBADF)),
            })?;
        let saved = tcgetattr(&fd).map_err(|source| Error::Terminal {
            action: "read the settings",
            source,
        })?;
        let mut raw = saved.clone();
        cfmakeraw(&mut raw);
        tcsetattr(&fd, SetArg::TCSADRAIN, &raw).map_err(|source| Error::Terminal {
            action: "set raw mode",
            source,
        })?;
        Ok(Self { fd, saved })
    }

    /// The settings that will be restored.
    pub fn saved(&self) -> &Termios {
        &self.saved
    }
}

impl Drop for RawTerminal {
    fn drop(&mut self) {
        if let Err(e) = tcsetattr(&self.fd, SetArg::TCSADRAIN, &self.saved) {
            tracing::warn!("Cannot restore the terminal settings: {e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nix::sys::termios::LocalFlags;
    use std::io::{Read, Write};

    #[test]
    fn pty_pair_carries_bytes_and_size() {
        let pty = Pty::open().unwrap();
        assert!(
            pty.slave_path.starts_with("/dev/pts"),
            "{:?}",
            pty.slave_path
        );
        let slave = pty.open_slave().unwrap();
        pty.set_size(33, 101).unwrap();
        assert_eq!(pty.size().unwrap(), (33, 101));
        assert_eq!(window_size(slave.as_fd()).unwrap(), (33, 101));

        let raw = RawTerminal::enter(&slave).unwrap();
        assert!(raw.saved().local_flags.contains(LocalFlags::ICANON));
        let now = tcgetattr(&slave).unwrap();
        assert!(!now.local_flags.contains(LocalFlags::ICANON));
        assert!(!now.local_flags.contains(LocalFlags::ECHO));

        let mut master = std::fs::File::from(pty.master.try_clone().unwrap());
        master.write_all(b"hi").unwrap();
        let mut s = std::fs::File::from(slave.try_clone().unwrap());
        let mut buf = [0u8; 2];
        s.read_exact(&mut buf).unwrap();
        assert_eq!(&buf, b"hi");

        drop(raw);
        let back = tcgetattr(&slave).unwrap();
        assert!(back.local_flags.contains(LocalFlags::ICANON));
    }

    #[test]
    fn pair_through_a_ptmx_and_its_master_passed_over_a_socket() {
        use nix::sys::socket::{socketpair, AddressFamily, SockFlag, SockType};
        let pair = PtyPair::open_at(Path::new("/dev/ptmx")).unwrap();
        let (a, b) = socketpair(
            AddressFamily::Unix,
            SockType::SeqPacket,
            None,
            SockFlag::SOCK_CLOEXEC,
        )
        .unwrap();
        send_fd(a.as_fd(), pair.master.as_fd()).unwrap();
        drop(pair.master);
        let master = recv_fd(b.as_fd()).unwrap().expect("a descriptor");
        set_window_size(master.as_fd(), 24, 80).unwrap();
        assert_eq!(window_size(pair.slave.as_fd()).unwrap(), (24, 80));
        let mut s = std::fs::File::from(pair.slave);
        s.write_all(b"x").unwrap();
        let mut buf = [0u8; 1];
        std::fs::File::from(master).read_exact(&mut buf).unwrap();
        assert_eq!(&buf, b"x");
        drop(a);
        assert!(recv_fd(b.as_fd()).unwrap().is_none(), "closed without one");
    }

    #[test]
    fn nonblocking_master() {
        let pty = Pty::open_with(true).unwrap();
        let mut buf = [0u8; 8];
        assert_eq!(nix::unistd::read(&pty.master, &mut buf), Err(Errno::EAGAIN));
        pty.set_nonblocking(false).unwrap();
        let flags = fcntl(pty.master.as_fd(), FcntlArg::F_GETFL).unwrap();
        assert_eq!(flags & libc::O_NONBLOCK, 0);
    }

    #[test]
    fn raw_mode_on_a_non_terminal_fails() {
        let f = std::fs::File::open("/dev/null").unwrap();
        let err = RawTerminal::enter(&f).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("Cannot read the settings of the terminal"),
            "{err}"
        );
    }
}
