//! seccomp profiles, no_new_privs, and the capabilities of attached
//! processes, as the host sees them in /proc/PID/status.

use std::os::unix::process::CommandExt;

use enclos_tests::lab::*;
use enclos_tests::require_root;

use crate::{config_path, running_with, with_keys};

/// A profile of the test's own, in its lab.
fn profile(lab: &Lab, text: &str) -> String {
    lab.conf("deny.seccomp", text).display().to_string()
}

/// The host pid of a `sleep` attached to `name` with `flags`.
fn attached_sleep(lab: &Lab, name: &str, flags: &[&str]) -> i32 {
    let mut args = vec!["-n", name];
    args.extend_from_slice(flags);
    args.extend_from_slice(&["--", "sh", "-c", "sleep 600 >/dev/null 2>&1 & echo $!"]);
    let out = lab.enclos("attach", &args).success();
    let nspid: i32 = out.stdout.trim().parse().expect("a pid");
    host_pid(name, nspid).expect("the sleep, seen from the host")
}

fn status(pid: i32, field: &str) -> String {
    proc_status(pid, field).unwrap_or_else(|| panic!("{field} of {pid}"))
}

fn caps(pid: i32, field: &str) -> u64 {
    u64::from_str_radix(&status(pid, field), 16).expect("hex capabilities")
}

const DENY_MKDIR: &str = "2\ndenylist\nreject_force_umount\n[all]\nmkdir errno 1\n";

#[test]
pub fn seccomp_profile_denies_its_calls_in_init_and_attach() {
    if !require_root("seccomp_profile_denies_its_calls_in_init_and_attach") {
        return;
    }
    let lab = Lab::new();
    let p = profile(&lab, DENY_MKDIR);
    let n = running_with(
        &lab,
        "scmp",
        &format!("lxc.seccomp.profile = {p}\nlxc.init.cmd = /bin/sleep 4242"),
    );
    let init = lab.init_pid(&n);
    assert_eq!(status(init, "Seccomp"), "2", "init runs under a filter");
    // An attached command: mkdir answers EPERM, the rest runs.
    let out = lab.attach(&n, &["mkdir", "/tmp/denied"]);
    assert_eq!(out.code, Some(1), "{out:#?}");
    assert!(out.stderr.contains("Operation not permitted"), "{out:#?}");
    let out = lab.attach(&n, &["sh", "-c", "touch /tmp/f && echo ok"]);
    assert_eq!(out.stdout.trim(), "ok", "{out:#?}");
    // reject_force_umount: umount -f fails with EACCES, umount works.
    let out = lab.attach(&n, &["sh", "-c", "mount -t tmpfs t /tmp && umount -f /tmp"]);
    assert_ne!(out.code, Some(0), "{out:#?}");
    assert!(out.stderr.contains("Permission denied"), "{out:#?}");
    let out = lab.attach(&n, &["umount", "/tmp"]);
    assert!(out.ok(), "{out:#?}");
    let sleep = attached_sleep(&lab, &n, &[]);
    assert_eq!(status(sleep, "Seccomp"), "2", "attached processes too");
}

#[test]
fn a_bad_seccomp_profile_is_its_file_and_line_and_no_start() {
    if !require_root("a_bad_seccomp_profile_is_its_file_and_line_and_no_start") {
        return;
    }
    let lab = Lab::new();
    let p = profile(&lab, "2\ndenylist\nmkdir errno one\n");
    let n = with_keys(&lab, "sbad", &format!("lxc.seccomp.profile = {p}"));
    let line = std::fs::read_to_string(config_path(&lab, &n))
        .unwrap()
        .lines()
        .count();
    let out = lab.enclos("start", &["-n", &n]);
    assert_one_error_line(
        &out,
        &format!(
            "Container '{n}' cannot start with its seccomp profile (lxc.seccomp.profile at {}:{line}): {p}:3: 'one' is not an errno (expected a number from 0 to 4095)",
            config_path(&lab, &n).display()
        ),
    );
    assert_eq!(lab.state(&n), "STOPPED");
    assert_eq!(cgroup_dirs(&n), Vec::<std::path::PathBuf>::new());
    // A profile that does not exist is named too.
    let n = with_keys(
        &lab,
        "smiss",
        "lxc.seccomp.profile = /nonexistent/x.seccomp",
    );
    let out = lab.enclos("start", &["-n", &n]);
    assert_one_error_line(
        &out,
        "Cannot read the seccomp profile /nonexistent/x.seccomp: No such file or directory",
    );
}

