//! Idmapped mounts: a tree shown with its ids mapped through a user
//! namespace, so a rootfs owned by 0 on disk appears owned by 165536
//! without a single chown (open_tree(2), mount_setattr(2) with
//! `MOUNT_ATTR_IDMAP`, move_mount(2); Linux 5.12 and later, on
//! filesystems that allow it). When the kernel or the filesystem refuses,
//! the error is [`Error::IdmappedMountUnsupported`] and the caller shifts
//! the tree instead ([`crate::shift_tree`]).

use std::ffi::CString;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use nix::errno::Errno;

use crate::error::{Error, Result};
use crate::map::{IdKind, IdMap, IdMaps};
use crate::userns::userns_fd_for;

const OPEN_TREE_CLONE: libc::c_uint = 1;
const MOUNT_ATTR_IDMAP: u64 = 0x0010_0000;
const MOVE_MOUNT_F_EMPTY_PATH: libc::c_uint = 0x4;
/// `MS_PRIVATE` (linux/mount.h), as `struct mount_attr`'s propagation takes it.
const MS_PRIVATE: u64 = 1 << 18;

/// `struct mount_attr` of linux/mount.h (version 0, 32 bytes).
#[repr(C)]
struct MountAttr {
    attr_set: u64,
    attr_clr: u64,
    propagation: u64,
    userns_fd: u64,
}

fn c_path(path: &Path) -> Result<CString> {
    CString::new(path.as_os_str().as_bytes()).map_err(|_| Error::Mount {
        action: "use the path",
        path: path.to_path_buf(),
        source: Errno::EINVAL,
    })
}

/// open_tree(AT_FDCWD, path, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC): a
/// detached copy of the mount at `path`, rooted there, without submounts.
fn open_tree_clone(path: &CString) -> std::result::Result<OwnedFd, Errno> {
    let flags = OPEN_TREE_CLONE | libc::O_CLOEXEC as libc::c_uint;
    // SAFETY: `path` is NUL-terminated and outlives the call; open_tree
    // reads it and returns a new fd or -1.
    let fd = unsafe { libc::syscall(libc::SYS_open_tree, libc::AT_FDCWD, path.as_ptr(), flags) };
    if fd < 0 {
        return Err(Errno::last());
    }
    // SAFETY: the kernel just returned this fd, which nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

/// mount_setattr(mount, "", AT_EMPTY_PATH, {MOUNT_ATTR_IDMAP, userns,
/// MS_PRIVATE}). The clone open_tree made of a shared mount is a peer of
/// it: attached elsewhere (in a container's mount namespace), every mount
/// made on it would propagate back to the source's namespace, and
/// pivot_root onto it would fail (EINVAL: a shared parent). Private, it
/// shares nothing with the mount it was cloned from.
fn set_idmap(mount: BorrowedFd<'_>, userns: BorrowedFd<'_>) -> std::result::Result<(), Errno> {
    let attr = MountAttr {
        attr_set: MOUNT_ATTR_IDMAP,
        attr_clr: 0,
        propagation: MS_PRIVATE,
        userns_fd: userns.as_raw_fd() as u64,
    };
    // SAFETY: the empty path is a NUL-terminated static string and `attr`
    // lives across the call; the kernel reads `size_of::<MountAttr>()`
    // bytes from it.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            mount.as_raw_fd(),
            c"".as_ptr(),
            libc::AT_EMPTY_PATH as libc::c_uint,
            &attr as *const MountAttr,
            std::mem::size_of::<MountAttr>(),
        )
    };
    if rc < 0 {
        return Err(Errno::last());
    }
    Ok(())
}

/// Why the kernel refused an idmapped mount, for the error message.
fn unsupported_hint(call: &'static str, errno: Errno) -> &'static str {
    match (call, errno) {
        ("open_tree", Errno::ENOSYS) => "this kernel lacks open_tree (Linux 5.2 or later)",
        (_, Errno::ENOSYS) => "this kernel lacks mount_setattr (Linux 5.12 or later)",
        ("open_tree", Errno::EPERM) => {
            "cloning a mount needs CAP_SYS_ADMIN over the mount namespace (root on the host)"
        }
        (_, Errno::EPERM) => {
            "the user namespace is the initial one or not the caller's, or the mount is idmapped already"
        }
        (_, Errno::EINVAL) => {
            "its filesystem does not support idmapped mounts on this kernel (ext4, xfs and btrfs do since 5.12 to 5.15, tmpfs since 6.3)"
        }
        _ => "the kernel refused it",
    }
}

/// A detached mount of `source` whose ids are mapped through the user
/// namespace `userns`: a file owned by 0 on disk shows as the host id of
/// container id 0. Submounts of `source` are not included, and the mount
/// is private: no peer of `source`, whatever `source`'s propagation (a
/// host whose `/` is shared, as under systemd). The mount lives until the
/// fd is closed, or is attached with [`move_mount`].
pub fn idmapped_mount(source: &Path, userns: BorrowedFd<'_>) -> Result<OwnedFd> {
    let c_source = c_path(source)?;
    let unsupported = |call, source_errno| Error::IdmappedMountUnsupported {
        path: source.to_path_buf(),
        hint: unsupported_hint(call, source_errno),
        source: source_errno,
    };
    let mount = open_tree_clone(&c_source).map_err(|e| match e {
        Errno::ENOSYS | Errno::EPERM => unsupported("open_tree", e),
        _ => Error::Mount {
            action: "clone the mount of",
            path: source.to_path_buf(),
            source: e,
        },
    })?;
    set_idmap(std::os::fd::AsFd::as_fd(&mount), userns)
        .map_err(|e| unsupported("mount_setattr", e))?;
    Ok(mount)
}

/// Attaches the detached mount `mount` (from [`idmapped_mount`]) on
/// `target`, in the caller's mount namespace.
pub fn move_mount(mount: BorrowedFd<'_>, target: &Path) -> Result<()> {
    let c_target = c_path(target)?;
    // SAFETY: both paths are NUL-terminated and outlive the call; the
    // kernel only reads them.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_move_mount,
            mount.as_raw_fd(),
            c"".as_ptr(),
            libc::AT_FDCWD,
            c_target.as_ptr(),
            MOVE_MOUNT_F_EMPTY_PATH,
        )
    };
    if rc < 0 {
        return Err(Error::Mount {
            action: "attach the idmapped mount on",
            path: target.to_path_buf(),
            source: Errno::last(),
        });
    }
    Ok(())
}

/// Tries an idmapped mount of `path` through a user namespace mapping
/// container id 0 onto the caller's own uid and gid; nothing is attached.
/// `Ok` when it works, the reason when not.
pub fn probe_idmapped_mount(path: &Path) -> Result<()> {
    let own = |kind, id| IdMap {
        kind,
        container_id: 0,
        host_id: id,
        range: 1,
    };
    let maps = IdMaps::new(vec![
        own(IdKind::Uid, nix::unistd::geteuid().as_raw()),
        own(IdKind::Gid, nix::unistd::getegid().as_raw()),
    ]);
    let userns = userns_fd_for(&maps)?;
    idmapped_mount(path, std::os::fd::AsFd::as_fd(&userns)).map(drop)
}

/// Whether idmapped mounts of `path` work here: [`probe_idmapped_mount`]
/// without the reason.
pub fn supports_idmapped_mounts(path: &Path) -> bool {
    probe_idmapped_mount(path).is_ok()
}

#[cfg(test)]
mod tests;
