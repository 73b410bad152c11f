//! Pseudo-terminals for container consoles and ttys, and raw mode for the
//! terminal of a console or attach client.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::path::PathBuf;

use nix::errno::Errno;
use nix::fcntl::{fcntl, open, FcntlArg, OFlag};
use nix::pty::{grantpt, posix_openpt, ptsname_r, unlockpt};
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
