//! start and execute: the commands that run a container.
//!
//! `start` forks a monitor (daemonized unless foreground) that creates the
//! cgroup, allocates the console and tty ptys, clones init into new
//! namespaces, and reports RUNNING (or why not) to the command that started
//! it over a pipe. It then serves the console and cleans up when init
//! exits. `execute` runs the same monitor in the foreground with a small
//! init of our own as PID 1 that runs one command.

use std::fs::{self, File, OpenOptions};
use std::io::{BufRead, Write};
use std::os::fd::AsFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use enclos_config::Config;
use nix::fcntl::{Flock, FlockArg};
use nix::unistd::setsid;

use crate::cgroup_keys::MonitorPart;
use crate::container::{Container, State};
use crate::error::{chain, io_err, Error, Result};
use crate::init::Init;
use crate::launch::Plan;
use crate::monitor::MonitorGroup;
use crate::process::redirect_stdio_to_null;

/// What `start` is asked.
#[derive(Debug, Clone, Default)]
pub struct StartOptions {
    /// Stay in the foreground (`-F`): this process is the monitor and the
    /// console is its terminal.
    pub foreground: bool,
    /// Use this configuration file instead of the container's (`-f`).
    pub config_file: Option<PathBuf>,
    /// Run this instead of `lxc.init.cmd` (`-- CMD`).
    pub command: Option<Vec<String>>,
    /// The name to write in `/etc/hostname` of the rootfs once mounted,
    /// when that is a file: an ephemeral copy's new name (see
    /// [`crate::start_copy`]).
    pub hostname: Option<String>,
    /// This process is a start command of its own, which re-executes
    /// itself from a sealed binary when the start cannot run from the
    /// host's ([`crate::TRAMPOLINE`]). Autostart and `copy -e` run sealed
    /// from their first step.
    pub may_reexec: bool,
}

/// Starts the container and returns once it is RUNNING (or, in the
/// foreground, once it has stopped again).
pub fn start(c: &Container, opts: &StartOptions) -> Result<()> {
    start_checked(c, opts).map_err(|e| explain_failure(c, e))
}

/// A user's failed start of a container with maps: the doctor's findings
/// that concern its failure, added to its error.
fn explain_failure(c: &Container, e: Error) -> Error {
    use crate::doctor::{self, HostPaths, StartFailure, Subject};
    if nix::unistd::geteuid().is_root() {
        return e;
    }
    let failure = match &e {
        Error::Userns(crate::userns::UsernsError::IdMap(i)) => StartFailure::from(i),
        Error::Cgroup(_) => StartFailure::Cgroup,
        Error::StartFailed { reason, .. } if reason.contains("cannot reach its rootfs") => {
            StartFailure::RootfsAccess
        }
        Error::StartFailed { reason, .. }
            if reason.contains("newuidmap") || reason.contains("newgidmap") =>
        {
            StartFailure::IdMap
        }
        _ => return e,
    };
    let host = HostPaths::default();
    let Ok(subject) = Subject::for_container(c, doctor::calling_user(&host)) else {
        return e;
    };
    let findings = doctor::findings_for_start_failure(&host, &subject, failure);
    if subject.maps.is_empty() || findings.is_empty() {
        return e;
    }
    let found: Vec<String> = findings.iter().map(|f| format!(" {f};")).collect();
    let doctor = format!(
        "\n`enclos doctor -n {}` finds:{}",
        c.name(),
        found.concat().trim_end_matches(';')
    );
    match e {
        Error::StartFailed { name, reason } => Error::StartFailed {
            name,
            reason: reason + &doctor,
        },
        other => {
            eprintln!("{}", doctor.trim_start());
            other
        }
    }
}

fn start_checked(c: &Container, opts: &StartOptions) -> Result<()> {
    crate::threads::refuse_threads(c, "start")?;
    if crate::create::remove_dead_ephemeral(c) {
        // As if it had been removed when its monitor died.
        return Err(Error::NotFound {
            name: c.name().to_string(),
            lxcpath: c.lxcpath().to_path_buf(),
            config: c.config_path(),
        });
    }
    let lock = lock_stopped(c, "stop it first (enclos stop -n NAME)")?;
    let config = run_config(c, opts.config_file.as_deref())?;
    let init = match &opts.command {
        Some(cmd) if !cmd.is_empty() => cmd.clone(),
        _ => config
            .init_cmd()
            .unwrap_or_else(|| vec!["/sbin/init".to_string()]),
    };
    // Before anything is made: it may re-execute this process.
    let init_exec = crate::init_exec::for_start(c, &config, opts.may_reexec)?;
    let mut plan = Plan::new(c, config, Init::Exec(init), opts.foreground)?;
    plan.hostname.clone_from(&opts.hostname);
    plan.init_exec = init_exec;
    if opts.foreground {
        // However init ended (a halt ends it by a signal), the container
        // ran and is stopped: a failure to start is an Err of its own.
        let mlock = take_monitor_lock(c)?;
        // The monitor lock keeps others off from now on (see daemonize_monitor).
        drop(lock);
        crate::monitor::run(plan, mlock, &mut None, MonitorGroup::ToMake)?;
        return Ok(());
    }
    daemonize_monitor(plan, lock)
}

