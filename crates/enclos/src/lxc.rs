//! LXC's tools: lxc-create, lxc-start, lxc-attach, lxc-console, lxc-stop,
//! lxc-execute, lxc-info, lxc-ls, lxc-freeze, lxc-unfreeze, lxc-wait,
//! lxc-destroy, lxc-cgroup, lxc-device, lxc-autostart, lxc-config and lxc-copy, with
//! their flags.

use std::ffi::OsString;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};
use enclos_container::{self as container, Container, State};

use crate::output::{print_json, Format};

mod copy;
mod info;
mod snapshot;

pub use copy::CopyArgs;
pub use info::InfoArgs;
pub use snapshot::SnapshotArgs;

/// Flags every lxc-* tool takes.
#[derive(Debug, Args, Clone, Default)]
pub struct Common {
    /// The directory holding the containers (default: /var/lib/enclos for
    /// root, ~/.local/share/enclos otherwise).
    #[arg(short = 'P', long = "lxcpath", value_name = "PATH")]
    lxcpath: Option<PathBuf>,
    /// Log priority: FATAL, CRIT, ERROR, WARN, NOTICE, INFO, DEBUG, TRACE.
    #[arg(short = 'l', long = "logpriority", value_name = "LEVEL")]
    logpriority: Option<String>,
    /// Log file.
    #[arg(short = 'o', long = "logfile", value_name = "FILE")]
    logfile: Option<PathBuf>,
    /// Print nothing but errors.
    #[arg(short = 'q', long = "quiet")]
    quiet: bool,
}

impl Common {
    fn lxcpath(&self) -> PathBuf {
        self.lxcpath
            .clone()
            .unwrap_or_else(container::default_lxcpath)
    }

    fn open(&self, name: &str) -> Result<Container> {
        crate::init_logging(self.logpriority.as_deref(), self.logfile.as_deref())?;
        Ok(Container::open(&self.lxcpath(), name)?)
    }
}

/// The container commands.
#[derive(Debug, Subcommand)]
pub enum LxcCommand {
    /// Create a container (lxc-create).
    Create(CreateArgs),
    /// Start a container (lxc-start).
    Start(StartArgs),
    /// Stop a container (lxc-stop).
    Stop(StopArgs),
    /// Run a command in a running container (lxc-attach).
    Attach(AttachArgs),
    /// Reach a tty of a running container (lxc-console).
    Console(ConsoleArgs),
    /// Run one command in a container under a small init (lxc-execute).
    Execute(ExecuteArgs),
    /// Show the state and resource use of a container (lxc-info).
    Info(InfoArgs),
    /// List containers (lxc-ls).
    Ls(LsArgs),
    /// Freeze every process of a container (lxc-freeze).
    Freeze(NameArgs),
    /// Thaw a frozen container (lxc-unfreeze).
    Unfreeze(NameArgs),
    /// Wait for a container to reach a state (lxc-wait).
    Wait(WaitArgs),
    /// Destroy a container (lxc-destroy).
    Destroy(DestroyArgs),
    /// Read or change a cgroup setting of a running container (lxc-cgroup).
    Cgroup(CgroupArgs),
    /// Add a host device to a running container (lxc-device).
    Device(DeviceArgs),
    /// Start, stop or list the containers marked lxc.start.auto (lxc-autostart).
    Autostart(AutostartArgs),
    /// Print enclos's global settings (lxc-config).
    Config(ConfigArgs),
    /// Copy, snapshot, rename a container, or run an ephemeral copy (lxc-copy).
    Copy(CopyArgs),
    /// Take, list, restore or destroy snapshots of a container (lxc-snapshot).
    Snapshot(SnapshotArgs),
}

