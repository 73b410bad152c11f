//! The monitor: parent of the container's init. It creates the cgroup,
//! holds the console and tty pty masters, answers console clients on an
//! abstract unix socket, writes the state, and cleans up when init exits.

use std::fs::File;
use std::io::Write;
use std::time::Duration;

use enclos_cgroupfs::{DeleteOptions, Populated};
use nix::fcntl::Flock;
use nix::sys::signal::{self, SigHandler, Signal};
use nix::sys::wait::WaitStatus;

mod request;
mod serve;
mod socket;

pub use socket::{connect, socket_name};

use crate::cgroup_keys::MonitorPart::{Rest, Whole};
use crate::console_log::ConsoleOutput;
use crate::container::State;
use crate::error::Result;
use crate::init::Init;
use crate::launch::{make_cgroup, own_ptys, rootfs_spec, spawn_init, HostPtys, Plan, Terminals};

/// The monitor's cgroup: made and entered by the monitor itself (a
/// foreground start, execute), made by the starting command, which
/// cloned the monitor into it on v2, or made and entered by the monitor
/// while init sets itself up or execs ([`MonitorGroup::Meanwhile`]).
pub(crate) enum MonitorGroup {
    ToMake,
    Made(Option<enclos_cgroupfs::Cgroup>),
    /// A daemonized start by root: the starting command made the group's
    /// v2 part (given here) and cloned the monitor into it; the monitor
    /// makes the v1 parts and enters them while init makes its mounts
    /// (no network to make meanwhile) or once it has let init exec the
    /// container's init (after a network), time it would spend waiting
    /// (LXC's monitors enter their groups after the pre-start hooks too).
    /// The start reports RUNNING only after, so no one sees the monitor
    /// elsewhere once the container runs.
    Meanwhile(Option<enclos_cgroupfs::Cgroup>),
}

/// Runs the monitor until the container stops; returns init's exit status.
/// `_mlock` is the monitor lock, held until the end (while it is held the
/// container is not STOPPED); `report` receives "OK" once RUNNING or
/// "ERR why".
pub(crate) fn run(
    plan: Plan,
    _mlock: Flock<File>,
    report: &mut Option<File>,
    group: MonitorGroup,
) -> Result<i32> {
    monitor_signals();
    if plan.init_exec.is_some() {
        // It runs from the host's binary (see crate::init_exec): what
        // shares the host's pid namespace may not open /proc/PID/exe of
        // it without CAP_SYS_PTRACE there. Init, cloned from it, is not
        // dumpable either until it execs.
        nix::sys::prctl::set_dumpable(false).map_err(|e| crate::error::Error::Sys {
            what: "make the monitor not dumpable",
            name: plan.container.name().to_string(),
            source: e,
        })?;
    }
    // The caller's descriptors reach neither the hooks nor the container.
    crate::fds::close_on_exec_from_3().map_err(crate::error::Error::Unsupported)?;
    let c = plan.container.clone();
    // Held to the end, so that the last lines (STOPPED) reach the log
    // file; a failure to open it fails the start once the group made
    // for us is gone again.
    let log = crate::logging::container_log(&plan.config, c.name());
    let meanwhile = matches!(group, MonitorGroup::Meanwhile(_));
    // Meanwhile's v2 part stands for the whole group until the rest is
    // made: leave_monitor_group removes it on every hierarchy.
    let mut monitor_cg = match group {
        MonitorGroup::ToMake => {
            crate::cgroup_keys::make_monitor_group(&c, &plan.cgroups, plan.layout.clone(), Whole)?
        }
        MonitorGroup::Made(cg) | MonitorGroup::Meanwhile(cg) => cg,
    };
    let (log, result) = match log {
        Ok(guard) => {
            let entered = match meanwhile {
                true => Ok(()),
                false => monitor_cg
                    .as_ref()
                    .map_or(Ok(()), crate::cgroup_keys::enter_monitor_group),
            };
            let mut late = LateGroup {
                pending: meanwhile,
                group: &mut monitor_cg,
            };
            (
                Some(guard),
                entered.and_then(|()| run_in_group(&plan, report, &mut late)),
            )
        }
        Err(e) => (None, Err(e)),
    };
    if let Some(cg) = monitor_cg {
        let stop_removes_v2 = matches!(result, Ok((_, true, _)));
        crate::cgroup_keys::leave_monitor_group(&c, &plan.cgroups, cg, stop_removes_v2);
    }
    let result = result.map(|(code, _, leftovers)| {
        tracing::info!(container = c.name(), "STOPPED");
        if plan.config.ephemeral() {
            let leftovers = leftovers.unwrap_or_default();
            crate::discard::remove_ephemeral(&c, removal_group(&plan), leftovers, !plan.foreground);
        }
        code
    });
    drop(log);
    result
}

