//! `enclos doctor`: what an unprivileged user's container needs from the
//! host, checked one piece at a time, each problem with its fix.
//!
//! LXC users get stuck on "Failed to find subuid or subgid allocation",
//! "newuidmap failed to write mapping", cgroups they cannot write and home
//! directories the container's root cannot enter. Each of those is a
//! [`Check`] here, and each check gives [`Finding`]s: a status (ok,
//! warning, problem), what was found, and the command that fixes it.
//!
//! The checks, one module each:
//! - `userns`: user namespaces are enabled (`user.max_user_namespaces`,
//!   `kernel.unprivileged_userns_clone` where it exists);
//! - `subids`: the user's ranges in /etc/subuid and /etc/subgid cover the
//!   container's `lxc.idmap` lines;
//! - `helpers`: newuidmap and newgidmap are installed and setuid root;
//! - `access`: the container's root (the host uid that container uid 0
//!   maps to) may enter every directory above the rootfs;
//! - `cgroups`: the user owns a delegated cgroup with the controllers the
//!   container needs;
//! - `usernic`: for a config with veths, the setuid enclos-user-nic is
//!   installed and the usernet file gives the user a veth on each bridge.
//!
//! Every system path is a field of [`HostPaths`], so the checks run on
//! fake trees in tests. [`diagnose`] runs them all; a start that failed
//! runs [`findings_for_start_failure`] with the kind of its failure, which
//! runs only the checks that concern it:
//!
//! ```no_run
//! use enclos_container::doctor::{self, HostPaths, StartFailure, Subject};
//! # fn f(c: &enclos_container::Container, e: &enclos_idmap::Error) -> enclos_container::Result<()> {
//! let host = HostPaths::default();
//! let subject = Subject::for_container(c, doctor::calling_user(&host))?;
//! for f in doctor::findings_for_start_failure(&host, &subject, StartFailure::from(e)) {
//!     eprintln!("{f}");
//! }
//! # Ok(()) }
//! ```

mod access;
mod cgroups;
mod helpers;
mod subids;
mod subject;
mod usernic;
mod userns;

use std::fmt;
use std::path::{Path, PathBuf};

use enclos_idmap::{SubIdPaths, HELPER_DIRS};
use serde::Serialize;

use crate::container::{default_config_path, Container};
use crate::error::Result;

pub use enclos_idmap::Owner;
pub use subject::{calling_user, Subject};

/// The checks, in the order they run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Check {
    /// User namespaces are enabled for this user.
    UserNamespaces,
    /// The user's subordinate ids cover the container's id maps.
    Subids,
    /// newuidmap and newgidmap are installed and setuid root.
    UidmapHelpers,
    /// The container's root may enter every directory above its rootfs.
    RootfsAccess,
    /// The user owns a delegated cgroup with the needed controllers.
    Cgroups,
    /// enclos-user-nic is setuid root and the usernet file allows the
    /// user's veths.
    UserNic,
}

impl Check {
    /// Every check, in the order [`diagnose`] runs them.
    pub const ALL: [Check; 6] = [
        Check::UserNamespaces,
        Check::Subids,
        Check::UidmapHelpers,
        Check::RootfsAccess,
        Check::Cgroups,
        Check::UserNic,
    ];

    /// The name of the check, as `--format json` writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Check::UserNamespaces => "user_namespaces",
            Check::Subids => "subids",
            Check::UidmapHelpers => "uidmap_helpers",
            Check::RootfsAccess => "rootfs_access",
            Check::Cgroups => "cgroups",
            Check::UserNic => "user_nic",
        }
    }
}

impl fmt::Display for Check {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a check went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Ok,
    /// Containers work, with something missing (limits, freeze).
    Warning,
    /// An unprivileged container cannot start until it is fixed.
    Problem,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Warning => "warning",
            Status::Problem => "problem",
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One result of one check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub check: Check,
    pub status: Status,
    /// What was found, as a sentence without a final period.
    pub detail: String,
    /// The command or change that fixes it (none when all is well).
    pub fix: Option<String>,
}

impl Finding {
    pub(crate) fn ok(check: Check, detail: impl Into<String>) -> Finding {
        Finding {
            check,
            status: Status::Ok,
            detail: detail.into(),
            fix: None,
        }
    }

    pub(crate) fn problem(
        check: Check,
        detail: impl Into<String>,
        fix: impl Into<String>,
    ) -> Finding {
        Finding {
            check,
            status: Status::Problem,
            detail: detail.into(),
            fix: Some(fix.into()),
        }
    }

    pub(crate) fn warning(
        check: Check,
        detail: impl Into<String>,
        fix: impl Into<String>,
    ) -> Finding {
        Finding {
            status: Status::Warning,
            ..Finding::problem(check, detail, fix)
        }
    }
}

impl fmt::Display for Finding {
    /// `problem rootfs_access: ...; fix: chmod o+x /home/lxcnp`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}: {}", self.status, self.check, self.detail)?;
        if let Some(fix) = &self.fix {
            write!(f, "; fix: {fix}")?;
        }
        Ok(())
    }
}

