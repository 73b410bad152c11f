//! What the running Linux kernel offers system containers, as LXC's
//! `lxc-checkconfig` tells it: namespaces, cgroup controllers (v1, v2 or
//! hybrid), the user namespace sysctls, overlay, btrfs, loop, veth,
//! bridge, macvlan, vlan, seccomp, AppArmor and idmapped mounts.
//!
//! [`check`] reads the kernel's configuration ([`KernelConfig`], from
//! `/proc/config.gz` or `/boot/config-RELEASE`) and probes what a
//! configuration cannot tell: a namespace in `/proc/self/ns`, a filesystem
//! in `/proc/filesystems`, a loaded module in `/sys/module`, a sysctl, a
//! mounted cgroup controller. Every path is a field of [`Host`].
#![forbid(unsafe_code)]

mod cgroups;
mod config;
mod error;
mod features;
mod host;

pub use config::{candidates, find, KernelConfig};
pub use error::{Error, Result};
pub use host::Host;

use serde::Serialize;

/// What a feature is part of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Group {
    /// Where the kernel configuration came from.
    Kernel,
    Namespaces,
    /// The user namespace sysctls.
    Userns,
    Cgroups,
    Filesystems,
    Network,
    Security,
}

impl Group {
    /// The group's name, as printed.
    pub fn as_str(self) -> &'static str {
        match self {
            Group::Kernel => "kernel",
            Group::Namespaces => "namespaces",
            Group::Userns => "userns",
            Group::Cgroups => "cgroups",
            Group::Filesystems => "filesystems",
            Group::Network => "network",
            Group::Security => "security",
        }
    }
}

/// Whether the kernel offers a feature.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Built in, a module, or seen working.
    Enabled,
    /// Not built, turned off, or not there.
    Missing,
    /// Neither the configuration (none found) nor a probe could tell.
    Unknown,
}

impl Status {
    /// The status's name, as printed.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Enabled => "enabled",
            Status::Missing => "missing",
            Status::Unknown => "unknown",
        }
    }
}

/// One feature and what the kernel says of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub group: Group,
    /// The feature (`pid namespace`, `overlay`, `cgroup memory`).
    pub feature: String,
    pub status: Status,
    /// What was seen: the config option and its value, the probe's answer.
    pub detail: String,
    /// What to do when it is missing.
    pub fix: Option<String>,
    /// Whether containers cannot run without it (the others are needed by
    /// some configurations only).
    pub required: bool,
}

/// Checks every feature on the host whose paths `host` names, in the
/// order they are printed.
pub fn check(host: &Host) -> Vec<Finding> {
    let config = host.kernel_config();
    let mut out = vec![features::config_source(config.as_ref())];
    let cfg = config.as_ref().map(|(_, c)| c);
    out.extend(features::namespaces(host, cfg));
    out.extend(features::userns_sysctls(host));
    out.extend(cgroups::check(host, cfg));
    out.extend(features::filesystems(host, cfg));
    out.extend(features::network(host, cfg));
    out.extend(features::security(host, cfg));
    out
}

/// Whether a feature containers cannot run without is missing.
pub fn has_missing_required(findings: &[Finding]) -> bool {
    findings
        .iter()
        .any(|f| f.required && f.status == Status::Missing)
}

#[cfg(test)]
mod tests;
