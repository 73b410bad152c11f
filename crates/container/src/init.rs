//! The container's PID 1, from clone to exec: it waits to be moved into
//! the cgroup, sets up the rootfs, its console and identity, and execs
//! `lxc.init.cmd` (start) or runs our small init (execute, in
//! [`execute`]). The monitor side of the handshake is in
//! `launch::spawn_init`.

mod execute;
mod userns;

use std::ffi::CString;
use std::os::fd::{AsRawFd, OwnedFd};
use std::time::Duration;

use enclos_namespaces::{RootfsSpec, RootfsStage, SyncChild};
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
    pub cap_drop: Vec<String>,
    pub cap_keep: Option<Vec<String>>,
    pub cwd: String,
    pub uid: Option<u32>,
    pub gid: Option<u32>,
    pub init: Init,
    /// Keep the monitor's standard streams (execute) instead of the console.
    pub console_on_stdio: bool,
    pub limits: InitSetup,
}

/// PID 1 of the container, from clone to exec (or to our init loop).
pub(crate) fn main(sync: &SyncChild, s: &Setup) -> i32 {
    // The monitor sends the idmapped rootfs before ATTACHED.
    let idmapped = match s.userns {
        Some(RootfsIdmap::IdmappedMount) => match userns::receive_rootfs(sync) {
            Ok(fd) => Some(fd),
            Err(msg) => {
                let _ = sync.fail(&msg);
                return 1;
            }
        },
        _ => None,
    };
    if sync.expect(ATTACHED, SETUP_TIMEOUT).is_err() {
        return 1;
    }
    // With a user namespace, the maps are written now: become its root
    // before anything is created, so that what init makes is the
    // container's.
    let root = || match s.userns {
        Some(_) => crate::mapped_root::become_root(),
        None => Ok(()),
    };
    if let Err(msg) = root()
        .and_then(|()| enter_rootfs(s, idmapped.as_ref()))
        .and_then(|()| take_identity(s))
    {
        let _ = sync.fail(&msg);
        return 1;
    }
    if sync.send(READY).is_err()
        || sync
            .expect(GO, SETUP_TIMEOUT + crate::hooks::HOOK_TIMEOUT)
            .is_err()
    {
        return 1;
    }
    match &s.init {
        Init::Exec(cmd) => {
            let err = exec(cmd, &s.env);
            let _ = sync.fail(&format!(
                "Cannot execute init '{}' in the container: {err}; check lxc.init.cmd and that the rootfs holds it",
                cmd.join(" ")
            ));
            1
        }
        Init::Run(cmd) => execute::run(cmd, &s.env),
    }
}

/// The cgroup namespace, the rootfs (with the `idmapped` mount of it, if
/// any, over the rootfs directory first) and the console.
fn enter_rootfs(s: &Setup, idmapped: Option<&OwnedFd>) -> Result<(), String> {
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
    enclos_namespaces::setup_rootfs_with(s.spec, &mut step).map_err(|e| chain(&e))?;
    if !s.console_on_stdio {
        // No console (lxc.console.path = none): /dev/null instead.
        match s.spec.console {
            // In a user namespace, a console held by init could not be
            // taken by a getty on it (stealing a controlling terminal
            // needs CAP_SYS_ADMIN over the host), so init leaves it free
            // for the first session leader that opens it, as LXC does.
            Some(_) => attach_console(s.userns.is_none())?,
            None => crate::console_log::null_stdio()?,
        }
    }
    Ok(())
}

/// Groups, capabilities, the start hooks, the working directory, the
/// user and group, and the limits set last.
fn take_identity(s: &Setup) -> Result<(), String> {
    // Before the capabilities go (CAP_SETGID may be among them).
    nix::unistd::setgroups(&s.limits.groups)
        .map_err(|e| format!("Cannot set init's groups (lxc.init.groups): {e}"))?;
    if let Some(keep) = &s.cap_keep {
        enclos_namespaces::keep_only(keep).map_err(|e| chain(&e))?;
    } else if !s.cap_drop.is_empty() {
        enclos_namespaces::drop_capabilities(&s.cap_drop).map_err(|e| chain(&e))?;
    }
    s.hooks.run("start").map_err(|e| chain(&e))?;
    let cwd = &s.cwd;
    nix::unistd::chdir(cwd.as_str())
        .map_err(|e| format!("Cannot change to lxc.init.cwd {cwd}: {e}"))?;
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
        nix::fcntl::OFlag::O_RDWR | nix::fcntl::OFlag::O_NOCTTY,
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
