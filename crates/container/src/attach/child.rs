//! The attach child: joins the container's cgroup and namespaces, forks
//! into its pid namespace, and becomes the command. With a terminal, the
//! command's pty is opened in the container's own devpts instance and its
//! master sent back to the attach process.

use std::ffi::CString;
use std::fs::File;
use std::io::Write;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::Path;

use enclos_namespaces::{Namespace, PidFd, PtyPair};
use nix::errno::Errno;
use nix::sys::wait::waitpid;
use nix::unistd::{fork, ForkResult, Gid, Uid};

use crate::error::chain;
use crate::process::{dup_stdio, exec, exit_code};

/// What the child needs, all gathered before the fork.
pub(super) struct Plan {
    /// `cgroup.procs` of each of the container's groups, opened while the
    /// host's /sys was still ours.
    pub procs: Vec<File>,
    pub init: PidFd,
    pub env: Vec<CString>,
    pub command: Vec<String>,
    /// Capabilities, no_new_privs, seccomp: as init's.
    pub confine: crate::confine::Confinement,
    /// The AppArmor profile of init, which the command execs into.
    pub apparmor: Option<String>,
    /// The container's execution domain (`lxc.arch`), entered as
    /// lxc-attach does.
    pub persona: Option<libc::c_ulong>,
    pub uid: Option<u32>,
    pub gid: Option<u32>,
}

/// The namespaces an attached command shares with init (the user
/// namespace first: setns enters it before the others).
const NAMESPACES: [Namespace; 8] = [
    Namespace::User,
    Namespace::Cgroup,
    Namespace::Ipc,
    Namespace::Uts,
    Namespace::Net,
    Namespace::Pid,
    Namespace::Mount,
    Namespace::Time,
];

/// The child's whole life: never returns. Failures are written to `err`
/// (one message) and end the child with 127.
pub(super) fn run(plan: Plan, err: OwnedFd, pty_sock: Option<OwnedFd>) -> ! {
    let err_fd = err.as_raw_fd();
    let mut err = File::from(err);
    let mut fail = |msg: String| -> ! {
        let _ = err.write_all(msg.as_bytes());
        enclos_namespaces::exit_child(127)
    };
    // Nothing of the caller's beyond stdio reaches the command.
    if let Err(msg) = crate::fds::close_on_exec_from_3() {
        fail(msg)
    }
    // On the host's /proc; the forked command inherits it.
    if let Some(label) = &plan.apparmor {
        if let Err(msg) =
            crate::apparmor::open_exec_attr().and_then(|fd| crate::apparmor::exec_into(fd, label))
        {
            fail(msg)
        }
    }
    if let Err(msg) = enter(&plan) {
        fail(msg)
    }
    // A new pid namespace applies to children: fork once more.
    // SAFETY: the attach process checked it has one thread; this child
    // runs straight-line code and exits or execs.
    match unsafe { fork() } {
        Ok(ForkResult::Parent { child }) => {
            drop(err);
            drop(pty_sock);
            let status = waitpid(child, None).map(exit_code).unwrap_or(1);
            enclos_namespaces::exit_child(status)
        }
        Ok(ForkResult::Child) => {}
        Err(e) => fail(format!("Cannot fork in the container: {e}")),
    }
    // Visible in the container from now on: hold nothing of the host's
    // but the error pipe and the terminal's socket (this process execs
    // or exits, never dropping what owned the rest).
    let mut keep = vec![err_fd];
    keep.extend(pty_sock.as_ref().map(|s| s.as_raw_fd()));
    // The log file (`-o FILE`) is among what goes: this process logs no
    // more (its errors travel by the pipe), else each event would fail
    // on stderr, which is the command's.
    std::mem::forget(tracing::subscriber::set_default(
        tracing::subscriber::NoSubscriber::default(),
    ));
    if let Err(msg) = crate::fds::close_from_3_except(&keep) {
        fail(msg)
    }
    if let Some(sock) = pty_sock {
        if let Err(msg) = take_terminal(&sock, plan.uid, plan.gid) {
            fail(msg)
        }
    }
    if let Err(msg) = become_user(&plan) {
        fail(msg)
    }
    if let Err(msg) = crate::limits::set_personality(plan.persona) {
        fail(msg)
    }
    // The container's root, whatever our cwd was on the host.
    if let Err(e) = crate::fds::chdir_in_root("/") {
        fail(format!("Cannot change to / in the container: {e}"))
    }
    if let Err(msg) = crate::fds::close_on_exec_from_3() {
        fail(msg)
    }
    let e = exec(&plan.command, &plan.env);
    fail(format!(
        "Cannot run '{}' in the container: {e}",
        plan.command.join(" ")
    ))
}

