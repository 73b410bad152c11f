//! The `btrfs` backend (in progress).
//!
//! Not built yet: every operation says so.

use std::path::{Path, PathBuf};

use crate::backend::{Backend, Driver};
use crate::error::{Error, Result};
use crate::options::{CreateOptions, Dest, Usage};
use crate::spec::Rootfs;

/// The `btrfs` driver.
#[derive(Debug)]
pub(crate) struct Btrfs;

fn not_built() -> Error {
    Error::NotBuiltYet {
        backend: Backend::Btrfs.name(),
    }
}

impl Driver for Btrfs {
    fn backend(&self) -> Backend {
        Backend::Btrfs
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
