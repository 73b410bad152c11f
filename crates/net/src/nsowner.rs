//! The owner of a network namespace: the uid that created the user
//! namespace owning it (ioctl_ns(2): NS_GET_USERNS, NS_GET_OWNER_UID).

use std::fs::File;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

/// `_IO(0xb7, 0x1)`: a file descriptor of the user namespace owning a namespace.
const NS_GET_USERNS: libc::c_ulong = 0xb701;
/// `_IO(0xb7, 0x4)`: the uid of the creator of a user namespace.
const NS_GET_OWNER_UID: libc::c_ulong = 0xb704;

/// The uid (in the caller's user namespace) that owns the user namespace
/// owning the namespace `ns`.
pub fn owner_uid(ns: &File) -> std::io::Result<u32> {
    // SAFETY: NS_GET_USERNS takes no argument and returns a new file
    // descriptor or -1; `ns` is open for the duration of the call.
    let fd = unsafe { libc::ioctl(ns.as_raw_fd(), NS_GET_USERNS) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: the ioctl returned a new descriptor that nothing else owns.
    let userns = unsafe { OwnedFd::from_raw_fd(fd) };
    let mut uid: libc::uid_t = 0;
    // SAFETY: NS_GET_OWNER_UID writes one uid_t through the pointer, which
    // points at `uid`, alive for the call.
    let r = unsafe { libc::ioctl(userns.as_raw_fd(), NS_GET_OWNER_UID, &mut uid) };
    if r < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(uid)
}

#[cfg(test)]
mod tests {
    #[test]
    fn our_own_network_namespace_has_an_owner() {
        let ns = std::fs::File::open("/proc/self/ns/net").unwrap();
        // The initial namespaces belong to root; a test run in a user
        // namespace sees its creator (the overflow uid at worst).
        assert!(super::owner_uid(&ns).is_ok());
    }
}
