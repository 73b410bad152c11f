//! cgrulesengd: how soon a new process lands in its rule's group, and the
//! daemon's memory with 1,000 rules, enclos against cgroup-tools.
//!
//! Both daemons get the same 1,000 rules: 999 that match nothing, then
//! `*:NAME memory GROUP`, NAME being a copy of /bin/sleep under a name of
//! this run. enclos's reads them from a file of the run (`--rules`);
//! Debian's reads /etc/cgrules.conf only, so that file is written for the
//! measure and put back as it was afterwards ([`EtcRules`], which also
//! repairs what an interrupted run left); it also needs /etc/cgconfig.conf
//! and /etc/cgconfig.d, made empty for the measure when absent. At its
//! start it classifies every process of the host by the rules, which
//! match only the run's program. One daemon runs at a time (two
//! would race for the same process): each run starts its variant's
//! daemon if the other one is running (untimed), then spawns the program
//! and polls /proc/PID/cgroup until the memory line names the group. The
//! clock starts before the fork, so the figure bounds the time from the
//! exec from above.

use std::cell::RefCell;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::rc::Rc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use super::cgmounts::{memory_hierarchy, remove_group, Mount};
use super::{measure, report, rusage, CompareArgs, Comparison, Plan, Target, Variant, PREFIX};
use crate::deps::{self, Requirement};

/// The file Debian's cgrulesengd reads.
const ETC_RULES: &str = "/etc/cgrules.conf";
/// What Debian's cgrulesengd also needs, for templates, or it exits:
/// made empty (the file with [`MARK`] only) when absent, removed after.
const ETC_CONFIG: &str = "/etc/cgconfig.conf";
const ETC_CONFIG_DIR: &str = "/etc/cgconfig.d";
/// The socket Debian's cgrulesengd makes.
const CGRED_SOCKET: &str = "/run/cgred.socket";
/// The first line of the /etc/cgrules.conf a run writes.
const MARK: &str = "# Written by cargo xtask bench compare, pid ";
/// A moved process is given up after this long.
const MOVE_TIMEOUT: Duration = Duration::from_secs(2);
const RULES: usize = 1_000;

/// The run's files: the rules, the program, the daemon's other files.
struct Files {
    dir: PathBuf,
    rules: PathBuf,
    program: PathBuf,
    /// The group's path as /proc/PID/cgroup shows it: `/GROUP`.
    want: String,
    memory: PathBuf,
    group: String,
}

