//! The key table cannot lie: every key that `enclos-config`'s table calls
//! supported has a case here that shows its effect on a real container
//! (the file inside it, the value in its cgroup or /proc, what the host
//! sees), and a supported key with no case fails
//! [`every_supported_key_has_a_case`].
//!
//! Each area of keys lives in a module of its own with a `CASES` list of
//! [`Case`]s; each case is also a `#[test]` of its own, so a failing key
//! shows by name. Add the module to [`AREAS`] when you add one.

use enclos_config::{Support, KEYS};

mod console;
mod hooks;
mod namespaces;
mod signals;

/// A key pattern of the table (`lxc.hook.pre-start`, `lxc.prlimit.*`,
/// `lxc.net.#.type`) and a test that shows its effect.
#[derive(Debug, Clone, Copy)]
pub struct Case {
    pub pattern: &'static str,
    pub test: fn(),
}

/// Every area's cases.
const AREAS: &[&[Case]] = &[
    console::CASES,
    hooks::CASES,
    namespaces::CASES,
    signals::CASES,
];

#[test]
#[ignore = "the cases are being written (issue 7); the key-table work removes this"]
fn every_supported_key_has_a_case() {
    let covered: Vec<&str> = AREAS
        .iter()
        .flat_map(|a| a.iter().map(|c| c.pattern))
        .collect();
    let missing: Vec<&str> = KEYS
        .iter()
        .filter(|spec| spec.support == Support::Supported)
        .map(|spec| spec.pattern)
        .filter(|p| !covered.contains(p))
        .collect();
    let unknown: Vec<&str> = covered
        .iter()
        .copied()
        .filter(|p| {
            !KEYS
                .iter()
                .any(|spec| spec.pattern == *p && spec.support == Support::Supported)
        })
        .collect();
    assert!(
        unknown.is_empty(),
        "cases for patterns that are not supported keys of the table: {unknown:?}"
    );
    assert!(
        missing.is_empty(),
        "{} key(s) the table calls supported have no case showing their effect: {missing:?}",
        missing.len()
    );
}