/// The monitor's group of [`MonitorGroup::Meanwhile`], made and entered
/// once (not again at a reboot) by [`LateGroup::make`].
pub(crate) struct LateGroup<'a> {
    pending: bool,
    group: &'a mut Option<enclos_cgroupfs::Cgroup>,
}

impl LateGroup<'_> {
    /// Makes the monitor's whole group and moves the monitor there, if
    /// that is still to do. Once made, the group is kept (for the monitor
    /// to remove on its way out, as any group of its own) even if the
    /// move fails. The monitor moves by its own thread on v1
    /// (Cgroup::enter_alone): a thread joined just before (netlink work
    /// from inside a tokio runtime, say) may still be counted by the
    /// kernel for a moment, which would send Cgroup::enter the slow way.
    pub(crate) fn make(&mut self, plan: &Plan) -> Result<()> {
        if !std::mem::take(&mut self.pending) {
            return Ok(());
        }
        let c = &plan.container;
        if let Some(whole) =
            crate::cgroup_keys::make_monitor_group(c, &plan.cgroups, plan.layout.clone(), Rest)?
        {
            *self.group = Some(whole);
        }
        match self.group.as_ref() {
            Some(g) => Ok(g.enter_alone(enclos_namespaces::started_in_cgroup())?),
            None => Ok(()),
        }
    }
}

/// The v2 group where an ephemeral container's removal runs: the
/// monitor's pivot when there is one, else the root (the monitor's own
/// group goes when it exits).
fn removal_group(plan: &Plan) -> Option<std::os::fd::OwnedFd> {
    let at = |path: &str| {
        enclos_cgroupfs::Cgroup::new(plan.layout.clone(), &["*"], path)
            .ok()?
            .open_v2_dir()
            .ok()
            .flatten()
    };
    at(&plan.cgroups.pivot).or_else(|| at(""))
}

