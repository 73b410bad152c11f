//! The trampoline program as enclos's init runs it, and as anything else
//! might: what the monitor's end of the socket receives, what the
//! command it execs gets, and what it says when it is not its to run.

use std::os::fd::{AsFd, AsRawFd};
use std::os::unix::process::CommandExt;
use std::process::{Command, Output};
use std::time::Duration;

use enclos_init_exec::{REACHED, TRAMPOLINE};
use enclos_namespaces::{sync_pair, Error, SyncParent};
use nix::fcntl::{fcntl, FcntlArg, FdFlag};

const PROGRAM: &str = env!("CARGO_BIN_EXE_enclos-init-exec");
const WAIT: Duration = Duration::from_secs(10);

/// Runs the program as `argv0`, given the child's end of a new socket
/// pair and `cmd`, with `env` alone as its environment; returns the
/// parent's end and what the program (or what it exec'd) printed.
/// SIGPIPE is ignored in the program from its start, as in a process of
/// the Rust runtime (std's spawn would otherwise reset it).
fn run(argv0: &str, cmd: &[&str], env: &[(&str, &str)]) -> (SyncParent, Output) {
    let (parent, child) = sync_pair().unwrap();
    fcntl(child.as_fd(), FcntlArg::F_SETFD(FdFlag::empty())).unwrap();
    let mut program = Command::new(PROGRAM);
    // SAFETY: signal() is async-signal-safe; SIG_IGN installs no code.
    unsafe {
        program.pre_exec(|| {
            libc::signal(libc::SIGPIPE, libc::SIG_IGN);
            Ok(())
        });
    }
    let out = program
        .arg0(argv0)
        .arg(child.as_fd().as_raw_fd().to_string())
        .args(cmd)
        .env_clear()
        .envs(env.iter().copied())
        .output()
        .unwrap();
    drop(child);
    (parent, out)
}

#[test]
fn it_says_it_runs_then_execs_the_command_with_its_environment_and_path() {
    let (parent, out) = run(
        TRAMPOLINE,
        &["sh", "-c", "echo \"$GREETING\""],
        &[("GREETING", "hello from init"), ("PATH", "/usr/bin:/bin")],
    );
    assert!(out.status.success(), "{out:?}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(stdout, "hello from init\n", "{out:?}");
    parent.expect(REACHED, WAIT).unwrap();
    // The socket was closed by the exec: the monitor reads that as done.
    assert!(matches!(parent.recv(WAIT), Err(Error::SyncEof { .. })));
}

/// Ignored signals stay ignored across exec: a command in the container
/// that writes to a closed pipe must end, not print "Broken pipe".
#[test]
fn the_command_starts_with_sigpipe_at_its_default() {
    let (parent, out) = run(
        TRAMPOLINE,
        &["/bin/sh", "-c", "grep '^SigIgn' /proc/self/status"],
        &[],
    );
    parent.expect(REACHED, WAIT).unwrap();
    let ignored = String::from_utf8_lossy(&out.stdout);
    let mask = u64::from_str_radix(ignored.trim().trim_start_matches("SigIgn:").trim(), 16)
        .unwrap_or_else(|e| panic!("{ignored:?}: {e}"));
    assert_eq!(mask & (1 << (libc::SIGPIPE - 1)), 0, "{ignored}");
}

#[test]
fn a_command_that_cannot_run_is_reported_to_the_monitor() {
    let (parent, out) = run(TRAMPOLINE, &["no-such-init"], &[("PATH", "/nonexistent")]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    parent.expect(REACHED, WAIT).unwrap();
    match parent.recv(WAIT) {
        Err(Error::PeerFailed { message, .. }) => assert_eq!(
            message,
            "Cannot execute init 'no-such-init' in the container: ENOENT: No such file or \
             directory; check lxc.init.cmd and that the rootfs holds it"
        ),
        other => panic!("{other:?}"),
    }
}

#[test]
fn arguments_of_another_version_are_refused_before_anything_runs() {
    let marker = tempfile::tempdir().unwrap();
    let touched = marker.path().join("ran");
    let (parent, out) = run(
        "enclos-init-exec/0",
        &["/bin/touch", touched.to_str().unwrap()],
        &[],
    );
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    match parent.recv(WAIT) {
        Err(Error::PeerFailed { message, .. }) => assert_eq!(
            message,
            "enclos-init-exec does not take the arguments of this enclos (it speaks \
             enclos-init-exec/1): install enclos and enclos-init-exec from the same build"
        ),
        other => panic!("{other:?}"),
    }
    assert!(!touched.exists(), "the command ran");
}

#[test]
fn run_by_anything_but_enclos_s_init_it_says_so_and_ends() {
    // As a container's init of `/proc/self/exe` would run it.
    let out = Command::new(PROGRAM)
        .arg0("/proc/self/exe")
        .args(["wait", "-n", "x"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "enclos-init-exec: started by enclos's init only\n"
    );
    assert!(out.stdout.is_empty());
}
