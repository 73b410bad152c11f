//! Init of an unprivileged container with a rootfs of host root: it takes
//! the idmapped mount of its rootfs the monitor made, and mounts it over
//! the rootfs directory before the set-up binds it.

use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;

use enclos_namespaces::SyncChild;

/// The detached idmapped mount the monitor sends (before ATTACHED).
pub(super) fn receive_rootfs(sync: &SyncChild) -> Result<OwnedFd, String> {
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
/// namespace, which is already a slave of the host's). The mount is
/// private (`enclos_idmap::idmapped_mount`), and the rootfs set-up makes
/// every mount a slave again after this step, so nothing mounted on it
/// reaches the host.
pub(super) fn mount_rootfs(mount: &OwnedFd, rootfs: &Path) -> Result<(), String> {
    enclos_idmap::move_mount(mount.as_fd(), rootfs).map_err(|e| crate::error::chain(&e))
}
