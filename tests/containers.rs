//! The container commands (create, start, attach, console, stop, execute,
//! info, ls, freeze, wait, cgroup, device, autostart, config, destroy) as a
//! user types them, checked the way a user would check them: the file inside
//! the container, the process as the host sees it in /proc, the value in the
//! host's cgroup file, the exit code and the error text.
//!
//! Every test has its own lxcpath (a temporary directory) and its own
//! container names; its [`Lab`] guard destroys its containers when it ends,
//! and kills and removes whatever they left behind (cgroups, monitors,
//! mounts) even when the test failed, then fails the test if there was
//! anything to remove.

use std::collections::BTreeSet;
use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::AsFd;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use rstest::rstest;

use enclos_tests::lab::*;
use enclos_tests::{enclos_bin, require_root};

// ---------------------------------------------------------------------------
// 1. Each command with its flags
// ---------------------------------------------------------------------------

#[test]
fn create_builds_rootfs_and_config_with_extra_keys() {
    if !require_root("create_builds_rootfs_and_config_with_extra_keys") {
        return;
    }
    let lab = Lab::new();
    let n = lab.name("create");
    let mem = MemoryLimit::of_host();
    lab.create_with(
        &n,
        &format!(
            "lxc.start.auto = 1\nlxc.group = web\n{} = 256M\n\
             lxc.environment = GREETING=bonjour\n",
            mem.key
        ),
    );

    let dir = lab.path().join(&n);
    let rootfs = dir.join("rootfs");
    for p in [
        "bin/busybox",
        "bin/sh",
        "sbin/init",
        "etc/inittab",
        "etc/passwd",
    ] {
        assert!(
            rootfs.join(p).symlink_metadata().is_ok(),
            "{} missing",
            rootfs.join(p).display()
        );
    }
    for d in ["proc", "sys", "dev", "tmp", "root"] {
        assert!(
            rootfs.join(d).is_dir(),
            "{} missing",
            rootfs.join(d).display()
        );
    }

    let cfg = read_config(&dir.join("config"));
    let rootfs_path = cfg
        .get("lxc.rootfs.path")
        .and_then(|v| v.last())
        .expect("lxc.rootfs.path in the config");
    assert_eq!(
        rootfs_path.trim_start_matches("dir:"),
        rootfs.to_str().unwrap(),
        "lxc.rootfs.path"
    );
    assert_eq!(cfg.get("lxc.uts.name"), Some(&vec![n.clone()]));
    assert_eq!(cfg.get("lxc.start.auto"), Some(&vec!["1".to_string()]));
    assert_eq!(cfg.get("lxc.group"), Some(&vec!["web".to_string()]));
    assert_eq!(cfg.get(mem.key), Some(&vec!["256M".to_string()]));

    // The extra keys take effect: the limit is in the host's cgroup file,
    // the variable in init's environment.
    lab.start(&n);
    assert_eq!(mem.of(&n), (256u64 << 20).to_string());
    let env = lab
        .attach(&n, &["sh", "-c", "tr '\\0' '\\n' < /proc/1/environ"])
        .success();
    assert!(env.lines().contains(&"GREETING=bonjour"), "{env:#?}");
}

#[test]
fn create_passes_template_args_after_double_dash() {
    if !require_root("create_passes_template_args_after_double_dash") {
        return;
    }
    let lab = Lab::new();
    let n = lab.name("tplargs");
    let busybox = ["/bin/busybox", "/usr/bin/busybox", "/sbin/busybox"]
        .into_iter()
        .find(|p| Path::new(p).is_file())
        .expect("busybox-static installed");
    // No busybox in PATH: only --busybox-path can tell the template where
    // it is.
    let empty = tempfile::tempdir().unwrap();
    let mut cmd = lab.cmd(
        "create",
        &["-n", &n, "-t", "busybox", "--", "--busybox-path", busybox],
    );
    cmd.env("PATH", empty.path());
    run(cmd).success();
    assert!(lab.path().join(&n).join("rootfs/bin/busybox").is_file());
    lab.start(&n);
    assert_eq!(lab.attach(&n, &["uname", "-n"]).success().stdout.trim(), n);
}

#[test]
fn start_ls_and_info_show_the_running_container() {
    if !require_root("start_ls_and_info_show_the_running_container") {
        return;
    }
    let lab = Lab::new();
    let up = lab.name("lsup");
    lab.create_with(&up, "lxc.start.auto = 1\nlxc.group = web\n");
    let down = lab.create("lsdown");
    lab.start(&up);

    assert_ls_shows(&lab, &up, &down);
    assert_info_shows_running(&lab, &up);

    let out = lab.enclos("info", &["-n", &down]).success();
    let f = fields(&out.stdout);
    assert_eq!(f.get("State").map(String::as_str), Some("STOPPED"));
    assert!(
        !f.contains_key("PID"),
        "a stopped container has no PID: {out:#?}"
    );
}

/// ls, its filters, its columns (-f) and its JSON, with `up` running and
/// `down` stopped (`up` with lxc.start.auto = 1 and lxc.group = web).
fn assert_ls_shows(lab: &Lab, up: &str, down: &str) {
    let (up, down) = (up.to_string(), down.to_string());
    // ls and its filters.
    let names = |args: &[&str]| -> Vec<String> {
        let out = lab.enclos("ls", args).success();
        out.stdout.split_whitespace().map(str::to_string).collect()
    };
    let mut both = vec![up.clone(), down.clone()];
    both.sort();
    assert_eq!(names(&["-1"]), both, "ls -1");
    assert_eq!(names(&["--running"]), vec![up.clone()], "ls --running");
    assert_eq!(names(&["--active"]), vec![up.clone()], "ls --active");
    assert_eq!(names(&["--stopped"]), vec![down.clone()], "ls --stopped");
    assert_eq!(names(&["--frozen"]), Vec::<String>::new(), "ls --frozen");
    assert_eq!(names(&["^lsdown-"]), vec![down.clone()], "ls FILTER");

    // ls -f: LXC's columns.
    let out = lab.enclos("ls", &["-f"]).success();
    let rows: Vec<Vec<&str>> = out
        .stdout
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(
        rows.first().cloned().unwrap_or_default(),
        [
            "NAME",
            "STATE",
            "AUTOSTART",
            "GROUPS",
            "IPV4",
            "IPV6",
            "UNPRIVILEGED"
        ],
        "{out:#?}"
    );
    let row = |n: &str| {
        rows.iter()
            .find(|r| r.first() == Some(&n))
            .unwrap_or_else(|| panic!("no row for {n}: {out:#?}"))
            .clone()
    };
    assert_eq!(
        row(&up),
        [up.as_str(), "RUNNING", "1", "web", "-", "-", "false"]
    );
    assert_eq!(
        row(&down),
        [down.as_str(), "STOPPED", "0", "-", "-", "-", "false"]
    );

    // ls --format json.
    let out = lab.enclos("ls", &["--format", "json"]).success();
    let json: serde_json::Value = serde_json::from_str(&out.stdout).expect("ls json");
    let arr = json.as_array().expect("a JSON array");
    assert_eq!(arr.len(), 2, "{json}");
    let entry = |n: &str| {
        arr.iter()
            .find(|e| e["name"] == n)
            .unwrap_or_else(|| panic!("{n} missing: {json}"))
    };
    assert_eq!(entry(&up)["state"], "RUNNING");
    assert_eq!(entry(&up)["autostart"], true);
    assert_eq!(entry(&up)["groups"], serde_json::json!(["web"]));
    assert_eq!(entry(&down)["state"], "STOPPED");
}

