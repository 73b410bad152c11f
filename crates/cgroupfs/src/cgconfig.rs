//! libcgroup's cgconfig.conf (work in progress).

/// An error in a cgconfig.conf file.
#[derive(Debug, thiserror::Error)]
#[error("{file}:{line}:{column}: {message}")]
pub struct ConfigError {
    pub file: std::path::PathBuf,
    pub line: usize,
    pub column: usize,
    pub message: String,
}
