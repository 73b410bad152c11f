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

    #[error(
        "Storage backend '{backend}' is not built yet in enclos; use -B dir, overlay, btrfs or loop"
    )]
    NotBuiltYet { backend: &'static str },

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

    #[error("Cannot run {program}; is it installed?")]
    Spawn {
        program: String,
        #[source]
        source: io::Error,
    },

    #[error("`{command}` failed ({status}): {stderr}")]
    Command {
        command: String,
        status: String,
        stderr: String,
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