/// info on the running container `up`: every field, its flags and JSON,
/// and init as the host sees it.
fn assert_info_shows_running(lab: &Lab, up: &str) {
    let up = up.to_string();
    // info: every field, and init as the host sees it.
    let out = lab.enclos("info", &["-n", &up]).success();
    let f = fields(&out.stdout);
    assert_eq!(f.get("Name"), Some(&up), "{out:#?}");
    assert_eq!(
        f.get("State").map(String::as_str),
        Some("RUNNING"),
        "{out:#?}"
    );
    let pid: i32 = f
        .get("PID")
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("PID: {out:#?}"));
    assert!(f["CPU use"].ends_with(" seconds"), "{out:#?}");
    // Kernel memory is accounted apart on cgroup v1 only.
    let kmem = MemoryLimit::of_host().v1;
    let usage: &[&str] = if kmem {
        &["BlkIO use", "Memory use", "KMem use"]
    } else {
        &["BlkIO use", "Memory use"]
    };
    for k in usage {
        let v = f.get(*k).unwrap_or_else(|| panic!("{k} missing: {out:#?}"));
        assert!(
            ["bytes", "KiB", "MiB", "GiB"]
                .iter()
                .any(|u| v.ends_with(u)),
            "{k}: {v}"
        );
    }
    assert!(
        cgroup_procs(&up).contains(&pid),
        "init {pid} in the container's cgroup"
    );
    assert_eq!(innermost_pid(pid), Some(1), "init is pid 1 inside");
    let cg = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    assert!(
        cg.lines()
            .all(|l| l.ends_with(&format!("/{CGROUP_PREFIX}{up}"))),
        "/proc/{pid}/cgroup: {cg}"
    );

    let out = lab.enclos("info", &["-n", &up, "-s", "-p"]).success();
    assert_eq!(out.lines().len(), 2, "{out:#?}");
    let f = fields(&out.stdout);
    assert_eq!(f.get("State").map(String::as_str), Some("RUNNING"));
    assert_eq!(f.get("PID"), Some(&pid.to_string()));

    let out = lab.enclos("info", &["-n", &up, "-S", "-H"]).success();
    let f = fields(&out.stdout);
    for k in std::iter::once(&"CPU use").chain(usage) {
        let v = f.get(*k).unwrap_or_else(|| panic!("{k} missing: {out:#?}"));
        assert!(v.parse::<u64>().is_ok(), "-H prints raw numbers: {k}: {v}");
    }
    assert!(f["Memory use"].parse::<u64>().unwrap() > 0);
    assert!(!f.contains_key("PID"), "-S alone prints no PID: {out:#?}");

    let out = lab
        .enclos("info", &["-n", &up, "--format", "json"])
        .success();
    let json: serde_json::Value = serde_json::from_str(&out.stdout).expect("info json");
    assert_eq!(json["name"], up.as_str());
    assert_eq!(json["state"], "RUNNING");
    assert_eq!(json["pid"], pid);
}

#[test]
fn start_foreground_shows_init_output_and_returns_when_it_ends() {
    if !require_root("start_foreground_shows_init_output_and_returns_when_it_ends") {
        return;
    }
    let lab = Lab::new();
    let n = lab.create("startfg");
    // -F: in the foreground, init's output on our stdout, back when it ends.
    // Several rounds: an init that ends right after printing must not lose
    // its last lines.
    let mut lost = Vec::new();
    for round in 0..5 {
        let out = lab.enclos(
            "start",
            &[
                "-n",
                &n,
                "-F",
                "--",
                "sh",
                "-c",
                "echo hello from init; uname -n",
            ],
        );
        assert_eq!(out.code, Some(0), "{out:#?}");
        let lines: Vec<&str> = out.stdout.lines().map(str::trim).collect();
        if lines != ["hello from init", n.as_str()] {
            lost.push(format!("round {round}: {:?}", out.stdout));
        }
        lab.assert_stopped_and_clean(&n, None);
    }
    assert_eq!(
        lost,
        Vec::<String>::new(),
        "start -F printed something else than init's two lines"
    );
}

#[test]
fn start_takes_a_command_and_an_rcfile() {
    if !require_root("start_takes_a_command_and_an_rcfile") {
        return;
    }
    let lab = Lab::new();
    let n = lab.create("startf");

    // -- CMD: the command is init, PID 1.
    lab.enclos("start", &["-n", &n, "--", "sleep", "1000"])
        .success();
    assert_eq!(lab.state(&n), "RUNNING");
    let out = lab.attach(&n, &["ps", "-o", "pid,args"]).success();
    let lines: Vec<String> = out
        .stdout
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect();
    assert!(lines.contains(&"1 sleep 1000".to_string()), "{out:#?}");
    let init = lab.init_pid(&n);
    lab.enclos("stop", &["-n", &n, "-k"]).success();
    lab.assert_stopped_and_clean(&n, Some(init));

    // -f RCFILE: this configuration instead of the container's. (Not
    // lxc.uts.name: the busybox rcS sets the hostname from /etc/hostname.)
    let rootfs = lab.path().join(&n).join("rootfs");
    let mem = MemoryLimit::of_host();
    let rc = lab.conf(
        "rc.conf",
        &format!(
            "lxc.rootfs.path = dir:{}\nlxc.environment = FROM_RCFILE=yes\n{} = 128M\n",
            rootfs.display(),
            mem.key
        ),
    );
    lab.enclos("start", &["-n", &n, "-f", rc.to_str().unwrap()])
        .success();
    let env = lab
        .attach(&n, &["sh", "-c", "tr '\\0' '\\n' < /proc/1/environ"])
        .success();
    assert!(env.lines().contains(&"FROM_RCFILE=yes"), "{env:#?}");
    assert_eq!(mem.of(&n), (128u64 << 20).to_string());
    let init = lab.init_pid(&n);
    lab.enclos("stop", &["-n", &n, "-k"]).success();
    lab.assert_stopped_and_clean(&n, Some(init));
    // The rcfile was for that start only.
    let cfg = std::fs::read_to_string(lab.path().join(&n).join("config")).unwrap();
    assert!(!cfg.contains("FROM_RCFILE"), "{cfg}");
}