/// The monitor's work, in its group: the rootfs mounted, init started
/// (again at each reboot) and served until it exits, all undone. Returns
/// init's exit code, whether a `stop` waits for the monitor's exit (its
/// `stopping` file says `await`: that stop then removes the monitor's v2
/// group, see leave_monitor_group), and an ephemeral container's rootfs
/// still mounted: its removal unmounts it (see [`crate::discard`]), and
/// its run files go with its directory.
fn run_in_group(plan: &Plan, report: &mut Option<File>, late: &mut LateGroup) -> Result<Ended> {
    let c = plan.container.clone();
    crate::monitor_keys::apply(&plan.config, c.name())?;
    let mounted = plan.mount_rootfs()?;
    if let Some(m) = &mounted {
        crate::copy::write_pending_hostname(&c, m.root(), plan.hostname.as_deref());
    }
    // Unloaded when dropped: at the end of the container, or of a failed
    // start.
    let _apparmor = crate::apparmor::load(&plan.apparmor, c.name())?;
    let (code, nsrefs) = loop {
        c.write_run_file("monitor.pid", &std::process::id().to_string())?;
        c.write_state(State::Starting)?;
        let started = start_once(plan, late);
        let (cg, terms, mut output, pidfd) = match started {
            Ok(v) => v,
            Err(e) => {
                tracing::error!(container = c.name(), "failed to start: {e}");
                c.clear_runtime();
                return Err(e);
            }
        };
        init_running(plan, &pidfd, report)?;
        let nsrefs = crate::hooks::NsRefs::open(pidfd.pid(), &plan.ns.of_init());
        let status = serve::serve(plan, terms.as_ref(), &mut output, &pidfd);
        drop(output);
        let (code, again, nsrefs) = init_exited(plan, &cg, status, nsrefs);
        if !again {
            break (code, nsrefs);
        }
        tracing::info!(container = c.name(), "rebooting");
    };
    let awaited = c
        .read_run_file(STOPPING)
        .is_some_and(|s| awaited_by_live_stop(&s));
    let on_tmpfs = plan
        .storage
        .as_ref()
        .is_some_and(|s| crate::copy_tmpfs::on_tmpfs(&c, s));
    if plan.config.ephemeral() && !on_tmpfs {
        return Ok((code, awaited, Some((mounted, nsrefs))));
    }
    drop(nsrefs);
    c.clear_run_file(STOPPING);
    c.clear_runtime();
    if let Some(m) = mounted {
        if let Err(e) = m.unmount() {
            tracing::warn!(container = c.name(), "{}", crate::error::chain(&e));
        }
    }
    if let Some(storage) = &plan.storage {
        crate::copy_tmpfs::unmount_upper(&c, storage);
    }
    Ok((code, awaited, None))
}

/// What [`run_in_group`] returns.
type Ended = (i32, bool, Option<crate::discard::Leftovers>);

/// The run file where a `stop` says it asked init to end (what it
/// holds, see [`AWAITED`] and [`NOT_AWAITED`]; empty: no stop).
pub(crate) const STOPPING: &str = "stopping";
/// What a `stop` that waits for the monitor's exit writes in the
/// container's `stopping` run file, before its pid.
pub(crate) const AWAITED: &str = "await";
/// What a `stop` that does not wait (`-W`) writes there.
pub(crate) const NOT_AWAITED: &str = "nowait";

/// Whether the `stopping` file's `text` names a stop that waits for the
/// monitor's exit and still runs (not one interrupted meanwhile, which
/// would leave the monitor's group behind).
fn awaited_by_live_stop(text: &str) -> bool {
    let Some(pid) = text
        .strip_prefix(AWAITED)
        .and_then(|rest| rest.trim().parse::<i32>().ok())
    else {
        return false;
    };
    crate::stop::is_running(pid)
}

/// Init is set up and runs: the run files say so, and the starting
/// command hears "OK".
fn init_running(
    plan: &Plan,
    pidfd: &enclos_namespaces::PidFd,
    report: &mut Option<File>,
) -> Result<()> {
    let c = &plan.container;
    c.write_run_file("init.pid", &pidfd.pid().as_raw().to_string())?;
    c.write_state(State::Running)?;
    if let Some(mut r) = report.take() {
        let _ = writeln!(r, "OK {}", pidfd.pid());
    }
    tracing::info!(container = c.name(), init = pidfd.pid().as_raw(), "RUNNING");
    Ok(())
}

