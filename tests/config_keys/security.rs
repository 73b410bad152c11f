//! Capabilities, and the confinement keys enclos reads but does not apply
//! (reported, or refused with their reason).

use enclos_tests::lab::*;
use enclos_tests::require_root;

use crate::{config_path, running_with, with_keys, Case};

pub const CASES: &[Case] = &[
    Case {
        pattern: "lxc.cap.drop",
        test: cap_drop_leaves_the_bounding_set,
    },
    Case {
        pattern: "lxc.cap.keep",
        test: cap_keep_is_the_whole_bounding_set,
    },
];

/// init's capability bounding set as the host sees it.
fn bounding_set(pid: i32) -> u64 {
    let hex = proc_status(pid, "CapBnd").expect("CapBnd");
    u64::from_str_radix(&hex, 16).expect("hex CapBnd")
}

const CAP_NET_ADMIN: u32 = 12;
const CAP_SYS_MODULE: u32 = 16;
const CAP_SYS_ADMIN: u32 = 21;
const CAP_MKNOD: u32 = 27;

#[test]
pub fn cap_drop_leaves_the_bounding_set() {
    if !require_root("cap_drop_leaves_the_bounding_set") {
        return;
    }
    let lab = Lab::new();
    let n = running_with(
        &lab,
        "cdrop",
        "lxc.cap.drop =\nlxc.cap.drop = sys_module mknod\nlxc.init.cmd = /bin/sleep 4242",
    );
    let bnd = bounding_set(lab.init_pid(&n));
    assert_eq!(
        bnd & (1 << CAP_SYS_MODULE),
        0,
        "sys_module dropped: {bnd:x}"
    );
    assert_eq!(bnd & (1 << CAP_MKNOD), 0, "mknod dropped: {bnd:x}");
    assert_ne!(bnd & (1 << CAP_SYS_ADMIN), 0, "sys_admin kept: {bnd:x}");
    // Inside, mknod is refused.
    let out = lab.attach(&n, &["mknod", "/tmp/null2", "c", "1", "3"]);
    assert_ne!(out.code, Some(0), "{out:#?}");
}

#[test]
pub fn cap_keep_is_the_whole_bounding_set() {
    if !require_root("cap_keep_is_the_whole_bounding_set") {
        return;
    }
    let lab = Lab::new();
    let n = running_with(
        &lab,
        "ckeep",
        "lxc.cap.drop =\nlxc.cap.keep = net_admin sys_admin\nlxc.init.cmd = /bin/sleep 4242",
    );
    assert_eq!(
        bounding_set(lab.init_pid(&n)),
        (1 << CAP_NET_ADMIN) | (1 << CAP_SYS_ADMIN)
    );
}

#[test]
fn seccomp_profile_refuses_the_start_with_its_reason() {
    if !require_root("seccomp_profile_refuses_the_start_with_its_reason") {
        return;
    }
    let lab = Lab::new();
    let n = with_keys(
        &lab,
        "secc",
        "lxc.seccomp.profile = /usr/share/lxc/config/common.seccomp",
    );
    let line = std::fs::read_to_string(config_path(&lab, &n))
        .unwrap()
        .lines()
        .count();
    let out = lab.enclos("start", &["-n", &n]);
    assert_one_error_line(
        &out,
        &format!(
            "{}:{line}: Key 'lxc.seccomp.profile' is not supported by enclos yet: seccomp comes with the confinement issue",
            config_path(&lab, &n).display()
        ),
    );
    assert_eq!(lab.state(&n), "STOPPED");
    assert_eq!(cgroup_dirs(&n), Vec::<std::path::PathBuf>::new());
}

#[test]
fn apparmor_keys_are_one_warning_without_apparmor_and_refused_with_it() {
    if !require_root("apparmor_keys_are_one_warning_without_apparmor_and_refused_with_it") {
        return;
    }
    let lab = Lab::new();
    // Debian's default.conf.
    let n = with_keys(
        &lab,
        "aa",
        "lxc.apparmor.profile = generated\nlxc.apparmor.allow_nesting = 1",
    );
    let out = lab.enclos("start", &["-n", &n]);
    if std::path::Path::new("/sys/kernel/security/apparmor").exists() {
        // enclos does not load profiles yet: it never runs unconfined a
        // container that asked for confinement.
        assert_one_error_line(&out, "this host runs AppArmor, but enclos does not confine");
        assert_eq!(cgroup_dirs(&n), Vec::<std::path::PathBuf>::new());
        return;
    }
    assert!(out.ok(), "{out:#?}");
    let lines: Vec<&str> = out.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "one warning line: {out:#?}");
    assert!(
        lines[0].starts_with("Warning: this host has no AppArmor: lxc.apparmor.profile (")
            && lines[0].ends_with("not applied"),
        "{out:#?}"
    );
    assert!(
        lines[0].contains("lxc.apparmor.allow_nesting ("),
        "{out:#?}"
    );
    assert_eq!(lab.state(&n), "RUNNING");
}
