//! The monitor's keys: the signal init gets when the monitor dies, and
//! the monitor's own mount namespace.

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use enclos_tests::lab::*;
use enclos_tests::require_root;

use crate::{running_with, Case};

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
