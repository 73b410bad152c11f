//! btrfs subvolumes through the kernel's ioctls (BTRFS_IOC_SUBVOL_CREATE,
//! BTRFS_IOC_SNAP_CREATE_V2, BTRFS_IOC_SNAP_DESTROY), not btrfs-progs:
//! create, snapshot, and delete with the subvolumes nested in it.

use std::ffi::OsStr;
use std::fs::{self, File};
use std::os::fd::AsRawFd;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use crate::error::{errno, io_err, Error, Result};
use crate::fsinfo::{is_btrfs, is_mount_root};
/// The inode number of a subvolume's root directory
/// (BTRFS_FIRST_FREE_OBJECTID).
const SUBVOL_ROOT_INO: u64 = 256;
const PATH_NAME_MAX: usize = 4087;
const SUBVOL_NAME_MAX: usize = 4039;

/// struct btrfs_ioctl_vol_args.
#[repr(C)]
struct VolArgs {
    fd: i64,
    name: [u8; PATH_NAME_MAX + 1],
}

/// struct btrfs_ioctl_vol_args_v2, with its unions as their largest
/// member (`unused[4]`, `name`).
#[repr(C)]
struct VolArgsV2 {
    fd: i64,
    transid: u64,
    flags: u64,
    unused: [u64; 4],
    name: [u8; SUBVOL_NAME_MAX + 1],
}

// The kernel's structs are 4096 bytes; the ioctl numbers encode the size.
const _: () = assert!(std::mem::size_of::<VolArgs>() == 4096);
const _: () = assert!(std::mem::size_of::<VolArgsV2>() == 4096);

nix::ioctl_write_ptr!(ioc_subvol_create, 0x94, 14, VolArgs);
nix::ioctl_write_ptr!(ioc_snap_destroy, 0x94, 15, VolArgs);
nix::ioctl_write_ptr!(ioc_snap_create_v2, 0x94, 23, VolArgsV2);

/// `name` as the NUL-terminated array of a vol_args struct: one path
/// component, shorter than the array.
fn fill_name<const N: usize>(name: &OsStr, path: &Path) -> Result<[u8; N]> {
    let b = name.as_bytes();
    if b.is_empty() || b.len() >= N || b.contains(&b'/') || b.contains(&0) {
        return Err(Error::InvalidSpec {
            spec: path.display().to_string(),
            reason: "a btrfs subvolume name must be one path component of less than 4040 bytes",
        });
    }
    let mut out = [0u8; N];
    out[..b.len()].copy_from_slice(b);
    Ok(out)
}

/// The directory that holds `path` and `path`'s last component.
fn split(path: &Path) -> Result<(&Path, &OsStr)> {
    match (path.parent(), path.file_name()) {
        (Some(p), Some(n)) => Ok((p, n)),
        _ => Err(Error::Unsafe {
            path: path.to_path_buf(),
            reason: "it has no parent directory",
        }),
    }
}

fn open_dir(path: &Path) -> Result<File> {
    File::open(path).map_err(io_err("open", path))
}

/// Creates the subvolume `path` (its parent exists, on btrfs).
pub(crate) fn subvol_create(path: &Path) -> Result<()> {
    let (parent, name) = split(path)?;
    let args = VolArgs {
        fd: 0,
        name: fill_name(name, path)?,
    };
    let dir = open_dir(parent)?;
    // SAFETY: `dir` is an open directory for the whole call and `args` is
    // a valid, NUL-terminated btrfs_ioctl_vol_args the kernel only reads.
    unsafe { ioc_subvol_create(dir.as_raw_fd(), &args) }
        .map_err(|e| io_err("create the btrfs subvolume", path)(errno(e)))?;
    Ok(())
}

/// Makes `path` a writable snapshot of the subvolume `src` (same btrfs).
pub(crate) fn snap_create(src: &Path, path: &Path) -> Result<()> {
    let (parent, name) = split(path)?;
    let source = open_dir(src)?;
    let args = VolArgsV2 {
        fd: i64::from(source.as_raw_fd()),
        transid: 0,
        flags: 0,
        unused: [0; 4],
        name: fill_name(name, path)?,
    };
    let dir = open_dir(parent)?;
    // SAFETY: `dir` and `source` are open directories for the whole call
    // and `args` is a valid, NUL-terminated btrfs_ioctl_vol_args_v2 the
    // kernel only reads.
    unsafe { ioc_snap_create_v2(dir.as_raw_fd(), &args) }
        .map_err(|e| io_err("snapshot the btrfs subvolume into", path)(errno(e)))?;
    Ok(())
}

/// Deletes the subvolume `path`, which holds no other subvolume.
pub(crate) fn snap_destroy(path: &Path) -> Result<()> {
    let (parent, name) = split(path)?;
    let args = VolArgs {
        fd: 0,
        name: fill_name(name, path)?,
    };
    let dir = open_dir(parent)?;
    // SAFETY: `dir` is an open directory for the whole call and `args` is
    // a valid, NUL-terminated btrfs_ioctl_vol_args the kernel only reads.
    unsafe { ioc_snap_destroy(dir.as_raw_fd(), &args) }.map_err(|e| Error::Destroy {
        path: path.to_path_buf(),
        source: errno(e),
    })?;
    Ok(())
}

/// Whether `path` is the root of a btrfs subvolume (and not a mount).
pub(crate) fn is_subvolume(path: &Path) -> bool {
    fs::symlink_metadata(path).is_ok_and(|m| m.is_dir() && m.ino() == SUBVOL_ROOT_INO)
        && is_btrfs(path)
        && !is_mount_root(path).unwrap_or(true)
}

/// Deletes the subvolume `path` and the subvolumes nested in it, deepest
/// first. A mount below it is an error, not something to delete.
pub(crate) fn delete_subvolume(path: &Path) -> Result<()> {
    let dev = fs::symlink_metadata(path)
        .map_err(io_err("read", path))?
        .dev();
    delete_nested(path, dev)?;
    snap_destroy(path)
}

fn delete_nested(dir: &Path, dev: u64) -> Result<()> {
    for e in fs::read_dir(dir).map_err(io_err("list", dir))? {
        let p = e.map_err(io_err("list", dir))?.path();
        let meta = fs::symlink_metadata(&p).map_err(io_err("read", &p))?;
        if !meta.is_dir() {
            continue;
        }
        if meta.dev() == dev {
            delete_nested(&p, dev)?;
        } else if is_mount_root(&p).unwrap_or(true) {
            return Err(Error::Unsafe {
                path: p,
                reason: "another filesystem is mounted there; unmount it first",
            });
        } else if meta.ino() == SUBVOL_ROOT_INO {
            delete_subvolume(&p)?;
        }
        // Otherwise the empty stand-in a snapshot has for a subvolume
        // nested in its source: it goes with the snapshot.
    }
    Ok(())
}
