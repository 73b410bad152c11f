use std::io;
use std::path::PathBuf;

/// Errors of the container lifecycle. Each names the container and, where
/// there is one, the file or setting involved, and says what to do.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("Invalid container name '{name}': {reason}")]
    InvalidName { name: String, reason: &'static str },

    #[error("Container '{name}' does not exist in {lxcpath} (no {config}); list containers with `enclos ls -P {lxcpath}`")]
    NotFound {
        name: String,
        lxcpath: PathBuf,
        config: PathBuf,
    },

    #[error(
        "Container '{name}' already exists in {lxcpath}; pick another name or destroy it first"
    )]
    AlreadyExists { name: String, lxcpath: PathBuf },

    #[error("Container '{name}' is {state}; {hint}")]
    WrongState {
        name: String,
        state: &'static str,
        hint: &'static str,
    },

    #[error("Container '{name}' is locked by another enclos command (pid {holder}); wait for it to finish")]
    Busy { name: String, holder: String },

    #[error("Cannot {what} {path}")]
    Io {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },

    #[error("Cannot {what} for container '{name}'")]
    Sys {
        what: &'static str,
        name: String,
        #[source]
        source: nix::Error,
    },

    #[error("Container '{name}' failed to start: {reason}")]
    StartFailed { name: String, reason: String },

    #[error("The monitor of container '{name}' (pid {pid}) is gone; the container was left {state}. `enclos stop -k -n {name}` cleans it up")]
    MonitorGone {
        name: String,
        pid: i32,
        state: &'static str,
    },

    #[error("Timed out after {secs} s waiting for container '{name}' to {what}")]
    Timeout {
        name: String,
        what: &'static str,
        secs: u64,
    },

    #[error("Invalid {what} '{value}': {reason}")]
    InvalidArgument {
        what: &'static str,
        value: String,
        reason: String,
    },

    #[error("{0}")]
    Unsupported(String),

    #[error("Invalid filter '{filter}': not a regular expression")]
    BadFilter {
        filter: String,
        #[source]
        source: regex::Error,
    },

    #[error("Unknown column '{column}': use name, state, autostart, groups, ipv4, ipv6, unprivileged, pid")]
    UnknownColumn { column: String },

    #[error("lxc.hook.{kind} '{command}' of container '{name}' failed: {reason}")]
    Hook {
        name: String,
        kind: &'static str,
        command: String,
        reason: String,
    },

    #[error(transparent)]
    Config(#[from] enclos_config::Error),

    #[error(transparent)]
    Cgroup(#[from] enclos_cgroupfs::Error),

    #[error(transparent)]
    Namespaces(#[from] enclos_namespaces::Error),

    #[error(transparent)]
    Storage(#[from] enclos_storage::Error),

    #[error(transparent)]
    Template(#[from] enclos_templates::Error),

    #[error(transparent)]
    Snapshot(#[from] enclos_snapshot::Error),

    #[error("Original container ({name}) is running ({state}); {hint}")]
    Running {
        name: String,
        state: &'static str,
        hint: String,
    },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

pub(crate) fn io_err(
    what: &'static str,
    path: impl Into<PathBuf>,
) -> impl FnOnce(io::Error) -> Error {
    let path = path.into();
    move |source| Error::Io { what, path, source }
}

/// An error with its causes, on one line.
pub(crate) use enclos_report::chain;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_chain_on_one_line() {
        let e = Error::Io {
            what: "open",
            path: "/x".into(),
            source: std::io::Error::from_raw_os_error(libc::ENOENT),
        };
        assert_eq!(
            chain(&e),
            "Cannot open /x: No such file or directory (os error 2)"
        );
    }
}
