//! The `zfs` backend: ZFS datasets, snapshots and clones through the zfs command, at `ROOT/NAME`.
//!
//! Not built yet: every operation says so.

use std::path::{Path, PathBuf};

use crate::backend::{Backend, Driver};
use crate::error::{Error, Result};
use crate::options::{CreateOptions, Dest, Usage};
use crate::spec::Rootfs;

/// The `zfs` driver.
#[derive(Debug)]
pub(crate) struct Zfs;

fn not_built() -> Error {
    Error::NotBuiltYet {
        backend: Backend::Zfs.name(),
    }
}

impl Driver for Zfs {
    fn backend(&self) -> Backend {
        Backend::Zfs
    }

    fn create(&self, _dest: &Dest, _opts: &CreateOptions) -> Result<Rootfs> {
        Err(not_built())
    }

    fn destroy(&self, _rootfs: &Rootfs) -> Result<()> {
        Err(not_built())
    }

    fn mount(&self, _rootfs: &Rootfs, _target: &Path) -> Result<PathBuf> {
        Err(not_built())
    }

    fn unmount(&self, _rootfs: &Rootfs, _target: &Path) -> Result<()> {
        Err(not_built())
    }

    fn usage(&self, _rootfs: &Rootfs) -> Result<Usage> {
        Err(not_built())
    }
}
