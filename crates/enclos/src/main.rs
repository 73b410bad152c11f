//! The enclos command: LXC's lxc-* and libcgroup's cg* tools in one
//! binary. It parses arguments, calls the library crates and prints; a link
//! named after one of those tools (cgcreate, cgexec, ...) behaves as it.
#![forbid(unsafe_code)]

mod backup;
mod cg;
mod checkconfig;
mod compat;
mod doctor;
mod gen;
mod lxc;
mod net;
mod output;
mod usernsexec;

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

/// System containers and control groups, with LXC's and libcgroup's
/// commands and flags.
#[derive(Debug, Parser)]
#[command(name = "enclos", version, about, propagate_version = true)]
struct Cli {
    #[command(flatten)]
    log: LogArgs,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Control groups: libcgroup's cg* tools (cgcreate, cgexec, ...).
    #[command(subcommand)]
    Cg(cg::CgCommand),
    /// Links named after the LXC and libcgroup tools.
    #[command(subcommand)]
    Compat(compat::CompatCommand),
    /// Check what the running kernel offers containers (lxc-checkconfig).
    Checkconfig(checkconfig::CheckconfigArgs),
    /// Check what an unprivileged container needs from this host, with fixes.
    Doctor(doctor::DoctorArgs),
    /// Write the man pages in DIR (for packaging).
    #[command(name = "__gen-man", hide = true)]
    GenMan { dir: PathBuf },
    /// Write the bash, zsh and fish completions in DIR (for packaging).
    #[command(name = "__gen-completions", hide = true)]
    GenCompletions { dir: PathBuf },
    /// The default network (bridge lxcbr0, NAT, DHCP), as Debian's lxc-net.
    #[command(subcommand)]
    Net(net::NetCommand),
    /// Run a command as root in a new user namespace (lxc-usernsexec).
    Usernsexec(usernsexec::UsernsexecArgs),
    #[command(flatten)]
    Lxc(lxc::LxcCommand),
    /// Write a container (and its snapshots with -s) to a .tar.zst.
    Export(backup::ExportArgs),
    /// Make a container from an export or a plain tar of config and rootfs.
    Import(backup::ImportArgs),
}

/// The global options: where the log goes, as LXC's.
#[derive(Debug, Default, Args)]
struct LogArgs {
    /// Log priority, as LXC's -l: FATAL, CRIT, ERROR, WARN, NOTICE, INFO,
    /// DEBUG or TRACE.
    #[arg(short = 'l', long = "logpriority", value_name = "LEVEL")]
    logpriority: Option<String>,

    /// Write the log to this file instead of standard error, as LXC's -o.
    #[arg(short = 'o', long = "logfile", value_name = "FILE")]
    logfile: Option<PathBuf>,
}

/// `enclos <lxc command> ...` alone (see main): the global options and
/// the lxc commands, not the whole tree.
#[derive(Debug, Parser)]
#[command(name = "enclos", version, propagate_version = true)]
struct LxcCli {
    #[command(flatten)]
    log: LogArgs,

    #[command(subcommand)]
    command: lxc::LxcCommand,
}

/// `enclos cg ...` alone (see main).
#[derive(Debug, Parser)]
#[command(name = "enclos", version)]
struct CgCli {
    #[command(subcommand)]
    command: CgOnly,
}

#[derive(Debug, Subcommand)]
enum CgOnly {
    /// Control groups: libcgroup's cg* tools (cgcreate, cgexec, ...).
    #[command(subcommand)]
    Cg(cg::CgCommand),
}

