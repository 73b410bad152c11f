//! Where the console's output goes besides the console clients, as LXC's
//! console keys say:
//! - `lxc.console.logfile`: appended to a file, limited by
//!   `lxc.console.size` (the file is emptied when full, or with
//!   `lxc.console.rotate` renamed to `<file>.1` and started anew);
//! - `lxc.console.buffer.size`: kept in a ring buffer in the monitor, which
//!   a client connecting to the console gets first (the boot messages and
//!   prompt printed before anyone looked);
//! - `lxc.console.path`: a host device or file the console is connected
//!   to (what the container prints goes there, and what is typed on it,
//!   when it is a terminal, goes to the console); `none` gives the
//!   container no console at all.

use std::collections::VecDeque;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use enclos_config::Config;
use enclos_namespaces::RawTerminal;

use crate::error::{io_err, Result};

/// Whether the configuration gives the container no console
/// (`lxc.console.path = none`).
pub(crate) fn no_console(cfg: &Config) -> bool {
    cfg.console_path() == Some("none")
}

/// In init, for a container without a console: the container's /dev/null
/// as standard input, output and error, in a session of init's own.
pub(crate) fn null_stdio() -> std::result::Result<(), String> {
    let _ = nix::unistd::setsid();
    let null = OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/null")
        .map_err(|e| format!("Cannot open /dev/null in the container: {e}"))?;
    crate::process::dup_stdio(&null).map_err(|e| format!("Cannot set up standard streams: {e}"))
}

/// The console's output sinks of one run of the container.
#[derive(Debug, Default)]
pub(crate) struct ConsoleOutput {
    log: Option<LogFile>,
    ring: Option<Ring>,
    peer: Option<Peer>,
}

impl ConsoleOutput {
    /// Opens the sinks the configuration asks for; an unopenable log file
    /// or console path is an error, so that the start fails saying so.
    pub fn open(cfg: &Config) -> Result<ConsoleOutput> {
        let log = match cfg.console_logfile() {
            Some(path) => Some(LogFile::open(
                path,
                cfg.console_size(),
                cfg.console_rotate(),
            )?),
            None => None,
        };
        let ring = cfg
            .console_buffer_size()
            .map(|size| Ring::new(size as usize));
        let peer = match cfg.console_path() {
            Some(path) if path != "none" => Some(Peer::open(Path::new(path))?),
            _ => None,
        };
        Ok(ConsoleOutput { log, ring, peer })
    }

    /// Takes what the console printed.
    pub fn record(&mut self, data: &[u8]) {
        if let Some(log) = &mut self.log {
            if let Err(e) = log.write(data) {
                tracing::warn!("cannot write the console log {}: {e}", log.path.display());
            }
        }
        if let Some(ring) = &mut self.ring {
            ring.push(data);
        }
        if let Some(peer) = &mut self.peer {
            let _ = peer.file.write_all(data);
        }
    }

    /// What a client connecting to the console gets first: the ring
    /// buffer's contents (empty without `lxc.console.buffer.size`).
    pub fn replay(&self) -> Vec<u8> {
        self.ring.as_ref().map(Ring::contents).unwrap_or_default()
    }

    /// The console path when it is a terminal that input comes from.
    pub fn input(&self) -> Option<BorrowedFd<'_>> {
        self.peer
            .as_ref()
            .filter(|p| p._raw.is_some())
            .map(|p| p.file.as_fd())
    }

    /// Stops reading input from the console path (it hung up).
    pub fn close_input(&mut self) {
        if let Some(p) = &mut self.peer {
            p._raw = None;
        }
    }
}

/// `lxc.console.path`: the host device or file the console is connected
/// to. A terminal goes to raw mode (restored when the run ends) so that
/// every key reaches the container.
#[derive(Debug)]
struct Peer {
    file: File,
    _raw: Option<RawTerminal>,
}

impl Peer {
    fn open(path: &Path) -> Result<Peer> {
        let file = OpenOptions::new()
            .read(true)
            .append(true)
            .custom_flags(libc::O_NOCTTY | libc::O_CLOEXEC | libc::O_NONBLOCK)
            .open(path)
            .map_err(io_err("open the console path (lxc.console.path)", path))?;
        let raw = if nix::unistd::isatty(file.as_fd()).unwrap_or(false) {
            RawTerminal::enter(&file).ok()
        } else {
            None
        };
        Ok(Peer { file, _raw: raw })
    }
}

/// `lxc.console.logfile` with its size limit and rotation.
#[derive(Debug)]
struct LogFile {
    path: PathBuf,
    file: File,
    limit: Option<u64>,
    rotate: bool,
}