impl LxcCommand {
    pub fn run(self) -> Result<ExitCode> {
        match self {
            LxcCommand::Create(a) => a.run(),
            LxcCommand::Start(a) => a.run(),
            LxcCommand::Stop(a) => a.run(),
            LxcCommand::Attach(a) => a.run(),
            LxcCommand::Console(a) => a.run(),
            LxcCommand::Execute(a) => a.run(),
            LxcCommand::Info(a) => a.run(),
            LxcCommand::Ls(a) => a.run(),
            LxcCommand::Freeze(a) => a.freeze(),
            LxcCommand::Unfreeze(a) => a.unfreeze(),
            LxcCommand::Wait(a) => a.run(),
            LxcCommand::Destroy(a) => a.run(),
            LxcCommand::Cgroup(a) => a.run(),
            LxcCommand::Device(a) => a.run(),
            LxcCommand::Autostart(a) => a.run(),
            LxcCommand::Config(a) => a.run(),
            LxcCommand::Copy(a) => a.run(),
            LxcCommand::Snapshot(a) => a.run(),
        }
    }

    /// The lxc-* names a link may have, and how to parse them.
    pub const NAMES: &'static [&'static str] = &[
        "lxc-create",
        "lxc-start",
        "lxc-stop",
        "lxc-attach",
        "lxc-console",
        "lxc-execute",
        "lxc-info",
        "lxc-ls",
        "lxc-freeze",
        "lxc-unfreeze",
        "lxc-wait",
        "lxc-destroy",
        "lxc-cgroup",
        "lxc-device",
        "lxc-autostart",
        "lxc-config",
        "lxc-copy",
        "lxc-snapshot",
    ];

    /// `args` (a program name, then the arguments) parsed as the command
    /// `sub` (`stop`, ...) by that command's parser alone: building clap's
    /// parsers of every lxc command costs about a tenth of a short
    /// command's time (allocations and the page faults they bring).
    /// `None` when they do not parse (a mistake, `--help`, `--version`):
    /// the caller then parses them with the whole tree, whose usage lines
    /// and help texts are the ones the user sees.
    pub fn parse_alone(sub: &str, args: &[OsString]) -> Option<LxcCommand> {
        fn one<A: clap::Args>(name: &'static str, args: &[OsString]) -> Option<A> {
            let m = A::augment_args(clap::Command::new(name))
                .try_get_matches_from(args)
                .ok()?;
            A::from_arg_matches(&m).ok()
        }
        let name = Self::NAMES
            .iter()
            .find(|n| n.strip_prefix("lxc-") == Some(sub))?;
        Some(match sub {
            "create" => LxcCommand::Create(one(name, args)?),
            "start" => LxcCommand::Start(one(name, args)?),
            "stop" => LxcCommand::Stop(one(name, args)?),
            "attach" => LxcCommand::Attach(one(name, args)?),
            "console" => LxcCommand::Console(one(name, args)?),
            "execute" => LxcCommand::Execute(one(name, args)?),
            "info" => LxcCommand::Info(one(name, args)?),
            "ls" => LxcCommand::Ls(one(name, args)?),
            "freeze" => LxcCommand::Freeze(one(name, args)?),
            "unfreeze" => LxcCommand::Unfreeze(one(name, args)?),
            "wait" => LxcCommand::Wait(one(name, args)?),
            "destroy" => LxcCommand::Destroy(one(name, args)?),
            "cgroup" => LxcCommand::Cgroup(one(name, args)?),
            "device" => LxcCommand::Device(one(name, args)?),
            "autostart" => LxcCommand::Autostart(one(name, args)?),
            "config" => LxcCommand::Config(one(name, args)?),
            "copy" => LxcCommand::Copy(one(name, args)?),
            "snapshot" => LxcCommand::Snapshot(one(name, args)?),
            _ => return None,
        })
    }

    /// Runs `args` as the tool named `name` (lxc-start ...).
    pub fn run_as(name: &str, mut args: Vec<OsString>) -> Option<Result<ExitCode>> {
        let name: &'static str = Self::NAMES.iter().find(|n| **n == name)?;
        let sub = name.strip_prefix("lxc-")?;
        if let Some(c) = Self::parse_alone(sub, &args) {
            return Some(c.run());
        }
        // Multicall: argv[0] names the subcommand (`lxc-start` is an alias
        // of `start`), and usage lines show the tool's own name.
        args[0] = name.into();
        let cli = clap::Command::new("enclos").multicall(true);
        let cli = <Tools as clap::Subcommand>::augment_subcommands(cli)
            .mut_subcommand(sub, |s| s.alias(name));
        Some(match cli.try_get_matches_from(args) {
            Ok(m) => match <Tools as clap::FromArgMatches>::from_arg_matches(&m) {
                Ok(Tools(c)) => c.run(),
                Err(e) => Ok(crate::usage_exit(e)),
            },
            Err(e) => {
                // clap names the subcommand in usage lines; the tool's name
                // is what the user typed.
                let text = e.render().to_string().replacen(
                    &format!("Usage: {sub} "),
                    &format!("Usage: {name} "),
                    1,
                );
                if e.use_stderr() {
                    eprint!("{text}");
                    Ok(ExitCode::from(1))
                } else {
                    print!("{text}");
                    Ok(ExitCode::SUCCESS)
                }
            }
        })
    }
}

