//! Parent/child synchronization over a `SOCK_SEQPACKET` socket pair.
//!
//! Each message is one packet: a one-byte step number ([`SyncParent::send`],
//! [`SyncChild::expect`]) or a failure report ([`SyncChild::fail`]) that the
//! other side receives as [`Error::PeerFailed`] carrying the text. A peer
//! that exits or dies closes its end, and the waiting side gets
//! [`Error::SyncEof`] at once rather than a timeout. Every wait has a
//! timeout.
//!
//! ```no_run
//! use std::time::Duration;
//! use enclos_namespaces::{spawn, sync_pair, Namespace};
//!
//! const READY: u8 = 1;
//! const GO: u8 = 2;
//! let (parent, child) = sync_pair()?;
//! let p = &parent;
//! let pid = spawn(&[Namespace::Uts], move || {
//!     let _ = p.close_in_child(); // the child's copy of the parent's end
//!     if let Err(e) = nix::unistd::sethostname("c1") {
//!         let _ = child.fail(&format!("Cannot set the hostname: {e}"));
//!         return 1;
//!     }
//!     if child.send(READY).is_err() || child.expect(GO, Duration::from_secs(10)).is_err() {
//!         return 1;
//!     }
//!     0
//! })?;
//! // `child` (moved into the closure) is closed here in the parent.
//! parent.expect(READY, Duration::from_secs(10))?; // Err(PeerFailed) if the child failed
//! parent.send(GO)?;
//! # let _ = pid;
//! # Ok::<(), enclos_namespaces::Error>(())
//! ```

use std::io::{IoSlice, IoSliceMut};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::time::Duration;

use nix::errno::Errno;
use nix::fcntl::{open, OFlag};
use nix::sys::socket::{
    recvmsg, send, sendmsg, socketpair, AddressFamily, ControlMessage, ControlMessageOwned,
    MsgFlags, SockFlag, SockType,
};
use nix::sys::stat::Mode;

use crate::error::{Error, Result};
use crate::pidfd::poll_readable;

const TAG_MSG: u8 = 1;
const TAG_FAIL: u8 = 2;
/// The largest packet: a failure text longer than this is cut.
const MAX_PACKET: usize = 4096;
/// The most descriptors one step carries.
const MAX_FDS: usize = 64;

/// Creates a connected pair of ends (close-on-exec): the parent keeps the
/// first, the child the second.
pub fn sync_pair() -> Result<(SyncParent, SyncChild)> {
    let (a, b) = socketpair(
        AddressFamily::Unix,
        SockType::SeqPacket,
        None,
        SockFlag::SOCK_CLOEXEC,
    )
    .map_err(|source| Error::SyncSocket { source })?;
    Ok((
        SyncParent(Endpoint::new(a, "child")),
        SyncChild(Endpoint::new(b, "parent")),
    ))
}

/// One end of the pair.
#[derive(Debug)]
struct Endpoint {
    fd: OwnedFd,
    /// Who is at the other end, for messages.
    peer: &'static str,
}

/// Makes `target`'s number refer to `source`'s open file (dup3), closing
/// what it referred to before.
fn replace_fd(source: BorrowedFd<'_>, target: &OwnedFd) -> std::result::Result<(), Errno> {
    // SAFETY: both are open descriptors. dup3 atomically swaps the file
    // behind `target`'s number, which stays open and owned by `target`, so
    // no owner or borrower of that number ever sees it closed.
    let ret = unsafe { libc::dup3(source.as_raw_fd(), target.as_raw_fd(), libc::O_CLOEXEC) };
    Errno::result(ret).map(drop)
}

fn awaited(expected: Option<u8>) -> String {
    match expected {
        Some(m) => format!("message {m}"),
        None => "a message".to_owned(),
    }
}

impl Endpoint {
    fn new(fd: OwnedFd, peer: &'static str) -> Self {
        Self { fd, peer }
    }

    fn send_packet(&self, packet: &[u8], msg: u8) -> Result<()> {
        loop {
            match send(self.fd.as_raw_fd(), packet, MsgFlags::MSG_NOSIGNAL) {
                Ok(_) => return Ok(()),
                Err(Errno::EINTR) => continue,
                Err(source) => {
                    return Err(Error::SyncSend {
                        peer: self.peer,
                        msg,
                        source,
                    })
                }
            }
        }
    }

    fn send(&self, msg: u8) -> Result<()> {
        self.send_packet(&[TAG_MSG, msg], msg)
    }

