//! cgrulesengd: the rules daemon. It listens to the kernel's process
//! events and moves each process that runs a program or changes its ids
//! into the groups its rules in cgrules.conf name.
//!
//! libcgroup's daemon takes sticky requests on a socket; enclos's reads
//! the sticky list file ([`enclos_cgconfig::rules::STICKY_FILE`]) that
//! `cgexec --sticky` and `cgclassify --sticky` write; `-u`/`-g` give that
//! file's directory to a user or group, as they give libcgroup's socket.

use std::io::Write;
use std::os::fd::AsFd;
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result};
use clap::{ArgAction, Parser};
use enclos_cgconfig::rules::{self, ProcConnector, ProcEvent, ProcessInfo, Rules, StickyList};
use enclos_cgroupfs::Layout;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};

/// cgrulesengd: move processes into control groups by rule.
#[derive(Debug, Parser)]
#[command(
    name = "cgrulesengd",
    about = "Move processes into control groups by rule"
)]
pub struct RulesengdArgs {
    /// Write log messages to FILE (`-` for standard output).
    #[arg(short = 'f', long = "logfile", value_name = "FILE")]
    logfile: Option<PathBuf>,
    /// Write log messages to syslog (the facility is accepted and ignored:
    /// enclos logs as daemon).
    #[arg(short = 's', long = "syslog", value_name = "FACILITY", num_args = 0..=1, require_equals = true, default_missing_value = "daemon")]
    syslog: Option<String>,
    /// Stay in the foreground.
    #[arg(short = 'n', long = "nodaemon")]
    nodaemon: bool,
    /// More log messages (repeatable, up to three times).
    #[arg(short = 'v', long = "verbose", action = ArgAction::Count)]
    verbose: u8,
    /// Fewer log messages.
    #[arg(short = 'q', long = "quiet")]
    quiet: bool,
    /// No log messages.
    #[arg(short = 'Q', long = "nolog")]
    nolog: bool,
    /// As -n -vvv -f -.
    #[arg(short = 'd', long = "debug")]
    debug: bool,
    /// Owner of the sticky list's directory (user name or uid).
    #[arg(short = 'u', long = "socket-user", value_name = "USER")]
    socket_user: Option<String>,
    /// Group of the sticky list's directory (group name or gid).
    #[arg(short = 'g', long = "socket-group", value_name = "GROUP")]
    socket_group: Option<String>,
    /// The rules file (enclos's own option).
    #[arg(long = "rules", value_name = "FILE", default_value = rules::CGRULES_CONF)]
    rules: PathBuf,
    /// The directory of more rules files (enclos's own option).
    #[arg(long = "rules-dir", value_name = "DIR", default_value = rules::CGRULES_DIR)]
    rules_dir: PathBuf,
    /// The sticky list (enclos's own option).
    #[arg(long = "sticky-file", value_name = "FILE", default_value = rules::STICKY_FILE)]
    sticky_file: PathBuf,
}

/// Where log lines go, and how many.
struct Log {
    level: u8,
    file: Option<Box<dyn Write>>,
    syslog: Option<UnixDatagram>,
}

const ERROR: u8 = 0;
const WARN: u8 = 1;
const INFO: u8 = 2;
const DEBUG: u8 = 3;

impl Log {
    fn open(a: &RulesengdArgs) -> Result<Log> {
        // How many levels are printed: errors and warnings by default.
        let shown = match (a.nolog, a.debug, a.quiet) {
            (true, _, _) => 0,
            (_, true, _) => DEBUG + 1,
            (_, _, true) => WARN,
            _ => (WARN + 1 + a.verbose).min(DEBUG + 1),
        };
        let file: Option<Box<dyn Write>> = match (&a.logfile, a.debug, a.nodaemon) {
            (Some(p), _, _) if p != Path::new("-") => Some(Box::new(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(p)
                    .with_context(|| format!("Cannot open the log file {}", p.display()))?,
            )),
            (Some(_), _, _) | (None, true, _) => Some(Box::new(std::io::stdout())),
            (None, false, true) if a.syslog.is_none() => Some(Box::new(std::io::stderr())),
            _ => None,
        };
        let syslog = a.syslog.as_ref().and_then(|_| {
            let s = UnixDatagram::unbound().ok()?;
            s.connect("/dev/log").ok().map(|_| s)
        });
        Ok(Log {
            level: shown,
            file,
            syslog,
        })
    }

    fn log(&mut self, level: u8, msg: &str) {
        if level >= self.level {
            return;
        }
        let word = ["error", "warning", "info", "debug"][level as usize];
        if let Some(f) = &mut self.file {
            let _ = writeln!(f, "cgrulesengd: {word}: {msg}").and_then(|_| f.flush());
        }
        if let Some(s) = &self.syslog {
            // <facility daemon (3) * 8 + severity>
            let sev = [3, 4, 6, 7][level as usize];
            let _ = s.send(format!("<{}>cgrulesengd: {msg}", 24 + sev).as_bytes());
        }
    }
}

