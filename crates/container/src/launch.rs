//! Launching a container's init: the [`Plan`] (checked before the
//! monitor forks), the container's cgroup ([`cgroup`]), the rootfs
//! set-up handed to init ([`rootfs`]), the console and tty ptys, and the
//! clone of init with the monitor's side of the handshake.

mod cgroup;
mod rootfs;

use std::path::PathBuf;
use std::sync::Arc;

use enclos_cgroupfs::{Cgroup, Layout};
use enclos_config::Config;
use enclos_namespaces::{spawn_pidfd, sync_pair, Namespace, PidFd, Pty, RootfsSpec};
use nix::sys::signal::Signal;
use nix::unistd::Pid;

use crate::container::Container;
use crate::error::{chain, Error, Result};
use crate::init::{Init, ATTACHED, GO, READY, SETUP_TIMEOUT};
use crate::process::container_env;

pub(crate) use cgroup::make_cgroup;
pub(crate) use rootfs::rootfs_spec;

/// Everything the monitor needs, prepared (and checked) before forking.
pub(crate) struct Plan {
    pub container: Container,
    pub config: Config,
    pub init: Init,
    pub layout: Arc<Layout>,
    /// The namespaces init is cloned with (`ns.clone`).
    pub namespaces: Vec<Namespace>,
    pub ns: crate::ns_plan::NsPlan,
    pub hooks: crate::hooks::Hooks,
    pub cgroups: crate::cgroup_keys::Placement,
    pub rootfs: PathBuf,
    pub foreground: bool,
}

impl Plan {
    pub(crate) fn new(c: &Container, config: Config, init: Init, foreground: bool) -> Result<Plan> {
        if !config.idmaps().is_empty() {
            return Err(Error::Unsupported(format!(
                "Container '{}' has lxc.idmap (an unprivileged container): enclos does not run those yet; remove lxc.idmap to run it privileged",
                c.name()
            )));
        }
        crate::limits::check(&config, c.name())?;
        for note in crate::security::start_notes(&config, c.name())? {
            // start's own words to the user, before the monitor detaches.
            eprintln!("{note}");
        }
        let rootfs = match config.rootfs() {
            Some(r) => crate::create::storage_rootfs(&r)?.prepare()?,
            None => {
                return Err(Error::StartFailed {
                    name: c.name().to_string(),
                    reason: format!("{} has no lxc.rootfs.path", c.config_path().display()),
                })
            }
        };
        let ns = crate::ns_plan::NsPlan::new(c, &config)?;
        let hooks = crate::hooks::Hooks::new(c.name(), &config, &rootfs);
        let layout = Arc::new(Layout::discover()?);
        Ok(Plan {
            container: c.clone(),
            cgroups: crate::cgroup_keys::placement(&config, c, &layout)?,
            config,
            init,
            layout,
            namespaces: ns.clone.clone(),
            ns,
            hooks,
            rootfs,
            foreground,
        })
    }
}

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
    let (parent, child) = sync_pair()?;
    let setup = crate::init::Setup {
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
        let _ = pidfd.send_signal(Signal::SIGKILL);
        let _ = pidfd.reap();
        return Err(e);
    }
    Ok((pid, pidfd))
}