/// Wrapper so that the lxc-* names parse through the same definitions.
#[derive(Debug)]
struct Tools(LxcCommand);

impl clap::FromArgMatches for Tools {
    fn from_arg_matches(m: &clap::ArgMatches) -> Result<Self, clap::Error> {
        LxcCommand::from_arg_matches(m).map(Tools)
    }
    fn update_from_arg_matches(&mut self, m: &clap::ArgMatches) -> Result<(), clap::Error> {
        self.0.update_from_arg_matches(m)
    }
}

impl clap::Subcommand for Tools {
    fn augment_subcommands(cmd: clap::Command) -> clap::Command {
        LxcCommand::augment_subcommands(cmd)
    }
    fn augment_subcommands_for_update(cmd: clap::Command) -> clap::Command {
        LxcCommand::augment_subcommands_for_update(cmd)
    }
    fn has_subcommand(name: &str) -> bool {
        LxcCommand::has_subcommand(name)
    }
}

#[derive(Debug, Args)]
pub struct NameArgs {
    /// The container.
    #[arg(short = 'n', long = "name", value_name = "NAME")]
    name: String,
    #[command(flatten)]
    common: Common,
    /// How long to wait for the freezer, in seconds.
    #[arg(short = 't', long = "timeout", default_value_t = 10)]
    timeout: u64,
}

impl NameArgs {
    fn freeze(self) -> Result<ExitCode> {
        let c = self.common.open(&self.name)?;
        container::freeze(&c, Duration::from_secs(self.timeout))?;
        Ok(ExitCode::SUCCESS)
    }

    fn unfreeze(self) -> Result<ExitCode> {
        let c = self.common.open(&self.name)?;
        container::unfreeze(&c, Duration::from_secs(self.timeout))?;
        Ok(ExitCode::SUCCESS)
    }
}

#[derive(Debug, Args)]
pub struct CreateArgs {
    /// Name of the new container.
    #[arg(short = 'n', long = "name", value_name = "NAME")]
    name: String,
    /// The template that fills the rootfs (busybox).
    #[arg(short = 't', long = "template", value_name = "TEMPLATE")]
    template: Option<String>,
    /// The storage backend of the rootfs: dir, overlay, btrfs, loop, lvm,
    /// zfs, rbd, or best (btrfs when the lxcpath is on btrfs, else dir).
    #[arg(
        short = 'B',
        long = "bdev",
        value_name = "BACKEND",
        default_value = "dir"
    )]
    backend: String,
    /// The initial configuration (default: the default.conf of enclos).
    #[arg(short = 'f', long = "config", value_name = "FILE")]
    config: Option<PathBuf>,
    /// The size of the filesystem, for the backends with one (loop, lvm,
    /// rbd): bytes, or a number with K, M, G or T (default 1G).
    #[arg(long = "fssize", value_name = "SIZE")]
    fssize: Option<String>,
    /// The filesystem to make, for the backends with one (default ext4).
    #[arg(long = "fstype", value_name = "FSTYPE")]
    fstype: Option<String>,
    /// -B lvm: the volume group (default lxc.bdev.lvm.vg, else lxc).
    #[arg(long = "vgname", value_name = "VG")]
    vgname: Option<String>,
    /// -B lvm: the logical volume's name (default the container's).
    #[arg(long = "lvname", value_name = "LV")]
    lvname: Option<String>,
    /// -B lvm: the thin pool to make a thin volume in (default
    /// lxc.bdev.lvm.thin_pool, else the pool lxc where there is one).
    #[arg(long = "thinpool", value_name = "POOL")]
    thinpool: Option<String>,
    /// -B zfs: the dataset the container's goes under (default
    /// lxc.bdev.zfs.root, else lxc).
    #[arg(long = "zfsroot", value_name = "DATASET")]
    zfsroot: Option<String>,
    /// -B rbd: the Ceph pool (default lxc.bdev.rbd.pool, else lxc).
    #[arg(long = "rbdpool", value_name = "POOL")]
    rbdpool: Option<String>,
    #[command(flatten)]
    common: Common,
    /// Arguments for the template, after --.
    #[arg(last = true, value_name = "TEMPLATE ARGS")]
    template_args: Vec<String>,
}