impl RulesengdArgs {
    pub fn run(self) -> Result<ExitCode> {
        let mut log = Log::open(&self)?;
        let rules = load_rules(&self.rules, &self.rules_dir, &mut log)?;
        let layout = Arc::new(
            Layout::discover().context("Cannot find the cgroup hierarchies of this host")?,
        );
        let sticky = StickyList {
            file: self.sticky_file.clone(),
            ..StickyList::default()
        };
        self.own_sticky_dir(&sticky)?;
        let mask = SigSet::from_iter([
            Signal::SIGTERM,
            Signal::SIGINT,
            Signal::SIGUSR1,
            Signal::SIGUSR2,
        ]);
        let conn = ProcConnector::open().context(
            "Cannot listen to the kernel's process events (the netlink process connector needs root and CONFIG_PROC_EVENTS)",
        )?;
        if !self.nodaemon && !self.debug {
            let to_stdout = self.logfile.as_deref() == Some(Path::new("-"));
            nix::unistd::daemon(false, to_stdout).context("Cannot become a daemon")?;
        }
        mask.thread_block()
            .context("Cannot block the signals the daemon waits for")?;
        let sfd =
            SignalFd::with_flags(&mask, SfdFlags::SFD_CLOEXEC).context("Cannot make a signalfd")?;
        log.log(
            INFO,
            &format!(
                "started, {} rule(s) from {}",
                rules.rules.len(),
                self.rules.display()
            ),
        );
        // The start-up's code and data are not what the daemon runs on.
        rules::page_out_file_mappings();
        self.serve(&conn, &sfd, rules, &layout, &sticky, &mut log)?;
        log.log(INFO, "stopped");
        Ok(ExitCode::SUCCESS)
    }

    /// Handles process events until SIGTERM or SIGINT; SIGUSR2 reloads
    /// the rules.
    fn serve(
        &self,
        conn: &ProcConnector,
        sfd: &SignalFd,
        mut rules: Rules,
        layout: &Arc<Layout>,
        sticky: &StickyList,
        log: &mut Log,
    ) -> Result<()> {
        let mut buf = vec![0u8; 8192];
        loop {
            let mut fds = [
                PollFd::new(conn.as_fd(), PollFlags::POLLIN),
                PollFd::new(sfd.as_fd(), PollFlags::POLLIN),
            ];
            match poll(&mut fds, PollTimeout::NONE) {
                Err(nix::errno::Errno::EINTR) => continue,
                r => r.context("Cannot wait for process events")?,
            };
            if fds[1].any() == Some(true) {
                match sfd.read_signal()?.map(|s| s.ssi_signo as i32) {
                    Some(s) if s == Signal::SIGUSR2 as i32 => {
                        match load_rules(&self.rules, &self.rules_dir, log) {
                            Ok(r) => rules = r,
                            Err(e) => {
                                log.log(ERROR, &format!("{e:#}; keeping the rules loaded before"))
                            }
                        }
                    }
                    Some(s) if s == Signal::SIGUSR1 as i32 => {
                        log.log(INFO, "SIGUSR1: no templates to reload")
                    }
                    _ => return Ok(()),
                }
            }
            if fds[0].any() == Some(true) {
                match conn.receive(&mut buf) {
                    Ok(events) => events
                        .into_iter()
                        .for_each(|e| handle(e, &rules, layout, sticky, log)),
                    Err(nix::errno::Errno::ENOBUFS) => {
                        log.log(WARN, "the kernel dropped process events (too many at once)")
                    }
                    Err(e) => return Err(e).context("Cannot read process events"),
                }
            }
        }
    }

    /// `-u`/`-g`: the sticky list's directory belongs to them.
    fn own_sticky_dir(&self, sticky: &StickyList) -> Result<()> {
        if self.socket_user.is_none() && self.socket_group.is_none() {
            return Ok(());
        }
        let dir = sticky.file.parent().unwrap_or(Path::new("/"));
        std::fs::create_dir_all(dir).with_context(|| format!("Cannot create {}", dir.display()))?;
        let uid = self
            .socket_user
            .as_deref()
            .map(enclos_cgroupfs::user_id)
            .transpose()?;
        let gid = self
            .socket_group
            .as_deref()
            .map(enclos_cgroupfs::group_id)
            .transpose()?;
        std::os::unix::fs::chown(dir, uid, gid)
            .with_context(|| format!("Cannot change the owner of {}", dir.display()))
    }
}

fn load_rules(file: &Path, dir: &Path, log: &mut Log) -> Result<Rules> {
    let rules = Rules::load_all(file, dir)?;
    for (at, name) in rules.unknown_names() {
        log.log(
            WARN,
            &format!("{at}: no such user or group '{name}': the rule is skipped"),
        );
    }
    Ok(rules)
}

/// Classifies the process of one event and moves it.
fn handle(e: ProcEvent, rules: &Rules, layout: &Arc<Layout>, sticky: &StickyList, log: &mut Log) {
    let pid = match e {
        ProcEvent::Exec { pid } | ProcEvent::Uid { pid, .. } | ProcEvent::Gid { pid, .. } => pid,
        ProcEvent::Fork { .. } => return,
    };
    log.log(DEBUG, &format!("{e:?}"));
    let Some(p) = ProcessInfo::read(Path::new("/proc"), pid) else {
        return;
    };
    let dests = match rules.classify(&p) {
        Ok(d) if d.is_empty() => return,
        Ok(d) => d,
        Err(err) => return log.log(ERROR, &format!("pid {pid}: {err}")),
    };
    if sticky.covers(pid) {
        return log.log(
            DEBUG,
            &format!("pid {pid} ({}) is sticky: left where it is", p.name),
        );
    }
    match rules::place(layout, &dests, pid) {
        Ok(placed) => {
            for pl in placed {
                let made = if pl.created { " (created)" } else { "" };
                log.log(
                    INFO,
                    &format!(
                        "pid {pid} ({}, uid {}) moved to {}{made}, rule {}",
                        p.name, p.ids.uid, pl.group, dests[0].at
                    ),
                );
            }
        }
        Err(err) => log.log(
            WARN,
            &format!("pid {pid} ({}): {}", p.name, enclos_report::chain(&err)),
        ),
    }
}
