//! The container's PID 1, from clone to exec: it waits to be moved into
//! the cgroup, sets up the rootfs, its console and identity, and execs
//! `lxc.init.cmd` (start) or runs our small init (execute, in
//! [`execute`]). The monitor side of the handshake is in
//! `launch::spawn_init`.

mod execute;
mod userns;

use std::ffi::CString;
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::time::Duration;

use enclos_namespaces::{RootfsSpec, RootfsStage, SyncChild};
use nix::sys::signal::Signal;
use nix::unistd::setsid;

use crate::error::chain;
use crate::hooks::Hooks;
use crate::limits::InitSetup;
use crate::mapped_root::RootfsIdmap;
use crate::process::{dup_stdio, exec};

/// Steps of the parent/init handshake.
pub(crate) const ATTACHED: u8 = 1;
pub(crate) const READY: u8 = 2;
/// The start-host hooks ran: init may exec.
pub(crate) const GO: u8 = 3;
/// The trampoline ([`crate::init_exec`]) runs and execs the container's
/// init next.
pub(crate) const REACHED: u8 = enclos_init_exec::REACHED;

/// How long init may take to set itself up before start gives up.
pub(crate) const SETUP_TIMEOUT: Duration = Duration::from_secs(30);

/// What PID 1 of the container runs.
#[derive(Debug, Clone)]
pub(crate) enum Init {
    /// exec this program as PID 1 (start).
    Exec(Vec<String>),
    /// Our own init runs this command as its child (execute).
    Run(Vec<String>),
}

/// What init needs, gathered by the monitor before the clone.
pub(crate) struct Setup<'a> {
    /// In a user namespace of its own (`lxc.idmap`), with its rootfs
    /// mapped this way.
    pub userns: Option<RootfsIdmap>,
    pub spec: &'a RootfsSpec,
    pub hooks: &'a Hooks,
    /// Unshare a cgroup namespace once in the cgroup.
    pub cgroup_ns: bool,
    pub env: Vec<CString>,
    /// Capabilities, no_new_privs, seccomp.
    pub confine: &'a crate::confine::Confinement,
    /// The AppArmor profile what init execs runs under.
    pub apparmor: Option<&'a str>,
    pub cwd: String,
    pub uid: Option<u32>,
    pub gid: Option<u32>,
    pub init: Init,
    /// Keep the monitor's standard streams (execute) instead of the console.
    pub console_on_stdio: bool,
    pub limits: InitSetup,
    /// The sealed trampoline to exec the container's init through, when
    /// this start runs from the host's binary ([`crate::init_exec`]).
    pub trampoline: Option<RawFd>,
}