/// `enclos start` run under an allow-everything seccomp filter, as a
/// nested container's monitor would be.
fn start_confined(lab: &Lab, name: &str) {
    let mut cmd = lab.cmd("start", &["-n", name]);
    // SAFETY: the closure only builds a filter on the stack and makes one
    // syscall (async-signal-safe).
    unsafe {
        cmd.pre_exec(|| {
            let allow = libc::sock_filter {
                code: 0x06,
                jt: 0,
                jf: 0,
                k: libc::SECCOMP_RET_ALLOW,
            };
            let prog = libc::sock_fprog {
                len: 1,
                filter: &allow as *const libc::sock_filter as *mut libc::sock_filter,
            };
            let rc = libc::syscall(
                libc::SYS_seccomp,
                libc::SECCOMP_SET_MODE_FILTER,
                0,
                &prog as *const libc::sock_fprog,
            );
            if rc < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    run(cmd).success();
}

#[test]
pub fn seccomp_allow_nesting_stacks_the_profile_under_a_filter() {
    if !require_root("seccomp_allow_nesting_stacks_the_profile_under_a_filter") {
        return;
    }
    let lab = Lab::new();
    let p = profile(&lab, DENY_MKDIR);
    let keys = format!("lxc.seccomp.profile = {p}\nlxc.init.cmd = /bin/sleep 4242");
    // Under a filter already, LXC (and enclos) load no profile...
    let plain = with_keys(&lab, "snest0", &keys);
    start_confined(&lab, &plain);
    assert_eq!(status(lab.init_pid(&plain), "Seccomp_filters"), "1");
    // ...unless lxc.seccomp.allow_nesting = 1 stacks it on top.
    let nested = with_keys(
        &lab,
        "snest1",
        &format!("{keys}\nlxc.seccomp.allow_nesting = 1"),
    );
    start_confined(&lab, &nested);
    let filters: u32 = status(lab.init_pid(&nested), "Seccomp_filters")
        .parse()
        .unwrap();
    assert!(filters > 1, "the profile stacked: {filters} filters");
}

#[test]
pub fn no_new_privs_holds_for_init_and_attach() {
    if !require_root("no_new_privs_holds_for_init_and_attach") {
        return;
    }
    let lab = Lab::new();
    let n = running_with(
        &lab,
        "nnp",
        "lxc.no_new_privs = 1\nlxc.init.cmd = /bin/sleep 4242",
    );
    assert_eq!(status(lab.init_pid(&n), "NoNewPrivs"), "1");
    let sleep = attached_sleep(&lab, &n, &[]);
    assert_eq!(status(sleep, "NoNewPrivs"), "1");
    let as_user = attached_sleep(&lab, &n, &["-u", "1000", "-g", "1000"]);
    assert_eq!(status(as_user, "NoNewPrivs"), "1");
    // Without the key, neither has it.
    let free = running_with(&lab, "nnp0", "lxc.init.cmd = /bin/sleep 4242");
    assert_eq!(status(lab.init_pid(&free), "NoNewPrivs"), "0");
    assert_eq!(status(attached_sleep(&lab, &free, &[]), "NoNewPrivs"), "0");
}

const CAP_SYS_MODULE: u32 = 16;
const CAP_SYS_ADMIN: u32 = 21;
const CAP_MKNOD: u32 = 27;

#[test]
fn attached_processes_lose_what_init_lost() {
    if !require_root("attached_processes_lose_what_init_lost") {
        return;
    }
    let lab = Lab::new();
    let n = running_with(
        &lab,
        "capat",
        "lxc.cap.drop =\nlxc.cap.drop = sys_module mknod\nlxc.init.cmd = /bin/sleep 4242",
    );
    let dropped = (1u64 << CAP_SYS_MODULE) | (1 << CAP_MKNOD);
    let init = lab.init_pid(&n);
    for pid in [init, attached_sleep(&lab, &n, &[])] {
        for set in ["CapBnd", "CapEff", "CapPrm", "CapInh", "CapAmb"] {
            assert_eq!(caps(pid, set) & dropped, 0, "{set} of {pid}");
        }
        assert_ne!(caps(pid, "CapBnd") & (1 << CAP_SYS_ADMIN), 0, "kept");
        assert_ne!(caps(pid, "CapEff") & (1 << CAP_SYS_ADMIN), 0, "kept");
    }
    // Same bounding set for init and the attached process.
    assert_eq!(
        caps(init, "CapBnd"),
        caps(attached_sleep(&lab, &n, &[]), "CapBnd")
    );
    // A user attached with -u has no effective capabilities, and cannot
    // get the dropped ones back through a setuid binary: the bounding set
    // is the container's.
    let user = attached_sleep(&lab, &n, &["-u", "1000", "-g", "1000"]);
    assert_eq!(caps(user, "CapEff"), 0);
    assert_eq!(caps(user, "CapBnd"), caps(init, "CapBnd"));
}
