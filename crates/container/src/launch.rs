//! Launching a container's init: the [`Plan`] (checked before the
//! monitor forks), the container's cgroup ([`cgroup`]), the rootfs
//! set-up handed to init ([`rootfs`]), the console and tty ptys (the
//! host's, or the container's own devpts's when it has a user
//! namespace), and the
//! clone of init with the monitor's side of the handshake.

pub(crate) mod cgroup;
mod device_bpf;
mod devices;
mod idmap;
mod plan;
mod rootfs;
mod user_scope;

use std::os::fd::{AsFd, OwnedFd};
use std::path::PathBuf;

use enclos_cgroupfs::Cgroup;
use enclos_config::Config;
use enclos_namespaces::{spawn_pidfd_into, sync_pair, OwnPtys, PidFd, Pty, RootfsSpec, SyncParent};
use nix::fcntl::{fcntl, FcntlArg, OFlag};
use nix::sys::signal::Signal;
use nix::unistd::Pid;

use crate::console_log::no_console;
use crate::error::{chain, Error, Result};
use crate::init::{Init, ATTACHED, GO, READY, SETUP_TIMEOUT};
use crate::mapped_root::RootfsIdmap;
use crate::process::container_env;

pub(crate) use cgroup::{make_cgroup, user_cgroup_fix, v2_login_fix};
pub(crate) use plan::Plan;
pub(crate) use rootfs::rootfs_spec;
pub(crate) use user_scope::join_manager;

/// The pty masters of the console and of the ttys of `lxc.tty.max`,
/// which the monitor serves (non-blocking).
pub(crate) struct Terminals {
    pub console: OwnedFd,
    pub ttys: Vec<OwnedFd>,
}

/// Host ptys for a privileged container: their masters, and the slaves
/// init bind-mounts (the console's, unless `lxc.console.path = none`,
/// then the ttys').
pub(crate) struct HostPtys {
    pub terminals: Terminals,
    pub console: Option<PathBuf>,
    pub ttys: Vec<PathBuf>,
}

impl HostPtys {
    pub fn open(cfg: &Config) -> Result<HostPtys> {
        let console = Pty::open_with(true)?;
        let mut ttys = Vec::new();
        for _ in 0..cfg.tty_max() {
            ttys.push(Pty::open_with(true)?);
        }
        Ok(HostPtys {
            console: Some(console.slave_path).filter(|_| !no_console(cfg)),
            ttys: ttys.iter().map(|p| p.slave_path.clone()).collect(),
            terminals: Terminals {
                console: console.master,
                ttys: ttys.into_iter().map(|p| p.master).collect(),
            },
        })
    }
}

/// An unprivileged container's console and ttys are ptys of its own
/// devpts instance, made by its init (as LXC does): their slaves belong
/// to the container's root, mode 0620, and no host pty is handed to the
/// container's ids. `None` for a privileged container, which gets host
/// ptys ([`HostPtys`]), or without terminals (execute).
pub(crate) fn own_ptys(plan: &Plan) -> Option<OwnPtys> {
    (plan.userns.is_some() && matches!(plan.init, Init::Exec(_))).then(|| OwnPtys {
        console: !no_console(&plan.config),
        ttys: plan.config.tty_max() as usize,
    })
}

