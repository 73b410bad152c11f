//! The id map the tests give a container that root runs unprivileged.

use std::path::PathBuf;

use enclos_config::{IdMap, IdMaps};

use crate::lab::Lab;

/// The container's root on the host.
pub const ROOT: u32 = 165536;

/// Its `lxc.idmap` lines.
pub const MAPS: &str = "lxc.idmap = u 0 165536 65536\nlxc.idmap = g 0 165536 65536\n";

/// [`MAPS`] parsed.
pub fn maps() -> IdMaps {
    IdMaps::new(
        MAPS.lines()
            .map(|l| IdMap::parse(l.split_once('=').unwrap().1).unwrap())
            .collect(),
    )
}

/// The rootfs directory of container `name` in `lab`.
pub fn rootfs(lab: &Lab, name: &str) -> PathBuf {
    lab.path().join(name).join("rootfs")
}