impl CreateArgs {
    fn run(self) -> Result<ExitCode> {
        crate::init_logging(
            self.common.logpriority.as_deref(),
            self.common.logfile.as_deref(),
        )?;
        let opts = container::CreateOptions {
            template: self.template,
            template_args: self.template_args,
            backend: enclos_storage::Backend::resolve(&self.backend, &self.common.lxcpath())?,
            config_file: self.config,
            storage: enclos_storage::CreateOptions {
                fssize: self
                    .fssize
                    .as_deref()
                    .map(enclos_storage::parse_size)
                    .transpose()?,
                fstype: self.fstype,
                vgname: self.vgname,
                lvname: self.lvname,
                thinpool: self.thinpool,
                zfsroot: self.zfsroot,
                rbdpool: self.rbdpool,
            },
        };
        crate::output::with_steps(self.common.quiet, |step| {
            container::create(&self.common.lxcpath(), &self.name, &opts, step)
                .with_context(|| format!("Cannot create container '{}'", self.name))
        })?;
        Ok(ExitCode::SUCCESS)
    }
}

#[derive(Debug, Args)]
pub struct StartArgs {
    /// The container.
    #[arg(short = 'n', long = "name", value_name = "NAME")]
    name: String,
    /// Stay in the foreground, with the console on this terminal.
    #[arg(short = 'F', long = "foreground", conflicts_with = "daemon")]
    foreground: bool,
    /// Run in the background (the default).
    #[arg(short = 'd', long = "daemon")]
    daemon: bool,
    /// Close inherited file descriptors (LXC's -C). Always done: no
    /// descriptor of the caller but stdin, stdout and stderr reaches the
    /// container, in the foreground or not.
    #[arg(short = 'C', long = "close-all-fds")]
    close_all_fds: bool,
    /// Use this configuration file instead of the container's.
    #[arg(short = 'f', long = "rcfile", value_name = "FILE")]
    rcfile: Option<PathBuf>,
    #[command(flatten)]
    common: Common,
    /// A command to run as init instead of lxc.init.cmd.
    #[arg(last = true, value_name = "COMMAND")]
    command: Vec<String>,
}

impl StartArgs {
    fn run(self) -> Result<ExitCode> {
        // The container must not reach our binary through /proc/PID/exe:
        // the start re-executes itself sealed, or has init exec through a
        // sealed binary (see may_reexec).
        let c = self.common.open(&self.name)?;
        let _ = (self.daemon, self.close_all_fds);
        container::start(
            &c,
            &container::StartOptions {
                foreground: self.foreground,
                config_file: self.rcfile,
                command: (!self.command.is_empty()).then_some(self.command),
                hostname: None,
                may_reexec: true,
            },
        )?;
        Ok(ExitCode::SUCCESS)
    }
}

#[derive(Debug, Args)]
pub struct StopArgs {
    /// The container.
    #[arg(short = 'n', long = "name", value_name = "NAME")]
    name: String,
    /// Seconds to wait for a clean halt before killing (-1: forever).
    #[arg(
        short = 't',
        long = "timeout",
        default_value_t = 60,
        allow_negative_numbers = true
    )]
    timeout: i64,
    /// Kill at once (lxc.signal.stop, SIGKILL by default) instead of asking
    /// init to halt.
    #[arg(short = 'k', long = "kill")]
    kill: bool,
    /// Reboot instead of stopping.
    #[arg(short = 'r', long = "reboot", conflicts_with = "kill")]
    reboot: bool,
    /// Do not wait for the container to stop.
    #[arg(short = 'W', long = "nowait")]
    nowait: bool,
    #[command(flatten)]
    common: Common,
}

