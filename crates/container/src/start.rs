//! start and execute: the monitor, the container's cgroup and namespaces,
//! and its init.
//!
//! `start` forks a monitor (daemonized unless foreground) that creates the
//! cgroup, allocates the console and tty ptys, clones init into new
//! namespaces, and reports RUNNING (or why not) to the command that started
//! it over a pipe. It then serves the console and cleans up when init
//! exits. `execute` runs the same monitor in the foreground with a small
//! init of our own as PID 1 that runs one command.

use std::ffi::CString;
use std::fs::{self, File, OpenOptions};
use std::io::{BufRead, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use enclos_cgroupfs::{Cgroup, DeleteOptions, Layout, Permissions, Populated, Version};
use enclos_config::{CgroupMode as CfgCgroupMode, Config, ProcMode as CfgProc, SysMode as CfgSys};
use enclos_namespaces::{
    spawn_pidfd, sync_pair, CgroupHierarchy, CgroupMode, CgroupMount, DevPts, MountSpec, Namespace,
    PidFd, ProcMode, Pty, RootfsSpec, SyncChild, SysMode,
};
use nix::fcntl::{Flock, FlockArg};
use nix::sys::signal::{self, SigHandler, Signal};
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::{fork, setsid, ForkResult, Pid};

use crate::container::{Container, State};
use crate::error::{io_err, Error, Result};

/// Steps of the parent/init handshake.
const ATTACHED: u8 = 1;
const READY: u8 = 2;
/// The start-host hooks ran: init may exec.
const GO: u8 = 3;

/// How long init may take to set itself up before start gives up.
const SETUP_TIMEOUT: Duration = Duration::from_secs(30);

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
}