/// `{n}` in a case stands for the container's name.
#[rstest]
#[case::uname_is_the_name(&[], &["uname", "-n"], 0, &["{n}"], &[])]
#[case::init_is_pid_1(&[], &["ps"], 0, &["1 root init"], &[])]
#[case::exit_status(&[], &["sh", "-c", "exit 7"], 7, &[], &[])]
#[case::killed_is_128_plus_signal(&[], &["sh", "-c", "kill -9 $$"], 137, &[], &[])]
#[case::set_var(&["-v", "MYVAR=hello"], &["sh", "-c", "echo $MYVAR"], 0, &["hello"], &[])]
#[case::keeps_env_by_default(&[], &["env"], 0, &["HOSTONLY=yes"], &[])]
#[case::clear_env(&["--clear-env"], &["env"], 0, &["container=lxc"], &["HOSTONLY=yes"])]
#[case::clear_env_then_set(&["--clear-env", "-v", "A=1"], &["env"], 0, &["A=1"], &["HOSTONLY=yes"])]
#[case::uid(&["-u", "1000"], &["id", "-u"], 0, &["1000"], &[])]
#[case::uid_and_gid(&["-u", "1000", "-g", "1000"], &["sh", "-c", "id -u; id -g"], 0, &["1000", "1000"], &[])]
fn attach_runs_commands_in_the_container(
    #[case] flags: &[&str],
    #[case] command: &[&str],
    #[case] code: i32,
    #[case] want: &[&str],
    #[case] unwanted: &[&str],
) {
    if !require_root("attach_runs_commands_in_the_container") {
        return;
    }
    let lab = Lab::new();
    let n = lab.running("att");
    let mut args: Vec<&str> = vec!["-n", &n];
    args.extend_from_slice(flags);
    args.push("--");
    args.extend_from_slice(command);
    let mut cmd = lab.cmd("attach", &args);
    cmd.env("HOSTONLY", "yes");
    let out = run(cmd);
    assert_eq!(out.code, Some(code), "{out:#?}");
    // Lines compared with their blanks squeezed (ps pads its columns).
    let lines: Vec<String> = out
        .stdout
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect();
    for w in want {
        let w = w.replace("{n}", &n);
        assert!(lines.contains(&w), "expected the line {w:?}: {out:#?}");
    }
    for u in unwanted {
        assert!(!lines.iter().any(|l| l == u), "unexpected {u:?}: {out:#?}");
    }
}

#[test]
fn attach_as_uid_1000_is_uid_1000_on_the_host() {
    if !require_root("attach_as_uid_1000_is_uid_1000_on_the_host") {
        return;
    }
    let lab = Lab::new();
    let n = lab.running("uid");
    let out = lab
        .attach(&n, &["sh", "-c", "sleep 600 >/dev/null 2>&1 & echo $!"])
        .success();
    // The same as uid 1000 (the one above runs as root, for comparison).
    let out1000 = run(lab.cmd(
        "attach",
        &[
            "-n",
            &n,
            "-u",
            "1000",
            "-g",
            "1000",
            "--",
            "sh",
            "-c",
            "sleep 600 >/dev/null 2>&1 & echo $!",
        ],
    ))
    .success();
    let root_ns: i32 = out.stdout.trim().parse().expect("a pid");
    let user_ns: i32 = out1000.stdout.trim().parse().expect("a pid");
    let root_host = host_pid(&n, root_ns).expect("the root sleep, seen from the host");
    let user_host = host_pid(&n, user_ns).expect("the uid 1000 sleep, seen from the host");
    assert_eq!(proc_status(root_host, "Uid").as_deref(), Some("0 0 0 0"));
    assert_eq!(
        proc_status(user_host, "Uid").as_deref(),
        Some("1000 1000 1000 1000")
    );
    assert_eq!(
        proc_status(user_host, "Gid").as_deref(),
        Some("1000 1000 1000 1000")
    );
    let cg = std::fs::read_to_string(format!("/proc/{user_host}/cgroup")).unwrap();
    assert!(
        cg.lines()
            .all(|l| l.ends_with(&format!("/{CGROUP_PREFIX}{n}"))),
        "the attached process is in the container's cgroups: {cg}"
    );
    // Stopping the container takes the attached processes with it.
    lab.enclos("stop", &["-n", &n, "-k"]).success();
    assert!(poll(SETTLE, || (!alive(user_host) && !alive(root_host))
        .then_some(()))
    .is_some());
    lab.assert_stopped_and_clean(&n, None);
}

/// Runs `enclos console` on a pty pair: waits for its banner, sends Enter
/// until `expect` shows, then Ctrl+a q. Returns its exit code and what it
/// printed.
fn console_session(lab: &Lab, args: &[&str], expect: &str) -> (Option<i32>, String) {
    use nix::fcntl::{fcntl, FcntlArg, FdFlag};
    let pty = nix::pty::openpty(None, None).expect("openpty");
    for fd in [pty.master.as_fd(), pty.slave.as_fd()] {
        // Other tests spawn processes meanwhile: keep the pty out of them.
        fcntl(fd, FcntlArg::F_SETFD(FdFlag::FD_CLOEXEC)).expect("cloexec");
    }
    let mut cmd = lab.cmd("console", args);
    cmd.stdin(Stdio::from(pty.slave.try_clone().unwrap()))
        .stdout(Stdio::from(pty.slave.try_clone().unwrap()))
        .stderr(Stdio::from(pty.slave));
    let mut child = cmd.spawn().expect("spawn console");
    drop(cmd);

    let mut master = File::from(pty.master);
    let mut reader = master.try_clone().unwrap();
    let (tx, rx) = mpsc::channel::<Vec<u8>>();
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n @ 1..) = reader.read(&mut buf) {
            if tx.send(buf[..n].to_vec()).is_err() {
                break;
            }
        }
    });
    let mut seen = Vec::<u8>::new();
    let text = |seen: &[u8]| String::from_utf8_lossy(seen).into_owned();
    let deadline = Instant::now() + SETTLE;
    let mut last_enter = Instant::now() - Duration::from_secs(10);
    while !text(&seen).contains(expect) && Instant::now() < deadline {
        if text(&seen).contains("Connected") && last_enter.elapsed() >= Duration::from_secs(1) {
            let _ = master.write_all(b"\r");
            last_enter = Instant::now();
        }
        if let Ok(chunk) = rx.recv_timeout(Duration::from_millis(100)) {
            seen.extend_from_slice(&chunk);
        }
        if let Ok(Some(_)) = child.try_wait() {
            break;
        }
    }
    let _ = master.write_all(b"\x01q");
    let (status, _) = wait_deadline(&mut child, SETTLE);
    while let Ok(chunk) = rx.recv_timeout(Duration::from_millis(200)) {
        seen.extend_from_slice(&chunk);
    }
    (status.and_then(|s| s.code()), text(&seen))
}

#[rstest]
#[case::console(&[])]
#[case::tty1(&["-t", "1"])]
fn console_reaches_a_login_prompt(#[case] flags: &[&str]) {
    if !require_root("console_reaches_a_login_prompt") {
        return;
    }
    let lab = Lab::new();
    let n = lab.running("con");
    let mut args = vec!["-n", n.as_str()];
    args.extend_from_slice(flags);
    let expect = format!("{n} login:");
    let (code, text) = console_session(&lab, &args, &expect);
    assert!(text.contains(&expect), "no login prompt: {text:?}");
    assert_eq!(code, Some(0), "Ctrl+a q leaves with status 0: {text:?}");
    // Leaving the console leaves the container running.
    assert_eq!(lab.state(&n), "RUNNING");
}