/// Init exited with `status`: the stop (or reboot) hooks, the cgroup
/// removed, the post-stop hook. Returns the exit code, whether to start
/// init again (it rebooted), and an ephemeral container's references to
/// its namespaces, for its removal to let go of.
fn init_exited(
    plan: &Plan,
    cg: &enclos_cgroupfs::Cgroup,
    status: WaitStatus,
    nsrefs: crate::hooks::NsRefs,
) -> (i32, bool, Option<crate::hooks::NsRefs>) {
    let c = &plan.container;
    tracing::info!(container = c.name(), "init exited: {status:?}");
    let _ = c.write_state(State::Stopping);
    // Init that called reboot(2) in its pid namespace ends by SIGHUP:
    // start it again, unless a stop asked for the end.
    let rebooted = matches!(status, WaitStatus::Signaled(_, Signal::SIGHUP, _))
        && matches!(plan.init, Init::Exec(_))
        && c.read_run_file(STOPPING).is_none();
    let target = if rebooted { "reboot" } else { "stop" };
    nsrefs.run_stop_hooks(&plan.hooks, target);
    crate::net::detach(c);
    let env = nsrefs.env(target);
    // An ephemeral container's removal lets go of its namespaces, so that
    // their teardown (an RCU grace period for the mount namespace) does
    // not hold up the stop.
    let nsrefs = (!rebooted && plan.config.ephemeral()).then_some(nsrefs);
    let _ = cg.thaw(Duration::from_secs(2));
    let _ = cg.delete(DeleteOptions {
        recursive: true,
        populated: Populated::Kill,
        ignore_missing: true,
    });
    let code = crate::process::exit_code(status);
    // A failed post-stop hook stops a rebooting container, as in LXC.
    let post_stop_ok = plan.hooks.run_logged("post-stop", &[], &env);
    (code, post_stop_ok && rebooted, nsrefs)
}

/// Ignores SIGPIPE and SIGHUP in the monitor, which outlives terminals and
/// console clients.
pub(crate) fn monitor_signals() {
    // SAFETY: setting SIG_IGN installs no handler code.
    unsafe {
        let _ = signal::signal(Signal::SIGPIPE, SigHandler::SigIgn);
        let _ = signal::signal(Signal::SIGHUP, SigHandler::SigIgn);
    }
}

type Started = (
    enclos_cgroupfs::Cgroup,
    Option<Terminals>,
    ConsoleOutput,
    enclos_namespaces::PidFd,
);

fn start_once(plan: &Plan, late: &mut LateGroup) -> Result<Started> {
    plan.hooks.run("pre-start")?;
    let cg = make_cgroup(plan)?;
    let result = (|| {
        let with_terms = matches!(plan.init, Init::Exec(_));
        let own = own_ptys(plan);
        let host = match with_terms && own.is_none() {
            true => Some(HostPtys::open(&plan.config)?),
            false => None,
        };
        let output = match with_terms {
            true => ConsoleOutput::open(&plan.config)?,
            false => ConsoleOutput::default(),
        };
        let (console, ttys) = match &host {
            Some(h) => (h.console.clone(), h.ttys.clone()),
            None => (None, Vec::new()),
        };
        let mut spec = rootfs_spec(plan, console, ttys)?;
        spec.own_ptys = own;
        let inner = crate::cgroup_keys::init_group(&plan.config, &cg, &plan.container)?;
        let (_pid, pidfd, masters) = spawn_init(
            plan,
            inner.as_ref().unwrap_or(&cg),
            &spec,
            !with_terms,
            late,
        )?;
        let terms = match (host, own) {
            (Some(h), _) => Some(h.terminals),
            (None, Some(own)) => Some(Terminals::from_container(own, masters)?),
            (None, None) => None,
        };
        Ok((terms, output, pidfd))
    })();
    match result {
        Ok((terms, output, pidfd)) => Ok((cg, terms, output, pidfd)),
        Err(e) => {
            let _ = cg.delete(DeleteOptions {
                recursive: true,
                populated: Populated::Kill,
                ignore_missing: true,
            });
            Err(e)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_running_stop_that_waits_takes_the_group_over() {
        let me = std::process::id();
        assert!(awaited_by_live_stop(&format!("{AWAITED} {me}")));
        // `stop -W`, an old file without a pid, a pid that is gone.
        assert!(!awaited_by_live_stop(""));
        assert!(!awaited_by_live_stop(AWAITED));
        assert!(!awaited_by_live_stop(&format!("{AWAITED} {}", i32::MAX)));
        assert!(!awaited_by_live_stop(&format!("{AWAITED} 0")));
    }
}
