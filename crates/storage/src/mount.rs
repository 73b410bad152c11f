//! Mounting and unmounting, with errors that name what and where.

use std::fs;
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

/// The block filesystems the kernel knows (`/proc/filesystems` without
/// `nodev`), the one to try first in front: how a device of unknown type
/// is mounted, as LXC does it.
fn filesystems(first: &str) -> Vec<String> {
    let text = fs::read_to_string("/proc/filesystems").unwrap_or_default();
    let mut all = vec![first.to_string()];
    all.extend(
        text.lines()
            .filter(|l| !l.starts_with("nodev"))
            .map(|l| l.trim().to_string())
            .filter(|f| !f.is_empty() && f != first),
    );
    all
}

/// Mounts the block device `device` on `target`, trying ext4 then each
/// block filesystem the kernel knows; `what` names it in the error.
pub(crate) fn mount_block(device: &str, target: &Path, what: &str) -> Result<()> {
    let mut last = Errno::EINVAL;
    for fstype in filesystems(crate::tool::DEFAULT_FSTYPE) {
        match mount(
            Some(device),
            target,
            Some(fstype.as_str()),
            MsFlags::empty(),
            None::<&str>,
        ) {
            Ok(()) => return Ok(()),
            // Not this filesystem: the next.
            Err(e @ (Errno::EINVAL | Errno::ENODEV | Errno::ENOTBLK)) => last = e,
            Err(e) => {
                last = e;
                break;
            }
        }
    }
    Err(Error::Mount {
        what: what.to_string(),
        target: target.to_path_buf(),
        source: errno(last),
    })
}