fn main() -> ExitCode {
    let args: Vec<OsString> = std::env::args_os().collect();
    let tool = args
        .first()
        .and_then(|a| Path::new(a).file_name())
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();

    let lxc_tool = lxc::LxcCommand::NAMES.contains(&tool.as_str());
    before_parsing(&tool, &args);
    let (name, result) = match cg::Tool::from_name(&tool) {
        Some(t) => {
            let _ = init_logging(None, None);
            (tool.clone(), t.run(args))
        }
        None if tool == usernsexec::TOOL => {
            let _ = init_logging(None, None);
            (tool.clone(), usernsexec::run_as_tool(args))
        }
        None if tool == checkconfig::TOOL => (tool.clone(), checkconfig::run_as_tool(args)),
        None if lxc_tool => {
            let r = lxc::LxcCommand::run_as(&tool, args).unwrap_or_else(|| Ok(ExitCode::from(1)));
            (tool.clone(), r)
        }
        // `enclos cg ...` parses the cg commands alone: building the whole
        // command tree costs more than some cg commands take.
        None if args.get(1).is_some_and(|a| a == "cg") => {
            let r = match CgCli::try_parse_from(args) {
                Ok(CgCli {
                    command: CgOnly::Cg(c),
                }) => c.run(),
                Err(e) => return usage_exit(e),
            };
            ("enclos".to_string(), r)
        }
        // The same for the lxc commands (`enclos start ...`), the ones
        // that are timed against LXC's.
        None if args
            .get(1)
            .and_then(|a| a.to_str())
            .is_some_and(|a| lxc::LxcCommand::NAMES.contains(&format!("lxc-{a}").as_str())) =>
        {
            let sub = args[1].to_string_lossy().into_owned();
            if let Some(c) = lxc::LxcCommand::parse_alone(&sub, &args[1..]) {
                if let Err(code) = start_logging(&LogArgs::default()) {
                    return code;
                }
                return finish("enclos", c.run());
            }
            let cli = match LxcCli::try_parse_from(args) {
                Ok(cli) => cli,
                Err(e) => return usage_exit(e),
            };
            if let Err(code) = start_logging(&cli.log) {
                return code;
            }
            ("enclos".to_string(), cli.command.run())
        }
        None => {
            let cli = match Cli::try_parse_from(args) {
                Ok(cli) => cli,
                Err(e) => return usage_exit(e),
            };
            if let Err(code) = start_logging(&cli.log) {
                return code;
            }
            let r = match cli.command {
                Command::Cg(c) => c.run(),
                Command::Compat(c) => c.run(),
                Command::Checkconfig(a) => a.run(),
                Command::Doctor(a) => a.run(),
                Command::GenMan { dir } => gen::man(&dir),
                Command::GenCompletions { dir } => gen::completions(&dir),
                Command::Net(c) => c.run(),
                Command::Usernsexec(a) => a.run(),
                Command::Lxc(c) => c.run(),
                Command::Export(a) => a.run(),
                Command::Import(a) => a.run(),
            };
            ("enclos".to_string(), r)
        }
    };
    finish(&name, result)
}

/// The exit code of a command's `result`, its error printed after the
/// tool's `name`.
fn finish(name: &str, result: anyhow::Result<ExitCode>) -> ExitCode {
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("{name}: {}", enclos_report::chain(e.as_ref()));
            ExitCode::from(1)
        }
    }
}

/// What comes before the arguments are parsed: a container's init on its
/// way through the trampoline (`argv[0]` is
/// [`enclos_container::TRAMPOLINE`]), where nothing else of ours runs; or
/// the re-execution from a sealed binary ([`seals_first`]), so that the
/// re-executed process parses them once, not twice. A failure of that is
/// reported by the command, which seals again (or says why it cannot).
fn before_parsing(tool: &str, args: &[OsString]) {
    if args
        .first()
        .is_some_and(|a| a == enclos_container::TRAMPOLINE)
    {
        enclos_container::run_trampoline(args.to_vec());
    }
    if seals_first(tool, args) {
        let _ = enclos_container::run_from_sealed_copy();
    }
}

/// Whether the command re-executes itself from a sealed binary (attach,
/// execute, autostart, copy -e: see
/// [`enclos_container::run_from_sealed_copy`]; start decides once it has
/// read the container's configuration), read from the raw arguments
/// (`enclos COMMAND ...` or `lxc-COMMAND ...`): a command missed here
/// seals after parsing, one taken wrongly costs only an exec.
fn seals_first(tool: &str, args: &[OsString]) -> bool {
    const SEALED: [&str; 3] = ["attach", "execute", "autostart"];
    let (command, rest) = match tool.strip_prefix("lxc-") {
        Some(t) => (t, args.get(1..).unwrap_or_default()),
        None => match args.get(1).and_then(|a| a.to_str()) {
            Some(c) => (c, args.get(2..).unwrap_or_default()),
            None => return false,
        },
    };
    SEALED.contains(&command)
        || (command == "copy"
            && rest.iter().any(|a| {
                a == "--ephemeral"
                    || a.to_str().is_some_and(|a| {
                        a.starts_with('-') && !a.starts_with("--") && a[1..].contains('e')
                    })
            }))
}