/// Takes the operation lock of a container that must be stopped.
fn lock_stopped(c: &Container, hint: &'static str) -> Result<crate::container::OpLock> {
    let lock = c.lock()?;
    let state = c.state()?;
    if state.is_active() {
        return Err(Error::WrongState {
            name: c.name().to_string(),
            state: state.as_str(),
            hint,
        });
    }
    // A killed monitor's groups go before a new monitor makes its own.
    crate::cgroup_keys::clean_after_dead_monitor(c);
    Ok(lock)
}

/// The configuration to run with: `file` (`-f`) instead of the
/// container's own.
fn run_config(c: &Container, file: Option<&Path>) -> Result<Config> {
    match file {
        Some(f) => Ok(Config::load(f)?),
        None => c.config(),
    }
}

/// Runs `cmd` in the container with a small init of ours as PID 1, in the
/// foreground; returns the command's exit status (128 + signal if killed).
pub fn execute(c: &Container, cmd: Vec<String>, config_file: Option<&Path>) -> Result<i32> {
    crate::threads::refuse_threads(c, "execute")?;
    let lock = lock_stopped(
        c,
        "execute needs a stopped container; use attach to run a command in a running one",
    )?;
    let config = run_config(c, config_file)?;
    let cmd = if cmd.is_empty() {
        config.execute_cmd().ok_or_else(|| Error::InvalidArgument {
            what: "command",
            value: String::new(),
            reason: "give the command after --, or set lxc.execute.cmd".into(),
        })?
    } else {
        cmd
    };
    let plan = Plan::new(c, config, Init::Run(cmd), true)?;
    let mlock = take_monitor_lock(c)?;
    drop(lock);
    crate::monitor::run(plan, mlock, &mut None, MonitorGroup::ToMake)
}

