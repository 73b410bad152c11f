//! The `lvm` backend: LVM logical volumes through lvm2's commands (lvcreate, lvremove, lvs), at `/dev/VG/NAME`.
//!
//! Not built yet: every operation says so.

use std::path::{Path, PathBuf};

use crate::backend::{Backend, Driver};
use crate::error::{Error, Result};
use crate::options::{CreateOptions, Dest, Usage};
use crate::spec::Rootfs;

/// The `lvm` driver.
#[derive(Debug)]
pub(crate) struct Lvm;

fn not_built() -> Error {
    Error::NotBuiltYet {
        backend: Backend::Lvm.name(),
    }
}

impl Driver for Lvm {
    fn backend(&self) -> Backend {
        Backend::Lvm
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