#[rstest]
#[case::halt(&[])]
#[case::kill(&["-k"])]
#[case::timeout(&["-t", "10"])]
fn stop_leaves_nothing_running(#[case] flags: &[&str]) {
    if !require_root("stop_leaves_nothing_running") {
        return;
    }
    let lab = Lab::new();
    let n = lab.running("stop");
    let init = lab.init_pid(&n);
    assert!(
        !cgroup_dirs(&n).is_empty(),
        "a running container has cgroups"
    );
    let mut args = vec!["-n", n.as_str()];
    args.extend_from_slice(flags);
    let out = lab.enclos("stop", &args);
    assert!(out.ok(), "{out:#?}");
    assert_eq!(out.stderr, "", "{out:#?}");
    lab.assert_stopped_and_clean(&n, Some(init));
    let out = lab.enclos("ls", &["--stopped"]).success();
    assert_eq!(out.stdout.trim(), n);
    // It starts again.
    lab.start(&n);
    assert_eq!(lab.attach(&n, &["uname", "-n"]).success().stdout.trim(), n);
}

/// A timeout too large for the clock (`-t` at its type's maximum) is no
/// deadline: the command works as with a normal one, without a panic.
#[test]
fn huge_timeouts_mean_no_deadline() {
    if !require_root("huge_timeouts_mean_no_deadline") {
        return;
    }
    let lab = Lab::new();
    let n = lab.running("bigt");
    let (i64_max, u64_max) = (i64::MAX.to_string(), u64::MAX.to_string());
    let ok = |out: Out| {
        assert!(out.ok(), "{out:#?}");
        assert_eq!(out.stderr, "", "{out:#?}");
    };
    ok(lab.enclos("wait", &["-n", &n, "-s", "RUNNING", "-t", &i64_max]));
    ok(lab.enclos("freeze", &["-n", &n, "-t", &u64_max]));
    assert_eq!(lab.state(&n), "FROZEN");
    ok(lab.enclos("unfreeze", &["-n", &n, "-t", &u64_max]));
    assert_eq!(lab.state(&n), "RUNNING");
    let init = lab.init_pid(&n);
    ok(lab.enclos("stop", &["-n", &n, "-t", &i64_max]));
    lab.assert_stopped_and_clean(&n, Some(init));
}

#[test]
fn stop_reboot_restarts_init() {
    if !require_root("stop_reboot_restarts_init") {
        return;
    }
    let lab = Lab::new();
    let n = lab.running("reboot");
    let init = lab.init_pid(&n);
    lab.enclos("stop", &["-n", &n, "-r"]).success();
    let new_init = poll(SETTLE, || {
        let out = lab.enclos("info", &["-n", &n, "-s", "-p"]);
        let f = fields(&out.stdout);
        let pid: i32 = f.get("PID")?.parse().ok()?;
        (f.get("State")? == "RUNNING" && pid != init && alive(pid)).then_some(pid)
    })
    .expect("a new init after stop -r");
    assert!(!alive(init), "the old init is gone");
    assert_eq!(innermost_pid(new_init), Some(1));
    assert!(cgroup_procs(&n).contains(&new_init));
    lab.enclos("stop", &["-n", &n, "-k"]).success();
    lab.assert_stopped_and_clean(&n, Some(new_init));
}

/// Init does not keep the supplementary groups of the user who started
/// the container.
#[test]
fn init_drops_the_callers_supplementary_groups() {
    if !require_root("init_drops_the_callers_supplementary_groups") {
        return;
    }
    let lab = Lab::new();
    let n = lab.create("groups");
    let mut start = lab.cmd("start", &["-n", &n]);
    // SAFETY: setgroups is a plain system call, safe between fork and exec.
    unsafe {
        start.pre_exec(|| {
            nix::unistd::setgroups(&[nix::unistd::Gid::from_raw(4242)])
                .map_err(std::io::Error::from)
        });
    }
    let out = run(start);
    assert!(out.ok(), "{out:#?}");
    let init = lab.init_pid(&n);
    assert_eq!(
        proc_status(init, "Groups").as_deref(),
        Some(""),
        "init {init}"
    );
    lab.enclos("stop", &["-n", &n, "-k"]).success();
}

/// What runs in the container starts with SIGHUP and SIGPIPE at their
/// default action, as on any host: the monitor ignores both, the Rust
/// runtime SIGPIPE in every enclos process, and ignored signals stay
/// ignored across exec. Under attach, a pipeline's writer then ends
/// quietly when its reader leaves, instead of printing "Broken pipe".
/// What else the caller ignores is passed on, as LXC does.
#[test]
fn init_attached_and_executed_commands_start_with_sighup_and_sigpipe_at_default() {
    if !require_root("init_attached_and_executed_commands_start_with_sighup_and_sigpipe_at_default")
    {
        return;
    }
    let ignored = |text: &str| u64::from_str_radix(text.trim(), 16).expect("a SigIgn mask");
    // Bits of signals 1 and 13 in a SigIgn mask.
    let ours = (1 << (Signal::SIGHUP as u64 - 1)) | (1 << (Signal::SIGPIPE as u64 - 1));
    let lab = Lab::new();
    let n = lab.name("sigdfl");
    // busybox's sleep changes no signal action.
    lab.create_with(&n, "lxc.init.cmd = /bin/sleep 1000\n");
    lab.start(&n);
    let init = lab.init_pid(&n);
    let init_ignores = ignored(&proc_status(init, "SigIgn").unwrap());
    assert_eq!(
        init_ignores & ours,
        0,
        "init {init} ignores {init_ignores:x}"
    );
    let status_of_grep = |out: &Out| ignored(out.stdout.split_whitespace().nth(1).unwrap_or("x"));
    let out = lab
        .attach(&n, &["grep", "SigIgn", "/proc/self/status"])
        .success();
    assert_eq!(status_of_grep(&out) & ours, 0, "{out:#?}");
    let out = lab
        .attach(
            &n,
            &[
                "sh",
                "-c",
                "(cat /dev/zero; echo cat-status-$? >&2) | head -c1 >/dev/null",
            ],
        )
        .success();
    // Killed by SIGPIPE: 128 + 13.
    assert!(
        out.stderr.contains("cat-status-141") && !out.stderr.contains("Broken pipe"),
        "cat did not end by SIGPIPE: {out:#?}"
    );
    lab.enclos("stop", &["-n", &n, "-k"]).success();
    let out = lab.enclos(
        "execute",
        &["-n", &n, "--", "grep", "SigIgn", "/proc/self/status"],
    );
    assert_eq!(out.code, Some(0), "{out:#?}");
    assert_eq!(status_of_grep(&out) & ours, 0, "{out:#?}");
}

#[test]
fn execute_runs_one_command_and_propagates_its_status() {
    if !require_root("execute_runs_one_command_and_propagates_its_status") {
        return;
    }
    let lab = Lab::new();
    let n = lab.create("exec");
    let out = lab.enclos("execute", &["-n", &n, "--", "uname", "-n"]);
    assert_eq!(out.code, Some(0), "{out:#?}");
    assert_eq!(out.stdout.trim(), n);
    lab.assert_stopped_and_clean(&n, None);

    let out = lab.enclos("execute", &["-n", &n, "--", "sh", "-c", "exit 3"]);
    assert_eq!(out.code, Some(3), "{out:#?}");
    lab.assert_stopped_and_clean(&n, None);
}

