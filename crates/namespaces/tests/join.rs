//! Privileged: joining another process's namespaces through a pidfd.

mod common;

use std::time::Duration;

use common::*;
use enclos_namespaces::*;
use nix::fcntl::OFlag;
use nix::sys::signal::Signal;
use nix::sys::wait::WaitStatus;
use nix::unistd::{pipe2, write};

const READY: u8 = 1;
const T: Duration = Duration::from_secs(30);

/// A child in new UTS and net namespaces, with hostname `name`, that waits
/// until the parent's end of the sync channel closes.
fn sleeper(name: &'static str) -> (ChildGuard, PidFd, SyncParent) {
    let (parent, child) = sync_pair().unwrap();
    let p = &parent;
    let (pid, pidfd) = spawn_pidfd(&[Namespace::Uts, Namespace::Net], move || {
        if p.close_in_child().is_err() || nix::unistd::sethostname(name).is_err() {
            let _ = child.fail("Cannot set the hostname");
            return 1;
        }
        if child.send(READY).is_err() {
            return 1;
        }
        // Until the parent goes away (EOF) or a minute passes.
        let _ = child.recv(Duration::from_secs(60));
        0
    })
    .unwrap();
    let guard = ChildGuard::new(pid);
    parent.expect(READY, T).unwrap();
    (guard, pidfd, parent)
}

/// Runs `f` in a forked helper and returns what it wrote to its pipe.
fn in_helper(f: impl FnOnce() -> Result<String>) -> (String, WaitStatus) {
    let (r, w) = pipe2(OFlag::O_CLOEXEC).unwrap();
    let pid = spawn(&[], move || match f() {
        Ok(text) => {
            let _ = write(&w, text.as_bytes());
            0
        }
        Err(e) => {
            let mut text = format!("error: {e}");
            if let Some(s) = std::error::Error::source(&e) {
                text.push_str(&format!(": {s}"));
            }
            let _ = write(&w, text.as_bytes());
            1
        }
    })
    .unwrap();
    let mut guard = ChildGuard::new(pid);
    let out = read_to_eof(&r, T);
    (out, guard.wait(T))
}

fn ns_link(pid: &str, ns: &str) -> String {
    std::fs::read_link(format!("/proc/{pid}/ns/{ns}"))
        .unwrap()
        .to_string_lossy()
        .into_owned()
}

#[test]
fn join_enters_uts_and_net_namespaces() {
    let _serial = serial();
    if !require_root("join_enters_uts_and_net_namespaces") {
        return;
    }
    let (mut guard, pidfd, parent) = sleeper("enclos-join-test");
    let pid = guard.pid;
    let (out, status) = in_helper(|| {
        join(pid, &[Namespace::Uts, Namespace::Net])?;
        let host = nix::unistd::gethostname().unwrap();
        Ok(format!(
            "hostname={}\nnet={}\n",
            host.to_string_lossy(),
            ns_link("self", "net")
        ))
    });
    assert_eq!(
        status,
        WaitStatus::Exited(status.pid().unwrap(), 0),
        "{out}"
    );
    assert_eq!(fact(&out, "hostname"), Some("enclos-join-test"), "{out}");
    assert_eq!(
        fact(&out, "net"),
        Some(ns_link(&pid.to_string(), "net").as_str()),
        "{out}"
    );
    assert_ne!(ns_link(&pid.to_string(), "net"), ns_link("self", "net"));
    // This process stayed where it was.
    assert_ne!(nix::unistd::gethostname().unwrap(), "enclos-join-test");

    // The same through the pidfd the clone returned.
    let (out, _) = in_helper(|| {
        pidfd.join(&[Namespace::Uts])?;
        Ok(format!(
            "hostname={}\n",
            nix::unistd::gethostname().unwrap().to_string_lossy()
        ))
    });
    assert_eq!(fact(&out, "hostname"), Some("enclos-join-test"), "{out}");

    drop(parent);
    assert!(pidfd.wait_exit(Some(T)).unwrap());
    assert_eq!(guard.wait(T), WaitStatus::Exited(pid, 0));
}

#[test]
fn join_after_exit_fails_cleanly() {
    let _serial = serial();
    if !require_root("join_after_exit_fails_cleanly") {
        return;
    }
    let (mut guard, pidfd, parent) = sleeper("enclos-join-gone");
    pidfd.send_signal(Signal::SIGKILL).unwrap();
    assert!(pidfd.wait_exit(Some(T)).unwrap());
    let (out, status) = in_helper(|| {
        pidfd.join(&[Namespace::Uts])?;
        Ok("joined\n".into())
    });
    assert!(matches!(status, WaitStatus::Exited(_, 1)), "{out}");
    assert!(
        out.starts_with("error: Cannot join the uts namespace(s) of process"),
        "{out}"
    );
    drop(parent);
    assert!(matches!(
        guard.wait(T),
        WaitStatus::Signaled(_, Signal::SIGKILL, _)
    ));
}
