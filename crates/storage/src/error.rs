//! The errors of this crate; each names the path, spec or backend involved.

use std::io;
use std::path::{Path, PathBuf};

/// Errors of enclos-storage.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("Unknown storage backend '{name}': enclos knows {known}")]
    UnknownBackend { name: String, known: String },

    #[error("Storage backend '{name}' is not supported by enclos; use one of dir, overlay, btrfs, loop, lvm, zfs, rbd")]
    NotSupportedYet { name: String },

    #[error("Invalid rootfs '{spec}': {reason}")]
    InvalidSpec { spec: String, reason: &'static str },

    #[error("The {backend} backend cannot {what}{hint}")]
    Unsupported {
        backend: &'static str,
        what: String,
        /// Where there is one, what to do instead (starting with "; ").
        hint: &'static str,
    },

    #[error("Rootfs {spec} must be mounted to be used: the {backend} backend needs a mount")]
    NeedsMount { spec: String, backend: &'static str },

    #[error("Invalid size '{value}': give a number of bytes with an optional K, M, G or T suffix (1G, 512M)")]
    InvalidSize { value: String },

    #[error("Cannot create the rootfs {path}")]
    Create {
        path: PathBuf,
        #[source]
        source: io::Error,
    },

    #[error("Rootfs {path} does not exist; the container's storage is missing or was moved")]
    Missing { path: PathBuf },

    #[error("Cannot remove the rootfs {path}")]
    Destroy {
        path: PathBuf,
        #[source]
        source: io::Error,
    },

    #[error("Refusing to remove {path}: {reason}")]
    Unsafe { path: PathBuf, reason: &'static str },

    #[error("Refusing to remove {path}: clones stack on it ({}); destroy them first, or force", clones.join(", "))]
    HasClones { path: PathBuf, clones: Vec<String> },

    #[error("Cannot {what} {path}")]
    Io {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },

    #[error("Cannot mount {what} on {target}")]
    Mount {
        what: String,
        target: PathBuf,
        #[source]
        source: io::Error,
    },

    #[error("Cannot unmount {target}")]
    Unmount {
        target: PathBuf,
        #[source]
        source: io::Error,
    },

    #[error("Cannot run {program}")]
    Spawn {
        program: String,
        #[source]
        source: io::Error,
    },

    #[error("{program} not found: install {package}")]
    ToolMissing {
        program: String,
        package: &'static str,
    },

    #[error("`{command}` failed ({status}): {stderr}{hint}")]
    Command {
        command: String,
        status: String,
        stderr: String,
        /// Where there is one, what to do (starting with "; ").
        hint: &'static str,
    },

    #[error("Cannot read the output of `{command}`: {reason}")]
    BadOutput { command: String, reason: String },

    #[error("LVM volume group '{vg}' does not exist; create it on a spare disk or partition (vgcreate {vg} /dev/DISK), or name another with --vgname or lxc.bdev.lvm.vg")]
    NoVolumeGroup { vg: String },

    #[error("LVM thin pool '{pool}' does not exist in volume group '{vg}'; create it (lvcreate --type thin-pool -L SIZE -n {pool} {vg}), or leave out --thinpool and lxc.bdev.lvm.thin_pool for a plain volume")]
    NoThinPool { vg: String, pool: String },

    #[error("Logical volume {path} already exists; give the new one another name (--lvname), or remove the old one (lvremove) if nothing uses it")]
    VolumeExists { path: PathBuf },

    #[error("Logical volume {path} does not exist; the container's storage is missing or was removed (lvs lists the volumes)")]
    NoVolume { path: PathBuf },

    /// `kind` is what the backend calls it ("Logical volume"), `rename`
    /// its command that renames one (`lvrename`).
    #[error("{kind} {path} does not exist, but {aside} does: the replace of {path} by a restore was cut short, and {aside} holds its data; put it back ({rename} {aside} {path})")]
    CutShort {
        kind: &'static str,
        rename: &'static str,
        path: PathBuf,
        aside: PathBuf,
    },

    #[error("Cannot put {path} back after a failed replace ({failed}): its data is in {aside}; rename it back ({rename} {aside} {path})")]
    NotPutBack {
        rename: &'static str,
        path: PathBuf,
        aside: PathBuf,
        failed: String,
        #[source]
        source: Box<Error>,
    },

    #[error("{kind} {path} already exists: a restore that did not finish left it; check what it holds, then remove it ({remove} {path}) or rename it")]
    AsideExists {
        kind: &'static str,
        remove: &'static str,
        path: PathBuf,
    },
}

/// The result of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A closure for `map_err` that wraps an I/O error with what was being
/// done and to which path.
pub(crate) fn io_err<'a>(
    what: &'static str,
    path: &'a Path,
) -> impl FnOnce(io::Error) -> Error + 'a {
    move |source| Error::Io {
        what,
        path: path.to_path_buf(),
        source,
    }
}

/// A nix errno as an I/O error, for the `source` of an [`Error`].
pub(crate) fn errno(e: nix::errno::Errno) -> io::Error {
    io::Error::from_raw_os_error(e as i32)
}
