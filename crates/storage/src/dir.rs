//! The `dir` backend: the rootfs is a directory, `DIR/rootfs`. A clone is
//! a full copy ([`copy_tree`](crate::copy_tree)), which moves no data
//! where the filesystem can reflink.

use std::fs;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

use crate::backend::{Backend, Driver};
use crate::error::{Error, Result};
use crate::options::{CreateOptions, Dest, Usage};
use crate::spec::Rootfs;
use crate::{copy, du, remove};

/// The `dir` driver.
#[derive(Debug)]
pub(crate) struct Dir;

/// Makes `path`, a new directory of mode 0755 (its parent exists).
pub(crate) fn make_dir(path: &Path) -> Result<()> {
    fs::DirBuilder::new()
        .mode(0o755)
        .create(path)
        .map_err(|source| Error::Create {
            path: path.to_path_buf(),
            source,
        })
}

/// Checks that `path` is an existing directory.
pub(crate) fn existing(path: &Path) -> Result<()> {
    if !path.is_dir() {
        return Err(Error::Missing {
            path: path.to_path_buf(),
        });
    }
    Ok(())
}

impl Driver for Dir {
    fn backend(&self) -> Backend {
        Backend::Dir
    }

    fn create(&self, dest: &Dest, _opts: &CreateOptions) -> Result<Rootfs> {
        let path = dest.dir.join("rootfs");
        make_dir(&path)?;
        Ok(Rootfs::dir(path))
    }

    fn copy(&self, src: &Rootfs, dest: &Dest, opts: &CreateOptions) -> Result<Rootfs> {
        existing(&src.path)?;
        let new = self.create(dest, opts)?;
        if let Err(e) = copy::copy_tree(&src.path, &new.path) {
            let _ = remove::remove_tree(&new.path);
            return Err(e);
        }
        Ok(new)
    }

    fn destroy(&self, rootfs: &Rootfs) -> Result<()> {
        remove::remove_tree(&rootfs.path)
    }

    fn mount(&self, rootfs: &Rootfs, _target: &Path) -> Result<PathBuf> {
        existing(&rootfs.path)?;
        Ok(rootfs.path.clone())
    }

    fn unmount(&self, _rootfs: &Rootfs, _target: &Path) -> Result<()> {
        Ok(())
    }

    fn usage(&self, rootfs: &Rootfs) -> Result<Usage> {
        existing(&rootfs.path)?;
        Ok(Usage {
            size: None,
            used: du::used_bytes(&rootfs.path)?,
        })
    }
}
