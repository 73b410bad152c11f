//! Errors of this crate: [`ConfigError`] for a place in a configuration
//! file, [`Error`] for everything a call may return. Both may wrap an
//! [`enclos_cgroupfs::Error`] as their cause; the cgroup crate knows
//! nothing of them.

use std::fmt;
use std::io;
use std::path::PathBuf;

use serde::Serialize;

/// A place in a configuration file (1-based line and column).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct Location {
    pub file: PathBuf,
    pub line: usize,
    pub column: usize,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file.display(), self.line, self.column)
    }
}

/// An error in a cgconfig.conf file, or in applying one of its items: the
/// place of the offending token or setting, what is wrong, and for a
/// failure of the system (a write the kernel refused) its cause as
/// `source()`.
#[derive(Debug, thiserror::Error)]
#[error("{file}:{line}:{column}: {message}")]
pub struct ConfigError {
    pub file: PathBuf,
    pub line: usize,
    pub column: usize,
    pub message: String,
    #[source]
    pub source: Option<Box<enclos_cgroupfs::Error>>,
}

impl ConfigError {
    pub fn new(at: &Location, message: impl Into<String>) -> ConfigError {
        ConfigError {
            file: at.file.clone(),
            line: at.line,
            column: at.column,
            message: message.into(),
            source: None,
        }
    }

    pub fn with_source(
        at: &Location,
        message: impl Into<String>,
        source: enclos_cgroupfs::Error,
    ) -> ConfigError {
        ConfigError {
            source: Some(Box::new(source)),
            ..ConfigError::new(at, message)
        }
    }

    pub fn location(&self) -> Location {
        Location {
            file: self.file.clone(),
            line: self.line,
            column: self.column,
        }
    }
}

/// Everything a function of this crate may return.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A configuration file or directory that cannot be read.
    #[error("Cannot read {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: io::Error,
    },

    /// An error at a place of a configuration file.
    #[error(transparent)]
    Config(#[from] ConfigError),

    /// An error of the cgroup layer that no place of the file explains.
    #[error(transparent)]
    Cgroup(#[from] enclos_cgroupfs::Error),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
