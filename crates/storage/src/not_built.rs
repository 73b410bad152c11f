//! The backends enclos names but does not build yet: `lvm` (LVM logical
//! volumes through lvm2's commands, at `/dev/VG/NAME`), `zfs` (datasets,
//! snapshots and clones through the zfs command, at `ROOT/NAME`) and `rbd`
//! (Ceph RBD images). Every operation of theirs says so.

use std::path::{Path, PathBuf};

use crate::backend::{Backend, Driver};
use crate::error::{Error, Result};
use crate::options::{CreateOptions, Dest, Usage};
use crate::spec::Rootfs;

/// The driver of a backend that is not built yet.
#[derive(Debug)]
pub(crate) struct NotBuilt(pub(crate) Backend);

impl NotBuilt {
    fn error(&self) -> Error {
        Error::NotBuiltYet {
            backend: self.0.name(),
        }
    }
}

impl Driver for NotBuilt {
    fn backend(&self) -> Backend {
        self.0
    }

    fn create(&self, _dest: &Dest, _opts: &CreateOptions) -> Result<Rootfs> {
        Err(self.error())
    }

    fn destroy(&self, _rootfs: &Rootfs) -> Result<()> {
        Err(self.error())
    }

    fn mount(&self, _rootfs: &Rootfs, _target: &Path) -> Result<PathBuf> {
        Err(self.error())
    }

    fn unmount(&self, _rootfs: &Rootfs, _target: &Path) -> Result<()> {
        Err(self.error())
    }

    fn usage(&self, _rootfs: &Rootfs) -> Result<Usage> {
        Err(self.error())
    }
}