impl LogFile {
    fn open(path: PathBuf, limit: Option<u64>, rotate: bool) -> Result<LogFile> {
        let file = open_log(&path)?;
        Ok(LogFile {
            path,
            file,
            limit,
            rotate,
        })
    }

    /// Appends `data`; at the limit, the file is rotated or emptied and
    /// the rest goes into the fresh one.
    fn write(&mut self, mut data: &[u8]) -> Result<()> {
        let Some(limit) = self.limit else {
            return self
                .file
                .write_all(data)
                .map_err(io_err("write the console log", &self.path));
        };
        while !data.is_empty() {
            let used = self
                .file
                .metadata()
                .map_err(io_err("read the size of the console log", &self.path))?
                .len();
            let room = limit.saturating_sub(used) as usize;
            if room == 0 {
                self.make_room()?;
                continue;
            }
            let n = room.min(data.len());
            self.file
                .write_all(&data[..n])
                .map_err(io_err("write the console log", &self.path))?;
            data = &data[n..];
        }
        Ok(())
    }

    /// A full log: renamed to `<file>.1` with rotation, else emptied.
    fn make_room(&mut self) -> Result<()> {
        if !self.rotate {
            return self
                .file
                .set_len(0)
                .map_err(io_err("empty the console log", &self.path));
        }
        let mut old = self.path.clone().into_os_string();
        old.push(".1");
        std::fs::rename(&self.path, &old).map_err(io_err("rotate the console log", &self.path))?;
        self.file = open_log(&self.path)?;
        Ok(())
    }
}

fn open_log(path: &Path) -> Result<File> {
    OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .custom_flags(libc::O_CLOEXEC)
        .open(path)
        .map_err(io_err("open the console log (lxc.console.logfile)", path))
}

/// The last `size` bytes the console printed.
#[derive(Debug)]
struct Ring {
    bytes: VecDeque<u8>,
    size: usize,
}

impl Ring {
    fn new(size: usize) -> Ring {
        Ring {
            bytes: VecDeque::with_capacity(size),
            size,
        }
    }

    fn push(&mut self, data: &[u8]) {
        let data = &data[data.len().saturating_sub(self.size)..];
        let over = (self.bytes.len() + data.len()).saturating_sub(self.size);
        self.bytes.drain(..over);
        self.bytes.extend(data);
    }

    fn contents(&self) -> Vec<u8> {
        self.bytes.iter().copied().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ring_keeps_the_last_bytes() {
        let mut r = Ring::new(8);
        r.push(b"abc");
        assert_eq!(r.contents(), b"abc");
        r.push(b"defghij");
        assert_eq!(r.contents(), b"cdefghij");
        r.push(b"0123456789xyz");
        assert_eq!(r.contents(), b"56789xyz");
    }

    fn log(dir: &Path, limit: Option<u64>, rotate: bool) -> LogFile {
        LogFile::open(dir.join("console.log"), limit, rotate).unwrap()
    }

    #[test]
    fn a_log_without_limit_keeps_everything() {
        let dir = tempfile::tempdir().unwrap();
        let mut l = log(dir.path(), None, true);
        l.write(&[b'x'; 10000]).unwrap();
        assert_eq!(
            std::fs::read(dir.path().join("console.log")).unwrap().len(),
            10000
        );
        assert!(!dir.path().join("console.log.1").exists());
    }

    #[test]
    fn a_full_log_is_emptied_without_rotation() {
        let dir = tempfile::tempdir().unwrap();
        let mut l = log(dir.path(), Some(10), false);
        l.write(b"0123456").unwrap();
        l.write(b"789abcdef").unwrap();
        assert_eq!(
            std::fs::read(dir.path().join("console.log")).unwrap(),
            b"abcdef"
        );
        assert!(!dir.path().join("console.log.1").exists());
    }

    #[test]
    fn a_full_log_is_rotated_to_dot_1() {
        let dir = tempfile::tempdir().unwrap();
        let mut l = log(dir.path(), Some(10), true);
        l.write(b"0123456789ab").unwrap();
        l.write(b"cdefghijklmnop").unwrap();
        // 0..9 went to .1, then ab..jk filled the next, which became .1.
        assert_eq!(
            std::fs::read(dir.path().join("console.log.1")).unwrap(),
            b"abcdefghij"
        );
        assert_eq!(
            std::fs::read(dir.path().join("console.log")).unwrap(),
            b"klmnop"
        );
    }

    #[test]
    fn an_unopenable_log_names_its_key() {
        let dir = tempfile::tempdir().unwrap();
        let err = LogFile::open(dir.path().join("no/such/dir/log"), None, false).unwrap_err();
        assert!(err.to_string().contains("lxc.console.logfile"), "{err}");
    }
}
