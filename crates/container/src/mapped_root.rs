//! The container's root in its user namespace (`lxc.idmap`): what init
//! becomes once its maps are written and what attach becomes after
//! joining it, and how the rootfs shows it as the owner of its files
//! (recorded at start for `info`).

use nix::errno::Errno;
use nix::unistd::{Gid, Uid};
use serde::Serialize;

use crate::container::Container;
use crate::error::Result;

/// The run file that tells how the rootfs of a running unprivileged
/// container is mapped.
const RUN_FILE: &str = "rootfs.idmap";

/// uid and gid 0 of the user namespace (its maps are written), with no
/// supplementary group of the host's: the container's root, with every
/// capability in its namespace.
pub(crate) fn become_root() -> Result<(), String> {
    let (uid, gid) = (Uid::from_raw(0), Gid::from_raw(0));
    nix::unistd::setresgid(gid, gid, gid).map_err(|e| {
        format!("Cannot become gid 0 in the user namespace (is gid 0 mapped?): {e}")
    })?;
    nix::unistd::setresuid(uid, uid, uid).map_err(|e| {
        format!("Cannot become uid 0 in the user namespace (is uid 0 mapped?): {e}")
    })?;
    match nix::unistd::setgroups(&[]) {
        // setgroups denied (the maps' writer chose so): no group to drop.
        Ok(()) | Err(Errno::EPERM) => Ok(()),
        Err(e) => Err(format!("Cannot drop the host's supplementary groups: {e}")),
    }
}

/// How the rootfs of an unprivileged container (`lxc.idmap`) shows the
/// container's owners.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RootfsIdmap {
    /// Its files belong to the mapped ids on disk (an unprivileged create,
    /// or a shifted tree): used as it is.
    OwnedByMap,
    /// Its files belong to host ids (a privileged create): an idmapped
    /// mount shows them as the mapped ids.
    IdmappedMount,
}

impl RootfsIdmap {
    /// The words of `info`: "owned by the map", "idmapped mount".
    pub fn as_str(self) -> &'static str {
        match self {
            RootfsIdmap::OwnedByMap => "owned by the map",
            RootfsIdmap::IdmappedMount => "idmapped mount",
        }
    }

    /// From [`RootfsIdmap::as_str`]'s words.
    pub fn parse(text: &str) -> Option<RootfsIdmap> {
        [RootfsIdmap::OwnedByMap, RootfsIdmap::IdmappedMount]
            .into_iter()
            .find(|m| m.as_str() == text.trim())
    }

    /// How the rootfs of running container `c` was mapped at its start
    /// (none: a privileged container).
    pub(crate) fn of_running(c: &Container) -> Option<RootfsIdmap> {
        let text = std::fs::read_to_string(c.run_file(RUN_FILE)).ok()?;
        RootfsIdmap::parse(&text)
    }

    /// Records how `c`'s rootfs is mapped for this run (`None`: not at
    /// all).
    pub(crate) fn record(c: &Container, how: Option<RootfsIdmap>) -> Result<()> {
        match how {
            Some(m) => c.write_run_file(RUN_FILE, m.as_str()),
            None => {
                let _ = std::fs::remove_file(c.run_file(RUN_FILE));
                Ok(())
            }
        }
    }
}
