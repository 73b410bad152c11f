//! The monitor, a host process and the parent of init, is out of the
//! container's reach: not in its /proc (so not ptraceable: ptrace needs
//! a pid of the namespace), and its host pid names nothing to signal.

use enclos_tests::lab::*;

use super::{attempt, running, Kind};

pub fn monitor_out_of_reach(kind: Kind) {
    let lab = Lab::new();
    let n = running(&lab, kind, "mon", "");
    let pid_file = lab.path().join(&n).join(".enclos").join("monitor.pid");
    let monitor: i32 = std::fs::read_to_string(&pid_file)
        .unwrap_or_else(|e| panic!("read {}: {e}", pid_file.display()))
        .trim()
        .parse()
        .expect("a pid");
    let script = format!(
        "for p in /proc/[0-9]*; do tr '\\0' ' ' <$p/cmdline; echo; done; \
         kill -STOP {monitor} && echo STOPPED; kill -KILL {monitor} && echo KILLED"
    );
    let out = attempt(&lab, &n, &script);
    assert!(
        !out.stdout.contains(lab.path_str()),
        "the monitor shows in the container: {out:#?}"
    );
    assert!(
        !out.lines()
            .iter()
            .any(|l| *l == "STOPPED" || *l == "KILLED"),
        "the monitor took a signal from the container: {out:#?}"
    );
    let state = proc_status(monitor, "State").expect("the monitor's status");
    assert!(
        state.starts_with('S') || state.starts_with('R'),
        "the monitor: {state}"
    );
    assert_eq!(proc_status(monitor, "TracerPid").as_deref(), Some("0"));
    assert_eq!(lab.state(&n), "RUNNING");
}
