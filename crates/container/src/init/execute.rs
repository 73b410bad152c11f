//! The small init that `execute` runs as PID 1 (after the set-up in
//! [`super::main`]): it starts the command, forwards the signals it
//! receives to it, reaps every orphan, and exits with the command's status
//! (128 + signal when the command was killed).

use std::ffi::CString;

use nix::sys::signal::{self, SigSet, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::{fork, ForkResult, Pid};

use crate::process::{exec, exit_code};

/// Signals passed on to the command.
const FORWARDED: &[Signal] = &[
    Signal::SIGHUP,
    Signal::SIGINT,
    Signal::SIGQUIT,
    Signal::SIGTERM,
    Signal::SIGUSR1,
    Signal::SIGUSR2,
    Signal::SIGWINCH,
    Signal::SIGCONT,
    Signal::SIGPWR,
];

/// Runs `cmd` and returns the status init exits with.
pub(crate) fn run(cmd: &[String], env: &[CString]) -> i32 {
    // Signals are taken synchronously with sigwait, so they are blocked
    // here and unblocked in the command.
    let mut set = SigSet::empty();
    set.add(Signal::SIGCHLD);
    for s in FORWARDED {
        set.add(*s);
    }
    if set.thread_block().is_err() {
        return 1;
    }
    // SAFETY: init is single-threaded; the child only execs.
    let child = match unsafe { fork() } {
        Ok(ForkResult::Child) => {
            let _ = set.thread_unblock();
            let err = exec(cmd, env);
            eprintln!(
                "enclos: cannot execute '{}' in the container: {err}",
                cmd.join(" ")
            );
            enclos_namespaces::exit_child(if err == nix::Error::ENOENT { 127 } else { 126 });
        }
        Ok(ForkResult::Parent { child }) => child,
        Err(e) => {
            eprintln!("enclos: cannot fork the command: {e}");
            return 1;
        }
    };
    loop {
        let sig = match set.wait() {
            Ok(s) => s,
            Err(_) => continue,
        };
        if sig != Signal::SIGCHLD {
            let _ = signal::kill(child, sig);
            continue;
        }
        if let Some(code) = reap(child) {
            return code;
        }
    }
}

/// Reaps every exited child; the command's status once it has exited.
fn reap(child: Pid) -> Option<i32> {
    let mut result = None;
    loop {
        match waitpid(Pid::from_raw(-1), Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::StillAlive) | Err(_) => return result,
            Ok(status) => {
                if status.pid() == Some(child) {
                    result = Some(exit_code(status));
                }
            }
        }
    }
}
