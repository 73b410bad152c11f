use std::fmt;
use std::io;
use std::path::PathBuf;

use serde::Serialize;

/// Where a configuration entry comes from: the file and its 1-based line.
///
/// Line 0 marks an entry added through [`Config::set`](crate::Config::set)
/// or [`Config::append`](crate::Config::append) and not read from a file
/// yet; an empty file marks a configuration made with
/// [`Config::new`](crate::Config::new).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct Origin {
    pub file: PathBuf,
    pub line: usize,
}

impl Origin {
    pub fn new(file: impl Into<PathBuf>, line: usize) -> Origin {
        Origin {
            file: file.into(),
            line,
        }
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.file.as_os_str().is_empty(), self.line) {
            (true, 0) => f.write_str("(new configuration)"),
            (true, line) => write!(f, "line {line}"),
            (false, 0) => write!(f, "{}", self.file.display()),
            (false, line) => write!(f, "{}:{line}", self.file.display()),
        }
    }
}

/// Everything that can go wrong in this crate. Each variant carries the
/// place (file and line) and the key involved; messages start with a
/// capital letter after the place and leave the system's cause to
/// `source()`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error("Cannot read {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: io::Error,
    },

    #[error("Cannot write {path}")]
    Write {
        path: PathBuf,
        #[source]
        source: io::Error,
    },

    #[error("{origin}: Cannot include {path}")]
    Include {
        origin: Origin,
        path: PathBuf,
        #[source]
        source: io::Error,
    },

    #[error("{origin}: Include loop: {}", chain_text(.chain))]
    IncludeLoop { origin: Origin, chain: Vec<PathBuf> },

    #[error("{origin}: Expected 'key = value', found '{text}'")]
    Syntax { origin: Origin, text: String },

    #[error("{origin}: Invalid key '{key}': {reason}")]
    InvalidKey {
        origin: Origin,
        key: String,
        reason: String,
    },

    #[error("{origin}: Unknown configuration key '{key}'{}", suggestion_text(.suggestion))]
    UnknownKey {
        origin: Origin,
        key: String,
        suggestion: Option<String>,
    },

    #[error("{origin}: Key '{key}' is not supported by enclos yet{why}")]
    Unsupported {
        origin: Origin,
        key: String,
        /// Empty, or `: ` and what the key waits for.
        why: String,
    },

    #[error("{origin}: Networking of type '{net_type}' ('{key}') is not supported by enclos yet; types supported: {supported}")]
    UnsupportedNetType {
        origin: Origin,
        key: String,
        net_type: String,
        supported: String,
    },

    #[error("{origin}: Invalid value '{value}' for '{key}': expected {expected}")]
    InvalidValue {
        origin: Origin,
        key: String,
        value: String,
        expected: String,
    },

    /// A whole-configuration rule is broken (keys that exclude each other,
    /// a network without a type).
    #[error("{origin}: {message}")]
    Inconsistent {
        origin: Origin,
        key: String,
        message: String,
    },
}

impl Error {
    /// The file and line the error points to, when it points to one.
    pub fn origin(&self) -> Option<&Origin> {
        match self {
            Error::Read { .. } | Error::Write { .. } => None,
            Error::Include { origin, .. }
            | Error::IncludeLoop { origin, .. }
            | Error::Syntax { origin, .. }
            | Error::InvalidKey { origin, .. }
            | Error::UnknownKey { origin, .. }
            | Error::Unsupported { origin, .. }
            | Error::UnsupportedNetType { origin, .. }
            | Error::InvalidValue { origin, .. }
            | Error::Inconsistent { origin, .. } => Some(origin),
        }
    }
}

fn chain_text(chain: &[PathBuf]) -> String {
    chain
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(" -> ")
}

fn suggestion_text(suggestion: &Option<String>) -> String {
    match suggestion {
        Some(key) => format!(" (did you mean '{key}'?)"),
        None => String::new(),
    }
}

/// Something worth telling the user about a configuration that still loads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Warning {
    pub origin: Origin,
    pub kind: WarningKind,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum WarningKind {
    /// An LXC 2.x key, read as its modern name.
    Legacy { key: String, replacement: String },
    /// An LXC 2.x key with no modern equivalent: ignored.
    Obsolete { key: String, reason: String },
    /// A network key that a network of this type does not use.
    NoEffect { key: String, net_type: String },
    /// `lxc.net.N.type = none` beside networks of other types: ignored,
    /// the container gets a network namespace of its own for those.
    NoneIgnored { index: u32, others: Vec<u32> },
    /// `lxc.net.N.type = none` alone: the container shares the host's
    /// network namespace.
    HostNetwork { index: u32 },
    /// `lxc.include` of a directory (a path ending in `/`) that does not
    /// exist: nothing is included, as in LXC.
    MissingIncludeDir { path: PathBuf },
    /// `lxc.include` of a file of LXC's system directory (`/etc/lxc`) that
    /// is not there: enclos's file of the same name (`read`) was included
    /// instead, or, for the system default, nothing.
    LxcSystemInclude {
        path: PathBuf,
        read: Option<PathBuf>,
    },
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: ", self.origin)?;
        match &self.kind {
            WarningKind::Legacy { key, replacement } => {
                write!(
                    f,
                    "Legacy key '{key}' read as '{replacement}'; use '{replacement}' instead"
                )
            }
            WarningKind::Obsolete { key, reason } => {
                write!(f, "Obsolete key '{key}' ignored: {reason}")
            }
            WarningKind::NoEffect { key, net_type } => {
                write!(
                    f,
                    "Key '{key}' has no effect on a network of type '{net_type}'"
                )
            }
            WarningKind::NoneIgnored { index, others } => {
                let others: Vec<String> = others.iter().map(|i| format!("lxc.net.{i}")).collect();
                write!(
                    f,
                    "lxc.net.{index}.type = none is ignored: {} give the container a network namespace of its own, as in LXC; remove lxc.net.{index}, or remove the others to share the host's network",
                    others.join(", ")
                )
            }
            WarningKind::HostNetwork { index } => {
                write!(
                    f,
                    "lxc.net.{index}.type = none: the container shares the host's network namespace, so its root can reconfigure the host's interfaces, routes and firewall; use 'empty' or 'veth' to isolate it"
                )
            }
            WarningKind::LxcSystemInclude {
                path,
                read: Some(read),
            } => {
                write!(
                    f,
                    "LXC's {} does not exist: included enclos's {} instead",
                    path.display(),
                    read.display()
                )
            }
            WarningKind::LxcSystemInclude { path, read: None } => {
                write!(
                    f,
                    "LXC's {} does not exist, nor does enclos's system default: nothing included from it",
                    path.display()
                )
            }
            WarningKind::MissingIncludeDir { path } => {
                write!(
                    f,
                    "Included directory {} does not exist: nothing included from it",
                    path.display()
                )
            }
        }
    }
}
