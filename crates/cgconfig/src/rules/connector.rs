//! The kernel's process-event connector: a netlink socket
//! (`NETLINK_CONNECTOR`, group `CN_IDX_PROC`) on which the kernel reports
//! every fork, exec and change of ids, to root only.
//!
//! The socket is made in one `unsafe` wrapper ([`connector_socket`]), as
//! nix has no `NETLINK_CONNECTOR` protocol; binding, sending and
//! receiving go through nix, and messages are read as bytes.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

use nix::errno::Errno;
use nix::sys::socket::{bind, recv, send, MsgFlags, NetlinkAddr};

const NLMSG_HDRLEN: usize = 16;
const NLMSG_DONE: u16 = 3;
const CN_MSG_LEN: usize = 20;
const CN_IDX_PROC: u32 = 1;
const CN_VAL_PROC: u32 = 1;
const PROC_CN_MCAST_LISTEN: u32 = 1;
const EVENT_HDR_LEN: usize = 16;

/// A process event the rules care about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProcEvent {
    /// A process ran a new program.
    Exec { pid: i32 },
    /// A process changed its real or effective uid.
    Uid { pid: i32, euid: u32 },
    /// A process changed its real or effective gid.
    Gid { pid: i32, egid: u32 },
    /// A process was forked.
    Fork { parent: i32, child: i32 },
}

/// A socket subscribed to process events.
#[derive(Debug)]
pub struct ProcConnector {
    fd: OwnedFd,
}

/// `socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_CONNECTOR)`.
#[allow(unsafe_code)]
fn connector_socket() -> nix::Result<OwnedFd> {
    // SAFETY: socket(2) takes integers only and returns a new descriptor or
    // -1; nothing else in the process is touched.
    let fd = unsafe {
        libc::socket(
            libc::AF_NETLINK,
            libc::SOCK_DGRAM | libc::SOCK_CLOEXEC,
            libc::NETLINK_CONNECTOR,
        )
    };
    if fd < 0 {
        return Err(Errno::last());
    }
    // SAFETY: fd was just returned by socket(2), is valid and owned by no
    // one else; the OwnedFd closes it once.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

impl ProcConnector {
    /// Opens the connector and asks the kernel for process events (root
    /// only: others get EPERM).
    pub fn open() -> nix::Result<ProcConnector> {
        let fd = connector_socket()?;
        bind(fd.as_raw_fd(), &NetlinkAddr::new(0, CN_IDX_PROC))?;
        let mut msg = Vec::with_capacity(NLMSG_HDRLEN + CN_MSG_LEN + 4);
        let total = (NLMSG_HDRLEN + CN_MSG_LEN + 4) as u32;
        msg.extend_from_slice(&total.to_ne_bytes());
        msg.extend_from_slice(&NLMSG_DONE.to_ne_bytes());
        msg.extend_from_slice(&0u16.to_ne_bytes()); // flags
        msg.extend_from_slice(&0u32.to_ne_bytes()); // seq
        msg.extend_from_slice(&std::process::id().to_ne_bytes());
        msg.extend_from_slice(&CN_IDX_PROC.to_ne_bytes());
        msg.extend_from_slice(&CN_VAL_PROC.to_ne_bytes());
        msg.extend_from_slice(&0u32.to_ne_bytes()); // seq
        msg.extend_from_slice(&0u32.to_ne_bytes()); // ack
        msg.extend_from_slice(&4u16.to_ne_bytes()); // len
        msg.extend_from_slice(&0u16.to_ne_bytes()); // flags
        msg.extend_from_slice(&PROC_CN_MCAST_LISTEN.to_ne_bytes());
        send(fd.as_raw_fd(), &msg, MsgFlags::empty())?;
        Ok(ProcConnector { fd })
    }

    /// Receives one datagram (blocking) and returns its events.
    /// `ENOBUFS` means the kernel dropped events the daemon was too slow
    /// for; the caller may go on.
    pub fn receive(&self, buf: &mut [u8]) -> nix::Result<Vec<ProcEvent>> {
        let n = recv(self.fd.as_raw_fd(), buf, MsgFlags::empty())?;
        Ok(parse_messages(&buf[..n]))
    }
}

impl AsFd for ProcConnector {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_ne_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

/// The events in a datagram of netlink messages; anything else is skipped.
pub(crate) fn parse_messages(mut buf: &[u8]) -> Vec<ProcEvent> {
    let mut out = Vec::new();
    while buf.len() >= NLMSG_HDRLEN {
        let len = u32_at(buf, 0).unwrap_or(0) as usize;
        if len < NLMSG_HDRLEN || len > buf.len() {
            break;
        }
        if let Some(e) = parse_event(&buf[NLMSG_HDRLEN..len]) {
            out.push(e);
        }
        buf = &buf[(len + 3) & !3..];
    }
    out
}

/// One `cn_msg` holding a `proc_event`.
fn parse_event(cn: &[u8]) -> Option<ProcEvent> {
    if u32_at(cn, 0)? != CN_IDX_PROC || u32_at(cn, 4)? != CN_VAL_PROC {
        return None;
    }
    let ev = cn.get(CN_MSG_LEN..)?;
    let what = u32_at(ev, 0)?;
    let data = ev.get(EVENT_HDR_LEN..)?;
    let int = |i: usize| u32_at(data, 4 * i);
    Some(match what {
        0x1 => ProcEvent::Fork {
            parent: int(1)? as i32,
            child: int(3)? as i32,
        },
        0x2 => ProcEvent::Exec {
            pid: int(1)? as i32,
        },
        0x4 => ProcEvent::Uid {
            pid: int(1)? as i32,
            euid: int(3)?,
        },
        0x40 => ProcEvent::Gid {
            pid: int(1)? as i32,
            egid: int(3)?,
        },
        _ => return None,
    })
}
