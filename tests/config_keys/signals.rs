//! `lxc.signal.halt`, `lxc.signal.reboot` and `lxc.signal.stop`: the
//! container's init gets the configured signal, by number (realtime
//! signals such as systemd's SIGRTMIN+3 included), from `stop`, `stop -r`
//! and `stop -k`.

use std::os::unix::fs::PermissionsExt;

use enclos_tests::lab::*;
use enclos_tests::require_root;

pub const CASES: &[crate::Case] = &[
    crate::Case {
        pattern: "lxc.signal.halt",
        test: signal_halt_reaches_init_by_number,
    },
    crate::Case {
        pattern: "lxc.signal.reboot",
        test: signal_reboot_reaches_init_by_number,
    },
    crate::Case {
        pattern: "lxc.signal.stop",
        test: signal_stop_is_what_stop_kill_sends,
    },
];

/// The file init writes the number of the signal it got into.
const GOT: &str = "got-signal";

/// SIGRTMIN+`n` as the C library numbers it.
fn rtmin(n: i32) -> i32 {
    libc::SIGRTMIN() + n
}

/// A container whose init is a shell script that, on any of the signals
/// a stop may send (SIGINT, SIGUSR1, SIGPWR, SIGRTMIN+3 to +5), writes
/// the signal's number to /got-signal and exits.
fn trapping_container(lab: &Lab, tag: &str, keys: &str) -> String {
    let n = lab.name(tag);
    lab.create_with(&n, "");
    // After the template's own signal keys (busybox's halt is SIGUSR1).
    let config = lab.path().join(&n).join("config");
    let mut text = std::fs::read_to_string(&config).expect("read the config");
    text.push_str(&format!("lxc.init.cmd = /trap-init\n{keys}"));
    std::fs::write(&config, text).expect("write the config");
    let mut script = String::from("#!/bin/sh\n");
    for sig in [2, 10, 30, rtmin(3), rtmin(4), rtmin(5)] {
        script.push_str(&format!("trap 'echo {sig} > /{GOT}; exit 0' {sig}\n"));
    }
    script.push_str("while :; do sleep 1000 & wait $!; done\n");
    let path = lab.path().join(&n).join("rootfs/trap-init");
    std::fs::write(&path, script).expect("write the init script");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    lab.start(&n);
    n
}

/// The number init wrote, once it has.
fn received(lab: &Lab, name: &str) -> Option<i32> {
    let path = lab.path().join(name).join("rootfs").join(GOT);
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

#[test]
pub fn signal_halt_reaches_init_by_number() {
    if !require_root("signal_halt_reaches_init_by_number") {
        return;
    }
    let lab = Lab::new();
    let n = trapping_container(&lab, "halt", "lxc.signal.halt = SIGRTMIN+3\n");
    let init = lab.init_pid(&n);
    let out = lab.enclos("stop", &["-n", &n, "-t", "60"]);
    assert!(out.ok(), "{out:#?}");
    assert_eq!(received(&lab, &n), Some(rtmin(3)), "the signal init got");
    lab.assert_stopped_and_clean(&n, Some(init));
}

#[test]
pub fn signal_reboot_reaches_init_by_number() {
    if !require_root("signal_reboot_reaches_init_by_number") {
        return;
    }
    let lab = Lab::new();
    let n = trapping_container(&lab, "reboot", "lxc.signal.reboot = SIGRTMIN+4\n");
    let init = lab.init_pid(&n);
    lab.enclos("stop", &["-n", &n, "-r"]).success();
    // This init exits on the signal instead of rebooting: the container
    // stops.
    poll(SETTLE, || (lab.state(&n) == "STOPPED").then_some(()))
        .expect("the container stops once init has its reboot signal");
    assert_eq!(received(&lab, &n), Some(rtmin(4)), "the signal init got");
    lab.assert_stopped_and_clean(&n, Some(init));
}

#[test]
pub fn signal_stop_is_what_stop_kill_sends() {
    if !require_root("signal_stop_is_what_stop_kill_sends") {
        return;
    }
    let lab = Lab::new();
    let n = trapping_container(&lab, "stopsig", "lxc.signal.stop = SIGUSR1\n");
    let init = lab.init_pid(&n);
    let out = lab.enclos("stop", &["-n", &n, "-k"]);
    assert!(out.ok(), "{out:#?}");
    assert_eq!(
        received(&lab, &n),
        Some(libc::SIGUSR1),
        "the signal init got"
    );
    lab.assert_stopped_and_clean(&n, Some(init));
}