/// The system files the checks read, each a parameter so that tests can
/// point them at a temporary tree. [`HostPaths::default`] is this host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostPaths {
    /// `/proc/sys`: `user/max_user_namespaces`,
    /// `kernel/unprivileged_userns_clone`.
    pub proc_sys: PathBuf,
    /// `/etc/subuid` and `/etc/subgid`.
    pub subids: SubIdPaths,
    /// Where newuidmap and newgidmap are looked for.
    pub helper_dirs: Vec<String>,
    /// The user database, read as a file (see [`calling_user`]).
    pub passwd: PathBuf,
    /// The mount table the cgroup hierarchies are found in.
    pub mountinfo: PathBuf,
    /// The calling process's cgroups (`/proc/self/cgroup`).
    pub proc_cgroup: PathBuf,
    /// The group database (a user's groups in the usernet rules).
    pub group: PathBuf,
    /// The usernet files, the first that exists wins.
    pub usernet: Vec<PathBuf>,
    /// The setuid helper that makes a user's veths.
    pub user_nic: PathBuf,
}

impl Default for HostPaths {
    fn default() -> HostPaths {
        HostPaths {
            proc_sys: PathBuf::from("/proc/sys"),
            subids: SubIdPaths::default(),
            helper_dirs: HELPER_DIRS.iter().map(|d| d.to_string()).collect(),
            passwd: PathBuf::from(crate::userns::PASSWD),
            mountinfo: PathBuf::from(enclos_cgroupfs::MOUNTINFO),
            proc_cgroup: PathBuf::from("/proc/self/cgroup"),
            group: PathBuf::from("/etc/group"),
            usernet: enclos_net::usernic::Paths::default().usernet,
            user_nic: crate::user_net::helper(),
        }
    }
}

/// The findings of one check.
pub fn run_check(check: Check, host: &HostPaths, subject: &Subject) -> Vec<Finding> {
    match check {
        Check::UserNamespaces => userns::check(host, subject),
        Check::Subids => subids::check(host, subject),
        Check::UidmapHelpers => helpers::check(host, subject),
        Check::RootfsAccess => access::check(subject),
        Check::Cgroups => cgroups::check(host, subject),
        Check::UserNic => usernic::check(host, subject),
    }
}

/// Every check, in order.
pub fn diagnose(host: &HostPaths, subject: &Subject) -> Vec<Finding> {
    Check::ALL
        .iter()
        .flat_map(|c| run_check(*c, host, subject))
        .collect()
}

/// `enclos doctor`: every check for the calling user and the container
/// `name` of `lxcpath`, or, without a name, the user's default
/// configuration ([`crate::default_config_path`]) for the containers to
/// come in `lxcpath`. Fails when the container does not exist or a
/// configuration is invalid.
pub fn doctor(host: &HostPaths, lxcpath: &Path, name: Option<&str>) -> Result<Vec<Finding>> {
    let user = calling_user(host);
    let subject = match name {
        Some(n) => Subject::for_container(&Container::open(lxcpath, n)?, user)?,
        None => Subject::for_default_config(lxcpath, &default_config_path(), user)?,
    };
    Ok(diagnose(host, &subject))
}

/// Whether any finding is a problem (`enclos doctor` then exits 1).
pub fn has_problem(findings: &[Finding]) -> bool {
    findings.iter().any(|f| f.status == Status::Problem)
}

/// What an unprivileged start failed at, for
/// [`findings_for_start_failure`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartFailure {
    /// Creating the user namespace failed (clone or unshare with
    /// CLONE_NEWUSER: EPERM, ENOSPC, EINVAL).
    UserNamespace,
    /// Writing uid_map or gid_map failed, or newuidmap/newgidmap refused
    /// the map ("newuidmap failed to write mapping").
    IdMap,
    /// newuidmap or newgidmap is missing or not setuid root.
    Helpers,
    /// The container's root could not reach its rootfs (EACCES on
    /// pivot_root, a mount or the exec of init).
    RootfsAccess,
    /// The container's cgroup could not be created or joined.
    Cgroup,
    /// Anything else: every check runs.
    Other,
}

impl StartFailure {
    /// The checks that concern this failure.
    pub fn checks(self) -> &'static [Check] {
        match self {
            StartFailure::UserNamespace => &[Check::UserNamespaces],
            StartFailure::IdMap => &[Check::Subids, Check::UidmapHelpers],
            StartFailure::Helpers => &[Check::UidmapHelpers],
            StartFailure::RootfsAccess => &[Check::RootfsAccess],
            StartFailure::Cgroup => &[Check::Cgroups],
            StartFailure::Other => &Check::ALL,
        }
    }
}

impl From<&enclos_idmap::Error> for StartFailure {
    /// The failure a map-writing error stands for.
    fn from(e: &enclos_idmap::Error) -> StartFailure {
        match e {
            enclos_idmap::Error::HelperMissing { .. }
            | enclos_idmap::Error::HelperNotSetuid { .. } => StartFailure::Helpers,
            _ => StartFailure::IdMap,
        }
    }
}

/// The findings that explain a failed start: the checks that concern
/// `failure`, problems and warnings only (an "ok" explains nothing).
///
/// A start as a user that fails calls this and prints each finding under
/// its error, e.g. after `write_maps` failed:
/// `findings_for_start_failure(&HostPaths::default(), &subject,
/// StartFailure::from(&err))`.
pub fn findings_for_start_failure(
    host: &HostPaths,
    subject: &Subject,
    failure: StartFailure,
) -> Vec<Finding> {
    failure
        .checks()
        .iter()
        .flat_map(|c| run_check(*c, host, subject))
        .filter(|f| f.status != Status::Ok)
        .collect()
}

#[cfg(test)]
pub(crate) mod fake;
