//! Dropping capabilities (`lxc.cap.drop`, `lxc.cap.keep`) before exec.

use std::collections::HashSet;

use ::caps::CapSet;
pub use ::caps::Capability;

use crate::error::{Error, Result};

/// Parses a capability as LXC writes it: `sys_module`, `mac_admin` (any
/// case, `CAP_` prefix optional), or its number (`16`). Names and numbers
/// are the `caps` crate's table ([`Capability`]'s `FromStr`, [`caps::all`]).
pub fn parse_capability(name: &str) -> Result<Capability> {
    let trimmed = name.trim();
    let cap = match trimmed.parse::<u8>() {
        Ok(n) => ::caps::all().into_iter().find(|c| c.index() == n),
        // "" and "cap_" become "CAP_", which is no capability.
        Err(_) => ::caps::to_canonical(trimmed).parse().ok(),
    };
    cap.ok_or_else(|| Error::UnknownCapability {
        name: name.to_owned(),
    })
}

/// Parses a list of names; the first unknown one is the error.
pub fn parse_capabilities<S: AsRef<str>>(names: &[S]) -> Result<HashSet<Capability>> {
    names.iter().map(|n| parse_capability(n.as_ref())).collect()
}

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
    let supported = ::caps::runtime::thread_all_supported();
    let drop: Vec<Capability> = drop
        .iter()
        .copied()
        .filter(|c| supported.contains(c))
        .collect();
    if drop.is_empty() {
        return Ok(());
    }
    let bounding =
        ::caps::read(None, CapSet::Bounding).map_err(drop_err(drop[0], CapSet::Bounding))?;
    for &cap in &drop {
        if bounding.contains(&cap) {
            ::caps::drop(None, CapSet::Bounding, cap).map_err(drop_err(cap, CapSet::Bounding))?;
        }
    }
    if ::caps::runtime::ambient_set_supported().is_ok() {
        let ambient =
            ::caps::read(None, CapSet::Ambient).map_err(drop_err(drop[0], CapSet::Ambient))?;
        for &cap in &drop {
            if ambient.contains(&cap) {
                ::caps::drop(None, CapSet::Ambient, cap).map_err(drop_err(cap, CapSet::Ambient))?;
            }
        }
    }
    for set in [CapSet::Inheritable, CapSet::Effective, CapSet::Permitted] {
        let mut current = ::caps::read(None, set).map_err(drop_err(drop[0], set))?;
        let before = current.len();
        for cap in &drop {
            current.remove(cap);
        }
        if current.len() != before {
            ::caps::set(None, set, &current).map_err(drop_err(drop[0], set))?;
        }
    }
    tracing::debug!(dropped = ?drop, "dropped capabilities");
    Ok(())
}

/// `lxc.cap.drop`: drops the named capabilities (LXC names, see
/// [`parse_capability`]). Nothing is dropped if one name is unknown.
pub fn drop_capabilities<S: AsRef<str>>(drop: &[S]) -> Result<()> {
    drop_set(&parse_capabilities(drop)?)
}

/// `lxc.cap.keep`: drops every capability but the named ones; `none` (alone
/// or among them) keeps nothing.
pub fn keep_only<S: AsRef<str>>(keep: &[S]) -> Result<()> {
    let names: Vec<&str> = keep
        .iter()
        .map(|s| s.as_ref())
        .filter(|s| !s.trim().eq_ignore_ascii_case("none"))
        .collect();
    let none = names.len() != keep.len();
    let keep = if none {
        HashSet::new()
    } else {
        parse_capabilities(&names)?
    };
    let drop: HashSet<Capability> = ::caps::all()
        .into_iter()
        .filter(|c| !keep.contains(c))
        .collect();
    drop_set(&drop)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case("sys_module", Capability::CAP_SYS_MODULE)]
    #[case("mac_admin", Capability::CAP_MAC_ADMIN)]
    #[case("SYS_ADMIN", Capability::CAP_SYS_ADMIN)]
    #[case("CAP_NET_RAW", Capability::CAP_NET_RAW)]
    #[case(" sys_time ", Capability::CAP_SYS_TIME)]
    #[case("16", Capability::CAP_SYS_MODULE)]
    #[case("0", Capability::CAP_CHOWN)]
    fn parses_lxc_names(#[case] name: &str, #[case] cap: Capability) {
        assert_eq!(parse_capability(name).unwrap(), cap);
    }

    #[rstest]
    #[case("sys_modul")]
    #[case("")]
    #[case("cap_")]
    #[case("99")]
    fn rejects_unknown_names(#[case] name: &str) {
        let err = parse_capability(name).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("Unknown capability '{name}' (expected a name such as sys_module or mac_admin, or a number)")
        );
    }

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
            if drop_capabilities(&["sys_module", "MAC_ADMIN"]).is_err() {
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
            if keep_only(&["sys_admin", "setpcap"]).is_err() {
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
            if keep_only(&["none"]).is_err() {
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

    #[test]
    fn unknown_name_in_a_list_drops_nothing() {
        let err = drop_capabilities(&["sys_module", "bogus_cap"]).unwrap_err();
        assert!(err.to_string().contains("'bogus_cap'"));
        let err = keep_only(&["sys_admin", "bogus_cap"]).unwrap_err();
        assert!(err.to_string().contains("'bogus_cap'"));
    }
}
