//! What init's process gets: resource limits, sysctls, /proc settings,
//! its session keyring, core scheduling.

use std::os::unix::process::CommandExt;

use enclos_tests::lab::*;
use enclos_tests::require_root;

use crate::{host_proc, inside, running_with, with_keys, Case};

pub const CASES: &[Case] = &[
    Case {
        pattern: "lxc.prlimit.*",
        test: prlimit_sets_init_s_limits,
    },
    Case {
        pattern: "lxc.prlimit",
        test: prlimit_clears_the_limits,
    },
    Case {
        pattern: "lxc.sysctl.*",
        test: sysctl_is_set_in_the_container_s_namespaces,
    },
    Case {
        pattern: "lxc.sysctl",
        test: sysctl_clears_the_sysctls,
    },
    Case {
        pattern: "lxc.proc.*",
        test: proc_writes_init_s_proc_files,
    },
    Case {
        pattern: "lxc.proc",
        test: proc_clears_the_proc_settings,
    },
    Case {
        pattern: "lxc.keyring.session",
        test: keyring_session_gives_init_its_own_keyring,
    },
    Case {
        pattern: "lxc.sched.core",
        test: sched_core_gives_init_a_core_scheduling_domain,
    },
];

/// The `Max open files` soft and hard limits of `pid`.
fn nofile(pid: i32) -> (String, String) {
    let limits = host_proc(pid, "limits");
    let line = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .expect("Max open files");
    let f: Vec<&str> = line["Max open files".len()..].split_whitespace().collect();
    (f[0].to_string(), f[1].to_string())
}

#[test]
pub fn prlimit_sets_init_s_limits() {
    if !require_root("prlimit_sets_init_s_limits") {
        return;
    }
    let lab = Lab::new();
    let n = running_with(
        &lab,
        "prl",
        "lxc.prlimit.nofile = 100:200\nlxc.prlimit.core = unlimited\nlxc.prlimit.nproc = 5000",
    );
    let pid = lab.init_pid(&n);
    assert_eq!(nofile(pid), ("100".into(), "200".into()));
    let limits = host_proc(pid, "limits");
    let core = limits
        .lines()
        .find(|l| l.starts_with("Max core file size"))
        .unwrap();
    assert_eq!(
        core.split_whitespace().skip(4).take(2).collect::<Vec<_>>(),
        ["unlimited", "unlimited"],
        "{core}"
    );
    let nproc = limits
        .lines()
        .find(|l| l.starts_with("Max processes"))
        .unwrap();
    assert_eq!(
        nproc.split_whitespace().skip(2).take(2).collect::<Vec<_>>(),
        ["5000", "5000"],
        "{nproc}"
    );
    // An unknown resource refuses the start and names its line.
    let bad = with_keys(&lab, "prlbad", "lxc.prlimit.files = 10");
    let out = lab.enclos("start", &["-n", &bad]);
    assert_one_error_line(&out, "unknown resource in lxc.prlimit.files");
    assert_eq!(cgroup_dirs(&bad), Vec::<std::path::PathBuf>::new());
}

#[test]
pub fn prlimit_clears_the_limits() {
    if !require_root("prlimit_clears_the_limits") {
        return;
    }
    let lab = Lab::new();
    let n = running_with(&lab, "prlc", "lxc.prlimit.nofile = 100:200\nlxc.prlimit =");
    assert_ne!(nofile(lab.init_pid(&n)), ("100".into(), "200".into()));
}

#[test]
pub fn sysctl_is_set_in_the_container_s_namespaces() {
    if !require_root("sysctl_is_set_in_the_container_s_namespaces") {
        return;
    }
    let lab = Lab::new();
    let n = running_with(
        &lab,
        "sysc",
        "lxc.sysctl.kernel.domainname = kdomain\nlxc.sysctl.net.ipv4.ip_forward = 1",
    );
    assert_eq!(
        inside(&lab, &n, "cat /proc/sys/kernel/domainname"),
        "kdomain"
    );
    assert_eq!(inside(&lab, &n, "cat /proc/sys/net/ipv4/ip_forward"), "1");
    // In the container's UTS namespace, not the host's.
    assert_ne!(
        std::fs::read_to_string("/proc/sys/kernel/domainname")
            .unwrap()
            .trim(),
        "kdomain"
    );
}

#[test]
pub fn sysctl_clears_the_sysctls() {
    if !require_root("sysctl_clears_the_sysctls") {
        return;
    }
    let lab = Lab::new();
    let n = running_with(
        &lab,
        "sysclr",
        "lxc.sysctl.kernel.domainname = kdomain\nlxc.sysctl =",
    );
    assert_eq!(
        inside(&lab, &n, "cat /proc/sys/kernel/domainname"),
        "(none)"
    );
}

