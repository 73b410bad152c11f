//! Launching a container's init: the [`Plan`] (checked before the
//! monitor forks), the container's cgroup ([`cgroup`]), the rootfs
//! set-up handed to init ([`rootfs`]), the console and tty ptys, and the
//! clone of init with the monitor's side of the handshake.

mod cgroup;
mod idmap;
mod plan;
mod rootfs;

use std::os::fd::AsFd;

use enclos_cgroupfs::Cgroup;
use enclos_config::Config;
use enclos_namespaces::{spawn_pidfd, sync_pair, PidFd, Pty, RootfsSpec, SyncParent};
use nix::sys::signal::Signal;
use nix::unistd::Pid;

use crate::error::{chain, Error, Result};
use crate::init::{Init, ATTACHED, GO, READY, SETUP_TIMEOUT};
use crate::mapped_root::RootfsIdmap;
use crate::process::container_env;

pub(crate) use cgroup::make_cgroup;
pub(crate) use plan::Plan;
pub(crate) use rootfs::rootfs_spec;

/// Ptys for the console and the ttys of `lxc.tty.max`.
pub(crate) struct Terminals {
    pub console: Pty,
    pub ttys: Vec<Pty>,
}

impl Terminals {
    pub fn open(cfg: &Config) -> Result<Terminals> {
        let console = Pty::open_with(true)?;
        let mut ttys = Vec::new();
        for _ in 0..cfg.tty_max() {
            ttys.push(Pty::open_with(true)?);
        }
        Ok(Terminals { console, ttys })
    }
}

/// An unprivileged container's init, just cloned: its maps written and,
/// for a rootfs of host root, the idmapped mount of it sent to init. Run
/// files say how the rootfs was mapped (for `info`).
fn map_ids(plan: &Plan, parent: &SyncParent, pid: Pid) -> Result<()> {
    let c = &plan.container;
    let Some(u) = &plan.userns else {
        return RootfsIdmap::record(c, None);
    };
    idmap::write_maps(c.name(), pid, &u.maps)?;
    if u.rootfs == RootfsIdmap::IdmappedMount {
        let mount = idmap::idmapped_rootfs(c.name(), &plan.rootfs, pid, u.root)?;
        enclos_namespaces::send_fd(parent.as_fd(), mount.as_fd())?;
    }
    RootfsIdmap::record(c, Some(u.rootfs))
}

/// Clones init into its namespaces, moves it into the cgroup, and waits
/// until it is set up (and, for `Init::Exec`, has exec'd). Returns its
/// pid and pidfd.
pub(crate) fn spawn_init(
    plan: &Plan,
    cg: &Cgroup,
    spec: &RootfsSpec,
    console_on_stdio: bool,
) -> Result<(Pid, PidFd)> {
    let name = plan.container.name().to_string();
    if let Some(u) = &plan.userns {
        cgroup::delegate(cg, u.root)?;
    }
    let (parent, child) = sync_pair()?;
    let setup = crate::init::Setup {
        userns: plan.userns.as_ref().map(|u| u.rootfs),
        spec,
        hooks: &plan.hooks,
        cgroup_ns: plan.ns.cgroup,
        env: container_env(&plan.config, &[]),
        cap_drop: plan.config.cap_drop(),
        cap_keep: plan.config.cap_keep(),
        cwd: plan.config.init_cwd().unwrap_or("/").to_string(),
        uid: plan.config.init_uid(),
        gid: plan.config.init_gid(),
        init: plan.init.clone(),
        console_on_stdio,
        limits: crate::limits::InitSetup::new(&plan.config),
    };
    let p = &parent;
    let (pid, pidfd) = plan.ns.around_clone(|| {
        Ok(spawn_pidfd(&plan.namespaces, move || {
            let _ = p.close_in_child();
            if let Err(e) = plan.ns.enter_shared() {
                let _ = child.fail(&e);
                return 1;
            }
            crate::init::main(&child, &setup)
        })?)
    })?;
    // Hooks in init's set-up may take their time.
    let setup_timeout = SETUP_TIMEOUT + plan.hooks.time_in_init();
    let fail = |reason: String| Error::StartFailed {
        name: name.clone(),
        reason,
    };
    let result = (|| -> Result<()> {
        cg.attach(pid.as_raw())?;
        crate::limits::apply_from_monitor(&plan.config, &name, pid)?;
        map_ids(plan, &parent, pid)?;
        crate::net::attach(&plan.container, &plan.config, pid)?;
        parent.send(ATTACHED)?;
        parent
            .expect(READY, setup_timeout)
            .map_err(|e| fail(chain(&e)))?;
        let pid_env = [("LXC_PID".to_string(), pid.to_string())];
        plan.hooks.run_with("start-host", &[], &pid_env)?;
        parent.send(GO)?;
        if matches!(plan.init, Init::Exec(_)) {
            // Success is the end of the socket at exec (close-on-exec); a
            // failed exec reports its error instead.
            match parent.recv(SETUP_TIMEOUT) {
                Err(enclos_namespaces::Error::SyncEof { .. }) => {}
                Err(e) => return Err(fail(chain(&e))),
                Ok(other) => return Err(fail(format!("unexpected message {other} from init"))),
            }
        }
        Ok(())
    })();
    if let Err(e) = result {
        crate::net::detach(&plan.container);
        let _ = pidfd.send_signal(Signal::SIGKILL);
        let _ = pidfd.reap();
        return Err(e);
    }
    Ok((pid, pidfd))
}
