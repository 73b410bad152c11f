//! The errors of the default network (`enclos net up/down/status`).

use std::path::PathBuf;

/// What went wrong making, removing or reading the default network.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A line of the settings file that cannot be used.
    #[error("Invalid {key}=\"{value}\" in {path} line {line}: {expected}")]
    Setting {
        path: PathBuf,
        line: usize,
        key: String,
        value: String,
        expected: String,
    },
    /// Settings that are each valid but do not fit together.
    #[error("The settings in {paths} do not fit together: {reason}")]
    Settings { paths: String, reason: String },
    /// A file could not be read, written or removed.
    #[error("Cannot {what} {path}")]
    File {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A program the network needs is not installed.
    #[error("Program {program} is not installed ({purpose}): install it with `apt-get install {package}`")]
    Missing {
        program: &'static str,
        package: &'static str,
        purpose: &'static str,
    },
    /// A program ran and failed.
    #[error("Program {program} failed to {what}: {detail}")]
    Tool {
        program: &'static str,
        what: String,
        detail: String,
    },
    /// The bridge's name is taken by an interface that is not a bridge.
    #[error("Interface {name} exists and is not a bridge: remove it, or name another bridge (net.bridge in {conf}, or LXC_BRIDGE in {settings})")]
    NotABridge {
        name: String,
        settings: PathBuf,
        conf: PathBuf,
    },
    /// `down` while containers are still on the bridge.
    #[error("Bridge {bridge} still has ports ({ports}): stop the containers on it first (`enclos stop -n NAME`), then run `enclos net down` again")]
    Busy { bridge: String, ports: String },
    /// Not root.
    #[error("Only root can run `enclos net {command}` (it changes the host's interfaces, firewall and forwarding): run it with sudo")]
    NotRoot { command: &'static str },
    /// A netlink request failed.
    #[error(transparent)]
    Net(#[from] crate::Error),
}

/// Results of the default network.
pub type Result<T> = std::result::Result<T, Error>;

/// An io::Error as an [`Error::File`] doing `what` to `path`.
pub(crate) fn file(
    what: &'static str,
    path: impl Into<PathBuf>,
) -> impl FnOnce(std::io::Error) -> Error {
    let path = path.into();
    move |source| Error::File { what, path, source }
}