impl StopArgs {
    fn run(self) -> Result<ExitCode> {
        let c = self.common.open(&self.name)?;
        let timeout = if self.timeout < 0 {
            Duration::from_secs(u64::MAX / 4)
        } else {
            Duration::from_secs(self.timeout as u64)
        };
        container::stop(
            &c,
            container::StopOptions {
                timeout,
                kill: self.kill,
                reboot: self.reboot,
                nowait: self.nowait,
            },
        )?;
        Ok(ExitCode::SUCCESS)
    }
}

fn parse_var(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
        _ => Err(format!("'{s}' is not VAR=value")),
    }
}

#[derive(Debug, Args)]
pub struct AttachArgs {
    /// The container.
    #[arg(short = 'n', long = "name", value_name = "NAME")]
    name: String,
    /// Start the command with the container's environment only.
    #[arg(long = "clear-env", conflicts_with = "keep_env")]
    clear_env: bool,
    /// Pass our environment on (the default).
    #[arg(long = "keep-env")]
    keep_env: bool,
    /// Keep this variable with --clear-env; repeatable.
    #[arg(long = "keep-var", value_name = "VAR")]
    keep_var: Vec<String>,
    /// Set a variable, VAR=value; repeatable.
    #[arg(short = 'v', long = "set-var", value_name = "VAR=VALUE", value_parser = parse_var)]
    vars: Vec<(String, String)>,
    /// Run as this uid.
    #[arg(short = 'u', long = "uid")]
    uid: Option<u32>,
    /// Run as this gid.
    #[arg(short = 'g', long = "gid")]
    gid: Option<u32>,
    #[command(flatten)]
    common: Common,
    /// The command (default: /bin/sh).
    #[arg(last = true, value_name = "COMMAND")]
    command: Vec<String>,
}

impl AttachArgs {
    fn run(self) -> Result<ExitCode> {
        // The container must not reach our binary through /proc/PID/exe.
        container::run_from_sealed_copy()?;
        let c = self.common.open(&self.name)?;
        let _ = self.keep_env;
        let code = container::attach(
            &c,
            &container::AttachOptions {
                command: self.command,
                clear_env: self.clear_env,
                env: self.vars,
                keep_vars: self.keep_var,
                uid: self.uid,
                gid: self.gid,
                pty: std::io::stdin().is_terminal(),
            },
        )?;
        Ok(ExitCode::from(code.clamp(0, 255) as u8))
    }
}

fn parse_escape(s: &str) -> Result<u8, String> {
    let c = s.trim_start_matches('^');
    match c.as_bytes() {
        [b] if b.is_ascii_alphabetic() => Ok(b.to_ascii_lowercase() - b'a' + 1),
        _ => Err(format!("'{s}' is not a letter (as in -e a for Ctrl+a)")),
    }
}

#[derive(Debug, Args)]
pub struct ConsoleArgs {
    /// The container.
    #[arg(short = 'n', long = "name", value_name = "NAME")]
    name: String,
    /// The tty (0: the console; default: the first free tty).
    #[arg(short = 't', long = "tty")]
    tty: Option<u32>,
    // The help is an attribute, not a doc comment, so rustdoc does not
    // read `<letter>` as an HTML tag.
    #[arg(
        short = 'e',
        long = "escape",
        value_parser = parse_escape,
        default_value = "a",
        help = "The escape key, as a letter: Ctrl+<letter> then q leaves"
    )]
    escape: u8,
    #[command(flatten)]
    common: Common,
}

impl ConsoleArgs {
    fn run(self) -> Result<ExitCode> {
        let c = self.common.open(&self.name)?;
        container::console(&c, self.tty, self.escape)?;
        Ok(ExitCode::SUCCESS)
    }
}

#[derive(Debug, Args)]
pub struct ExecuteArgs {
    /// The container.
    #[arg(short = 'n', long = "name", value_name = "NAME")]
    name: String,
    /// Use this configuration file instead of the container's.
    #[arg(short = 'f', long = "rcfile", value_name = "FILE")]
    rcfile: Option<PathBuf>,
    #[command(flatten)]
    common: Common,
    /// The command.
    #[arg(last = true, value_name = "COMMAND")]
    command: Vec<String>,
}

