//! What filesystem a path is on.

use std::path::Path;

use nix::sys::statfs::{statfs, BTRFS_SUPER_MAGIC};

/// Whether `path` is on btrfs (statfs's `f_type` is `BTRFS_SUPER_MAGIC`).
pub fn is_btrfs(path: &Path) -> bool {
    statfs(path).is_ok_and(|s| s.filesystem_type() == BTRFS_SUPER_MAGIC)
}
