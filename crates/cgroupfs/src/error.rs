use std::io;
use std::path::PathBuf;

/// Everything that can go wrong in this crate. Each variant names the file,
/// group or key involved; messages start with a capital letter and leave the
/// underlying cause to `source()`.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("Cannot read {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: io::Error,
    },

    #[error("{path}:{line}: malformed mountinfo line: {reason}")]
    Mountinfo {
        path: PathBuf,
        line: usize,
        reason: String,
    },

    #[error("{path}:{line}: malformed cgroup membership line: {reason}")]
    ProcCgroup {
        path: PathBuf,
        line: usize,
        reason: String,
    },

    #[error("No cgroup hierarchy is mounted (nothing of type cgroup or cgroup2 in {mountinfo}); mount one, e.g. `mount -t cgroup2 none /sys/fs/cgroup`")]
    NoHierarchy { mountinfo: PathBuf },

    #[error("Unknown controller '{controller}': this host offers {available} (check the spelling; `lscgroup` lists the hierarchies)")]
    UnknownController {
        controller: String,
        available: String,
    },

    #[error("Controller '{controller}' has no interface files on cgroup v2 ({hint})")]
    NotOnV2 {
        controller: String,
        hint: &'static str,
    },

    #[error("Invalid group '{spec}': expected <controllers>:<path>, e.g. memory,cpu:helloworld")]
    InvalidSpec { spec: String },

    #[error("Invalid cgroup path '{path}': {reason}")]
    InvalidPath { path: String, reason: &'static str },

    #[error("Cgroup {group} does not exist (no directory {dir}); check the name with `lscgroup`, or create it with `cgcreate -g {group}`")]
    NotFound { group: String, dir: PathBuf },

    #[error("Cannot create cgroup directory {dir}")]
    Create {
        dir: PathBuf,
        #[source]
        source: io::Error,
    },

    #[error("Cannot enable controller '{controller}' for the children of {dir} (writing +{controller} to cgroup.subtree_control){hint}")]
    EnableController {
        controller: String,
        dir: PathBuf,
        hint: &'static str,
        #[source]
        source: io::Error,
    },

    #[error("Cannot create cgroup {group}")]
    CreateGroup {
        group: String,
        #[source]
        source: Box<Error>,
    },

    #[error("Cannot delete cgroup {group}")]
    DeleteGroup {
        group: String,
        #[source]
        source: Box<Error>,
    },

    #[error("No process with pid {pid}: check it with `ps -p {pid}`")]
    NoProcess { pid: i32 },

    #[error("Cannot move process {pid} into cgroup {group}")]
    AttachProcess {
        pid: i32,
        group: String,
        #[source]
        source: Box<Error>,
    },

    #[error("Cgroup {group} still holds {count} process(es) (pids {pids}); stop them first, or have them moved to the parent group or killed")]
    Populated {
        group: String,
        count: usize,
        pids: String,
    },

    #[error("Cgroup {group} has child groups ({children}); delete them too with -r (recursive)")]
    HasChildren { group: String, children: String },

    #[error("Cannot remove cgroup directory {dir}")]
    Remove {
        dir: PathBuf,
        #[source]
        source: io::Error,
    },

    #[error("Cannot write '{value}' to {file}{hint}")]
    Write {
        file: PathBuf,
        value: String,
        hint: String,
        #[source]
        source: io::Error,
    },

    #[error("Unexpected content in {file}: {reason}")]
    Parse { file: PathBuf, reason: String },

    #[error("Key '{key}' is not a cgroup interface file name")]
    InvalidKey { key: String },

    #[error("Setting '{setting}' is not available for cgroup {group} on this host: {reason}")]
    Unsupported {
        setting: &'static str,
        group: String,
        reason: String,
    },

    #[error("Invalid value '{value}' for {setting}: {reason}")]
    InvalidValue {
        setting: &'static str,
        value: String,
        reason: String,
    },

    #[error("Timed out after {waited_ms} ms waiting for {what} of cgroup {group}{hint}")]
    Timeout {
        what: &'static str,
        group: String,
        waited_ms: u128,
        hint: &'static str,
    },

    #[error("Cannot change owner or mode of {path}")]
    Chown {
        path: PathBuf,
        #[source]
        source: io::Error,
    },

    #[error("Cannot signal process {pid} in cgroup {group}")]
    Kill {
        pid: i32,
        group: String,
        #[source]
        source: nix::Error,
    },

    #[error("Invalid mode '{value}': expected an octal number such as 644")]
    InvalidMode { value: String },

    #[error("Unknown {what} '{name}': no such {what} in the {what} database; create it or give a number")]
    UnknownId { what: &'static str, name: String },

    #[error("Cannot look up {what} '{name}'")]
    Lookup {
        what: &'static str,
        name: String,
        #[source]
        source: nix::Error,
    },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Hints for common errno values when writing to a cgroup file, so that the
/// user learns what to do and not only what failed.
pub(crate) fn write_hint(file: &std::path::Path, err: &io::Error) -> String {
    let name = file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let hint = match (err.raw_os_error(), name.as_str()) {
        (Some(libc::EINVAL), _) => "the kernel refused the value; check its unit and range in the kernel's cgroup documentation",
        (Some(libc::ENOSPC), "cgroup.procs" | "tasks") => "the group has no CPUs or memory nodes: set cpuset.cpus and cpuset.mems first",
        (Some(libc::ESRCH), "cgroup.procs" | "tasks" | "cgroup.threads") => "no such process",
        (Some(libc::EBUSY), "cgroup.subtree_control") => "the group holds processes itself; on cgroup v2 only leaf groups may hold processes",
        (Some(libc::EBUSY), _) => "the value is in use; on memory limits, usage may be above the new limit",
        (Some(libc::EOPNOTSUPP), "cgroup.procs" | "cgroup.threads") => "on cgroup v2 processes can only be placed in leaf groups or threaded subtrees",
        (Some(libc::EACCES | libc::EPERM), _) => "permission denied: run as root or ask for a delegated group",
        (Some(libc::ENOENT), _) => "the file does not exist: the controller may not be enabled for this group or the key is misspelled",
        _ => return String::new(),
    };
    format!(" ({hint})")
}