#[test]
fn freeze_stops_cpu_time_and_unfreeze_resumes_it() {
    if !require_root("freeze_stops_cpu_time_and_unfreeze_resumes_it") {
        return;
    }
    let lab = Lab::new();
    let n = lab.running("frz");
    let out = lab
        .attach(
            &n,
            &["sh", "-c", "while :; do :; done >/dev/null 2>&1 & echo $!"],
        )
        .success();
    let nspid: i32 = out.stdout.trim().parse().expect("the loop's pid");
    let busy = host_pid(&n, nspid).expect("the busy loop, seen from the host");
    let over_300ms = || {
        let before = cpu_ticks(busy);
        std::thread::sleep(Duration::from_millis(300));
        cpu_ticks(busy) - before
    };
    assert!(over_300ms() > 0, "the busy loop runs");

    lab.enclos("freeze", &["-n", &n]).success();
    assert_eq!(lab.state(&n), "FROZEN");
    let out = lab.enclos("ls", &["--frozen"]).success();
    assert_eq!(out.stdout.trim(), n);
    if let Some(freezer) = cgroup_mounts()
        .iter()
        .find(|m| m.fstype == "cgroup" && m.options.iter().any(|o| o == "freezer"))
    {
        let f = freezer
            .path
            .join(format!("{CGROUP_PREFIX}{n}/freezer.state"));
        assert_eq!(std::fs::read_to_string(&f).unwrap().trim(), "FROZEN");
    }
    assert_eq!(over_300ms(), 0, "a frozen loop gets no CPU time");

    lab.enclos("unfreeze", &["-n", &n]).success();
    assert_eq!(lab.state(&n), "RUNNING");
    assert!(over_300ms() > 0, "the thawed loop runs again");

    // A frozen container can be killed.
    lab.enclos("freeze", &["-n", &n]).success();
    let init = lab.init_pid(&n);
    lab.enclos("stop", &["-n", &n, "-k"]).success();
    lab.assert_stopped_and_clean(&n, Some(init));
    assert!(!alive(busy));
}

#[test]
fn wait_returns_on_the_state_or_fails_on_timeout() {
    if !require_root("wait_returns_on_the_state_or_fails_on_timeout") {
        return;
    }
    let lab = Lab::new();
    let n = lab.running("wait");
    lab.enclos("wait", &["-n", &n, "-s", "RUNNING"]).success();
    lab.enclos("wait", &["-n", &n, "-s", "STOPPED|RUNNING", "-t", "5"])
        .success();

    let out = lab.enclos("wait", &["-n", &n, "-s", "STOPPED", "-t", "1"]);
    assert_one_error_line(&out, &n);
    assert!(out.stderr.contains("STOPPED"), "{out:#?}");

    // A wait in the background returns once the container stops.
    let mut waiter = lab.cmd("wait", &["-n", &n, "-s", "STOPPED", "-t", "60"]);
    waiter
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let mut waiter = waiter.spawn().expect("spawn wait");
    // Let it start waiting (not needed for correctness: it also returns if
    // the container is already stopped).
    std::thread::sleep(Duration::from_millis(200));
    lab.enclos("stop", &["-n", &n, "-k"]).success();
    let (status, killed) = wait_deadline(&mut waiter, SETTLE);
    assert!(!killed, "wait -s STOPPED did not return after stop");
    assert_eq!(status.and_then(|s| s.code()), Some(0));
    lab.enclos("wait", &["-n", &n, "-s", "STOPPED", "-t", "0"])
        .success();
}

#[test]
fn cgroup_get_and_set_reach_the_host_cgroup_files() {
    if !require_root("cgroup_get_and_set_reach_the_host_cgroup_files") {
        return;
    }
    let lab = Lab::new();
    let n = lab.running("cg");
    let mem = MemoryLimit::of_host();
    let asked: u64 = 100_000_000;
    lab.enclos("cgroup", &["-n", &n, mem.file, &asked.to_string()])
        .success();
    // The kernel keeps whole pages.
    let expected = asked / page_size() * page_size();
    assert_eq!(mem.of(&n), expected.to_string(), "{}", mem.file);
    let out = lab.enclos("cgroup", &["-n", &n, mem.file]).success();
    assert_eq!(out.stdout.trim(), expected.to_string());

    if let Some(cpu) = cgroup_mounts()
        .iter()
        .find(|m| m.fstype == "cgroup" && m.options.iter().any(|o| o == "cpu"))
    {
        lab.enclos("cgroup", &["-n", &n, "cpu.shares", "512"])
            .success();
        let v = std::fs::read_to_string(cpu.path.join(format!("{CGROUP_PREFIX}{n}/cpu.shares")))
            .unwrap();
        assert_eq!(v.trim(), "512");
        let out = lab.enclos("cgroup", &["-n", &n, "cpu.shares"]).success();
        assert_eq!(out.stdout.trim(), "512");
    }
}

#[test]
fn device_add_makes_the_device_in_the_container() {
    if !require_root("device_add_makes_the_device_in_the_container") {
        return;
    }
    let lab = Lab::new();
    let n = lab.running("dev");
    let out = lab.attach(&n, &["test", "-e", "/dev/mynull"]);
    assert_eq!(out.code, Some(1), "no /dev/mynull before: {out:#?}");
    lab.enclos("device", &["-n", &n, "add", "/dev/null", "/dev/mynull"])
        .success();
    let out = lab
        .attach(&n, &["stat", "-c", "%F %t:%T", "/dev/mynull"])
        .success();
    assert_eq!(out.stdout.trim(), "character special file 1:3");
    // The devices cgroup lets the container use it.
    lab.attach(&n, &["sh", "-c", "echo hello > /dev/mynull"])
        .success();
}

// autostart (lxc.start.auto/order/delay, lxc.group): tests/config_keys/basics.rs

#[test]
fn config_prints_global_settings() {
    if !require_root("config_prints_global_settings") {
        return;
    }
    let config = |args: &[&str]| {
        let mut c = Command::new(enclos_bin());
        c.arg("config").args(args);
        run(c)
    };
    let out = config(&["lxc.lxcpath"]).success();
    if !Path::new("/etc/enclos/enclos.conf").exists() {
        assert_eq!(out.stdout, "/var/lib/enclos\n", "root's default lxcpath");
    } else {
        assert!(out.stdout.trim().starts_with('/'), "{out:#?}");
    }
    let out = config(&["lxc.nosuch"]);
    assert_one_error_line(&out, "lxc.nosuch");
}

