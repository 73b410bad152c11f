//! The container's root in its user namespace (`lxc.idmap`): what init
//! becomes once its maps are written and what attach becomes after
//! joining it, and how the rootfs shows it as the owner of its files
//! (recorded at start for `info`).

use serde::Serialize;

use crate::container::Container;
use crate::error::Result;

/// The run file that tells how the rootfs of a running unprivileged
/// container is mapped.
const RUN_FILE: &str = "rootfs.idmap";

/// uid and gid 0 of the user namespace (its maps are written), with no
/// supplementary group of the host's: the container's root, with every
/// capability in its namespace.
pub(crate) fn become_root() -> std::result::Result<(), String> {
    enclos_namespaces::switch_ids(0, 0)
        .map_err(|e| format!("Cannot become the container's root in its user namespace: {e}"))
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
        RootfsIdmap::parse(&c.read_run_file(RUN_FILE)?)
    }

    /// Records how `c`'s rootfs is mapped for this run (`None`: not at
    /// all).
    pub(crate) fn record(c: &Container, how: Option<RootfsIdmap>) -> Result<()> {
        match how {
            Some(m) => c.write_run_file(RUN_FILE, m.as_str()),
            None => {
                c.clear_run_file(RUN_FILE);
                Ok(())
            }
        }
    }
}
