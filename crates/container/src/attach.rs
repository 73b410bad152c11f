//! attach: run a command inside a running container. No monitor is
//! involved: the command joins the cgroup and the namespaces of the
//! container's init through its pidfd ([`child`]). When our stdin is a
//! terminal, the command gets a pty of the container's own devpts, which
//! [`terminal`] proxies to ours.

mod child;
mod terminal;

use std::ffi::CString;
use std::fs::{File, OpenOptions};
use std::io::Read;
use std::os::fd::{AsFd, OwnedFd};

use enclos_namespaces::PidFd;
use nix::sys::socket::{socketpair, AddressFamily, SockFlag, SockType};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::{fork, ForkResult, Pid};

use crate::container::{Container, State};
use crate::error::{Error, Result};
use crate::process::{container_env, exit_code};

/// What `attach` is asked.
#[derive(Debug, Clone, Default)]
pub struct AttachOptions {
    /// The command; none: the shell of the user in the container.
    pub command: Vec<String>,
    /// Start from an empty environment (`--clear-env`) rather than ours.
    pub clear_env: bool,
    /// Extra variables (`-v VAR=value`).
    pub env: Vec<(String, String)>,
    /// Variables of ours to keep with `clear_env` (`--keep-var`).
    pub keep_vars: Vec<String>,
    pub uid: Option<u32>,
    pub gid: Option<u32>,
    /// Give the command a pty of the container, proxied to our terminal
    /// (set it when our stdin is a terminal).
    pub pty: bool,
}

/// Runs the command in the container; returns its exit status (128 +
/// signal when killed, or when attach itself was told to stop by one).
///
/// Attach forks: the calling process must have a single thread, or this
/// returns an error instead of forking.
pub fn attach(c: &Container, opts: &AttachOptions) -> Result<i32> {
    crate::threads::refuse_threads(c, "attach to")?;
    let plan = plan(c, opts)?;
    let sys = |what: &'static str| {
        let name = c.name().to_string();
        move |source| Error::Sys { what, name, source }
    };
    let (err_rd, err_wr) =
        nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(sys("create a pipe"))?;
    let socks = if opts.pty {
        Some(
            socketpair(
                AddressFamily::Unix,
                SockType::SeqPacket,
                None,
                SockFlag::SOCK_CLOEXEC,
            )
            .map_err(sys("create a socket pair"))?,
        )
    } else {
        None
    };
    let (ours, theirs) = socks.map_or((None, None), |(a, b)| (Some(a), Some(b)));
    // SAFETY: checked above that this process has one thread; the child
    // runs straight-line code and exits or execs (child::run never returns).
    let child = match unsafe { fork() }.map_err(sys("fork"))? {
        ForkResult::Child => {
            drop((err_rd, ours));
            child::run(plan, err_wr, theirs)
        }
        ForkResult::Parent { child } => child,
    };
    drop((err_wr, theirs, plan));
    let code = match ours {
        Some(sock) => serve_terminal(c, &sock, child)?,
        None => exit_code(waitpid(child, None).unwrap_or(WaitStatus::StillAlive)),
    };
    let mut msg = String::new();
    let _ = File::from(err_rd).read_to_string(&mut msg);
    if !msg.is_empty() {
        return Err(Error::Unsupported(msg));
    }
    Ok(code)
}

/// Receives the pty master the child opened in the container and proxies
/// it to our terminal; returns the command's exit status.
fn serve_terminal(c: &Container, sock: &OwnedFd, child: Pid) -> Result<i32> {
    let pidfd = PidFd::open(child)?;
    let master = match enclos_namespaces::recv_fd(sock.as_fd()) {
        Ok(Some(m)) => m,
        // The child failed before it had a terminal; its reason is in the
        // error pipe.
        Ok(None) => return Ok(exit_code(pidfd.reap()?)),
        Err(e) => {
            let _ = pidfd.send_signal(nix::sys::signal::Signal::SIGKILL);
            let _ = pidfd.reap();
            return Err(Error::Unsupported(format!(
                "Cannot get the terminal of the command in container '{}': {}",
                c.name(),
                crate::error::chain(&e)
            )));
        }
    };
    match terminal::proxy(master, &pidfd) {
        terminal::End::Exited => Ok(exit_code(pidfd.reap()?)),
        terminal::End::Signaled(sig) => {
            // Reap it if the hangup ended it; otherwise leave it be.
            let _ = waitpid(child, Some(WaitPidFlag::WNOHANG));
            Ok(128 + sig as i32)
        }
    }
}

