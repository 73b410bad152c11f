//! The key table cannot lie: every key that `enclos-config`'s table calls
//! supported has a case here that shows its effect on a real container
//! (the file inside it, the value in its cgroup or /proc, what the host
//! sees), and a supported key with no case fails
//! [`every_supported_key_has_a_case`].
//!
//! Each area of keys lives in a module of its own with a `CASES` list of
//! [`Case`]s; each case is also a `#[test]` of its own, so a failing key
//! shows by name. Add the module to [`AREAS`] when you add one.

use std::path::PathBuf;

use enclos_config::{Support, KEYS};
use enclos_tests::lab::{Lab, Out};

mod basics;
mod cgroups;
mod limits;
mod logs;
mod monitor;
mod mounts;
mod net;
mod security;
mod terminals;

mod console;
mod hooks;
mod idmap;
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
    basics::CASES,
    terminals::CASES,
    mounts::CASES,
    cgroups::CASES,
    security::CASES,
    limits::CASES,
    monitor::CASES,
    logs::CASES,
    net::CASES,
    console::CASES,
    hooks::CASES,
    namespaces::CASES,
    signals::CASES,
    idmap::CASES,
];

/// A busybox container of `lab` with `keys` added at the end of its
/// configuration (so they come after the template's own keys).
pub fn with_keys(lab: &Lab, tag: &str, keys: &str) -> String {
    let n = lab.create(tag);
    append(lab, &n, keys);
    n
}

/// Adds lines at the end of container `name`'s configuration.
pub fn append(lab: &Lab, name: &str, keys: &str) {
    use std::io::Write;
    let path = config_path(lab, name);
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .unwrap_or_else(|e| panic!("open {}: {e}", path.display()));
    writeln!(f, "{keys}").expect("append to the config");
}

pub fn config_path(lab: &Lab, name: &str) -> PathBuf {
    lab.path().join(name).join("config")
}

/// A started busybox container with `keys` added.
pub fn running_with(lab: &Lab, tag: &str, keys: &str) -> String {
    let n = with_keys(lab, tag, keys);
    lab.start(&n);
    n
}

/// What `cmd` prints in container `name`, trimmed; the command must
/// succeed.
pub fn inside(lab: &Lab, name: &str, cmd: &str) -> String {
    let out: Out = lab.attach(name, &["sh", "-c", cmd]);
    assert!(out.ok(), "`{cmd}` in {name}: {out:#?}");
    out.stdout.trim().to_string()
}

/// A file of /proc/<pid>/ as the host reads it.
pub fn host_proc(pid: i32, file: &str) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/{file}"))
        .unwrap_or_else(|e| panic!("read /proc/{pid}/{file}: {e}"))
}

#[test]
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
