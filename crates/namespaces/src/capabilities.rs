//! Dropping capabilities (`lxc.cap.drop`, `lxc.cap.keep`) before exec.
//! Names are read by enclos-config (`enclos_config::parse_capability`)
//! over the same table, the `caps` crate's [`Capability`].

use std::collections::HashSet;

use ::caps::CapSet;
pub use ::caps::Capability;

use crate::error::{Error, Result};

fn set_name(set: CapSet) -> &'static str {
    match set {
        CapSet::Ambient => "ambient",
        CapSet::Bounding => "bounding",
        CapSet::Effective => "effective",
        CapSet::Inheritable => "inheritable",
        CapSet::Permitted => "permitted",
    }
}

fn drop_err(cap: Capability, set: CapSet) -> impl FnOnce(::caps::errors::CapsError) -> Error {
    move |source| Error::DropCapability {
        cap: cap.to_string(),
        set: set_name(set),
        source,
    }
}

/// Drops `caps` from every set of the calling thread: bounding first (which
/// needs CAP_SETPCAP, still effective then), then ambient, inheritable,
/// effective and permitted. Capabilities this kernel does not know are
/// skipped. Affects the calling thread (and what it execs); call it in the
/// container's init before exec.
pub fn drop_set(drop: &HashSet<Capability>) -> Result<()> {
    // One question per capability to drop, not a read of whole sets: the
    // caps crate reads a bounding or ambient set with one prctl per
    // capability it knows (and its list of supported ones with as many
    // again), some 170 system calls for the four of LXC's default drop.
    let mut dropped: Vec<Capability> = Vec::with_capacity(drop.len());
    for &cap in drop {
        // EINVAL: a capability this kernel does not know, skipped.
        let Ok(bounded) = ::caps::has_cap(None, CapSet::Bounding, cap) else {
            continue;
        };
        if bounded {
            ::caps::drop(None, CapSet::Bounding, cap).map_err(drop_err(cap, CapSet::Bounding))?;
        }
        dropped.push(cap);
    }
    let Some(&first) = dropped.first() else {
        return Ok(());
    };
    if ::caps::runtime::ambient_set_supported().is_ok() {
        for &cap in &dropped {
            if ::caps::has_cap(None, CapSet::Ambient, cap)
                .map_err(drop_err(cap, CapSet::Ambient))?
            {
                ::caps::drop(None, CapSet::Ambient, cap).map_err(drop_err(cap, CapSet::Ambient))?;
            }
        }
    }
    for set in [CapSet::Inheritable, CapSet::Effective, CapSet::Permitted] {
        let mut current = ::caps::read(None, set).map_err(drop_err(first, set))?;
        let before = current.len();
        for cap in &dropped {
            current.remove(cap);
        }
        if current.len() != before {
            ::caps::set(None, set, &current).map_err(drop_err(first, set))?;
        }
    }
    tracing::debug!(?dropped, "dropped capabilities");
    Ok(())
}

/// `lxc.cap.drop`: drops these capabilities from every set.
pub fn drop_capabilities(drop: &[Capability]) -> Result<()> {
    drop_set(&drop.iter().copied().collect())
}

/// `lxc.cap.keep`: drops every capability but these (none: drop all).
pub fn keep_only(keep: &[Capability]) -> Result<()> {
    let drop: HashSet<Capability> = ::caps::all()
        .into_iter()
        .filter(|c| !keep.contains(c))
        .collect();
    drop_set(&drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn has(set: CapSet, cap: Capability) -> bool {
        ::caps::has_cap(None, set, cap).unwrap()
    }

    #[test]
    fn drop_removes_from_every_set() {
        let _serial = crate::serial();
        if !crate::require_root("drop_removes_from_every_set") {
            return;
        }
        crate::assert_child_ok(&[], || {
            if drop_capabilities(&[Capability::CAP_SYS_MODULE, Capability::CAP_MAC_ADMIN]).is_err()
            {
                return 2;
            }
            for set in [
                CapSet::Bounding,
                CapSet::Effective,
                CapSet::Permitted,
                CapSet::Inheritable,
            ] {
                if has(set, Capability::CAP_SYS_MODULE) || has(set, Capability::CAP_MAC_ADMIN) {
                    return 3;
                }
            }
            if !has(CapSet::Bounding, Capability::CAP_SYS_ADMIN)
                || !has(CapSet::Effective, Capability::CAP_SYS_ADMIN)
            {
                return 4;
            }
            0
        });
    }

    #[test]
    fn keep_only_leaves_the_named_ones() {
        let _serial = crate::serial();
        if !crate::require_root("keep_only_leaves_the_named_ones") {
            return;
        }
        crate::assert_child_ok(&[], || {
            if keep_only(&[Capability::CAP_SYS_ADMIN, Capability::CAP_SETPCAP]).is_err() {
                return 2;
            }
            let bounding = ::caps::read(None, CapSet::Bounding).unwrap();
            let expected: HashSet<Capability> =
                [Capability::CAP_SYS_ADMIN, Capability::CAP_SETPCAP].into();
            if bounding != expected || ::caps::read(None, CapSet::Effective).unwrap() != expected {
                return 3;
            }
            0
        });
        crate::assert_child_ok(&[], || {
            if keep_only(&[]).is_err() {
                return 2;
            }
            if !::caps::read(None, CapSet::Bounding).unwrap().is_empty()
                || !::caps::read(None, CapSet::Permitted).unwrap().is_empty()
            {
                return 3;
            }
            0
        });
    }
}
