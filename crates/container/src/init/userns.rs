//! Init of an unprivileged container with a rootfs of host root: it takes
//! the idmapped mount of its rootfs the monitor made, and mounts it over
//! the rootfs directory before the set-up binds it.

use std::ffi::CString;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use enclos_namespaces::SyncChild;
use nix::errno::Errno;

/// The detached idmapped mount the monitor sends (before ATTACHED).
pub(super) fn receive_rootfs(sync: &SyncChild) -> Result<OwnedFd, String> {
    use std::os::fd::AsFd;
    match enclos_namespaces::recv_fd(sync.as_fd()) {
        Ok(Some(fd)) => Ok(fd),
        Ok(None) => Err("The monitor sent no idmapped mount of the rootfs".into()),
        Err(e) => Err(format!(
            "Cannot receive the idmapped mount of the rootfs: {}",
            crate::error::chain(&e)
        )),
    }
}

/// Mounts the detached mount `mount` over `rootfs` (in init's mount
/// namespace, which is already a slave of the host's).
pub(super) fn mount_rootfs(mount: &OwnedFd, rootfs: &Path) -> Result<(), String> {
    let fail = |e: Errno| {
        format!(
            "Cannot mount the idmapped rootfs on {}: {e}",
            rootfs.display()
        )
    };
    let target = CString::new(rootfs.as_os_str().as_bytes()).map_err(|_| fail(Errno::EINVAL))?;
    move_mount(mount, &target).map_err(fail)
}

/// move_mount(2) of the detached mount `from` onto the path `to`.
fn move_mount(from: &OwnedFd, to: &CString) -> nix::Result<()> {
    const MOVE_MOUNT_F_EMPTY_PATH: libc::c_uint = 0x4;
    // SAFETY: both strings are NUL-terminated and outlive the call; `from`
    // is an open mount descriptor; the call writes no memory of ours.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_move_mount,
            from.as_raw_fd(),
            c"".as_ptr(),
            libc::AT_FDCWD,
            to.as_ptr(),
            MOVE_MOUNT_F_EMPTY_PATH,
        )
    };
    Errno::result(rc).map(drop)
}
