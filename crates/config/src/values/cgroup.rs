//! The container's cgroup values: `lxc.cgroup.*` and `lxc.cgroup2.*`
//! settings, and the cgroup part of `lxc.mount.auto`.

use serde::Serialize;

use crate::error::Origin;

/// One `lxc.cgroup.*` (version 1) or `lxc.cgroup2.*` (version 2) line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CgroupSetting {
    pub version: u8,
    /// The controller file: `devices.allow`, `memory.max`, ...
    pub key: String,
    pub value: String,
    pub origin: Origin,
}

/// The access asked for the cgroup mounts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CgroupMode {
    /// No specifier: `rw` if the container keeps CAP_SYS_ADMIN, `mixed`
    /// otherwise.
    Default,
    Mixed,
    Ro,
    Rw,
}

/// `cgroup[:mode][:force]` or `cgroup-full[:mode][:force]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct CgroupAuto {
    /// `cgroup-full`: the host's whole hierarchies, not only the
    /// container's own cgroup.
    pub full: bool,
    pub mode: CgroupMode,
    /// `:force`: mount even when the container has a cgroup namespace.
    pub force: bool,
}

impl CgroupAuto {
    /// Reads what follows `cgroup:` or `cgroup-full:` (`full`) in
    /// `lxc.mount.auto`: `[mode][:force]`, `force` alone, or nothing.
    pub(super) fn parse(full: bool, spec: &str) -> Result<CgroupAuto, ()> {
        let (mode, force) = match spec.split_once(':') {
            Some((mode, "force")) => (mode, true),
            Some(_) => return Err(()),
            None if spec == "force" => ("", true),
            None => (spec, false),
        };
        let mode = match mode {
            "" => CgroupMode::Default,
            "mixed" => CgroupMode::Mixed,
            "ro" => CgroupMode::Ro,
            "rw" => CgroupMode::Rw,
            _ => return Err(()),
        };
        Ok(CgroupAuto { full, mode, force })
    }
}