/// Spawns the monitor into the background (a new session of its own)
/// and waits for its report.
///
/// The monitor is this process's child, not a grandchild: no
/// intermediate process is forked and reaped on the way (a fork of this
/// binary costs about 0.4 ms of every start). Once its report is read
/// this process exits and the monitor goes to the reaper above it, as a
/// double-forked one would; it starts a session of its own, so the
/// terminal's signals never reach it, and it opens terminals with
/// O_NOCTTY only, so it never gets a controlling one.
fn daemonize_monitor(plan: Plan, lock: crate::container::OpLock) -> Result<()> {
    let name = plan.container.name().to_string();
    let failed = |e: Error| match e {
        e @ Error::StartFailed { .. } => e,
        other => Error::StartFailed {
            name: name.clone(),
            reason: chain(&other),
        },
    };
    // Taken here and inherited, the monitor lock is held without a gap
    // from now until the monitor exits, even if we are killed: a stop
    // sees the container STARTING, never STOPPED while a monitor comes.
    // It keeps other commands off (the container is active), so the
    // operation lock goes once the monitor has it: `stop -k` may end a
    // start under way.
    let mlock = take_monitor_lock(&plan.container)?;
    plan.container.clear_runtime();
    let (rd, wr) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(|e| Error::Sys {
        what: "create the status pipe",
        name: name.clone(),
        source: e,
    })?;
    // The monitor is cloned into its group on v2 (see Cgroup::enter),
    // made here first. Root's monitor makes the v1 parts itself, while
    // init sets itself up or execs (MonitorGroup::Meanwhile); a user's, or one
    // under lxc.cgroup.relative (whose base must be left before the
    // container's group gets controllers), finds them all made here.
    let late = nix::unistd::geteuid().is_root() && !plan.config.cgroup_relative();
    let c = plan.container.clone();
    let part = match late {
        true => MonitorPart::V2First,
        false => MonitorPart::Whole,
    };
    let group =
        crate::cgroup_keys::make_monitor_group(&c, &plan.cgroups, plan.layout.clone(), part)
            .map_err(failed)?;
    let v2_dir = group.as_ref().and_then(|g| g.open_v2_dir().ok().flatten());
    let v2 = v2_dir.as_ref().map(|fd| fd.as_fd());
    let made = group.clone();
    let op_lock = lock.fd();
    let monitor_lock = std::os::fd::AsRawFd::as_raw_fd(&*mlock);
    // Never dropped in this process (the closure is, unrun): the monitor
    // lock's drop would unlock the monitor's copy (one open file), and
    // the plan is the monitor's to run.
    let state = std::mem::ManuallyDrop::new((plan, mlock));
    let mut report = Some(File::from(wr));
    let rep = &mut report;
    // The calling process is single-threaded (the CLI creates no
    // threads), so the forked child may run arbitrary code.
    let spawned = enclos_namespaces::spawn_pidfd_into(&[], v2, move || {
        // The caller keeps the operation lock until the report arrives;
        // our copy goes (without unlocking the caller's).
        crate::container::close_inherited(op_lock);
        let _ = setsid();
        let (plan, mlock) = std::mem::ManuallyDrop::into_inner(state);
        let _ = std::env::set_current_dir("/");
        redirect_stdio_to_null();
        let group = match late {
            true => MonitorGroup::Meanwhile(group),
            false => MonitorGroup::Made(group),
        };
        match crate::monitor::run(plan, mlock, rep, group) {
            Ok(_) => 0,
            Err(e) => report_failure(rep, &e),
        }
    });
    // The write end is the monitor's alone: its exit ends our read. So is
    // the monitor lock: our copy goes, without unlocking the monitor's.
    drop(report);
    crate::container::close_inherited(monitor_lock);
    let monitor = match spawned {
        Ok((_, pidfd, _)) => pidfd,
        Err(e) => {
            if let Some(g) = made {
                let _ = g.delete(enclos_cgroupfs::DeleteOptions {
                    recursive: true,
                    populated: enclos_cgroupfs::Populated::Refuse,
                    ignore_missing: true,
                });
            }
            return Err(failed(Error::from(e)));
        }
    };
    drop(lock);
    await_report(name, File::from(rd), &monitor)
}

/// Reads the monitor's report ("OK", or "ERR why") from `report`; a
/// monitor that failed exits right after its report (or has died), and
/// is reaped here, so that it leaves no zombie behind.
fn await_report(name: String, report: File, monitor: &enclos_namespaces::PidFd) -> Result<()> {
    let mut text = String::new();
    let _ = std::io::BufReader::new(report).read_line(&mut text);
    let line = text.trim_end();
    if line.starts_with("OK") {
        return Ok(());
    }
    if monitor.wait_exit(Some(MONITOR_EXIT)).unwrap_or(false) {
        let _ = monitor.reap();
    }
    let reason = match line.strip_prefix("ERR ") {
        Some(reason) => reason.to_string(),
        None => "its monitor exited without a report (killed?)".into(),
    };
    Err(Error::StartFailed { name, reason })
}

/// How long a failed monitor is waited for after its report, to be reaped.
const MONITOR_EXIT: std::time::Duration = std::time::Duration::from_secs(5);

/// Tells the starting command why the monitor failed ("ERR why", one
/// line); returns the monitor's exit code.
fn report_failure(report: &mut Option<File>, e: &Error) -> i32 {
    // The starting command adds "failed to start" itself.
    let reason = match e {
        Error::StartFailed { reason, .. } => reason.clone(),
        other => chain(other),
    };
    if let Some(r) = report.as_mut() {
        let _ = writeln!(r, "ERR {}", reason.replace('\n', " "));
    }
    1
}

/// Takes the monitor lock (held for the monitor's life: while it is held
/// the container is not STOPPED).
pub(crate) fn take_monitor_lock(c: &Container) -> Result<Flock<File>> {
    fs::create_dir_all(c.run_dir()).map_err(io_err("create", c.run_dir()))?;
    let path = c.run_file("monitor.lock");
    let f = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .mode(0o600)
        .custom_flags(libc::O_CLOEXEC)
        .open(&path)
        .map_err(io_err("open", &path))?;
    Flock::lock(f, FlockArg::LockExclusiveNonblock).map_err(|_| Error::WrongState {
        name: c.name().to_string(),
        state: State::Running.as_str(),
        hint: "another monitor holds it",
    })
}
