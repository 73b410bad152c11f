//! The crate's error.

use std::path::PathBuf;

/// What went wrong with an id map.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Reading or writing a file failed.
    #[error("Cannot {action} {path}")]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A line of /etc/subuid or /etc/subgid is malformed.
    #[error("{}:{line}: {reason}", path.display())]
    SubIdSyntax {
        path: PathBuf,
        line: usize,
        reason: String,
    },
    /// A user has no range in /etc/subuid or /etc/subgid.
    #[error("User {user} has no subordinate {ids} in {}; {hint}", path.display())]
    NoSubIds {
        path: PathBuf,
        user: String,
        ids: &'static str,
        hint: String,
    },
    /// A tree holds an id that the map does not cover.
    #[error("{holder} of {} is {id_name} {id}, which no lxc.idmap line covers on its {side} side; add a line that covers it, or chown the file to a mapped id first", path.display())]
    Unmapped {
        path: PathBuf,
        /// What holds the id: "The owner", "An ACL entry"...
        holder: &'static str,
        /// "uid" or "gid".
        id_name: &'static str,
        id: u32,
        /// "container" or "host": where the id was looked up.
        side: &'static str,
    },
    /// Reading or writing an extended attribute failed.
    #[error("Cannot {action} the {name} attribute of {}", path.display())]
    Xattr {
        action: &'static str,
        name: String,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// An extended attribute holds bytes the kernel would not have written.
    #[error("{reason} in the {name} attribute of {}; remove it (setfattr -x {name}) or fix it", path.display())]
    BadXattr {
        path: PathBuf,
        name: String,
        reason: String,
    },
    /// A user namespace could not be made.
    #[error("Cannot create a user namespace; check that user namespaces are enabled (sysctl user.max_user_namespaces above 0, and kernel.unprivileged_userns_clone=1 where that sysctl exists)")]
    UserNamespace {
        #[source]
        source: nix::errno::Errno,
    },
    /// The kernel or the filesystem cannot make an idmapped mount; the
    /// caller shifts the tree's ids instead.
    #[error("Cannot make an idmapped mount of {}: {hint}; shift the tree's ids instead", path.display())]
    IdmappedMountUnsupported {
        path: PathBuf,
        hint: &'static str,
        #[source]
        source: nix::errno::Errno,
    },
    /// A mount call failed.
    #[error("Cannot {action} {}", path.display())]
    Mount {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: nix::errno::Errno,
    },
    /// newuidmap or newgidmap is not installed.
    #[error("{tool} is not installed: the maps of an unprivileged user's container are written by it; install Debian's uidmap package (apt-get install uidmap)")]
    HelperMissing { tool: &'static str },
    /// newuidmap or newgidmap is there but not setuid root.
    #[error("{path} is not setuid root, so it cannot write maps for other users; run as root: chmod u+s {path}")]
    HelperNotSetuid { path: PathBuf },
    /// newuidmap or newgidmap refused the map.
    #[error("{tool} refused the map {map:?} for process {pid}: {output}; check the user's ranges in /etc/subuid and /etc/subgid")]
    HelperFailed {
        tool: &'static str,
        pid: i32,
        map: String,
        output: String,
    },
}

pub type Result<T> = std::result::Result<T, Error>;
