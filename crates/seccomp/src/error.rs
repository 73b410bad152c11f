//! What can go wrong reading, compiling or loading a profile.

use std::path::PathBuf;

/// The seccomp crate's error.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The profile file could not be read.
    #[error("Cannot read the seccomp profile {}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A line of the profile is not LXC's seccomp language.
    #[error("{}:{line}: {reason}", path.display())]
    Parse {
        path: PathBuf,
        line: usize,
        reason: String,
    },
    /// A rule is valid LXC but cannot be built into a filter here.
    #[error("{}:{line}: {reason}", path.display())]
    Unsupported {
        path: PathBuf,
        line: usize,
        reason: String,
    },
    /// seccompiler refused the filter built from the profile.
    #[error("Cannot build the seccomp filter of {}", path.display())]
    Compile {
        path: PathBuf,
        #[source]
        source: seccompiler::BackendError,
    },
    /// The kernel refused the filter.
    #[error("Cannot load the seccomp filter of {} (the kernel needs CAP_SYS_ADMIN or no_new_privs to load one)", path.display())]
    Load {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// The crate's result.
pub type Result<T> = std::result::Result<T, Error>;