impl Drop for Files {
    fn drop(&mut self) {
        let _ = remove_group(&self.memory, &self.memory.join(&self.group));
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// The rules: 999 that match nothing, then the program's.
fn rules_text(name: &str, group: &str) -> String {
    let mut text: String = (0..RULES - 1)
        .map(|i| format!("*:other{i} memory {group}/o{i}\n"))
        .collect();
    text.push_str(&format!("*:{name} memory {group}\n"));
    text
}

impl Files {
    fn new(memory: PathBuf) -> Result<Files> {
        let pid = std::process::id();
        let dir = std::env::temp_dir().join(format!("{PREFIX}{pid}-rules"));
        let group = format!("{PREFIX}{pid}-rules");
        let name = format!("ebr{pid}");
        let files = Files {
            rules: dir.join("cgrules.conf"),
            program: dir.join(&name),
            want: format!("/{group}"),
            dir,
            memory,
            group,
        };
        fs::create_dir_all(files.dir.join("cgrules.d"))
            .with_context(|| format!("Cannot create {}", files.dir.display()))?;
        fs::create_dir_all(files.memory.join(&files.group))
            .with_context(|| format!("Cannot create the group {}", files.group))?;
        fs::copy("/bin/sleep", &files.program)
            .with_context(|| format!("Cannot copy /bin/sleep to {}", files.program.display()))?;
        fs::write(&files.rules, rules_text(&name, &files.group))
            .with_context(|| format!("Cannot write {}", files.rules.display()))?;
        Ok(files)
    }

    /// Where daemon `which` writes its error output.
    fn stderr(&self, which: usize) -> PathBuf {
        self.dir.join(format!("daemon-{which}.stderr"))
    }

    /// Spawns the program, waits until it is in the group; the time from
    /// before the spawn.
    fn probe(&self, timeout: Duration) -> std::result::Result<Duration, String> {
        let started = Instant::now();
        let mut child = Command::new(&self.program)
            .arg("60")
            .stdin(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot run {}: {e}", self.program.display()))?;
        let pid = child.id();
        let result = loop {
            let group = memory_group(pid);
            if group.as_deref() == Some(self.want.as_str()) {
                break Ok(started.elapsed());
            }
            if started.elapsed() > timeout {
                break Err(format!(
                    "process {pid} ({}) was still in memory group {:?} after {} ms",
                    self.program.display(),
                    group.unwrap_or_default(),
                    timeout.as_millis()
                ));
            }
            std::thread::sleep(Duration::from_micros(200));
        };
        let _ = child.kill();
        let _ = child.wait();
        result
    }
}

/// The memory line of /proc/PID/cgroup (v1), else the v2 line.
fn memory_group(pid: u32) -> Option<String> {
    let text = fs::read_to_string(format!("/proc/{pid}/cgroup")).ok()?;
    let find = |want: &dyn Fn(&str) -> bool| {
        text.lines().find_map(|l| {
            let mut f = l.splitn(3, ':');
            let (_, ctrls, path) = (f.next()?, f.next()?, f.next()?);
            want(ctrls).then(|| path.to_string())
        })
    };
    find(&|c| c.split(',').any(|c| c == "memory")).or_else(|| find(&|c| c.is_empty()))
}

/// /etc/cgrules.conf holding the run's rules while it lives; what was
/// there before comes back on drop (kept beside it meanwhile, so that a
/// later run puts it back if this one is killed).
struct EtcRules {
    backup: Option<PathBuf>,
    had_socket: bool,
    made_config: bool,
    made_config_dir: bool,
}

impl EtcRules {
    fn write(rules: &str) -> Result<EtcRules> {
        restore_dead_runs();
        let pid = std::process::id();
        let backup = Path::new(ETC_RULES)
            .exists()
            .then(|| PathBuf::from(format!("{ETC_RULES}.{PREFIX}{pid}")));
        if let Some(b) = &backup {
            fs::copy(ETC_RULES, b).with_context(|| format!("Cannot back up {ETC_RULES}"))?;
        }
        let mut guard = EtcRules {
            backup,
            had_socket: Path::new(CGRED_SOCKET).exists(),
            made_config: false,
            made_config_dir: false,
        };
        fs::write(ETC_RULES, format!("{MARK}{pid}\n{rules}"))
            .with_context(|| format!("Cannot write {ETC_RULES}"))?;
        if !Path::new(ETC_CONFIG).exists() {
            fs::write(ETC_CONFIG, format!("{MARK}{pid}\n"))
                .with_context(|| format!("Cannot write {ETC_CONFIG}"))?;
            guard.made_config = true;
        }
        if !Path::new(ETC_CONFIG_DIR).exists() {
            fs::create_dir(ETC_CONFIG_DIR)
                .with_context(|| format!("Cannot create {ETC_CONFIG_DIR}"))?;
            guard.made_config_dir = true;
        }
        Ok(guard)
    }
}

impl Drop for EtcRules {
    fn drop(&mut self) {
        put_back(self.backup.as_deref());
        if self.made_config {
            let _ = fs::remove_file(ETC_CONFIG);
        }
        if self.made_config_dir {
            let _ = fs::remove_dir(ETC_CONFIG_DIR);
        }
        if !self.had_socket {
            let _ = fs::remove_file(CGRED_SOCKET);
        }
    }
}

/// /etc/cgrules.conf as it was before a run: its backup, or no file.
fn put_back(backup: Option<&Path>) {
    match backup {
        Some(b) => {
            if fs::rename(b, ETC_RULES).is_err() {
                eprintln!("warning: cannot put {} back as {ETC_RULES}", b.display());
            }
        }
        None => {
            let _ = fs::remove_file(ETC_RULES);
        }
    }
}

/// The run that wrote `path`, if one did and it is gone.
fn dead_writer(path: &str) -> Option<u32> {
    let text = fs::read_to_string(path).ok()?;
    let pid = text
        .lines()
        .next()
        .and_then(|l| l.strip_prefix(MARK))
        .and_then(|p| p.trim().parse::<u32>().ok())?;
    (!Path::new("/proc").join(pid.to_string()).exists()).then_some(pid)
}

/// Puts back the /etc/cgrules.conf of a run that was killed, and removes
/// the /etc/cgconfig.conf it made.
fn restore_dead_runs() {
    if dead_writer(ETC_CONFIG).is_some() {
        let _ = fs::remove_file(ETC_CONFIG);
        let _ = fs::remove_dir(ETC_CONFIG_DIR);
    }
    let Some(pid) = dead_writer(ETC_RULES) else {
        return;
    };
    let backup = PathBuf::from(format!("{ETC_RULES}.{PREFIX}{pid}"));
    println!("Putting back the {ETC_RULES} of an earlier run (pid {pid})");
    put_back(backup.exists().then_some(backup.as_path()));
}

/// The two daemons, one running at a time.
struct Daemons {
    commands: [Option<Command>; 2],
    running: RefCell<Option<(usize, Child)>>,
}

impl Daemons {
    /// Makes `which` the running daemon, ready: it moved two probes in a
    /// row (the first may be its start-up scan's doing, before it listens).
    fn switch(&self, which: usize, files: &Files) -> std::result::Result<(), String> {
        let mut running = self.running.borrow_mut();
        if running.as_ref().is_some_and(|(w, _)| *w == which) {
            return Ok(());
        }
        if let Some((_, child)) = running.take() {
            stop(child);
        }
        let Some(cmd) = &self.commands[which] else {
            return Err("no such daemon".into());
        };
        let mut cmd = clone(cmd);
        let err = fs::File::create(files.stderr(which))
            .map_err(|e| format!("cannot create {}: {e}", files.stderr(which).display()))?;
        let child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(err)
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", crate::process::show(&cmd)))?;
        *running = Some((which, child));
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut moved = 0;
        loop {
            match files.probe(Duration::from_millis(300)) {
                Ok(_) if moved == 1 => return Ok(()),
                Ok(_) => moved += 1,
                Err(why) if Instant::now() > deadline => {
                    let (_, child) = running.take().expect("just started");
                    stop(child);
                    return Err(format!(
                        "`{}` did not move any process within 10 s: {why}",
                        crate::process::show(&cmd)
                    ));
                }
                Err(_) => moved = 0,
            }
        }
    }

    /// Whether the running daemon has exited, and its error output.
    fn died(&self, files: &Files) -> Option<String> {
        let mut running = self.running.borrow_mut();
        let (which, child) = running.as_mut()?;
        let status = child.try_wait().ok().flatten()?;
        let err = fs::read_to_string(files.stderr(*which)).unwrap_or_default();
        Some(format!(
            "the daemon exited ({status}); its stderr: {}",
            err.trim()
        ))
    }

    fn pid(&self) -> Option<u32> {
        self.running.borrow().as_ref().map(|(_, c)| c.id())
    }
}

impl Drop for Daemons {
    fn drop(&mut self) {
        if let Some((_, child)) = self.running.get_mut().take() {
            stop(child);
        }
    }
}

fn clone(cmd: &Command) -> Command {
    let mut c = Command::new(cmd.get_program());
    c.args(cmd.get_args());
    c
}

/// SIGTERM, then SIGKILL after 5 s; reaped.
fn stop(mut child: Child) {
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .stderr(Stdio::null())
        .status();
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// The command lines of the two daemons, where they can run: in the
/// foreground, without logs.
fn commands(
    files: &Files,
    tools: bool,
    enclos: &std::result::Result<PathBuf, String>,
) -> [Option<Command>; 2] {
    let tools = tools.then(|| {
        let mut c = Command::new("cgrulesengd");
        c.args(["-n", "-Q"]);
        c
    });
    let ours = enclos.as_ref().ok().map(|bin| {
        let mut c = Command::new(bin);
        c.args(["cg", "rulesengd", "--nodaemon", "-Q", "--rules"])
            .arg(&files.rules)
            .arg("--rules-dir")
            .arg(files.dir.join("cgrules.d"))
            .arg("--sticky-file")
            .arg(files.dir.join("sticky"));
        c
    });
    [tools, ours]
}

/// The latency comparison, then the RSS of each daemon.
pub(super) fn run(
    args: &CompareArgs,
    enclos: &std::result::Result<PathBuf, String>,
    mounts: &[Mount],
) -> Result<()> {
    let (memory, version) = memory_hierarchy(mounts)?;
    let files = Files::new(memory)?;
    let req = [Requirement {
        purpose: "compare with cgroup-tools",
        program: "cgrulesengd",
        package: "cgroup-tools",
    }];
    let mut tools_missing = (!deps::missing(&req).is_empty()).then(|| {
        format!(
            "cgrulesengd not found; install with: {}",
            deps::install_hint(&["cgroup-tools"])
        )
    });
    let rules = fs::read_to_string(&files.rules)?;
    let etc = match tools_missing {
        Some(_) => None,
        None => match EtcRules::write(&rules) {
            Ok(g) => Some(g),
            Err(e) => {
                tools_missing = Some(format!("{e:#} (it reads its rules there only)"));
                None
            }
        },
    };
    let daemons = Rc::new(Daemons {
        commands: commands(&files, tools_missing.is_none(), enclos),
        running: RefCell::new(None),
    });
    let files = Rc::new(files);
    let variant = |name: &'static str, which: usize, unavailable: Option<String>| {
        let (d, f) = (daemons.clone(), files.clone());
        Variant {
            name,
            run: Box::new(move |_| {
                d.switch(which, &f)?;
                f.probe(MOVE_TIMEOUT).map_err(|why| match d.died(&f) {
                    Some(died) => format!("{why}: {died}"),
                    None => format!("{why} (the daemon still runs)"),
                })
            }),
            check: None,
            unavailable,
        }
    };
    let mut comparison = Comparison {
        title: format!(
            "cgrulesengd: from the fork of a new process to its being in its rule's group \
             ({RULES} rules, memory, cgroup {version}; one daemon at a time, switched untimed)"
        ),
        variants: vec![
            variant("cgroup-tools cgrulesengd", 0, tools_missing.clone()),
            variant("enclos cg rulesengd", 1, enclos.as_ref().err().cloned()),
        ],
        baseline: 0,
        targets: vec![Target::Millis {
            variant: 1,
            max_ms: 10.0,
        }],
        plan: Plan::new(args, 50, 2, Duration::from_secs(60)),
    };
    let outcomes = measure(&mut comparison);
    report(&comparison, &outcomes);
    drop(comparison);
    rss(&daemons, &files, tools_missing.is_none(), enclos.is_ok());
    drop(daemons);
    drop(etc);
    Ok(())
}

/// Each daemon's VmRSS once it has its rules and has moved a process.
fn rss(daemons: &Daemons, files: &Files, tools: bool, ours: bool) {
    println!();
    println!("cgrulesengd: resident memory (VmRSS) with {RULES} rules, after moving a process");
    let figure = |which: usize, name: &str, present: bool| -> Option<u64> {
        if !present {
            println!("  {name}: not available");
            return None;
        }
        let kib = daemons
            .switch(which, files)
            .and_then(|()| rusage::vm_rss_kib(daemons.pid().unwrap_or(0)));
        match kib {
            Ok(kib) => {
                println!("  {name}: {:.1} MiB ({kib} KiB)", kib as f64 / 1024.0);
                Some(kib)
            }
            Err(why) => {
                println!("  {name}: FAILED: {why}");
                None
            }
        }
    };
    figure(0, "cgroup-tools cgrulesengd", tools);
    let ours = figure(1, "enclos cg rulesengd", ours);
    println!(
        "{}",
        rusage::verdict("enclos cg rulesengd", "VmRSS", ours, 5.0)
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_matching_rule_comes_last() {
        let text = rules_text("ebr1", "g");
        assert_eq!(text.lines().count(), RULES);
        assert_eq!(text.lines().next(), Some("*:other0 memory g/o0"));
        assert_eq!(text.lines().last(), Some("*:ebr1 memory g"));
    }
}
