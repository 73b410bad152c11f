use std::path::PathBuf;
use std::time::Duration;

use nix::errno::Errno;

/// Everything that can go wrong in this crate. Each variant names the
/// process, path, namespace or option involved; messages start with a
/// capital letter and leave the underlying cause to `source()`.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("Unknown namespace '{name}' (expected one of mount, pid, uts, ipc, net, cgroup, user, time)")]
    UnknownNamespace { name: String },

    #[error("Cannot list the namespaces in {dir}")]
    ListNamespaces {
        dir: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("Cannot clone a child process into new namespaces ({namespaces})")]
    Clone {
        namespaces: String,
        #[source]
        source: Errno,
    },

    #[error("This kernel has no clone3(2), which a new time namespace needs (Linux 5.8 or later)")]
    TimeNamespaceUnsupported,

    #[error("Cannot create the parent/child sync socket pair")]
    SyncSocket {
        #[source]
        source: Errno,
    },

    #[error("Cannot send message {msg} to the {peer}")]
    SyncSend {
        peer: &'static str,
        msg: u8,
        #[source]
        source: Errno,
    },

    #[error("Cannot receive from the {peer}")]
    SyncRecv {
        peer: &'static str,
        #[source]
        source: Errno,
    },

    #[error("Timed out after {timeout:?} waiting for {awaited} from the {peer}")]
    SyncTimeout {
        peer: &'static str,
        awaited: String,
        timeout: Duration,
    },

    #[error("The {peer} closed the sync channel (it exited or died) while {awaited} was awaited")]
    SyncEof { peer: &'static str, awaited: String },

    #[error("Expected message {expected} from the {peer} but received {got}")]
    SyncUnexpected {
        peer: &'static str,
        expected: u8,
        got: u8,
    },

    #[error("Malformed message from the {peer} ({len} bytes)")]
    SyncMalformed { peer: &'static str, len: usize },

    #[error("The {peer} failed: {message}")]
    PeerFailed { peer: &'static str, message: String },

    #[error("Cannot open a pidfd for process {pid}")]
    PidfdOpen {
        pid: i32,
        #[source]
        source: Errno,
    },

    #[error("Cannot send signal {signal} to process {pid}")]
    Signal {
        pid: i32,
        signal: String,
        #[source]
        source: Errno,
    },

    #[error("Cannot wait for process {pid}")]
    Wait {
        pid: i32,
        #[source]
        source: Errno,
    },

    #[error("Process {pid} exited before its namespaces could be joined")]
    ProcessGone { pid: i32 },

    #[error("Cannot open namespace file {path}")]
    OpenNamespace {
        path: PathBuf,
        #[source]
        source: Errno,
    },

    #[error("Cannot join the {namespaces} namespace(s) of process {pid}")]
    Setns {
        pid: i32,
        namespaces: String,
        #[source]
        source: Errno,
    },

    #[error("Cannot unshare a new {namespaces} namespace")]
    Unshare {
        namespaces: String,
        #[source]
        source: Errno,
    },

    #[error("Invalid mount option '{option}': {reason}")]
    MountOption {
        option: String,
        reason: &'static str,
    },

    #[error("Invalid fstab line '{line}': {reason}")]
    FstabLine { line: String, reason: &'static str },

    #[error("Cannot mount {device} on {target} (type {fstype}, options {options})")]
    Mount {
        device: String,
        /// The target as the container sees it.
        target: PathBuf,
        fstype: String,
        options: String,
        #[source]
        source: Errno,
    },

    #[error("Cannot {action} {path} inside the rootfs {rootfs}")]
    InRoot {
        action: &'static str,
        /// The path as the container sees it.
        path: PathBuf,
        rootfs: PathBuf,
        #[source]
        source: Errno,
    },

    #[error("Cannot {action} {path}")]
    Fs {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: Errno,
    },

    #[error("Cannot set the hostname to '{hostname}'")]
    Hostname {
        hostname: String,
        #[source]
        source: Errno,
    },

    #[error("Refusing to set up a rootfs in the mount namespace of pid 1 (the child must be cloned with a new mount namespace)")]
    SharedMountNamespace,

    /// The caller's step of [`crate::setup_rootfs_with`] failed; its
    /// message says what and why.
    #[error("{message}")]
    RootfsStep {
        stage: crate::RootfsStage,
        message: String,
    },

    #[error("Cannot pivot_root into {rootfs}")]
    PivotRoot {
        rootfs: PathBuf,
        #[source]
        source: Errno,
    },

    #[error("Cannot {action} (pseudo-terminal)")]
    Pty {
        action: &'static str,
        #[source]
        source: Errno,
    },

    #[error("Cannot {action} of the terminal")]
    Terminal {
        action: &'static str,
        #[source]
        source: Errno,
    },

    #[error("Cannot drop capability {cap} from the {set} set")]
    DropCapability {
        cap: String,
        set: &'static str,
        #[source]
        source: caps::errors::CapsError,
    },
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
