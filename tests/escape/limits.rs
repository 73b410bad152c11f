//! Resource exhaustion held by the container's cgroup: a fork bomb by
//! the pids limit of the configuration, a memory hog by its memory
//! limit. Both are bounded (64 sleeps, one 256 MiB buffer), so a failed
//! limit costs the host nothing lasting.

use enclos_tests::lab::*;

use super::{attempt, running, Kind};

const PIDS_MAX: usize = 32;

/// The pids key of this host's pids controller (v1, else v2) and its
/// hierarchy.
fn pids_key() -> (&'static str, std::path::PathBuf) {
    let mounts = cgroup_mounts();
    if let Some(m) = mounts
        .iter()
        .find(|m| m.fstype == "cgroup" && m.options.iter().any(|o| o == "pids"))
    {
        return ("lxc.cgroup.pids.max", m.path.clone());
    }
    let m = mounts
        .iter()
        .find(|m| m.fstype == "cgroup2")
        .expect("a pids controller");
    ("lxc.cgroup2.pids.max", m.path.clone())
}

pub fn fork_bomb(kind: Kind) {
    let lab = Lab::new();
    let (key, mount) = pids_key();
    let n = running(&lab, kind, "bomb", &format!("{key} = {PIDS_MAX}\n"));
    let out = attempt(
        &lab,
        &n,
        "i=0; while [ $i -lt 64 ]; do sleep 60 & i=$((i+1)); done; echo forked $i",
    );
    assert!(
        !out.stdout.contains("forked 64"),
        "64 forks went through: {out:#?}"
    );
    let group = mount.join(format!("{CGROUP_PREFIX}{n}"));
    let max = std::fs::read_to_string(group.join("pids.max")).expect("pids.max");
    assert_eq!(max.trim(), PIDS_MAX.to_string());
    let events = std::fs::read_to_string(group.join("pids.events")).expect("pids.events");
    assert!(events.trim() != "max 0", "no fork was refused: {events}");
    // The pids hierarchy's own group, read once: the union over every
    // hierarchy is not one snapshot, and a process forked in one and one
    // exited in another between the reads would count twice.
    let current = std::fs::read_to_string(group.join("pids.current")).expect("pids.current");
    let current: usize = current.trim().parse().expect("pids.current is a number");
    assert!(current <= PIDS_MAX, "pids.current is {current}");
    let mut procs = std::collections::BTreeSet::new();
    collect_procs(&group, &mut procs);
    assert!(
        procs.len() <= PIDS_MAX,
        "{} processes in the container's pids group",
        procs.len()
    );
    assert_eq!(lab.state(&n), "RUNNING");
}

pub fn memory_hog(kind: Kind) {
    let lab = Lab::new();
    let mem = MemoryLimit::of_host();
    let limit = 64 * 1024 * 1024;
    let n = running(&lab, kind, "hog", &format!("{} = {limit}\n", mem.key));
    let out = attempt(
        &lab,
        &n,
        "dd if=/dev/zero of=/dev/null bs=256M count=1 2>/dev/null; echo rc=$?",
    );
    assert!(
        out.stdout.contains("rc=137"),
        "the hog was not killed: {out:#?}"
    );
    assert_eq!(mem.of(&n), limit.to_string(), "the container's limit");
    assert_eq!(lab.state(&n), "RUNNING", "the container survived its hog");
    assert_eq!(
        attempt(&lab, &n, "echo alive").stdout.trim(),
        "alive",
        "the container still runs commands"
    );
}
