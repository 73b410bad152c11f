//! Mounting and unmounting, with errors that name what and where.

use std::path::Path;

use nix::errno::Errno;
use nix::mount::{mount, umount2, MntFlags, MsFlags};

use crate::error::{errno, Error, Result};

/// Mounts `source` of type `fstype` on `target` with the options `data`.
pub(crate) fn mount_fs(
    source: &str,
    target: &Path,
    fstype: &str,
    flags: MsFlags,
    data: &str,
) -> Result<()> {
    mount(Some(source), target, Some(fstype), flags, Some(data)).map_err(|e| Error::Mount {
        what: format!("{fstype} ({data})"),
        target: target.to_path_buf(),
        source: errno(e),
    })
}

/// Unmounts `target`; one that is not mounted is fine.
pub(crate) fn unmount(target: &Path) -> Result<()> {
    match umount2(target, MntFlags::empty()) {
        Ok(()) | Err(Errno::EINVAL) | Err(Errno::ENOENT) => Ok(()),
        Err(e) => Err(Error::Unmount {
            target: target.to_path_buf(),
            source: errno(e),
        }),
    }
}
