//! Errors of this crate.

use std::path::PathBuf;

/// What went wrong reading the kernel's configuration.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file could not be read (or gunzipped).
    #[error("Cannot read the kernel configuration {}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// This crate's result.
pub type Result<T> = std::result::Result<T, Error>;