impl Terminals {
    /// From the masters init sent for `own` (console first). A console
    /// left out (`lxc.console.path = none`) gets a host pty of the
    /// monitor's that nothing inside opens.
    pub fn from_container(own: OwnPtys, masters: Vec<OwnedFd>) -> Result<Terminals> {
        for m in &masters {
            let flags = fcntl(m.as_fd(), FcntlArg::F_GETFL)
                .map(OFlag::from_bits_retain)
                .and_then(|f| fcntl(m.as_fd(), FcntlArg::F_SETFL(f | OFlag::O_NONBLOCK)));
            flags.map_err(|source| enclos_namespaces::Error::Pty {
                action: "make the container's pty master non-blocking",
                source,
            })?;
        }
        let mut masters = masters.into_iter();
        let console = match own.console {
            true => masters.next(),
            false => Some(Pty::open_with(true)?.master),
        };
        let console = console.ok_or(enclos_namespaces::Error::Pty {
            action: "receive the console's master from init",
            source: nix::errno::Errno::EBADMSG,
        })?;
        Ok(Terminals {
            console,
            ttys: masters.collect(),
        })
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

/// Clones init, which starts in its group `cg`: cloned into it on v2,
/// and moving itself by its own thread on v1 (see Cgroup::enter), so that
/// no move of its pid by us takes the kernel's global threadgroup lock.
/// The last value says whether init is in the group; when not (the
/// kernel refused the clone into it), the caller moves it.
fn clone_init(
    plan: &Plan,
    cg: &Cgroup,
    parent: &SyncParent,
    child: enclos_namespaces::SyncChild,
    setup: &crate::init::Setup<'_>,
) -> Result<(Pid, PidFd, bool)> {
    let placement = cg.open_for_child()?;
    let place = &placement;
    let (pid, pidfd, placed) = plan.ns.around_clone(|| {
        Ok(spawn_pidfd_into(
            &plan.namespaces,
            place.v2_dir(),
            move || {
                let _ = parent.close_in_child();
                if let Err(e) = place.enter_v1() {
                    let _ = child.fail(&chain(&e));
                    return 1;
                }
                if let Err(e) = plan.ns.enter_shared() {
                    let _ = child.fail(&e);
                    return 1;
                }
                // In its group on every hierarchy already, or moved
                // there by the monitor before ATTACHED.
                let placed = enclos_namespaces::started_in_cgroup() || place.v2_dir().is_none();
                crate::init::main(&child, setup, placed)
            },
        )?)
    })?;
    Ok((pid, pidfd, placed || placement.v2_dir().is_none()))
}

/// Waits until init has exec'd the container's init (through the
/// trampoline when `trampoline`); the reason of a failure.
fn await_exec(parent: &SyncParent, trampoline: bool) -> std::result::Result<(), String> {
    if trampoline {
        // The trampoline says it runs: an end of the socket before that is
        // its death, not init's exec; a report of its own (another
        // version's arguments) says what.
        parent
            .expect(crate::init::REACHED, SETUP_TIMEOUT)
            .map_err(|e| match e {
                enclos_namespaces::Error::PeerFailed { message, .. } => message,
                e => format!(
                    "the sealed trampoline that execs init ended first: {}",
                    chain(&e)
                ),
            })?;
    }
    // Success is the end of the socket at exec (close-on-exec); a failed
    // exec reports its error instead.
    match parent.recv(SETUP_TIMEOUT) {
        Err(enclos_namespaces::Error::SyncEof { .. }) => Ok(()),
        Err(e) => Err(chain(&e)),
        Ok(other) => Err(format!("unexpected message {other} from init")),
    }
}

/// Clones init into its namespaces, moves it into the cgroup, and waits
/// until it is set up (and, for `Init::Exec`, has exec'd). Returns its
/// pid, its pidfd and the masters of the ptys it made in its own devpts
/// (`spec.own_ptys`).
pub(crate) fn spawn_init(
    plan: &Plan,
    cg: &Cgroup,
    spec: &RootfsSpec,
    console_on_stdio: bool,
    late: &mut crate::monitor::LateGroup,
) -> Result<(Pid, PidFd, Vec<OwnedFd>)> {
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
        confine: &plan.confine,
        apparmor: plan.apparmor.exec_label(),
        cwd: plan.config.init_cwd().unwrap_or("/").to_string(),
        uid: plan.config.init_uid(),
        gid: plan.config.init_gid(),
        init: plan.init.clone(),
        console_on_stdio,
        limits: crate::limits::InitSetup::new(&plan.config),
        trampoline: plan.init_exec.as_ref().map(std::os::fd::AsRawFd::as_raw_fd),
    };
    let (pid, pidfd, moved) = clone_init(plan, cg, &parent, child, &setup)?;
    // Hooks in init's set-up may take their time.
    let setup_timeout = SETUP_TIMEOUT + plan.hooks.time_in_init();
    let fail = |reason: String| Error::StartFailed {
        name: name.clone(),
        reason,
    };
    let result = (|| -> Result<Vec<OwnedFd>> {
        if !moved {
            cg.attach(pid.as_raw())?;
        }
        crate::limits::apply_from_monitor(&plan.config, &name, pid)?;
        map_ids(plan, &parent, pid)?;
        let networked = crate::net::attach(&plan.container, &plan.config, pid)?;
        parent.send(ATTACHED)?;
        // The monitor's own group (MonitorGroup::Meanwhile) is made while
        // init makes its mounts when the monitor has nothing else to do
        // then; after a network, the two together outlasted the mounts
        // and held GO back, so it is made once init is let exec (veth
        // starts, 40 alternating pairs three times: 7.81 against 7.55,
        // 9.29 against 8.83, 9.77 against 9.08 ms). Not by a thread during
        // the network: 8.39 against 8.26 ms.
        if !networked {
            late.make(plan)?;
        }
        let masters = parent
            .expect_with_fds(READY, setup_timeout)
            .map_err(|e| fail(chain(&e)))?;
        let wanted = spec.own_ptys.map_or(0, |o| o.count());
        if masters.len() != wanted {
            return Err(fail(format!(
                "init sent {} pty masters instead of {wanted}",
                masters.len()
            )));
        }
        let pid_env = [("LXC_PID".to_string(), pid.to_string())];
        plan.hooks.run_with("start-host", &[], &pid_env)?;
        parent.send(GO)?;
        late.make(plan)?;
        if matches!(plan.init, Init::Exec(_)) {
            await_exec(&parent, plan.init_exec.is_some()).map_err(fail)?;
        }
        Ok(masters)
    })();
    match result {
        Ok(masters) => Ok((pid, pidfd, masters)),
        Err(e) => {
            crate::net::detach(&plan.container);
            let _ = pidfd.send_signal(Signal::SIGKILL);
            let _ = pidfd.reap();
            Err(e)
        }
    }
}
