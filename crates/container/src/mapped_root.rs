//! The container's root in its user namespace (`lxc.idmap`): what init
//! becomes once its maps are written, and what attach becomes after
//! joining it.

use nix::errno::Errno;
use nix::unistd::{Gid, Uid};

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
