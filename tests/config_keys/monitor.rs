//! The monitor's keys: the signal init gets when the monitor dies, and
//! the monitor's own mount namespace.

use std::process::Stdio;

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use enclos_tests::lab::*;
use enclos_tests::require_root;

use crate::cgroups::{read_pids_of, TopGroups};
use crate::{running_with, with_keys, Case};

pub const CASES: &[Case] = &[
    Case {
        pattern: "lxc.monitor.signal.pdeath",
        test: monitor_signal_pdeath_reaches_init_when_the_monitor_dies,
    },
    Case {
        pattern: "lxc.monitor.unshare",
        test: monitor_unshare_gives_the_monitor_its_own_mount_namespace,
    },
];

/// The monitor's pid, as it records it.
fn monitor_pid(lab: &Lab, name: &str) -> i32 {
    let path = lab.path().join(name).join(".enclos/monitor.pid");
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
        .trim()
        .parse()
        .expect("a pid")
}

/// Kills the monitor of `name` and waits until it is gone; returns init's
/// pid.
fn kill_monitor(lab: &Lab, name: &str) -> i32 {
    let init = lab.init_pid(name);
    let monitor = monitor_pid(lab, name);
    assert_eq!(
        proc_status(init, "PPid").as_deref(),
        Some(monitor.to_string().as_str()),
        "the monitor is init's parent"
    );
    kill(Pid::from_raw(monitor), Signal::SIGKILL).unwrap();
    assert!(
        poll(SETTLE, || (!alive(monitor)).then_some(())).is_some(),
        "monitor {monitor} survived SIGKILL"
    );
    init
}

#[test]
pub fn monitor_signal_pdeath_reaches_init_when_the_monitor_dies() {
    if !require_root("monitor_signal_pdeath_reaches_init_when_the_monitor_dies") {
        return;
    }
    let lab = Lab::new();
    // Unset: SIGKILL, as in LXC.
    let n = running_with(&lab, "pdeath", "lxc.init.cmd = /bin/sleep 4242");
    let init = kill_monitor(&lab, &n);
    assert!(
        poll(SETTLE, || (!alive(init)).then_some(())).is_some(),
        "init {init} outlived its monitor"
    );
    // SIGUSR2 is busybox init's poweroff: it ends the container. (A PID 1
    // without a handler ignores every signal from the host but SIGKILL.)
    let named = running_with(&lab, "pdeath2", "lxc.monitor.signal.pdeath = SIGUSR2");
    let init = kill_monitor(&lab, &named);
    assert!(
        poll(SETTLE, || (!alive(init)).then_some(())).is_some(),
        "busybox init {init} did not power off on SIGUSR2"
    );
    // 0: init outlives its monitor (the signal would have been sent when
    // the monitor exited, before it was gone).
    let keep = running_with(
        &lab,
        "pdeath0",
        "lxc.init.cmd = /bin/sleep 4242\nlxc.monitor.signal.pdeath = 0",
    );
    let init = kill_monitor(&lab, &keep);
    assert!(alive(init), "init {init} died with its monitor");
}

#[test]
pub fn monitor_unshare_gives_the_monitor_its_own_mount_namespace() {
    if !require_root("monitor_unshare_gives_the_monitor_its_own_mount_namespace") {
        return;
    }
    let lab = Lab::new();
    let ns = |pid: &str| std::fs::read_link(format!("/proc/{pid}/ns/mnt")).expect("ns/mnt");
    let n = running_with(&lab, "munsh", "lxc.monitor.unshare = 1");
    let monitor = monitor_pid(&lab, &n).to_string();
    assert_ne!(ns(&monitor), ns("self"));
    let plain = running_with(&lab, "munsh0", "");
    let monitor = monitor_pid(&lab, &plain).to_string();
    assert_eq!(ns(&monitor), ns("self"));
}

/// A daemonized monitor leaves the cgroup of whatever started it (a login
/// session, a unit that a service manager kills first at shutdown) for a
/// group of its own, `enclos.monitor.NAME`, on every hierarchy; the group
/// goes when the container stops, and after a killed monitor at the next
/// `enclos ls`.
#[test]
pub fn daemonized_monitor_runs_in_a_cgroup_of_its_own() {
    if !require_root("daemonized_monitor_runs_in_a_cgroup_of_its_own") {
        return;
    }
    let lab = Lab::new();
    let n = with_keys(&lab, "moncg", "");
    let top = format!("enclos-kt-starter-{}", std::process::id());
    let starter = TopGroups::make(&top);
    let mut start = lab.cmd("start", &["-n", &n]);
    start
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    starter.place(&mut start);
    let out = start.output().expect("run enclos start");
    assert!(
        out.status.success(),
        "start from {top}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let monitor = monitor_pid(&lab, &n);
    let own = format!("/{MONITOR_CGROUP_PREFIX}{n}");
    let groups = std::fs::read_to_string(format!("/proc/{monitor}/cgroup")).unwrap();
    for line in groups.lines() {
        assert_eq!(
            line.splitn(3, ':').nth(2),
            Some(own.as_str()),
            "/proc/{monitor}/cgroup of the monitor: {groups}"
        );
    }
    for m in cgroup_mounts() {
        let dir = m.path.join(&top);
        assert_eq!(
            read_pids_of(&dir),
            Vec::<i32>::new(),
            "the starter's group {} keeps an enclos process",
            dir.display()
        );
    }
    lab.enclos("stop", &["-n", &n, "-k"]).success();
    lab.assert_stopped_and_clean(&n, None);

    // A killed monitor leaves its group; the next ls removes it.
    lab.start(&n);
    assert_eq!(monitor_cgroup_dirs(&n).len(), cgroup_mounts().len());
    let init = kill_monitor(&lab, &n);
    assert!(
        poll(SETTLE, || (!alive(init)).then_some(())).is_some(),
        "init {init} outlived its monitor"
    );
    assert_ne!(monitor_cgroup_dirs(&n), Vec::<std::path::PathBuf>::new());
    lab.enclos("ls", &[]).success();
    lab.assert_stopped_and_clean(&n, Some(init));
}