/// What PID 1 of the container runs.
#[derive(Debug, Clone)]
pub(crate) enum Init {
    /// exec this program as PID 1 (start).
    Exec(Vec<String>),
    /// Our own init runs this command as its child (execute).
    Run(Vec<String>),
}

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
    fn new(c: &Container, config: Config, init: Init, foreground: bool) -> Result<Plan> {
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
        let mount = config.rootfs_mount().map(PathBuf::from);
        let hooks = crate::hooks::Hooks::new(c.name(), &config, mount.as_ref().unwrap_or(&rootfs));
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

/// Starts the container and returns once it is RUNNING (or, in the
/// foreground, once it has stopped again).
pub fn start(c: &Container, opts: &StartOptions) -> Result<()> {
    crate::threads::refuse_threads(c, "start")?;
    let lock = lock_stopped(c, "stop it first (enclos stop -n NAME)")?;
    let config = run_config(c, opts.config_file.as_deref())?;
    let init = match &opts.command {
        Some(cmd) if !cmd.is_empty() => cmd.clone(),
        _ => config
            .init_cmd()
            .unwrap_or_else(|| vec!["/sbin/init".to_string()]),
    };
    let plan = Plan::new(c, config, Init::Exec(init), opts.foreground)?;
    if opts.foreground {
        // However init ended (a halt ends it by a signal), the container
        // ran and is stopped: a failure to start is an Err of its own.
        let mlock = take_monitor_lock(c)?;
        // The monitor lock keeps others off from now on (see daemonize_monitor).
        drop(lock);
        crate::monitor::run(plan, mlock, &mut None)?;
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
    crate::monitor::run(plan, mlock, &mut None)
}

/// Forks the monitor into the background (double fork, new session) and
/// waits for its report.
fn daemonize_monitor(plan: Plan, lock: crate::container::OpLock) -> Result<()> {
    let name = plan.container.name().to_string();
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
    // SAFETY: the calling process is single-threaded (the CLI creates no
    // threads), so the child may run arbitrary code after fork.
    match unsafe { fork() }.map_err(|e| Error::Sys {
        what: "fork the monitor",
        name: name.clone(),
        source: e,
    })? {
        ForkResult::Child => {
            drop(rd);
            // The caller keeps the operation lock until the report arrives;
            // our copy goes (without unlocking the caller's).
            lock.close_in_child();
            let _ = setsid();
            // SAFETY: still single-threaded, as above.
            match unsafe { fork() } {
                Ok(ForkResult::Child) => {}
                Ok(ForkResult::Parent { .. }) => enclos_namespaces::exit_child(0),
                Err(_) => enclos_namespaces::exit_child(1),
            }
            let mut report = Some(File::from(wr));
            let _ = std::env::set_current_dir("/");
            redirect_stdio_to_null();
            let code = match crate::monitor::run(plan, mlock, &mut report) {
                Ok(_) => 0,
                Err(e) => {
                    // The starting command adds "failed to start" itself.
                    let reason = match &e {
                        Error::StartFailed { reason, .. } => reason.clone(),
                        other => chain(other),
                    };
                    if let Some(r) = report.as_mut() {
                        let _ = writeln!(r, "ERR {}", reason.replace('\n', " "));
                    }
                    1
                }
            };
            enclos_namespaces::exit_child(code)
        }
        ForkResult::Parent { child } => {
            crate::container::close_shared_lock(mlock);
            drop(lock);
            drop(wr);
            let _ = waitpid(child, None);
            let mut text = String::new();
            let _ = std::io::BufReader::new(File::from(rd)).read_line(&mut text);
            let line = text.trim_end();
            if line.starts_with("OK") {
                Ok(())
            } else if let Some(reason) = line.strip_prefix("ERR ") {
                Err(Error::StartFailed {
                    name,
                    reason: reason.to_string(),
                })
            } else {
                Err(Error::StartFailed {
                    name,
                    reason: "its monitor exited without a report (killed?)".into(),
                })
            }
        }
    }
}

/// An error with its causes, on one line.
pub(crate) use enclos_report::chain;

fn redirect_stdio_to_null() {
    if let Ok(null) = OpenOptions::new().read(true).write(true).open("/dev/null") {
        let _ = dup_stdio(&null);
    }
}

/// The container's cgroup: created (a leftover empty one is removed
/// first) and given the settings of the configuration.
pub(crate) fn make_cgroup(plan: &Plan) -> Result<Cgroup> {
    let c = &plan.container;
    let path = &plan.cgroups.container;
    c.write_run_file(crate::cgroup_keys::RUN_FILE, path)?;
    let cg = Cgroup::new(plan.layout.clone(), &["*"], path)?;
    if cg.members().iter().any(|m| m.dir.is_dir()) {
        // A leftover group goes, unless processes of an earlier run are
        // still in it (the delete checks before removing anything).
        match cg.delete(DeleteOptions {
            recursive: true,
            populated: Populated::Refuse,
            ignore_missing: true,
        }) {
            Ok(()) => {}
            Err(enclos_cgroupfs::Error::Populated { .. }) => {
                return Err(Error::StartFailed {
                    name: c.name().to_string(),
                    reason: format!(
                        "processes of an earlier run are still in cgroup {}; `enclos stop -k -n {}` ends them",
                        cg.name(),
                        c.name()
                    ),
                })
            }
            Err(e) => return Err(e.into()),
        }
    }
    cg.create(&Permissions::default())?;
    if let Err(e) = apply_cgroup_settings(plan, &cg) {
        let _ = cg.delete(DeleteOptions {
            recursive: true,
            populated: Populated::Kill,
            ignore_missing: true,
        });
        return Err(e);
    }
    Ok(cg)
}

fn apply_cgroup_settings(plan: &Plan, cg: &Cgroup) -> Result<()> {
    for s in plan.config.cgroup_settings() {
        let controller = s.key.split('.').next().unwrap_or("");
        let h = plan.layout.resolve(controller);
        let on_v1 = matches!(&h, Ok(h) if h.version == Version::V1);
        let on_v2 = matches!(&h, Ok(h) if h.version == Version::V2);
        let origin = format!("{}:{}", s.origin.file.display(), s.origin.line);
        match s.version {
            1 if on_v1 => {}
            2 if on_v2 => {}
            // LXC skips the keys of the other version on hybrid hosts,
            // where common.conf carries both.
            2 if controller == "devices" && plan.layout.resolve("devices").is_ok() => continue,
            1 => {
                return Err(Error::Unsupported(format!(
                    "{origin}: lxc.cgroup.{} is a cgroup v1 setting, but this host's {controller} controller is not on cgroup v1; use lxc.cgroup2 with the v2 name",
                    s.key
                )))
            }
            _ => {
                return Err(Error::Unsupported(format!(
                    "{origin}: lxc.cgroup2.{} is a cgroup v2 setting, but this host's {controller} controller is not on cgroup v2; use lxc.cgroup with the v1 name",
                    s.key
                )))
            }
        }
        let target = Cgroup::for_key(plan.layout.clone(), &s.key, cg.path())?;
        target.set(&s.key, &s.value).map_err(|e| {
            Error::Unsupported(format!(
                "{origin}: cannot apply lxc.cgroup{}.{} = {}: {}",
                if s.version == 2 { "2" } else { "" },
                s.key,
                s.value,
                chain(&e)
            ))
        })?;
    }
    Ok(())
}

/// The rootfs set-up for init, from the configuration.
pub(crate) fn rootfs_spec(
    plan: &Plan,
    console: Option<PathBuf>,
    ttys: Vec<PathBuf>,
) -> Result<RootfsSpec> {
    let cfg = &plan.config;
    let auto = cfg.mount_auto();
    let mut spec = RootfsSpec::new(&plan.rootfs);
    spec.rootfs_readonly = cfg.rootfs().is_some_and(|r| r.read_only());
    // A kept or shared UTS namespace keeps its hostname.
    spec.hostname = plan
        .ns
        .own_uts()
        .then(|| cfg.uts_name().unwrap_or(plan.container.name()).to_string());
    spec.proc = auto.proc.map(|p| match p {
        CfgProc::Mixed => ProcMode::Mixed,
        CfgProc::Rw => ProcMode::Rw,
    });
    spec.sys = auto.sys.map(|s| match s {
        CfgSys::Ro => SysMode::Ro,
        CfgSys::Rw => SysMode::Rw,
        CfgSys::Mixed => SysMode::Mixed,
    });
    if let Some(cg) = auto.cgroup {
        let mode = match cg.mode {
            CfgCgroupMode::Ro => CgroupMode::Ro,
            CfgCgroupMode::Rw => CgroupMode::Rw,
            CfgCgroupMode::Mixed | CfgCgroupMode::Default => CgroupMode::Mixed,
        };
        let hierarchies = plan
            .layout
            .hierarchies
            .iter()
            .map(|h| match h.version {
                Version::V2 => CgroupHierarchy {
                    dir_name: if plan.layout.kind() == enclos_cgroupfs::Kind::Unified {
                        String::new()
                    } else {
                        "unified".into()
                    },
                    fstype_options: String::new(),
                    v2: true,
                },
                Version::V1 => {
                    let label = h.label();
                    let dir_name = label.strip_prefix("name=").unwrap_or(&label).to_string();
                    let fstype_options = if label.starts_with("name=") {
                        format!("none,{label}")
                    } else {
                        label.clone()
                    };
                    CgroupHierarchy {
                        dir_name,
                        fstype_options,
                        v2: false,
                    }
                }
            })
            .collect();
        spec.cgroup = Some(CgroupMount { mode, hierarchies });
    }
    spec.autodev = cfg.autodev();
    crate::rootfs_keys::apply(cfg, plan.container.name(), &mut spec)?;
    spec.devpts = Some(DevPts { max: cfg.pty_max() });
    spec.console = console;
    spec.ttys = ttys;
    spec.tty_dir = cfg.tty_dir().map(str::to_string);
    let mut entries = cfg.mount_entries();
    entries.extend(cfg.fstab_entries()?);
    for e in entries {
        let Some(target) = e.target_in_rootfs(&plan.rootfs) else {
            return Err(Error::InvalidArgument {
                what: "lxc.mount.entry target",
                value: e.fstab.target.clone(),
                reason: format!(
                    "{}:{}: an absolute target must lie inside the rootfs {}",
                    e.origin.file.display(),
                    e.origin.line,
                    plan.rootfs.display()
                ),
            });
        };
        spec.mounts.push(MountSpec::from_fstab(e.fstab, target));
    }
    Ok(spec)
}

/// The environment of the container's init and attached processes.
pub(crate) fn container_env(cfg: &Config, extra: &[(String, String)]) -> Vec<CString> {
    let mut env: Vec<(String, String)> = vec![
        ("container".into(), "lxc".into()),
        (
            "PATH".into(),
            "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into(),
        ),
        ("HOME".into(), "/root".into()),
    ];
    let set = |k: String, v: String, env: &mut Vec<(String, String)>| {
        env.retain(|(ek, _)| *ek != k);
        env.push((k, v));
    };
    for (k, v) in cfg.environment() {
        let v = match v {
            Some(v) => v,
            None => match std::env::var(&k) {
                Ok(v) => v,
                Err(_) => continue,
            },
        };
        set(k, v, &mut env);
    }
    for (k, v) in extra {
        set(k.clone(), v.clone(), &mut env);
    }
    env.into_iter()
        .filter_map(|(k, v)| CString::new(format!("{k}={v}")).ok())
        .collect()
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
    let env = container_env(&plan.config, &[]);
    let cap_drop = plan.config.cap_drop();
    let cap_keep = plan.config.cap_keep();
    let cwd = plan.config.init_cwd().unwrap_or("/").to_string();
    let uid = plan.config.init_uid();
    let gid = plan.config.init_gid();
    let init = plan.init.clone();
    let setup = crate::limits::InitSetup::new(&plan.config);
    let p = &parent;
    let (pid, pidfd) = plan.ns.around_clone(|| {
        Ok(spawn_pidfd(&plan.namespaces, move || {
            let _ = p.close_in_child();
            if let Err(e) = plan.ns.enter_shared() {
                let _ = child.fail(&e);
                return 1;
            }
            init_main(
                &child,
                spec,
                &plan.hooks,
                plan.ns.cgroup,
                &env,
                &cap_drop,
                cap_keep.as_deref(),
                &cwd,
                uid,
                gid,
                &init,
                console_on_stdio,
                &setup,
            )
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

/// PID 1 of the container, from clone to exec (or to our init loop).
#[allow(clippy::too_many_arguments)]
fn init_main(
    sync: &SyncChild,
    spec: &RootfsSpec,
    hooks: &crate::hooks::Hooks,
    cgroup_ns: bool,
    env: &[CString],
    cap_drop: &[String],
    cap_keep: Option<&[String]>,
    cwd: &str,
    uid: Option<u32>,
    gid: Option<u32>,
    init: &Init,
    console_on_stdio: bool,
    setup: &crate::limits::InitSetup,
) -> i32 {
    let fail = |msg: String| -> i32 {
        let _ = sync.fail(&msg);
        1
    };
    if sync.expect(ATTACHED, SETUP_TIMEOUT).is_err() {
        return 1;
    }
    if cgroup_ns {
        if let Err(e) = nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWCGROUP) {
            return fail(format!("Cannot create the cgroup namespace: {e}"));
        }
    }
    if let Err(e) = setup.apply_before_root() {
        return fail(e);
    }
    if let Err(e) = enclos_namespaces::setup_rootfs_with(spec, &mut |s| hooks.at_stage(s)) {
        return fail(chain(&e));
    }
    if !console_on_stdio {
        // No console (lxc.console.path = none): /dev/null instead.
        let attached = match spec.console {
            Some(_) => attach_console(),
            None => crate::console_log::null_stdio(),
        };
        if let Err(e) = attached {
            return fail(e);
        }
    }
    // Before the capabilities go (CAP_SETGID may be among them).
    if let Err(e) = nix::unistd::setgroups(&setup.groups) {
        return fail(format!("Cannot set init's groups (lxc.init.groups): {e}"));
    }
    if let Some(keep) = cap_keep {
        if let Err(e) = enclos_namespaces::keep_only(keep) {
            return fail(chain(&e));
        }
    } else if !cap_drop.is_empty() {
        if let Err(e) = enclos_namespaces::drop_capabilities(cap_drop) {
            return fail(chain(&e));
        }
    }
    if let Err(e) = hooks.run("start") {
        return fail(chain(&e));
    }
    if let Err(e) = nix::unistd::chdir(cwd) {
        return fail(format!("Cannot change to lxc.init.cwd {cwd}: {e}"));
    }
    if let Some(g) = gid {
        if let Err(e) = nix::unistd::setgid(nix::unistd::Gid::from_raw(g)) {
            return fail(format!("Cannot switch to lxc.init.gid {g}: {e}"));
        }
    }
    if let Some(u) = uid {
        if let Err(e) = nix::unistd::setuid(nix::unistd::Uid::from_raw(u)) {
            return fail(format!("Cannot switch to lxc.init.uid {u}: {e}"));
        }
    }
    if let Err(e) = setup.apply_before_exec() {
        return fail(e);
    }
    if sync.send(READY).is_err()
        || sync
            .expect(GO, SETUP_TIMEOUT + crate::hooks::HOOK_TIMEOUT)
            .is_err()
    {
        return 1;
    }
    match init {
        Init::Exec(cmd) => {
            let err = exec(cmd, env);
            fail(format!(
                "Cannot execute init '{}' in the container: {err}; check lxc.init.cmd and that the rootfs holds it",
                cmd.join(" ")
            ))
        }
        Init::Run(cmd) => crate::init::run(cmd, env),
    }
}

/// The console (bind-mounted on /dev/console) becomes init's controlling
/// terminal and standard input, output and error.
fn attach_console() -> std::result::Result<(), String> {
    let _ = setsid();
    let fd = nix::fcntl::open(
        "/dev/console",
        nix::fcntl::OFlag::O_RDWR | nix::fcntl::OFlag::O_NOCTTY,
        nix::sys::stat::Mode::empty(),
    )
    .map_err(|e| format!("Cannot open /dev/console in the container: {e}"))?;
    // SAFETY: TIOCSCTTY takes an int argument; fd is an open terminal.
    let rc = unsafe { libc::ioctl(fd.as_raw_fd(), libc::TIOCSCTTY, 0) };
    if rc < 0 {
        return Err(format!(
            "Cannot make /dev/console the controlling terminal: {}",
            std::io::Error::last_os_error()
        ));
    }
    dup_stdio(&fd).map_err(|e| format!("Cannot set up standard streams: {e}"))
}

/// Makes `fd` standard input, output and error.
pub(crate) fn dup_stdio(fd: &impl std::os::fd::AsFd) -> nix::Result<()> {
    nix::unistd::dup2_stdin(fd)?;
    nix::unistd::dup2_stdout(fd)?;
    nix::unistd::dup2_stderr(fd)
}

/// execvpe with the container's PATH; returns only on failure.
pub(crate) fn exec(cmd: &[String], env: &[CString]) -> nix::Error {
    let args: Vec<CString> = match cmd.iter().map(|a| CString::new(a.as_bytes())).collect() {
        Ok(a) => a,
        Err(_) => return nix::Error::EINVAL,
    };
    if args.is_empty() {
        return nix::Error::ENOENT;
    }
    // PATH from the environment we pass, not ours.
    let path = env
        .iter()
        .filter_map(|e| e.to_str().ok())
        .find_map(|e| e.strip_prefix("PATH="))
        .unwrap_or("/usr/sbin:/usr/bin:/sbin:/bin")
        .to_string();
    if cmd[0].contains('/') {
        return match nix::unistd::execve(&args[0], &args, env) {
            Err(e) => e,
            Ok(never) => match never {},
        };
    }
    let mut last = nix::Error::ENOENT;
    for dir in path.split(':').filter(|d| !d.is_empty()) {
        let Ok(full) = CString::new(format!("{dir}/{}", cmd[0])) else {
            continue;
        };
        match nix::unistd::execve(&full, &args, env) {
            Err(nix::Error::ENOENT) | Err(nix::Error::ENOTDIR) => {}
            Err(e) => last = e,
            Ok(never) => match never {},
        }
    }
    last
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

/// Exit status as a shell reports it: the code, or 128 + the signal.
pub(crate) fn exit_code(status: WaitStatus) -> i32 {
    match status {
        WaitStatus::Exited(_, code) => code,
        WaitStatus::Signaled(_, sig, _) => 128 + sig as i32,
        _ => 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn environment_of_the_container() {
        let cfg = Config::parse_str(
            "lxc.environment = FOO=bar\nlxc.environment = PATH=/opt/bin\n",
            Path::new("config"),
        )
        .unwrap();
        let env: Vec<String> = container_env(&cfg, &[("X".into(), "1".into())])
            .into_iter()
            .map(|c| c.into_string().unwrap())
            .collect();
        assert!(env.contains(&"container=lxc".to_string()), "{env:?}");
        assert!(env.contains(&"FOO=bar".to_string()));
        assert!(env.contains(&"PATH=/opt/bin".to_string()));
        assert!(env.contains(&"X=1".to_string()));
        assert_eq!(env.iter().filter(|e| e.starts_with("PATH=")).count(), 1);
    }

    #[test]
    fn exit_codes_as_a_shell_reports_them() {
        let pid = Pid::from_raw(1);
        assert_eq!(exit_code(WaitStatus::Exited(pid, 3)), 3);
        assert_eq!(
            exit_code(WaitStatus::Signaled(pid, Signal::SIGKILL, false)),
            137
        );
    }

    #[test]
    fn errors_chain_on_one_line() {
        let e = Error::Io {
            what: "open",
            path: "/x".into(),
            source: std::io::Error::from_raw_os_error(libc::ENOENT),
        };
        assert_eq!(
            chain(&e),
            "Cannot open /x: No such file or directory (os error 2)"
        );
    }
}