/// PID 1 of the container, from clone to exec (or to our init loop).
/// `placed`: init is in its cgroup on every hierarchy (the monitor moves
/// it before ATTACHED otherwise).
pub(crate) fn main(sync: &SyncChild, s: &Setup, placed: bool) -> i32 {
    // The monitor ignores SIGHUP and SIGPIPE; the container's init and
    // execute's command must not inherit that (an ignored SIGHUP would
    // not even reach execute's forwarding).
    crate::process::default_signal_actions(&[Signal::SIGHUP, Signal::SIGPIPE]);
    // Nothing of the monitor's or its caller's stays in init, where the
    // container's hooks (and, under execute, all of it) could reach it
    // through /proc/1/fd, nor reaches what init runs.
    let sync_fd = std::os::fd::AsFd::as_fd(sync).as_raw_fd();
    let keep: Vec<RawFd> = std::iter::once(sync_fd).chain(s.trampoline).collect();
    if let Err(msg) =
        crate::fds::detach_from_3_except(&keep).and_then(|()| crate::fds::close_on_exec_from_3())
    {
        let _ = sync.fail(&msg);
        return 1;
    }
    let (apparmor, idmapped) = match before_attached(sync, s) {
        Ok(v) => v,
        Err(msg) => {
            let _ = sync.fail(&msg);
            return 1;
        }
    };
    // With a user namespace, the maps are written at ATTACHED: become
    // its root then, before anything is created, so that what init makes
    // is the container's.
    let root = || match s.userns {
        Some(_) => crate::mapped_root::become_root(),
        None => Ok(()),
    };
    // Without one, in its group already, and with no hook of its own
    // (which may expect the network), init sets up its rootfs while the
    // monitor sets up its network: both are done before it may exec.
    let early = (placed && s.userns.is_none() && s.hooks.time_in_init().is_zero())
        .then(|| enter_rootfs(s, idmapped.as_ref()));
    if sync.expect(ATTACHED, SETUP_TIMEOUT).is_err() {
        return 1;
    }
    let entered = match early {
        Some(entered) => entered,
        None => root().and_then(|()| enter_rootfs(s, idmapped.as_ref())),
    };
    let masters = match entered.and_then(|masters| take_identity(s).map(|()| masters)) {
        Ok(masters) => masters,
        Err(msg) => {
            let _ = sync.fail(&msg);
            return 1;
        }
    };
    // The masters of its own ptys go to the monitor, which serves them.
    let sent = sync.send_with_fds(
        READY,
        &masters.iter().map(|m| m.as_fd()).collect::<Vec<_>>(),
    );
    drop(masters);
    if sent.is_err()
        || sync
            .expect(GO, SETUP_TIMEOUT + crate::hooks::HOOK_TIMEOUT)
            .is_err()
    {
        return 1;
    }
    // What init execs, or the command execute forks, runs confined.
    if let Some(Err(msg)) = apparmor.map(|(fd, label)| crate::apparmor::exec_into(fd, label)) {
        let _ = sync.fail(&msg);
        return 1;
    }
    match &s.init {
        Init::Exec(cmd) => exec_init(sync, s, cmd),
        Init::Run(cmd) => {
            // Our init never execs: it closes what it holds of the
            // monitor's (visible in the container as /proc/1/fd) and
            // ends without returning into frames that own them. It logs
            // no more: the log file is among them.
            std::mem::forget(tracing::subscriber::set_default(
                tracing::subscriber::NoSubscriber::default(),
            ));
            if let Err(msg) = crate::fds::close_from_3() {
                eprintln!("enclos: {msg}");
                enclos_namespaces::exit_child(1);
            }
            enclos_namespaces::exit_child(execute::run(cmd, &s.env))
        }
    }
}

/// Execs the container's init (through the trampoline when there is
/// one); returns only on failure, reported.
fn exec_init(sync: &SyncChild, s: &Setup, cmd: &[String]) -> i32 {
    if let Err(msg) = crate::fds::close_on_exec_from_3() {
        let _ = sync.fail(&msg);
        return 1;
    }
    let msg = match s.trampoline {
        Some(handle) => {
            let err = crate::init_exec::exec_through(handle, sync, cmd, &s.env);
            format!(
                "Cannot execute the sealed trampoline that starts init '{}' in the container: {err}",
                cmd.join(" ")
            )
        }
        None => exec_failed(cmd, exec(cmd, &s.env)),
    };
    let _ = sync.fail(&msg);
    1
}

/// What init reports when the container's init cannot be exec'd.
pub(crate) use enclos_init_exec::exec_failed;

/// What init takes before the monitor says ATTACHED: AppArmor's exec
/// attribute, opened on the host's /proc (written just before exec), and
/// the idmapped rootfs the monitor sends.
type BeforeAttached<'a> = (Option<(OwnedFd, &'a str)>, Option<OwnedFd>);

fn before_attached<'a>(sync: &SyncChild, s: &Setup<'a>) -> Result<BeforeAttached<'a>, String> {
    let apparmor = s
        .apparmor
        .map(|l| crate::apparmor::open_exec_attr().map(|fd| (fd, l)))
        .transpose()?;
    let idmapped = match s.userns {
        Some(RootfsIdmap::IdmappedMount) => Some(userns::receive_rootfs(sync)?),
        _ => None,
    };
    Ok((apparmor, idmapped))
}