/// Joins the container's cgroups and the namespaces init does not share
/// with us; in an unprivileged container's user namespace, becomes its
/// root.
fn enter(plan: &Plan) -> Result<(), String> {
    for mut f in &plan.procs {
        f.write_all(b"0")
            .map_err(|e| format!("Cannot join the container's cgroup: {e}"))?;
    }
    let init_pid = plan.init.pid();
    let own: Vec<Namespace> = NAMESPACES
        .into_iter()
        .filter(|ns| {
            let mine = std::fs::read_link(format!("/proc/self/ns/{}", ns.proc_name()));
            let its = std::fs::read_link(format!("/proc/{init_pid}/ns/{}", ns.proc_name()));
            mine.ok() != its.ok()
        })
        .collect();
    plan.init
        .join(&own)
        .map_err(|e| format!("Cannot join the container's namespaces: {}", chain(&e)))?;
    if own.contains(&Namespace::User) {
        crate::mapped_root::become_root()?;
    }
    Ok(())
}

/// Opens a pty in the container's devpts instance (we are in its mount
/// namespace now), sends the master to the attach process, and makes the
/// slave our controlling terminal and stdio in a session of our own.
fn take_terminal(sock: &OwnedFd, uid: Option<u32>, gid: Option<u32>) -> Result<(), String> {
    let pair = PtyPair::open_at(Path::new("/dev/pts/ptmx"))
        .or_else(|_| PtyPair::open_at(Path::new("/dev/ptmx")))
        .map_err(|e| format!("Cannot open a terminal in the container: {}", chain(&e)))?;
    if uid.is_some() || gid.is_some() {
        nix::unistd::fchown(
            pair.slave.as_fd(),
            uid.map(Uid::from_raw),
            gid.map(Gid::from_raw),
        )
        .map_err(|e| format!("Cannot give the terminal to the user: {e}"))?;
    }
    enclos_namespaces::send_fd(sock.as_fd(), pair.master.as_fd()).map_err(|e| chain(&e))?;
    drop(pair.master);
    nix::unistd::setsid().map_err(|e| format!("Cannot start a session: {e}"))?;
    enclos_namespaces::set_controlling_terminal(pair.slave.as_fd())
        .map_err(|e| format!("Cannot take the terminal: {}", chain(&e)))?;
    dup_stdio(&pair.slave).map_err(|e| format!("Cannot use the terminal as stdio: {e}"))
}

/// Supplementary groups, gid, the confinement (no_new_privs, seccomp,
/// capabilities), uid, in the order that keeps
/// the privilege each step needs: the caller's groups never reach the
/// container.
fn become_user(plan: &Plan) -> Result<(), String> {
    match nix::unistd::setgroups(&[]) {
        // A user namespace whose setgroups is denied has none to leak.
        Ok(()) | Err(Errno::EPERM) => {}
        Err(e) => return Err(format!("Cannot clear the supplementary groups: {e}")),
    }
    if let Some(g) = plan.gid {
        nix::unistd::setgid(Gid::from_raw(g))
            .map_err(|e| format!("Cannot switch to gid {g}: {e}"))?;
    }
    plan.confine.apply()?;
    if let Some(u) = plan.uid {
        nix::unistd::setuid(Uid::from_raw(u))
            .map_err(|e| format!("Cannot switch to uid {u}: {e}"))?;
    }
    Ok(())
}
