//! A graceful `stop` of a busybox container that has been attached to
//! and has settled: busybox init then sits idle in sigtimedwait(2), where
//! the /proc status of init shows the halt signal neither caught nor
//! blocked. The stop must still deliver it at once and end with the
//! container STOPPED, its init and every process of the attached command
//! gone, and no cgroup left.

use std::time::Duration;

use enclos_tests::lab::*;
use enclos_tests::require_root;

/// Waits (at most 5 s) until init idles in sigtimedwait, as it does
/// between two events.
fn wait_idle(init: i32) -> bool {
    poll(Duration::from_secs(5), || {
        std::fs::read_to_string(format!("/proc/{init}/wchan"))
            .ok()
            .filter(|w| w.contains("sigtimedwait"))
    })
    .is_some()
}

#[test]
fn a_graceful_stop_after_an_attach_ends_every_process() {
    if !require_root("a_graceful_stop_after_an_attach_ends_every_process") {
        return;
    }
    let lab = Lab::new();
    let name = lab.running("i10perf-sa");
    let init = lab.init_pid(&name);
    // A command that leaves a process behind it, and one that does not.
    lab.attach(&name, &["sh", "-c", "sleep 300 & echo started"])
        .success();
    lab.attach(&name, &["true"]).success();
    let before = cgroup_procs(&name);
    assert!(before.contains(&init), "init {init} not in {before:?}");
    assert!(
        before.len() > 1,
        "the attached sleep is not in the container's cgroup: {before:?}"
    );
    assert!(wait_idle(init), "init {init} never waited for signals");
    lab.enclos("stop", &["-n", &name]).success();
    lab.assert_stopped_and_clean(&name, Some(init));
    for pid in before {
        assert!(
            poll(Duration::from_secs(5), || (!alive(pid)).then_some(())).is_some(),
            "process {pid} of {name} survived the stop"
        );
    }
}