impl ExecuteArgs {
    fn run(self) -> Result<ExitCode> {
        // The container must not reach our binary through /proc/PID/exe.
        container::run_from_sealed_copy()?;
        let c = self.common.open(&self.name)?;
        let code = container::execute(&c, self.command, self.rcfile.as_deref())?;
        Ok(ExitCode::from(code.clamp(0, 255) as u8))
    }
}

#[derive(Debug, Args)]
pub struct LsArgs {
    /// One container per line.
    #[arg(short = '1', long = "line")]
    line: bool,
    /// A table: NAME STATE AUTOSTART GROUPS IPV4 IPV6 UNPRIVILEGED.
    #[arg(short = 'f', long = "fancy")]
    fancy: bool,
    /// The columns of the table, comma-separated (name,state,pid,...).
    #[arg(short = 'F', long = "fancy-format", value_name = "COLUMNS")]
    fancy_format: Option<String>,
    /// Only running containers.
    #[arg(long = "running")]
    running: bool,
    /// Only stopped containers.
    #[arg(long = "stopped")]
    stopped: bool,
    /// Only frozen containers.
    #[arg(long = "frozen")]
    frozen: bool,
    /// Only active (running or frozen) containers.
    #[arg(long = "active")]
    active: bool,
    #[arg(long, value_enum, default_value_t)]
    format: Format,
    #[command(flatten)]
    common: Common,
    /// A regular expression the names must match.
    #[arg(value_name = "FILTER")]
    filter: Option<String>,
}

impl LsArgs {
    fn run(self) -> Result<ExitCode> {
        crate::init_logging(
            self.common.logpriority.as_deref(),
            self.common.logfile.as_deref(),
        )?;
        let filter = container::LsFilter {
            pattern: self.filter.clone(),
            running: self.running,
            stopped: self.stopped,
            frozen: self.frozen,
            active: self.active,
        };
        let layout = container::SharedLayout::default();
        let rows = container::ls(&self.common.lxcpath(), &filter, &layout)?;
        if self.format == Format::Json {
            print_json(&rows)?;
            return Ok(ExitCode::SUCCESS);
        }
        let out = if self.fancy || self.fancy_format.is_some() {
            container::ls_table(&rows, self.fancy_format.as_deref())?
        } else {
            container::ls_names(&rows, self.line || !std::io::stdout().is_terminal())
        };
        std::io::stdout().write_all(out.as_bytes())?;
        Ok(ExitCode::SUCCESS)
    }
}

#[derive(Debug, Args)]
pub struct WaitArgs {
    /// The container.
    #[arg(short = 'n', long = "name", value_name = "NAME")]
    name: String,
    /// The state(s) to wait for, separated by '|': RUNNING|STOPPED.
    #[arg(short = 's', long = "state", value_name = "STATES")]
    state: String,
    /// Give up after this many seconds (-1: never).
    #[arg(short = 't', long = "timeout", default_value_t = -1, allow_negative_numbers = true)]
    timeout: i64,
    #[command(flatten)]
    common: Common,
}

impl WaitArgs {
    fn run(self) -> Result<ExitCode> {
        let c = self.common.open(&self.name)?;
        let mut states = Vec::new();
        for s in self.state.split('|') {
            states.push(State::parse(s).with_context(|| {
                format!("Unknown state '{s}': use STOPPED, STARTING, RUNNING, STOPPING, ABORTING, FREEZING, FROZEN or THAWED")
            })?);
        }
        let timeout = (self.timeout >= 0).then(|| Duration::from_secs(self.timeout as u64));
        if !container::wait(&c, &states, timeout)? {
            bail!(
                "Container '{}' did not reach {} within {} s (it is {})",
                self.name,
                self.state,
                self.timeout,
                c.state()?
            );
        }
        Ok(ExitCode::SUCCESS)
    }
}

#[derive(Debug, Args)]
pub struct DestroyArgs {
    /// The container.
    #[arg(short = 'n', long = "name", value_name = "NAME")]
    name: String,
    /// Kill the container first if it runs.
    #[arg(short = 'f', long = "force")]
    force: bool,
    /// Destroy its snapshots too.
    #[arg(short = 's', long = "snapshots")]
    snapshots: bool,
    #[command(flatten)]
    common: Common,
}

