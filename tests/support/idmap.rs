//! The id map the tests give a container that root runs unprivileged.

use std::os::unix::fs::PermissionsExt;
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

/// How the rootfs is left for a container with [`MAPS`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rootfs {
    /// Shifted onto the map (what an unprivileged create makes).
    Shifted,
    /// Left to host root (a privileged create): mounted idmapped.
    HostRoot,
}

/// A stopped busybox container made by root, with [`MAPS`] and the
/// `extra` keys, its rootfs as `how` says, as the course's unprivileged
/// user would get it: the lxcpath and the container's directory are
/// opened to the mapped root, as LXC does. Returns its name.
pub fn unprivileged(lab: &Lab, tag: &str, how: Rootfs, extra: &str) -> String {
    let n = lab.name(tag);
    lab.create_with(&n, "");
    std::fs::set_permissions(lab.path(), std::fs::Permissions::from_mode(0o711))
        .expect("open the lxcpath to the mapped root");
    std::os::unix::fs::chown(lab.path().join(&n), Some(ROOT), None)
        .expect("give the container's directory to the mapped root");
    if how == Rootfs::Shifted {
        enclos_idmap::shift_tree(&rootfs(lab, &n), &maps(), enclos_idmap::Direction::ToHost)
            .expect("shift the rootfs onto the map");
    }
    let config = lab.path().join(&n).join("config");
    let mut text = std::fs::read_to_string(&config).expect("read the config");
    text.push_str(MAPS);
    text.push_str(extra);
    std::fs::write(&config, text).expect("write the config");
    n
}