/// The cgroup namespace, the rootfs (with the `idmapped` mount of it, if
/// any, over the rootfs directory first) and the console. Returns the
/// masters of the ptys made in the container's devpts
/// (`spec.own_ptys`).
fn enter_rootfs(s: &Setup, idmapped: Option<&OwnedFd>) -> Result<Vec<OwnedFd>, String> {
    if s.cgroup_ns {
        nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWCGROUP)
            .map_err(|e| format!("Cannot create the cgroup namespace: {e}"))?;
    }
    s.limits.apply_before_root()?;
    let mut step = |stage| {
        if let Some(mount) = idmapped.filter(|_| stage == RootfsStage::PreMount) {
            userns::mount_rootfs(mount, &s.spec.rootfs)?;
        }
        s.hooks.at_stage(stage)
    };
    let masters = enclos_namespaces::setup_rootfs_with(s.spec, &mut step).map_err(|e| chain(&e))?;
    if !s.console_on_stdio {
        // No console (lxc.console.path = none): /dev/null instead.
        let console = s.spec.console.is_some() || s.spec.own_ptys.is_some_and(|o| o.console);
        match console {
            // In a user namespace, a console held by init could not be
            // taken by a getty on it (stealing a controlling terminal
            // needs CAP_SYS_ADMIN over the host), so init leaves it free
            // for the first session leader that opens it, as LXC does.
            true => attach_console(s.userns.is_none())?,
            false => crate::console_log::null_stdio()?,
        }
    }
    Ok(masters)
}

/// Groups, the confinement (no_new_privs, seccomp, capabilities), the
/// start hooks, the working directory, the user and group, and the
/// limits set last.
fn take_identity(s: &Setup) -> Result<(), String> {
    // Before the capabilities go (CAP_SETGID may be among them).
    nix::unistd::setgroups(&s.limits.groups)
        .map_err(|e| format!("Cannot set init's groups (lxc.init.groups): {e}"))?;
    s.confine.apply()?;
    s.hooks.run("start").map_err(|e| chain(&e))?;
    let cwd = &s.cwd;
    crate::fds::chdir_in_root(cwd).map_err(|e| {
        format!("Cannot change to lxc.init.cwd {cwd} (resolved inside the container, no /proc magic link): {e}")
    })?;
    if let Some(g) = s.gid {
        nix::unistd::setgid(nix::unistd::Gid::from_raw(g))
            .map_err(|e| format!("Cannot switch to lxc.init.gid {g}: {e}"))?;
    }
    if let Some(u) = s.uid {
        nix::unistd::setuid(nix::unistd::Uid::from_raw(u))
            .map_err(|e| format!("Cannot switch to lxc.init.uid {u}: {e}"))?;
    }
    s.limits.apply_before_exec()
}

/// The console (bind-mounted on /dev/console) becomes init's standard
/// input, output and error, and, with `take_ctty`, its controlling
/// terminal.
fn attach_console(take_ctty: bool) -> std::result::Result<(), String> {
    let _ = setsid();
    let fd = nix::fcntl::open(
        "/dev/console",
        nix::fcntl::OFlag::O_RDWR | nix::fcntl::OFlag::O_NOCTTY | nix::fcntl::OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .map_err(|e| format!("Cannot open /dev/console in the container: {e}"))?;
    if take_ctty {
        // SAFETY: TIOCSCTTY takes an int argument; fd is an open terminal.
        let rc = unsafe { libc::ioctl(fd.as_raw_fd(), libc::TIOCSCTTY, 0) };
        if rc < 0 {
            return Err(format!(
                "Cannot make /dev/console the controlling terminal: {}",
                std::io::Error::last_os_error()
            ));
        }
    }
    dup_stdio(&fd).map_err(|e| format!("Cannot set up standard streams: {e}"))
}