/// [`init_logging`] for `-l` and `-o`, or the exit code of a command
/// whose log cannot be set up (the reason printed).
fn start_logging(log: &LogArgs) -> Result<(), ExitCode> {
    init_logging(log.logpriority.as_deref(), log.logfile.as_deref()).map_err(|e| {
        eprintln!("enclos: {}", enclos_report::Chain(e.as_ref()));
        ExitCode::from(1)
    })
}

/// Logs through tracing; the level is LXC's priority name, else
/// ENCLOS_LOG, else warnings only.
pub fn init_logging(priority: Option<&str>, file: Option<&Path>) -> anyhow::Result<()> {
    use tracing_subscriber::EnvFilter;
    let level = match priority.map(str::to_ascii_uppercase).as_deref() {
        None => None,
        Some("FATAL" | "ALERT" | "CRIT" | "ERROR") => Some("error"),
        Some("WARN" | "WARNING") => Some("warn"),
        Some("NOTICE" | "INFO") => Some("info"),
        Some("DEBUG") => Some("debug"),
        Some("TRACE") => Some("trace"),
        Some(other) => anyhow::bail!(
            "Unknown log priority '{other}': use FATAL, CRIT, ERROR, WARN, NOTICE, INFO, DEBUG or TRACE"
        ),
    };
    // Without -l or ENCLOS_LOG nothing is set up: building a filter costs
    // more than some whole commands (cg create takes about a millisecond).
    let filter = match level {
        Some(l) => EnvFilter::new(l),
        None => match EnvFilter::try_from_env("ENCLOS_LOG") {
            Ok(f) => f,
            Err(_) if file.is_none() => return Ok(()),
            Err(_) => EnvFilter::new("warn"),
        },
    };
    // A span's close line gives its duration (time.busy): the network
    // set-up of a start is the span `net`.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_span_events(tracing_subscriber::fmt::format::FmtSpan::CLOSE)
        .with_target(false);
    match file {
        Some(path) => {
            let f = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .map_err(|e| anyhow::anyhow!("Cannot open log file {}: {e}", path.display()))?;
            // A second call (enclos -l, then the command's own -l) keeps the first.
            let _ = builder
                .with_ansi(false)
                .with_writer(std::sync::Mutex::new(f))
                .try_init();
        }
        None => {
            let _ = builder.with_writer(std::io::stderr).try_init();
        }
    }
    Ok(())
}

/// Prints a clap error or help text; help and version exit 0, bad usage 1
/// (not clap's 2: every bad input exits 1).
pub fn usage_exit(e: clap::Error) -> ExitCode {
    let _ = e.print();
    if e.use_stderr() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(v: &[&str]) -> Vec<OsString> {
        v.iter().map(OsString::from).collect()
    }

    #[test]
    fn the_sealed_commands_are_told_from_their_raw_arguments() {
        // start decides once it has read the configuration.
        assert!(!seals_first(
            "enclos",
            &args(&["enclos", "start", "-n", "c"])
        ));
        assert!(seals_first(
            "enclos",
            &args(&["enclos", "execute", "-n", "c"])
        ));
        assert!(seals_first("lxc-attach", &args(&["lxc-attach", "-n", "c"])));
        assert!(seals_first(
            "enclos",
            &args(&["enclos", "copy", "-e", "-n", "c"])
        ));
        assert!(seals_first(
            "lxc-copy",
            &args(&["lxc-copy", "-n", "c", "-eD"])
        ));
        assert!(seals_first(
            "lxc-copy",
            &args(&["lxc-copy", "--ephemeral", "-n", "c"])
        ));
        assert!(!seals_first(
            "lxc-copy",
            &args(&["lxc-copy", "-n", "c", "-N", "d"])
        ));
        assert!(!seals_first(
            "enclos",
            &args(&["enclos", "stop", "-n", "c"])
        ));
        assert!(!seals_first("lxc-ls", &args(&["lxc-ls", "-f"])));
        assert!(!seals_first(
            "cgexec",
            &args(&["cgexec", "-g", "cpu:g", "start"])
        ));
        assert!(!seals_first("enclos", &args(&["enclos"])));
    }
}