    fn send_with_fds(&self, msg: u8, fds: &[BorrowedFd<'_>]) -> Result<()> {
        if fds.len() > MAX_FDS {
            return Err(Error::SyncSend {
                peer: self.peer,
                msg,
                source: Errno::E2BIG,
            });
        }
        let raw: Vec<RawFd> = fds.iter().map(AsRawFd::as_raw_fd).collect();
        let packet = [TAG_MSG, msg];
        let iov = [IoSlice::new(&packet)];
        let cmsgs = [ControlMessage::ScmRights(&raw)];
        let cmsgs = if raw.is_empty() { &[][..] } else { &cmsgs[..] };
        loop {
            match sendmsg::<()>(
                self.fd.as_raw_fd(),
                &iov,
                cmsgs,
                MsgFlags::MSG_NOSIGNAL,
                None,
            ) {
                Ok(_) => return Ok(()),
                Err(Errno::EINTR) => continue,
                Err(source) => {
                    return Err(Error::SyncSend {
                        peer: self.peer,
                        msg,
                        source,
                    })
                }
            }
        }
    }

    fn fail(&self, message: &str) -> Result<()> {
        let mut end = message.len().min(MAX_PACKET - 1);
        while !message.is_char_boundary(end) {
            end -= 1;
        }
        let mut packet = Vec::with_capacity(end + 1);
        packet.push(TAG_FAIL);
        packet.extend_from_slice(&message.as_bytes()[..end]);
        self.send_packet(&packet, TAG_FAIL)
    }

    fn recv(&self, expected: Option<u8>, timeout: Duration) -> Result<u8> {
        self.recv_with_fds(expected, timeout).map(|(msg, _)| msg)
    }

    /// The next packet, with the descriptors it carries (close-on-exec).
    fn recv_with_fds(&self, expected: Option<u8>, timeout: Duration) -> Result<(u8, Vec<OwnedFd>)> {
        let peer = self.peer;
        let fd = self.fd.as_fd();
        let mut buf = [0u8; MAX_PACKET];
        let mut space = nix::cmsg_space!([RawFd; MAX_FDS]);
        let (len, fds) = loop {
            let ready = poll_readable(fd, Some(timeout))
                .map_err(|source| Error::SyncRecv { peer, source })?;
            if !ready {
                return Err(Error::SyncTimeout {
                    peer,
                    awaited: awaited(expected),
                    timeout,
                });
            }
            let mut iov = [IoSliceMut::new(&mut buf)];
            match recvmsg::<()>(
                fd.as_raw_fd(),
                &mut iov,
                Some(&mut space),
                MsgFlags::MSG_DONTWAIT | MsgFlags::MSG_CMSG_CLOEXEC,
            ) {
                Ok(msg) => {
                    let mut fds = Vec::new();
                    for c in msg
                        .cmsgs()
                        .map_err(|source| Error::SyncRecv { peer, source })?
                    {
                        if let ControlMessageOwned::ScmRights(raw) = c {
                            // SAFETY: the kernel installed these descriptors
                            // for us; nothing else owns them.
                            fds.extend(raw.into_iter().map(|r| unsafe { OwnedFd::from_raw_fd(r) }));
                        }
                    }
                    break (msg.bytes, fds);
                }
                Err(Errno::EINTR | Errno::EAGAIN) => continue,
                // A peer that died with unread data in its queue.
                Err(Errno::ECONNRESET) => break (0, Vec::new()),
                Err(source) => return Err(Error::SyncRecv { peer, source }),
            }
        };
        match (len, buf.first()) {
            (0, _) => Err(Error::SyncEof {
                peer,
                awaited: awaited(expected),
            }),
            (2, Some(&TAG_MSG)) => Ok((buf[1], fds)),
            (_, Some(&TAG_FAIL)) => Err(Error::PeerFailed {
                peer,
                message: String::from_utf8_lossy(&buf[1..len]).into_owned(),
            }),
            _ => Err(Error::SyncMalformed { peer, len }),
        }
    }

    fn expect_with_fds(&self, msg: u8, timeout: Duration) -> Result<Vec<OwnedFd>> {
        let (got, fds) = self.recv_with_fds(Some(msg), timeout)?;
        if got == msg {
            Ok(fds)
        } else {
            Err(Error::SyncUnexpected {
                peer: self.peer,
                expected: msg,
                got,
            })
        }
    }

    fn expect(&self, msg: u8, timeout: Duration) -> Result<()> {
        self.expect_with_fds(msg, timeout).map(drop)
    }

    /// Releases the socket in this process while keeping the fd number
    /// valid: it is replaced (dup3) by an `O_PATH` descriptor of `/`, on
    /// which every later send or receive fails with EBADF.
    fn release(&self) -> Result<()> {
        let placeholder = open(
            "/",
            OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .map_err(|source| Error::Fs {
            action: "open",
            path: "/".into(),
            source,
        })?;
        replace_fd(placeholder.as_fd(), &self.fd).map_err(|source| Error::SyncRecv {
            peer: self.peer,
            source,
        })
    }
}

macro_rules! endpoint_methods {
    ($peer:literal) => {
        #[doc = concat!("Sends step `msg` to the ", $peer, ".")]
        pub fn send(&self, msg: u8) -> Result<()> {
            self.0.send(msg)
        }

        #[doc = concat!("Waits up to `timeout` for step `msg` from the ", $peer, ". ")]
        #[doc = concat!("Any other step is [`Error::SyncUnexpected`]; a failure report from the ", $peer)]
        /// is [`Error::PeerFailed`] with its text; a closed channel (the
        /// peer exited) is [`Error::SyncEof`]; no message in time is
        /// [`Error::SyncTimeout`].
        pub fn expect(&self, msg: u8, timeout: Duration) -> Result<()> {
            self.0.expect(msg, timeout)
        }

        #[doc = concat!("Waits up to `timeout` for the next step from the ", $peer, " and returns it; ")]
        /// errors as for `expect`.
        pub fn recv(&self, timeout: Duration) -> Result<u8> {
            self.0.recv(None, timeout)
        }

        #[doc = concat!("Sends step `msg` to the ", $peer, " with descriptors (SCM_RIGHTS, at most 64), ")]
        /// e.g. pty masters made inside a container.
        pub fn send_with_fds(&self, msg: u8, fds: &[BorrowedFd<'_>]) -> Result<()> {
            self.0.send_with_fds(msg, fds)
        }

        /// [`Self::expect`], returning the descriptors that came with
        /// the step (none when it carried none).
        pub fn expect_with_fds(&self, msg: u8, timeout: Duration) -> Result<Vec<OwnedFd>> {
            self.0.expect_with_fds(msg, timeout)
        }

        #[doc = concat!("Reports a failure to the ", $peer, ", which receives it as [`Error::PeerFailed`] ")]
        /// carrying `message` (cut at 4 KiB).
        pub fn fail(&self, message: &str) -> Result<()> {
            self.0.fail(message)
        }
    };
}

/// The parent's end of a [`sync_pair`].
#[derive(Debug)]
pub struct SyncParent(Endpoint);

impl SyncParent {
    endpoint_methods!("child");

    /// Releases this end in the current process. Meant for the child:
    /// after [`crate::spawn`] or a fork, the child holds a copy of the
    /// parent's end, which keeps it from seeing EOF when the parent dies;
    /// the child's closure borrows the parent end and calls this first.
    /// Later calls on this end in the same process fail (EBADF).
    pub fn close_in_child(&self) -> Result<()> {
        self.0.release()
    }
}

/// The child's end of a [`sync_pair`]. Move it into the child's closure:
/// the parent's copy is then closed when [`crate::spawn`] returns.
#[derive(Debug)]
pub struct SyncChild(Endpoint);

impl SyncChild {
    endpoint_methods!("parent");

    /// The child's end as a process the child exec'd into finds it (its
    /// number passed along, close-on-exec cleared for that one exec), so
    /// that it reports on the child's behalf: a failure it sends reaches
    /// the parent as the child's.
    pub fn from_inherited(fd: OwnedFd) -> SyncChild {
        SyncChild(Endpoint::new(fd, "parent"))
    }
}

impl AsFd for SyncParent {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.0.fd.as_fd()
    }
}

impl AsFd for SyncChild {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.0.fd.as_fd()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spawn::spawn;
    use nix::sys::wait::WaitStatus;
    use std::time::Instant;

    const S: Duration = Duration::from_secs(10);

    #[test]
    fn messages_between_threads() {
        let (parent, child) = sync_pair().unwrap();
        let t = std::thread::spawn(move || {
            child.expect(1, S).unwrap();
            child.send(2).unwrap();
            child.send(9).unwrap();
        });
        parent.send(1).unwrap();
        parent.expect(2, S).unwrap();
        assert_eq!(parent.recv(S).unwrap(), 9);
        t.join().unwrap();
    }

    #[test]
    fn descriptors_travel_with_a_step() {
        let (parent, child) = sync_pair().unwrap();
        let (r, w) = nix::unistd::pipe().unwrap();
        child.send_with_fds(5, &[w.as_fd()]).unwrap();
        drop(w);
        let fds = parent.expect_with_fds(5, S).unwrap();
        assert_eq!(fds.len(), 1);
        nix::unistd::write(&fds[0], b"ok").unwrap();
        let mut buf = [0u8; 2];
        nix::unistd::read(&r, &mut buf).unwrap();
        assert_eq!(&buf, b"ok");
        // A step without descriptors, and a failure, as before.
        child.send(6).unwrap();
        assert!(parent.expect_with_fds(6, S).unwrap().is_empty());
        child.fail("No pty").unwrap();
        let err = parent.expect_with_fds(7, S).unwrap_err();
        assert_eq!(err.to_string(), "The child failed: No pty");
    }

    #[test]
    fn unexpected_message_names_both() {
        let (parent, child) = sync_pair().unwrap();
        child.send(4).unwrap();
        let err = parent.expect(3, S).unwrap_err();
        assert!(
            matches!(
                err,
                Error::SyncUnexpected {
                    expected: 3,
                    got: 4,
                    ..
                }
            ),
            "{err:?}"
        );
        assert_eq!(
            err.to_string(),
            "Expected message 3 from the child but received 4"
        );
    }

    #[test]
    fn timeout_is_its_own_error() {
        let (parent, _child) = sync_pair().unwrap();
        let start = Instant::now();
        let err = parent.expect(1, Duration::from_millis(50)).unwrap_err();
        assert!(matches!(err, Error::SyncTimeout { .. }), "{err:?}");
        assert!(start.elapsed() >= Duration::from_millis(50));
        assert!(err
            .to_string()
            .starts_with("Timed out after 50ms waiting for message 1 from the child"));
    }

    #[test]
    fn closed_peer_is_eof_not_timeout() {
        let (parent, child) = sync_pair().unwrap();
        drop(child);
        let start = Instant::now();
        let err = parent.expect(1, S).unwrap_err();
        assert!(matches!(err, Error::SyncEof { .. }), "{err:?}");
        assert!(start.elapsed() < S);
        assert!(err.to_string().contains("closed the sync channel"));
    }

    #[test]
    fn failure_text_reaches_the_other_side() {
        let (parent, child) = sync_pair().unwrap();
        child.fail("Cannot mount proc on /proc: EPERM").unwrap();
        let err = parent.expect(1, S).unwrap_err();
        match &err {
            Error::PeerFailed { peer, message } => {
                assert_eq!(*peer, "child");
                assert_eq!(message, "Cannot mount proc on /proc: EPERM");
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            err.to_string(),
            "The child failed: Cannot mount proc on /proc: EPERM"
        );
        // And the other way round.
        parent.fail("Cannot set up the network").unwrap();
        let err = child.recv(S).unwrap_err();
        assert_eq!(
            err.to_string(),
            "The parent failed: Cannot set up the network"
        );
    }

    #[test]
    fn long_failure_text_is_cut_on_a_char_boundary() {
        let (parent, child) = sync_pair().unwrap();
        let text = "é".repeat(5000);
        child.fail(&text).unwrap();
        match parent.recv(S).unwrap_err() {
            Error::PeerFailed { message, .. } => {
                assert!(message.len() < MAX_PACKET && message.len() > 4000);
                assert!(message.chars().all(|c| c == 'é'));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn send_to_a_closed_peer_is_an_error_not_sigpipe() {
        let (parent, child) = sync_pair().unwrap();
        drop(child);
        let err = parent.send(1).unwrap_err();
        assert!(matches!(err, Error::SyncSend { msg: 1, .. }), "{err:?}");
    }

    #[test]
    fn with_a_spawned_child() {
        let _serial = crate::serial();
        let (parent, child) = sync_pair().unwrap();
        let p = &parent;
        let pid = spawn(&[], move || {
            p.close_in_child().unwrap();
            if p.send(1).is_ok() {
                return 10; // must not work: closed in the child
            }
            if child.send(1).is_err() || child.expect(2, S).is_err() {
                return 2;
            }
            let _ = child.fail("Step three went wrong");
            // Wait for the parent to go away: EOF, not a timeout.
            match child.recv(S) {
                Err(Error::SyncEof { .. }) => 0,
                _ => 3,
            }
        })
        .unwrap();
        parent.expect(1, S).unwrap();
        parent.send(2).unwrap();
        let err = parent.expect(3, S).unwrap_err();
        assert_eq!(err.to_string(), "The child failed: Step three went wrong");
        drop(parent);
        assert_eq!(
            crate::wait_pid(pid, std::time::Duration::from_secs(30)),
            WaitStatus::Exited(pid, 0)
        );
    }

    #[test]
    fn child_death_is_eof() {
        let _serial = crate::serial();
        let (parent, child) = sync_pair().unwrap();
        let p = &parent;
        let pid = spawn(&[], move || {
            p.close_in_child().unwrap();
            let _ = &child;
            crate::spawn::exit_child(9)
        })
        .unwrap();
        let err = parent.expect(1, S).unwrap_err();
        assert!(matches!(err, Error::SyncEof { .. }), "{err:?}");
        assert_eq!(
            crate::wait_pid(pid, std::time::Duration::from_secs(30)),
            WaitStatus::Exited(pid, 9)
        );
    }
}
