//! The errors of this crate; each names the path, archive or snapshot
//! involved.

use std::io;
use std::path::{Path, PathBuf};

/// Errors of enclos-snapshot.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("Cannot {what} {path}")]
    Io {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },

    #[error("Another {what} of {path} is in progress; wait for it to end")]
    Busy { what: &'static str, path: PathBuf },

    #[error("Directory {path} already exists; choose another name, or destroy it first")]
    Exists { path: PathBuf },

    #[error("Snapshot {name} of {dir} does not exist; list them with `snapshot -L`")]
    NoSnapshot { name: String, dir: PathBuf },

    #[error("Invalid snapshot name '{name}': snapshots are named snapN (snap0, snap1 ...)")]
    BadName { name: String },

    #[error("Container {dir} cannot be destroyed: it has {}; destroy them first, or use -s for the snapshots", held.join(", "))]
    Held { dir: PathBuf, held: Vec<String> },

    #[error("Cannot read the archive {archive}: {reason}")]
    Archive { archive: String, reason: String },

    #[error("Cannot read the archive {archive}")]
    ArchiveIo {
        archive: String,
        #[source]
        source: io::Error,
    },

    #[error("Cannot write the archive {archive}")]
    Write {
        archive: String,
        #[source]
        source: io::Error,
    },

    #[error("Archive {archive} is damaged: its checksum says {expected} but its content hashes to {actual}; nothing was imported")]
    Checksum {
        archive: String,
        expected: String,
        actual: String,
    },

    #[error("Refusing the archive member '{member}' of {archive}: {reason}")]
    UnsafeMember {
        archive: String,
        member: String,
        reason: &'static str,
    },

    #[error("Cannot unpack '{member}' of {archive}")]
    Unpack {
        archive: String,
        member: String,
        #[source]
        source: io::Error,
    },

    #[error(transparent)]
    Storage(#[from] enclos_storage::Error),

    #[error(transparent)]
    Config(#[from] enclos_config::Error),
}

/// Results of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A closure that wraps an io::Error as [`Error::Io`] for `path`.
pub(crate) fn io_err(what: &'static str, path: &Path) -> impl FnOnce(io::Error) -> Error {
    let path = path.to_path_buf();
    move |source| Error::Io { what, path, source }
}