impl DestroyArgs {
    fn run(self) -> Result<ExitCode> {
        let c = self.common.open(&self.name)?;
        container::destroy_with(&c, self.force, self.snapshots)?;
        Ok(ExitCode::SUCCESS)
    }
}

#[derive(Debug, Args)]
pub struct CgroupArgs {
    /// The container.
    #[arg(short = 'n', long = "name", value_name = "NAME")]
    name: String,
    #[command(flatten)]
    common: Common,
    /// The cgroup file (memory.limit_in_bytes).
    key: String,
    /// The value to write; without it, the value is printed.
    value: Option<String>,
}

impl CgroupArgs {
    fn run(self) -> Result<ExitCode> {
        let c = self.common.open(&self.name)?;
        match &self.value {
            None => println!("{}", container::cgroup_get(&c, &self.key)?),
            Some(v) => {
                let kept = container::cgroup_set(&c, &self.key, v)?;
                if enclos_cgroupfs::kernel_kept_other(v, &kept) && !self.common.quiet {
                    eprintln!("note: {}: asked {v}, the kernel kept {kept}", self.key);
                }
            }
        }
        Ok(ExitCode::SUCCESS)
    }
}

#[derive(Debug, Args)]
pub struct DeviceArgs {
    /// The container.
    #[arg(short = 'n', long = "name", value_name = "NAME")]
    name: String,
    #[command(flatten)]
    common: Common,
    /// The action: add.
    action: String,
    /// The host device (/dev/ttyUSB0).
    device: PathBuf,
    /// Where it appears in the container (default: the same path).
    dest: Option<PathBuf>,
}

impl DeviceArgs {
    fn run(self) -> Result<ExitCode> {
        if self.action != "add" {
            bail!("Unknown action '{}': lxc-device takes 'add'", self.action);
        }
        let c = self.common.open(&self.name)?;
        container::device_add(&c, &self.device, self.dest.as_deref())?;
        Ok(ExitCode::SUCCESS)
    }
}

#[derive(Debug, Args)]
pub struct AutostartArgs {
    /// List the containers and their delays instead of acting.
    #[arg(short = 'L', long = "list")]
    list: bool,
    /// Every auto-started container, whatever its groups.
    #[arg(short = 'a', long = "all")]
    all: bool,
    /// Ignore lxc.start.auto: act on every container the groups select
    /// (with -a, on every container).
    #[arg(short = 'A', long = "ignore-auto")]
    ignore_auto: bool,
    /// Groups to process, comma-separated, in order; an empty name is the
    /// containers without a group. Repeatable.
    #[arg(short = 'g', long = "groups", value_name = "GROUPS")]
    groups: Vec<String>,
    /// Kill instead of starting.
    #[arg(short = 'k', long = "kill", conflicts_with_all = ["shutdown", "reboot"])]
    kill: bool,
    /// Shut down instead of starting.
    #[arg(short = 's', long = "shutdown", conflicts_with = "reboot")]
    shutdown: bool,
    /// Reboot instead of starting.
    #[arg(short = 'r', long = "reboot")]
    reboot: bool,
    /// Seconds to wait for a shutdown.
    #[arg(short = 't', long = "timeout", default_value_t = 60)]
    timeout: u64,
    #[command(flatten)]
    common: Common,
}

