//! Removing a tree without following symlinks or crossing mounts.

use std::fs;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use crate::error::{Error, Result};
use crate::subvol;

/// Removes `path` and everything below it, never following a symlink and
/// refusing to descend into another filesystem mounted below it (that is
/// an error to fix, not something to delete). btrfs subvolumes in the
/// tree are deleted as such. A missing `path` is fine.
pub fn remove_tree(path: &Path) -> Result<()> {
    if path.parent().is_none() {
        return Err(Error::Unsafe {
            path: path.to_path_buf(),
            reason: "it is the root directory",
        });
    }
    match fs::symlink_metadata(path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(source) => Err(Error::Destroy {
            path: path.to_path_buf(),
            source,
        }),
        Ok(meta) => remove_below(path, meta.dev()),
    }
}

fn remove_below(path: &Path, dev: u64) -> Result<()> {
    let destroy = |source| Error::Destroy {
        path: path.to_path_buf(),
        source,
    };
    let meta = fs::symlink_metadata(path).map_err(destroy)?;
    if meta.is_dir() {
        if meta.dev() != dev {
            // A btrfs subvolume in the tree (made by the container, or the
            // rootfs itself) is part of it; a mount is not.
            if subvol::is_subvolume(path) {
                return subvol::delete_subvolume(path);
            }
            return Err(Error::Unsafe {
                path: path.to_path_buf(),
                reason: "another filesystem is mounted there; unmount it first",
            });
        }
        for e in fs::read_dir(path).map_err(destroy)? {
            remove_below(&e.map_err(destroy)?.path(), dev)?;
        }
        fs::remove_dir(path)
    } else {
        fs::remove_file(path)
    }
    .map_err(destroy)
}
