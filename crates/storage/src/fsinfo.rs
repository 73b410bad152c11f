//! What filesystem a path is on, and whether it is a mount's root.

use std::ffi::CString;
use std::io;
use std::mem::MaybeUninit;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use nix::sys::statfs::{statfs, BTRFS_SUPER_MAGIC};

/// Whether `path` is on btrfs (statfs's `f_type` is `BTRFS_SUPER_MAGIC`).
pub fn is_btrfs(path: &Path) -> bool {
    statfs(path).is_ok_and(|s| s.filesystem_type() == BTRFS_SUPER_MAGIC)
}

/// Whether `path` (not followed if a symlink) is the root of a mount
/// (statx's `STATX_ATTR_MOUNT_ROOT`, Linux 5.8 and later).
pub(crate) fn is_mount_root(path: &Path) -> io::Result<bool> {
    let c_path = CString::new(path.as_os_str().as_bytes())
        .map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    let mut buf = MaybeUninit::<libc::statx>::zeroed();
    // SAFETY: the path is NUL-terminated and outlives the call; `buf` is a
    // writable statx struct the kernel fills.
    let rc = unsafe {
        libc::statx(
            libc::AT_FDCWD,
            c_path.as_ptr(),
            libc::AT_SYMLINK_NOFOLLOW,
            0,
            buf.as_mut_ptr(),
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: statx returned 0, so the kernel filled the struct (and it
    // was zeroed before, so every field is initialised either way).
    let st = unsafe { buf.assume_init() };
    let bit = libc::STATX_ATTR_MOUNT_ROOT as u64;
    if st.stx_attributes_mask & bit == 0 {
        return Err(io::Error::from(io::ErrorKind::Unsupported));
    }
    Ok(st.stx_attributes & bit != 0)
}