#[test]
pub fn proc_writes_init_s_proc_files() {
    if !require_root("proc_writes_init_s_proc_files") {
        return;
    }
    let lab = Lab::new();
    let n = running_with(&lab, "procs", "lxc.proc.oom_score_adj = 123");
    assert_eq!(host_proc(lab.init_pid(&n), "oom_score_adj").trim(), "123");
}

#[test]
pub fn proc_clears_the_proc_settings() {
    if !require_root("proc_clears_the_proc_settings") {
        return;
    }
    let lab = Lab::new();
    let n = running_with(&lab, "procc", "lxc.proc.oom_score_adj = 123\nlxc.proc =");
    assert_eq!(host_proc(lab.init_pid(&n), "oom_score_adj").trim(), "0");
}

/// The keyrings init can see, as /proc/keys lists them inside (written to
/// /keys by init before it execs /sbin/init), when `start` ran in a
/// session keyring named `session` that only its possessors can see.
fn keys_seen_by_init(lab: &Lab, tag: &str, keys: &str, session: &str) -> String {
    let n = with_keys(
        lab,
        tag,
        &format!(
            "{keys}\nlxc.init.cmd = /bin/sh -c \"cat /proc/keys > /keys; exec /bin/sleep 4242\""
        ),
    );
    let mut cmd = lab.cmd("start", &["-n", &n]);
    let name = std::ffi::CString::new(session).unwrap();
    // SAFETY: between fork and exec, only keyctl(2) system calls on the
    // child's own credentials; `name` outlives the command.
    unsafe {
        cmd.pre_exec(move || {
            let id = libc::syscall(
                libc::SYS_keyctl,
                1, /* JOIN_SESSION_KEYRING */
                name.as_ptr(),
            );
            if id < 0 {
                return Err(std::io::Error::last_os_error());
            }
            // Possessor: everything; nobody else sees it.
            if libc::syscall(libc::SYS_keyctl, 5 /* SETPERM */, id, 0x3f00_0000u32) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    run(cmd).success();
    let seen = lab.path().join(&n).join("rootfs/keys");
    poll(SETTLE, || {
        std::fs::read_to_string(&seen)
            .ok()
            .filter(|s| !s.is_empty())
    })
    .unwrap_or_else(|| panic!("{} never written", seen.display()))
}

#[test]
pub fn keyring_session_gives_init_its_own_keyring() {
    if !require_root("keyring_session_gives_init_its_own_keyring") {
        return;
    }
    if !std::path::Path::new("/proc/keys").exists() {
        enclos_tests::missing_feature(
            "keyring_session_gives_init_its_own_keyring",
            "kernel keyrings (/proc/keys)",
        );
        return;
    }
    let lab = Lab::new();
    let session = format!("enclos-keys-{}", std::process::id());
    // By default, as LXC, init gets a new session keyring: it no longer
    // possesses the one start ran in.
    let own = keys_seen_by_init(&lab, "kr1", "", &session);
    assert!(!own.contains(&session), "{own}");
    assert!(own.contains("_ses"), "its own session keyring: {own}");
    // lxc.keyring.session = 0: init keeps it.
    let kept = keys_seen_by_init(&lab, "kr0", "lxc.keyring.session = 0", &session);
    assert!(kept.contains(&session), "{kept}");
}

#[test]
pub fn sched_core_gives_init_a_core_scheduling_domain() {
    if !require_root("sched_core_gives_init_a_core_scheduling_domain") {
        return;
    }
    let lab = Lab::new();
    let n = with_keys(
        &lab,
        "sched",
        "lxc.sched.core = 1\nlxc.init.cmd = /bin/sleep 4242",
    );
    let out = lab.enclos("start", &["-n", &n]);
    // PR_SCHED_CORE_GET of this process: EINVAL without core scheduling.
    let mut cookie: u64 = 0;
    // SAFETY: PR_SCHED_CORE_GET writes one u64 at the pointer, which is
    // valid for the call.
    let rc = unsafe {
        libc::prctl(
            62,
            0 as libc::c_ulong,
            0 as libc::c_ulong,
            0 as libc::c_ulong,
            &mut cookie as *mut u64,
        )
    };
    if rc < 0 {
        // The kernel lacks it: start says so and starts nothing.
        assert_one_error_line(
            &out,
            "lxc.sched.core = 1, but this kernel has no core scheduling",
        );
        assert_eq!(cgroup_dirs(&n), Vec::<std::path::PathBuf>::new());
        return;
    }
    assert!(out.ok(), "{out:#?}");
    let pid = lab.init_pid(&n);
    let mut init_cookie: u64 = 0;
    // SAFETY: as above, for init's pid and its thread group (scope 1).
    let rc = unsafe {
        libc::prctl(
            62,
            0 as libc::c_ulong,
            pid as libc::c_ulong,
            1 as libc::c_ulong,
            &mut init_cookie as *mut u64,
        )
    };
    assert_eq!(rc, 0, "{}", std::io::Error::last_os_error());
    assert_ne!(init_cookie, 0, "init has a core scheduling cookie");
}