impl AutostartArgs {
    fn run(self) -> Result<ExitCode> {
        // The container must not reach our binary through /proc/PID/exe.
        container::run_from_sealed_copy()?;
        crate::init_logging(
            self.common.logpriority.as_deref(),
            self.common.logfile.as_deref(),
        )?;
        let lxcpath = self.common.lxcpath();
        let groups: Vec<String> = self
            .groups
            .iter()
            .flat_map(|g| g.split(',').map(str::to_string))
            .collect();
        let action = if self.kill {
            container::AutostartAction::Kill
        } else if self.shutdown {
            container::AutostartAction::Stop
        } else if self.reboot {
            container::AutostartAction::Reboot
        } else {
            container::AutostartAction::Start
        };
        // The host's cgroup layout, read once for the whole command.
        let layout = container::SharedLayout::default();
        let (all, ignore) = (self.all, self.ignore_auto);
        let plan = container::autostart_plan(&lxcpath, &groups, all, ignore, action, &layout)?;
        if self.list {
            for e in &plan {
                println!("{} {}", e.name, e.delay);
            }
            return Ok(ExitCode::SUCCESS);
        }
        let timeout = Duration::from_secs(self.timeout);
        let failures = container::autostart(&lxcpath, &plan, action, timeout, &layout);
        let failed = !failures.is_empty();
        for (name, e) in failures {
            eprintln!("enclos: {name}: {:#}", anyhow::Error::from(e));
        }
        if !failed {
            Ok(ExitCode::SUCCESS)
        } else {
            Ok(ExitCode::from(1))
        }
    }
}

#[derive(Debug, Args)]
pub struct ConfigArgs {
    /// List the keys.
    #[arg(short = 'l', long = "list")]
    list: bool,
    /// The key to print (lxc.lxcpath, lxc.default_config, ...).
    key: Option<String>,
}

impl ConfigArgs {
    fn run(self) -> Result<ExitCode> {
        let settings = container::global_settings();
        match (&self.key, self.list) {
            (Some(k), _) => {
                let Some((_, v)) = settings.iter().find(|(name, _)| name == k) else {
                    let names: Vec<&str> = settings.iter().map(|(n, _)| *n).collect();
                    bail!("Unknown key '{k}': enclos knows {}", names.join(", "));
                };
                println!("{v}");
            }
            (None, _) => {
                for (k, _) in &settings {
                    println!("{k}");
                }
            }
        }
        Ok(ExitCode::SUCCESS)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::{FromArgMatches, Subcommand};

    /// `enclos SUB ARGS` parsed by the whole tree of lxc commands.
    fn whole(sub: &str, args: &[&str]) -> String {
        let cli = LxcCommand::augment_subcommands(clap::Command::new("enclos"));
        let argv = ["enclos", sub].into_iter().chain(args.iter().copied());
        let m = cli.try_get_matches_from(argv).unwrap();
        format!("{:?}", LxcCommand::from_arg_matches(&m).unwrap())
    }

    /// The same by the command's own parser.
    fn alone(sub: &str, args: &[&str]) -> Option<String> {
        let argv: Vec<OsString> = [sub]
            .into_iter()
            .chain(args.iter().copied())
            .map(OsString::from)
            .collect();
        LxcCommand::parse_alone(sub, &argv).map(|c| format!("{c:?}"))
    }

    #[test]
    fn a_command_parsed_alone_is_what_the_whole_tree_makes_of_it() {
        let cases: &[(&str, &[&str])] = &[
            ("stop", &["-k", "-n", "c1", "-P", "/x"]),
            (
                "start",
                &["-n", "c1", "-F", "-l", "DEBUG", "-o", "/tmp/log"],
            ),
            ("attach", &["-n", "c1", "--", "sh", "-c", "echo -n x"]),
            ("copy", &["-e", "-n", "c1", "-N", "c2", "-m", "bind=/a:/b"]),
            ("snapshot", &["-r", "snap0", "-n", "c1", "-N", "c3"]),
            ("create", &["-t", "busybox", "-n", "c1", "-B", "overlay"]),
            ("ls", &["-f", "-F", "NAME,STATE"]),
            ("freeze", &["-n", "c1"]),
            ("execute", &["-n", "c1", "--", "true"]),
            ("cgroup", &["-n", "c1", "memory.limit_in_bytes", "1M"]),
        ];
        for (sub, args) in cases {
            assert_eq!(alone(sub, args), Some(whole(sub, args)), "{sub} {args:?}");
        }
    }

    #[test]
    fn what_does_not_parse_alone_is_left_to_the_whole_tree() {
        assert_eq!(alone("stop", &["--help"]), None);
        assert_eq!(alone("stop", &["--version"]), None);
        assert_eq!(alone("stop", &["--bogus"]), None);
        assert_eq!(alone("stop", &[]), None, "no --name");
        assert_eq!(alone("nosuch", &["-n", "c1"]), None);
    }
}