/// Everything the child needs, gathered while the host's /proc and /sys
/// are still ours.
fn plan(c: &Container, opts: &AttachOptions) -> Result<child::Plan> {
    let init_pid = running_init(c)?;
    let cfg = c.config()?;
    let init = PidFd::open(Pid::from_raw(init_pid))?;
    let layout = c.layout()?;
    let cg = c.init_cgroup(layout)?;
    // A user's container below the user's systemd manager: the child
    // can join its group only from below the manager too.
    crate::launch::join_manager(c.name(), cg.path()).map_err(|e| {
        Error::Unsupported(format!(
            "Cannot join the cgroup of container '{}' from this login session: {e}; run attach in a session whose user manager and bus are up (loginctl enable-linger USER, dbus-user-session), or from `systemd-run --user --scope`",
            c.name()
        ))
    })?;
    let procs: Vec<File> = cg
        .members()
        .iter()
        .filter_map(|m| {
            OpenOptions::new()
                .write(true)
                .open(m.dir.join("cgroup.procs"))
                .ok()
        })
        .collect();
    let command = if opts.command.is_empty() {
        vec!["/bin/sh".to_string()]
    } else {
        opts.command.clone()
    };
    Ok(child::Plan {
        procs,
        init,
        env: environment(&cfg, opts),
        command,
        confine: crate::confine::Confinement::from_config(&cfg, c.name())?,
        apparmor: crate::apparmor::attach_label(init_pid),
        persona: crate::limits::persona(&cfg),
        uid: opts.uid,
        gid: opts.gid,
    })
}

/// Init's pid, if the container is running.
fn running_init(c: &Container) -> Result<i32> {
    let state = c.state()?;
    if state != State::Running {
        return Err(Error::WrongState {
            name: c.name().to_string(),
            state: state.as_str(),
            hint: if state == State::Frozen {
                "unfreeze it first"
            } else {
                "start it first (enclos start -n NAME)"
            },
        });
    }
    c.init_pid().ok_or_else(|| Error::WrongState {
        name: c.name().to_string(),
        state: state.as_str(),
        hint: "its init is unknown (monitor gone?); stop it with -k",
    })
}

/// The command's environment: ours (or only the kept variables and TERM
/// with `clear_env`, on top of the container's), plus `-v` ones.
fn environment(cfg: &enclos_config::Config, opts: &AttachOptions) -> Vec<CString> {
    let mut extra: Vec<(String, String)> = Vec::new();
    if !opts.clear_env {
        extra.extend(std::env::vars());
    } else {
        for k in &opts.keep_vars {
            if let Ok(v) = std::env::var(k) {
                extra.push((k.clone(), v));
            }
        }
        if let Ok(t) = std::env::var("TERM") {
            extra.push(("TERM".into(), t));
        }
    }
    extra.extend(opts.env.iter().cloned());
    if opts.clear_env {
        return container_env(cfg, &extra);
    }
    extra
        .iter()
        .filter_map(|(k, v)| CString::new(format!("{k}={v}")).ok())
        .chain(std::iter::once(
            CString::new("container=lxc").unwrap_or_default(),
        ))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_multi_threaded_caller_gets_an_error_not_a_fork() {
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let other = std::thread::spawn(move || rx.recv());
        let dir = tempfile::tempdir().unwrap();
        let c = Container::new(dir.path(), "c1").unwrap();
        let err = attach(&c, &AttachOptions::default()).unwrap_err();
        drop(tx);
        let _ = other.join();
        let msg = err.to_string();
        assert!(
            msg.starts_with("Cannot attach to container 'c1' from a process with several threads"),
            "{msg}"
        );
    }
}
