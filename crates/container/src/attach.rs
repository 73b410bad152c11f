//! attach: run a command inside a running container. No monitor is
//! involved: the command joins the cgroup and the namespaces of the
//! container's init through its pidfd.

use std::ffi::CString;
use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::os::fd::{AsFd, AsRawFd};

use enclos_namespaces::{Namespace, PidFd, Pty, RawTerminal};
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::{fork, ForkResult, Pid};

use crate::container::{Container, State};
use crate::error::{Error, Result};
use crate::start::{container_env, exec, exit_code};

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
    /// Give the command a new pty (when our stdin is a terminal).
    pub pty: bool,
}

/// Runs the command in the container; returns its exit status (128 +
/// signal when killed).
pub fn attach(c: &Container, opts: &AttachOptions) -> Result<i32> {
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
    let cfg = c.config()?;
    let init_pid = c.init_pid().ok_or_else(|| Error::WrongState {
        name: c.name().to_string(),
        state: state.as_str(),
        hint: "its init is unknown (monitor gone?); stop it with -k",
    })?;
    let init = PidFd::open(Pid::from_raw(init_pid))?;
    // Open the cgroup files while the host's /sys is still ours.
    let layout = std::sync::Arc::new(enclos_cgroupfs::Layout::discover()?);
    let cg = c.init_cgroup(layout)?;
    let mut procs: Vec<File> = Vec::new();
    for m in cg.members() {
        let path = m.dir.join("cgroup.procs");
        if let Ok(f) = OpenOptions::new().write(true).open(&path) {
            procs.push(f);
        }
    }
    // The environment.
    let mut extra: Vec<(String, String)> = Vec::new();
    if !opts.clear_env {
        for (k, v) in std::env::vars() {
            extra.push((k, v));
        }
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
    let env: Vec<CString> = if opts.clear_env {
        container_env(&cfg, &extra)
    } else {
        extra
            .iter()
            .filter_map(|(k, v)| CString::new(format!("{k}={v}")).ok())
            .chain(std::iter::once(
                CString::new("container=lxc").unwrap_or_default(),
            ))
            .collect()
    };
    let command = if opts.command.is_empty() {
        vec!["/bin/sh".to_string()]
    } else {
        opts.command.clone()
    };
    let pty = if opts.pty { Some(Pty::open()?) } else { None };
    let cap_drop = cfg.cap_drop();
    let persona = crate::limits::persona(&cfg);
    let (err_rd, err_wr) =
        nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(|e| Error::Sys {
            what: "create a pipe",
            name: c.name().to_string(),
            source: e,
        })?;
    let namespaces = [
        Namespace::Cgroup,
        Namespace::Ipc,
        Namespace::Uts,
        Namespace::Net,
        Namespace::Pid,
        Namespace::Mount,
    ];
    // SAFETY: the CLI is single-threaded; the child runs straight-line code
    // and exits.
    let child = match unsafe { fork() }.map_err(|e| Error::Sys {
        what: "fork",
        name: c.name().to_string(),
        source: e,
    })? {
        ForkResult::Child => {
            drop(err_rd);
            let mut err = File::from(err_wr);
            let mut fail = |msg: String| -> ! {
                let _ = err.write_all(msg.as_bytes());
                enclos_namespaces::exit_child(127)
            };
            for mut f in procs {
                if let Err(e) = f.write_all(b"0") {
                    fail(format!("Cannot join the container's cgroup: {e}"));
                }
            }
            // Only the namespaces init does not share with us.
            let own: Vec<Namespace> = namespaces
                .into_iter()
                .filter(|ns| {
                    let mine = std::fs::read_link(format!("/proc/self/ns/{}", ns.proc_name()));
                    let its = std::fs::read_link(format!("/proc/{init_pid}/ns/{}", ns.proc_name()));
                    mine.ok() != its.ok()
                })
                .collect();
            if let Err(e) = init.join(&own) {
                fail(format!(
                    "Cannot join the container's namespaces: {}",
                    crate::start::chain(&e)
                ));
            }
            // A new pid namespace applies to children: fork once more.
            // SAFETY: single-threaded, as above.
            match unsafe { fork() } {
                Ok(ForkResult::Parent { child }) => {
                    drop(err);
                    let status = waitpid(child, None).map(exit_code).unwrap_or(1);
                    enclos_namespaces::exit_child(status)
                }
                Ok(ForkResult::Child) => {}
                Err(e) => fail(format!("Cannot fork in the container: {e}")),
            }
            if let Some(p) = &pty {
                let _ = nix::unistd::setsid();
                let slave = match p.open_slave() {
                    Ok(s) => s,
                    Err(e) => fail(format!("Cannot open the terminal: {e}")),
                };
                // SAFETY: TIOCSCTTY takes an int; slave is an open tty.
                unsafe { libc::ioctl(slave.as_raw_fd(), libc::TIOCSCTTY, 0) };
                let _ = crate::start::dup_stdio(&slave);
            }
            if !cap_drop.is_empty() {
                if let Err(e) = enclos_namespaces::drop_capabilities(&cap_drop) {
                    fail(crate::start::chain(&e));
                }
            }
            if let Some(g) = opts.gid {
                if let Err(e) = nix::unistd::setgid(nix::unistd::Gid::from_raw(g)) {
                    fail(format!("Cannot switch to gid {g}: {e}"));
                }
            }
            if let Some(u) = opts.uid {
                if let Err(e) = nix::unistd::setuid(nix::unistd::Uid::from_raw(u)) {
                    fail(format!("Cannot switch to uid {u}: {e}"));
                }
            }
            // As lxc-attach: the container's execution domain (lxc.arch).
            if let Err(e) = crate::limits::set_personality(persona) {
                fail(e);
            }
            let _ = std::env::set_current_dir("/");
            let e = exec(&command, &env);
            fail(format!(
                "Cannot run '{}' in container: {e}",
                command.join(" ")
            ))
        }
        ForkResult::Parent { child } => child,
    };
    drop(err_wr);
    if let Some(p) = &pty {
        let child_fd = PidFd::open(child)?;
        proxy_terminal(p, &child_fd);
    }
    let status = waitpid(child, None).unwrap_or(WaitStatus::StillAlive);
    let mut msg = String::new();
    let _ = File::from(err_rd).read_to_string(&mut msg);
    if !msg.is_empty() {
        return Err(Error::StartFailed {
            name: c.name().to_string(),
            reason: msg,
        }
        .into_attach());
    }
    Ok(exit_code(status))
}

impl Error {
    fn into_attach(self) -> Error {
        match self {
            Error::StartFailed { reason, .. } => Error::Unsupported(reason),
            e => e,
        }
    }
}

/// Copies between our terminal and the pty master until the command
/// ends. We hold a slave open ourselves, so the master never reads EIO
/// before the command has opened it; the end is the child's exit.
fn proxy_terminal(p: &Pty, child: &PidFd) {
    use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
    let stdin = std::io::stdin();
    if let Ok((rows, cols)) = enclos_namespaces::window_size(stdin.as_fd()) {
        let _ = p.set_size(rows, cols);
    }
    let _raw = RawTerminal::enter(stdin.as_fd()).ok();
    let _slave = p.open_slave().ok();
    let mut buf = [0u8; 8192];
    let mut stdin_open = true;
    let copy_out = |buf: &mut [u8]| -> bool {
        match nix::unistd::read(&p.master, buf) {
            Ok(n) if n > 0 => {
                let _ = std::io::stdout().write_all(&buf[..n]);
                let _ = std::io::stdout().flush();
                true
            }
            _ => false,
        }
    };
    loop {
        let mut fds = vec![
            PollFd::new(p.master.as_fd(), PollFlags::POLLIN),
            PollFd::new(child.as_fd(), PollFlags::POLLIN),
        ];
        if stdin_open {
            fds.push(PollFd::new(stdin.as_fd(), PollFlags::POLLIN));
        }
        if poll(&mut fds, PollTimeout::NONE).is_err() {
            continue;
        }
        let m = fds[0].revents().unwrap_or(PollFlags::empty());
        let done = fds[1]
            .revents()
            .unwrap_or(PollFlags::empty())
            .contains(PollFlags::POLLIN);
        let s = fds
            .get(2)
            .and_then(|f| f.revents())
            .unwrap_or(PollFlags::empty());
        drop(fds);
        if m.contains(PollFlags::POLLIN) {
            copy_out(&mut buf);
        }
        if s.intersects(PollFlags::POLLIN | PollFlags::POLLHUP) {
            match std::io::stdin().read(&mut buf) {
                Ok(n) if n > 0 => {
                    let _ = nix::unistd::write(&p.master, &buf[..n]);
                }
                _ => stdin_open = false,
            }
        }
        if done {
            // What the command wrote last is still in the master.
            let _ = nix::fcntl::fcntl(
                &p.master,
                nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::O_NONBLOCK),
            );
            while copy_out(&mut buf) {}
            return;
        }
    }
}
