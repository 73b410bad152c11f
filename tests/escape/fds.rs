//! Host file descriptors and directories: a descriptor the caller of
//! start, attach or execute holds (`(exec 7</secret; enclos ...)`) is not
//! readable from inside, through /proc/1/fd, /proc/self/fd or the
//! descriptor itself; the working directory of an attached command is
//! the container's root, not the caller's host directory.

use std::path::Path;

use enclos_tests::enclos_bin;
use enclos_tests::lab::*;

use super::{attempt, container, host_secret, running, with_fd_7, Kind};

/// The descriptors of `pid` in the container as `ls` shows them, without
/// the one `ls` itself opens.
fn fds_of(out: &str) -> Vec<String> {
    let mut fds: Vec<String> = out
        .split_whitespace()
        .filter(|w| w.parse::<u32>().is_ok())
        .map(str::to_string)
        .collect();
    fds.sort();
    fds
}

/// `(exec 7<FILE; enclos SUBCOMMAND -P LXCPATH -n NAME ARGS...)`: enclos
/// run with `file` open on its descriptor 7.
fn enclos_with_fd_7(lab: &Lab, file: &Path, subcommand: &str, name: &str, args: &[&str]) -> Out {
    let bin = enclos_bin().to_str().unwrap();
    let mut argv = vec![bin, subcommand, "-P", lab.path_str(), "-n", name];
    argv.extend_from_slice(args);
    with_fd_7(file, "exec \"$@\"", &argv)
}

/// The host's secret file holds what was written in it.
fn assert_secret_kept(secret: &Path, text: &str) {
    assert_eq!(
        std::fs::read_to_string(secret).unwrap(),
        text,
        "the host's file"
    );
}

/// `(exec 7</secret; enclos start -n c)`, then reading it from init.
pub fn host_fd_of_start(kind: Kind) {
    let lab = Lab::new();
    let (secret, text) = host_secret(&lab);
    let n = container(&lab, kind, "fdstart", "");
    enclos_with_fd_7(&lab, &secret, "start", &n, &[]).success();
    let out = attempt(&lab, &n, "cat /proc/1/fd/7; ls /proc/1/fd");
    assert!(!out.stdout.contains(&text), "init's fd 7 leaked: {out:#?}");
    // busybox init opens files of its own while it starts (its inittab,
    // the console, syslog's socket) and closes them; a descriptor it was
    // given stays for good.
    let mut last = out;
    poll(SETTLE, || {
        if fds_of(&last.stdout) == ["0", "1", "2"] {
            return Some(());
        }
        last = attempt(&lab, &n, "ls /proc/1/fd");
        None
    });
    assert_eq!(
        fds_of(&last.stdout),
        ["0", "1", "2"],
        "init's descriptors: {last:#?}"
    );
    assert_secret_kept(&secret, &text);
}

/// `(exec 7</secret; enclos attach -n c -- ...)`: the command reads fd 7
/// directly and through /proc.
pub fn host_fd_of_attach(kind: Kind) {
    let lab = Lab::new();
    let (secret, text) = host_secret(&lab);
    let n = running(&lab, kind, "fdattach", "");
    let script = "cat <&7; cat /proc/self/fd/7; ls /proc/self/fd";
    let out = enclos_with_fd_7(&lab, &secret, "attach", &n, &["--", "sh", "-c", script]);
    assert!(
        !out.stdout.contains(&text),
        "fd 7 reached the command: {out:#?}"
    );
    // ls's own directory is 3.
    assert_eq!(
        fds_of(&out.stdout),
        ["0", "1", "2", "3"],
        "the command's descriptors: {out:#?}"
    );
    assert_secret_kept(&secret, &text);
}

/// `(exec 7</secret; enclos execute -n c -- ...)`: neither our init (PID 1)
/// nor the command holds fd 7.
pub fn host_fd_of_execute(kind: Kind) {
    let lab = Lab::new();
    let (secret, text) = host_secret(&lab);
    let n = container(&lab, kind, "fdexec", "");
    let script = "cat <&7; cat /proc/1/fd/7; ls /proc/self/fd; echo init:; ls /proc/1/fd";
    let out = enclos_with_fd_7(&lab, &secret, "execute", &n, &["--", "sh", "-c", script]);
    assert!(!out.stdout.contains(&text), "fd 7 leaked: {out:#?}");
    let (command, init) = out.stdout.split_once("init:").expect("the script ran");
    // ls's own directory is 3.
    assert_eq!(
        fds_of(command),
        ["0", "1", "2", "3"],
        "the command's descriptors: {out:#?}"
    );
    // Unprivileged, init is not even readable by the container's root.
    if kind == Kind::Privileged || !out.stderr.contains("can't open '/proc/1/fd'") {
        assert_eq!(
            fds_of(init),
            ["0", "1", "2"],
            "execute's init's descriptors: {out:#?}"
        );
    }
    assert_secret_kept(&secret, &text);
}

/// attach from a host directory holding the secret: the command starts
/// in the container's root, and `..` from there stays inside.
pub fn host_cwd_of_attach(kind: Kind) {
    let lab = Lab::new();
    let (secret, text) = host_secret(&lab);
    let n = running(&lab, kind, "cwd", "");
    let mut cmd = lab.cmd("attach", &["-n", &n, "--", "sh", "-c"]);
    cmd.arg("pwd; readlink /proc/self/cwd; cat secret ../secret ../../secret; ls /proc/self/cwd/")
        .current_dir(lab.path());
    let out = run(cmd);
    assert!(
        !out.stdout.contains(&text),
        "the host's cwd reached the command: {out:#?}"
    );
    let lines = out.lines();
    assert_eq!(
        lines.get(..2),
        Some(&["/", "/"][..]),
        "cwd in the container: {out:#?}"
    );
    assert!(
        lines.contains(&"bin"),
        "the container's root listed: {out:#?}"
    );
    assert_secret_kept(&secret, &text);
}

/// `lxc.init.cwd = /proc/self/fd/7` with a host directory on fd 7 of the
/// caller of start (runc's CVE-2024-21626): the magic link is not
/// followed, so init never starts in the host's directory.
pub fn host_dir_as_init_cwd(kind: Kind) {
    let lab = Lab::new();
    let (secret, text) = host_secret(&lab);
    let n = container(&lab, kind, "initcwd", "lxc.init.cwd = /proc/self/fd/7\n");
    let dir = lab.path().to_str().unwrap();
    // An init that keeps its cwd (busybox init goes to / itself).
    let init = ["--", "sh", "-c", "cat secret >/leak; exec sleep 600"];
    let out = enclos_with_fd_7(&lab, lab.path(), "start", &n, &init);
    if out.ok() {
        let inside = attempt(&lab, &n, "cat /leak; readlink /proc/1/cwd");
        assert!(
            !inside.stdout.contains(&text),
            "init's cwd is the host's: {inside:#?}"
        );
        assert!(
            !inside.stdout.contains(dir),
            "init's cwd is the host's: {inside:#?}"
        );
    } else {
        assert!(
            out.stderr.contains("lxc.init.cwd"),
            "why start failed: {out:#?}"
        );
    }
    assert_secret_kept(&secret, &text);
}
