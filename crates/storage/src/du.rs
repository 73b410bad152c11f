//! Bytes a tree uses, as `du` counts them.

use std::collections::HashSet;
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use crate::error::{io_err, Result};

/// The bytes allocated to the files of the tree at `root` (`st_blocks` ×
/// 512), each hard-linked file counted once, without following symlinks
/// or crossing into other filesystems (as `du -sx`).
pub fn used_bytes(root: &Path) -> Result<u64> {
    let meta = fs::symlink_metadata(root).map_err(io_err("measure", root))?;
    let mut seen = HashSet::new();
    walk(root, meta.dev(), &mut seen)
}

fn walk(path: &Path, dev: u64, seen: &mut HashSet<(u64, u64)>) -> Result<u64> {
    let meta = fs::symlink_metadata(path).map_err(io_err("measure", path))?;
    if meta.nlink() > 1 && !meta.is_dir() && !seen.insert((meta.dev(), meta.ino())) {
        return Ok(0);
    }
    let mut total = meta.blocks() * 512;
    if meta.is_dir() && meta.dev() == dev {
        for e in fs::read_dir(path).map_err(io_err("list", path))? {
            let e = e.map_err(io_err("list", path))?;
            total += walk(&e.path(), dev, seen)?;
        }
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_hard_links_once() {
        let tmp = tempfile::tempdir().unwrap();
        let empty = used_bytes(tmp.path()).unwrap();
        fs::write(tmp.path().join("a"), vec![7u8; 64 * 1024]).unwrap();
        let one = used_bytes(tmp.path()).unwrap();
        assert!(one >= empty + 64 * 1024, "{empty} {one}");
        fs::hard_link(tmp.path().join("a"), tmp.path().join("b")).unwrap();
        assert_eq!(used_bytes(tmp.path()).unwrap(), one);
    }
}