#[test]
fn destroy_removes_the_container_directory() {
    if !require_root("destroy_removes_the_container_directory") {
        return;
    }
    let lab = Lab::new();
    let stopped = lab.create("dstop");
    let running = lab.running("drun");
    let init = lab.init_pid(&running);

    lab.enclos("destroy", &["-n", &stopped]).success();
    assert!(!lab.path().join(&stopped).exists(), "directory gone");

    // Without -f a running container is kept...
    let out = lab.enclos("destroy", &["-n", &running]);
    assert_one_error_line(&out, &running);
    assert!(lab.path().join(&running).join("rootfs").is_dir());
    assert_eq!(lab.state(&running), "RUNNING");
    // ...with -f it is killed and removed.
    lab.enclos("destroy", &["-n", &running, "-f"]).success();
    assert!(!lab.path().join(&running).exists(), "directory gone");
    assert_eq!(cgroup_dirs(&running), Vec::<PathBuf>::new());
    assert!(poll(SETTLE, || (!alive(init)).then_some(())).is_some());
    let out = lab.enclos("ls", &["-1"]).success();
    assert_eq!(out.stdout, "");
}

#[test]
fn destroy_force_removes_running_containers_at_once() {
    if !require_root("destroy_force_removes_running_containers_at_once") {
        return;
    }
    let lab = Lab::new();
    // Running containers destroyed eight at once, as a cleanup script would:
    // each `destroy -f` must succeed the first time. (Three rounds: the
    // race this looks for does not show every time.)
    let mut failures = Vec::new();
    for _round in 0..3 {
        let names: Vec<String> = (0..8).map(|_| lab.running("dforce")).collect();
        let inits: Vec<i32> = names.iter().map(|n| lab.init_pid(n)).collect();
        let outs: Vec<Out> = std::thread::scope(|s| {
            let handles: Vec<_> = names
                .iter()
                .map(|n| {
                    let lab = &lab;
                    s.spawn(move || lab.enclos("destroy", &["-n", n, "-f"]))
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        for ((n, init), out) in names.iter().zip(&inits).zip(&outs) {
            if !out.ok() {
                failures.push(format!("{}: {}", out.cmd, out.stderr.trim()));
                // What a user would do next: try again.
                lab.enclos("destroy", &["-n", n, "-f"]);
            }
            assert!(!lab.path().join(n).exists(), "{n}: directory gone");
            assert_eq!(cgroup_dirs(n), Vec::<PathBuf>::new(), "{n}");
            assert!(poll(SETTLE, || (!alive(*init)).then_some(())).is_some());
        }
    }
    assert_eq!(failures, Vec::<String>::new(), "destroy -f failed");
}

// ---------------------------------------------------------------------------
// 2. Bad input: exit 1, one error line naming the thing, nothing half-done
// ---------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq)]
enum Setup {
    /// No container: `{n}` names one that does not exist.
    Nothing,
    /// `{n}` is created, stopped.
    Stopped,
    /// `{n}` is created and started.
    Running,
}

/// `{n}` stands for the container's name in the arguments and the needle.
#[rstest]
#[case::invalid_name(Setup::Nothing, "create", &["-n", "a/b", "-t", "busybox"], "'a/b'")]
#[case::dot_name(Setup::Nothing, "create", &["-n", "..", "-t", "busybox"], "'..'")]
#[case::duplicate_name(Setup::Stopped, "create", &["-n", "{n}", "-t", "busybox"], "'{n}' already exists")]
#[case::unknown_template(Setup::Nothing, "create", &["-n", "{n}", "-t", "nosuch"], "'nosuch'")]
#[case::unknown_template_option(Setup::Nothing, "create", &["-n", "{n}", "-t", "busybox", "--", "--foo"], "'--foo'")]
#[case::start_unknown(Setup::Nothing, "start", &["-n", "{n}"], "'{n}' does not exist")]
#[case::stop_unknown(Setup::Nothing, "stop", &["-n", "{n}"], "'{n}' does not exist")]
#[case::attach_unknown(Setup::Nothing, "attach", &["-n", "{n}", "--", "true"], "'{n}' does not exist")]
#[case::console_unknown(Setup::Nothing, "console", &["-n", "{n}"], "'{n}' does not exist")]
#[case::execute_unknown(Setup::Nothing, "execute", &["-n", "{n}", "--", "true"], "'{n}' does not exist")]
#[case::info_unknown(Setup::Nothing, "info", &["-n", "{n}"], "'{n}' does not exist")]
#[case::freeze_unknown(Setup::Nothing, "freeze", &["-n", "{n}"], "'{n}' does not exist")]
#[case::unfreeze_unknown(Setup::Nothing, "unfreeze", &["-n", "{n}"], "'{n}' does not exist")]
#[case::wait_unknown(Setup::Nothing, "wait", &["-n", "{n}", "-s", "RUNNING", "-t", "1"], "'{n}' does not exist")]
#[case::destroy_unknown(Setup::Nothing, "destroy", &["-n", "{n}"], "'{n}' does not exist")]
#[case::cgroup_unknown(Setup::Nothing, "cgroup", &["-n", "{n}", "memory.limit_in_bytes"], "'{n}' does not exist")]
#[case::device_unknown(Setup::Nothing, "device", &["-n", "{n}", "add", "/dev/null"], "'{n}' does not exist")]
#[case::start_when_running(Setup::Running, "start", &["-n", "{n}"], "'{n}' is RUNNING")]
#[case::attach_when_stopped(Setup::Stopped, "attach", &["-n", "{n}", "--", "true"], "'{n}' is STOPPED")]
#[case::stop_when_stopped(Setup::Stopped, "stop", &["-n", "{n}"], "'{n}'")]
#[case::console_when_stopped(Setup::Stopped, "console", &["-n", "{n}"], "'{n}' is STOPPED")]
#[case::freeze_when_stopped(Setup::Stopped, "freeze", &["-n", "{n}"], "'{n}' is STOPPED")]
#[case::cgroup_when_stopped(Setup::Stopped, "cgroup", &["-n", "{n}", "memory.limit_in_bytes"], "'{n}' is STOPPED")]
#[case::execute_when_running(Setup::Running, "execute", &["-n", "{n}", "--", "true"], "'{n}' is RUNNING")]
#[case::unknown_cgroup_file(Setup::Running, "cgroup", &["-n", "{n}", "memory.nosuch"], "memory.nosuch")]
#[case::bad_cgroup_value(Setup::Running, "cgroup", &["-n", "{n}", "memory.limit_in_bytes", "lots"], "'lots'")]
#[case::cgroup_key_escapes(Setup::Running, "cgroup", &["-n", "{n}", "../../etc/passwd"], "'../../etc/passwd'")]
#[case::device_missing(Setup::Running, "device", &["-n", "{n}", "add", "/dev/nosuch"], "/dev/nosuch")]
#[case::device_bad_action(Setup::Running, "device", &["-n", "{n}", "del", "/dev/null"], "'del'")]
#[case::wait_unknown_state(Setup::Running, "wait", &["-n", "{n}", "-s", "BOGUS"], "'BOGUS'")]
#[case::ls_bad_filter(Setup::Nothing, "ls", &["("], "'('")]
#[case::ls_bad_column(Setup::Stopped, "ls", &["-F", "name,bogus"], "'BOGUS'")]
fn bad_input_is_one_error_line_and_changes_nothing(
    #[case] setup: Setup,
    #[case] sub: &str,
    #[case] args: &[&str],
    #[case] needle: &str,
) {
    // With no container to set up, the error needs no root.
    if setup != Setup::Nothing && !require_root("bad_input_is_one_error_line_and_changes_nothing") {
        return;
    }
    let lab = Lab::new();
    let n = match setup {
        Setup::Nothing => lab.name("bad"),
        Setup::Stopped => lab.create("bad"),
        Setup::Running => lab.running("bad"),
    };
    let init = (setup == Setup::Running).then(|| lab.init_pid(&n));
    let entries = || -> BTreeSet<String> {
        std::fs::read_dir(lab.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect()
    };
    let before = entries();

    let args: Vec<String> = args.iter().map(|a| a.replace("{n}", &n)).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = lab.enclos(sub, &args);
    assert_one_error_line(&out, &needle.replace("{n}", &n));

    assert_eq!(entries(), before, "the lxcpath changed: {out:#?}");
    match setup {
        Setup::Nothing => {
            assert_eq!(cgroup_dirs(&n), Vec::<PathBuf>::new(), "{out:#?}");
            assert!(!lab.path().join("a").exists());
        }
        Setup::Stopped => lab.assert_stopped_and_clean(&n, None),
        Setup::Running => {
            assert_eq!(lab.state(&n), "RUNNING");
            assert_eq!(Some(lab.init_pid(&n)), init, "init is the same");
        }
    }
}

#[test]
fn missing_name_is_a_usage_error() {
    let lab = Lab::new();
    let out = lab.enclos("create", &["-t", "busybox"]);
    assert_eq!(out.code, Some(1), "{out:#?}");
    assert_eq!(out.stdout, "");
    // clap's usage error: one "error:" line, the missing flag, a usage
    // hint.
    let errors: Vec<&str> = out
        .stderr
        .lines()
        .filter(|l| l.starts_with("error:"))
        .collect();
    assert_eq!(errors.len(), 1, "{out:#?}");
    assert!(out.stderr.contains("--name"), "{out:#?}");
    assert_eq!(std::fs::read_dir(lab.path()).unwrap().count(), 0);
}

#[test]
fn unknown_config_key_names_file_and_line_and_creates_nothing() {
    let lab = Lab::new();
    let n = lab.name("badkey");
    let conf = lab.conf("bad.conf", "lxc.uts.name = x\nlxc.bogus.key = 1\n");
    let conf = conf.to_str().unwrap();
    let out = lab.enclos("create", &["-n", &n, "-t", "busybox", "-f", conf]);
    assert_one_error_line(&out, &format!("{conf}:2"));
    assert!(out.stderr.contains("lxc.bogus.key"), "{out:#?}");
    assert!(!lab.path().join(&n).exists(), "no container directory left");
}

#[test]
fn missing_busybox_names_the_package_and_creates_nothing() {
    let lab = Lab::new();
    let n = lab.name("nobb");
    let empty = tempfile::tempdir().unwrap();
    let mut cmd = lab.cmd("create", &["-n", &n, "-t", "busybox"]);
    cmd.env("PATH", empty.path());
    let out = run(cmd);
    assert_one_error_line(&out, "busybox-static");
    assert!(out.stderr.contains(&n), "{out:#?}");
    assert!(!lab.path().join(&n).exists(), "no container directory left");
    assert_eq!(lab.enclos("ls", &["-1"]).success().stdout, "");
}

// ---------------------------------------------------------------------------
// 3. Failures: a killed CLI, a killed monitor, many at once
// ---------------------------------------------------------------------------

/// The live `enclos start` processes for container `name` of `lxcpath`:
/// the CLI and the monitor it forks (which keeps the CLI's command line).
fn start_processes(lxcpath: &Path, name: &str) -> Vec<i32> {
    let lxcpath = lxcpath.to_string_lossy().into_owned();
    let mut found = Vec::new();
    for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|p| p.parse::<i32>().ok()) else {
            continue;
        };
        let cmdline = std::fs::read(e.path().join("cmdline")).unwrap_or_default();
        let args: Vec<String> = cmdline
            .split(|b| *b == 0)
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect();
        let ours = args.iter().any(|a| a == "start")
            && args.contains(&lxcpath)
            && args.iter().any(|a| a == name);
        if ours && alive(pid) {
            found.push(pid);
        }
    }
    found
}

/// Asserts that a container whose start was cut short and then stopped
/// is STOPPED at once and stays so: no cgroup, no start process (CLI or
/// monitor) left that could still change that.
fn assert_ended(lab: &Lab, name: &str, what: &str) {
    assert_eq!(lab.state(name), "STOPPED", "{what}");
    assert_eq!(
        cgroup_dirs(name),
        Vec::<PathBuf>::new(),
        "{what}: its cgroups are left"
    );
    assert_eq!(
        start_processes(lab.path(), name),
        Vec::<i32>::new(),
        "{what}: start processes remain"
    );
}

/// `start` killed at any moment, then `stop -k` at once: the stop ends
/// whatever was under way (a monitor still setting up included), every
/// time. Several containers at once, so that starts overlap.
#[test]
fn start_killed_midway_then_stop_kill_always_ends_stopped() {
    if !require_root("start_killed_midway_then_stop_kill_always_ends_stopped") {
        return;
    }
    let lab = Lab::new();
    let names: Vec<String> = (0..4).map(|_| lab.create("killst")).collect();
    std::thread::scope(|s| {
        for n in &names {
            let lab = &lab;
            s.spawn(move || {
                for delay_ms in [0u64, 1, 2, 3, 5, 8, 10, 15, 20, 30, 50, 100] {
                    let mut start = lab.cmd("start", &["-n", n]);
                    start
                        .stdin(Stdio::null())
                        .stdout(Stdio::null())
                        .stderr(Stdio::null());
                    let mut child = start.spawn().expect("spawn start");
                    std::thread::sleep(Duration::from_millis(delay_ms));
                    let _ = child.kill();
                    let _ = child.wait();
                    let out = lab.enclos("stop", &["-n", n, "-k"]);
                    assert!(
                        out.ok() || out.stderr.contains("is STOPPED"),
                        "after {delay_ms} ms: {out:#?}"
                    );
                    assert_ended(lab, n, &format!("{n} after {delay_ms} ms"));
                }
            });
        }
    });
    // Whatever happened, the containers still work.
    let n = &names[0];
    lab.start(n);
    assert_eq!(lab.attach(n, &["uname", "-n"]).success().stdout.trim(), n);
    lab.enclos("stop", &["-n", n, "-k"]).success();
    lab.assert_stopped_and_clean(n, None);
}

/// A container held in STARTING: its monitor has made the cgroup and
/// blocks reading lxc.mount.fstab, a FIFO no one writes. `stop -k` and
/// `destroy -f` end it there: the monitor is gone (no reader on the FIFO),
/// no cgroup is left, and the start reports the failure.
#[rstest]
#[case::stop_kill("stop", &["-k"])]
#[case::stop("stop", &[])]
#[case::destroy_force("destroy", &["-f"])]
fn a_start_under_way_is_ended_by(#[case] sub: &str, #[case] flags: &[&str]) {
    if !require_root("a_start_under_way_is_ended_by") {
        return;
    }
    let lab = Lab::new();
    let n = lab.name("held");
    let fifo = lab.path().join(format!("{n}.fstab"));
    lab.create_with(&n, &format!("lxc.mount.fstab = {}\n", fifo.display()));
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
    let mut start = lab.cmd("start", &["-n", &n]);
    start
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut child = start.spawn().expect("spawn start");
    poll(SETTLE, || {
        (lab.state(&n) == "STARTING" && !cgroup_dirs(&n).is_empty()).then_some(())
    })
    .expect("the container is held in STARTING with its cgroup made");

    let mut args = vec!["-n", n.as_str()];
    args.extend_from_slice(flags);
    let out = lab.enclos(sub, &args);
    assert!(out.ok(), "{out:#?}");
    let (status, killed) = wait_deadline(&mut child, SETTLE);
    assert!(!killed, "start did not return once its monitor was gone");
    assert_eq!(status.and_then(|s| s.code()), Some(1));
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert!(err.contains("failed to start"), "{err}");
    // No monitor reads the FIFO any more.
    let open = nix::fcntl::open(
        &fifo,
        nix::fcntl::OFlag::O_WRONLY | nix::fcntl::OFlag::O_NONBLOCK,
        nix::sys::stat::Mode::empty(),
    );
    assert_eq!(
        open.err(),
        Some(nix::errno::Errno::ENXIO),
        "a reader remains"
    );
    assert_eq!(cgroup_dirs(&n), Vec::<PathBuf>::new(), "cgroups of {n}");
    assert_eq!(start_processes(lab.path(), &n), Vec::<i32>::new());
    if sub == "destroy" {
        assert!(!lab.path().join(&n).exists());
        return;
    }
    assert_eq!(lab.state(&n), "STOPPED");
    // It starts again once the fstab is a file.
    std::fs::remove_file(&fifo).unwrap();
    std::fs::write(&fifo, "").unwrap();
    lab.start(&n);
    lab.enclos("stop", &["-n", &n, "-k"]).success();
    lab.assert_stopped_and_clean(&n, None);
}

#[rstest]
#[case::stop_kill("stop", &["-k"])]
#[case::stop("stop", &[])]
#[case::destroy_force("destroy", &["-f"])]
fn killed_monitor_is_reported_and_cleaned_up(#[case] sub: &str, #[case] flags: &[&str]) {
    if !require_root("killed_monitor_is_reported_and_cleaned_up") {
        return;
    }
    let lab = Lab::new();
    // As in LXC, init dies with its monitor unless
    // lxc.monitor.signal.pdeath = 0: here the container outlives it.
    let n = lab.name("mon");
    lab.create_with(&n, "lxc.monitor.signal.pdeath = 0\n");
    lab.start(&n);
    let init = lab.init_pid(&n);
    let monitor: i32 = std::fs::read_to_string(lab.path().join(&n).join(".enclos/monitor.pid"))
        .expect("monitor.pid")
        .trim()
        .parse()
        .expect("a pid in monitor.pid");
    assert!(alive(monitor));
    kill(Pid::from_raw(monitor), Signal::SIGKILL).unwrap();
    assert!(poll(SETTLE, || (!alive(monitor)).then_some(())).is_some());

    // The container still runs; info says so, and that the monitor is gone.
    let out = lab.enclos("info", &["-n", &n]).success();
    let f = fields(&out.stdout);
    assert_eq!(
        f.get("State").map(String::as_str),
        Some("RUNNING"),
        "{out:#?}"
    );
    assert_eq!(f.get("PID"), Some(&init.to_string()), "{out:#?}");
    let note = f
        .get("Monitor")
        .unwrap_or_else(|| panic!("no Monitor line: {out:#?}"));
    assert!(note.starts_with("gone"), "{out:#?}");
    assert_eq!(lab.state(&n), "RUNNING");
    assert!(cgroup_procs(&n).contains(&init));
    // attach needs no monitor; console does, and says it is gone.
    assert_eq!(lab.attach(&n, &["uname", "-n"]).success().stdout.trim(), n);
    let out = lab.enclos("console", &["-n", &n]);
    assert_one_error_line(&out, "monitor");

    let mut args = vec!["-n", n.as_str()];
    args.extend_from_slice(flags);
    let out = lab.enclos(sub, &args);
    assert!(out.ok(), "{out:#?}");
    assert_eq!(cgroup_dirs(&n), Vec::<PathBuf>::new(), "no orphaned cgroup");
    assert!(poll(SETTLE, || (!alive(init)).then_some(())).is_some());
    if sub == "stop" {
        lab.assert_stopped_and_clean(&n, Some(init));
        // And it starts again, with a monitor.
        lab.start(&n);
        let out = lab.enclos("info", &["-n", &n]).success();
        assert!(!fields(&out.stdout).contains_key("Monitor"), "{out:#?}");
    } else {
        assert!(!lab.path().join(&n).exists());
    }
}

#[test]
fn twenty_containers_start_and_stop_concurrently() {
    if !require_root("twenty_containers_start_and_stop_concurrently") {
        return;
    }
    let lab = Lab::new();
    let tag = format!("many{}x", std::process::id());
    let names: Vec<String> = (0..20).map(|_| lab.name(&tag)).collect();
    let all = |sub: &str, extra: &[&str]| -> Vec<Out> {
        std::thread::scope(|s| {
            let handles: Vec<_> = names
                .iter()
                .map(|n| {
                    let lab = &lab;
                    s.spawn(move || {
                        let mut args = vec!["-n", n.as_str()];
                        args.extend_from_slice(extra);
                        lab.enclos(sub, &args)
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        })
    };
    let failed = |outs: &[Out]| -> Vec<String> {
        outs.iter()
            .filter(|o| !o.ok())
            .map(|o| format!("{o:?}"))
            .collect()
    };

    let outs = all("create", &["-t", "busybox"]);
    assert_eq!(failed(&outs), Vec::<String>::new(), "create");

    let outs = all("start", &[]);
    assert_eq!(failed(&outs), Vec::<String>::new(), "start");
    for n in &names {
        assert_eq!(lab.state(n), "RUNNING", "{n}");
        assert!(cgroup_procs(n).contains(&lab.init_pid(n)), "{n}");
    }
    let out = lab.enclos("ls", &["--running"]).success();
    assert_eq!(out.stdout.lines().count(), 20, "{out:#?}");

    let outs = all("stop", &[]);
    assert_eq!(failed(&outs), Vec::<String>::new(), "stop");
    for n in &names {
        assert_eq!(lab.state(n), "STOPPED", "{n}");
    }
    let out = lab.enclos("ls", &["--stopped"]).success();
    assert_eq!(out.stdout.lines().count(), 20, "{out:#?}");
    assert_eq!(
        payload_cgroups_with(&tag),
        Vec::<PathBuf>::new(),
        "leftover cgroups"
    );
    assert_eq!(
        mounts_under(lab.path()),
        Vec::<String>::new(),
        "leftover mounts"
    );
}
