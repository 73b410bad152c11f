//! Where `bench compare containers` works, and how everything it made goes
//! away on every exit path.
//!
//! A run works in `$TMPDIR/enclos-bench-<pid>/`: `enclos/` and `lxc/` are
//! the lxcpaths of the two tools, `scratch/` holds LXC's network config,
//! crun's bundles and state, and the captured output of the commands.
//! Every container, run and cgroup name holds `enclos-bench-<pid>-`.
//!
//! [`Sandbox`] removes all of it when dropped or finished: it destroys the
//! containers with their own tools, kills the processes left (those whose
//! command line names the directory, those in the run's cgroups, thawed
//! first), unmounts what is mounted below the directory, removes it and
//! the run's cgroups. Ctrl+C kills the harness before any destructor runs,
//! so a guard process does the same then: `cargo xtask bench guard`, in its
//! own process group (the terminal's Ctrl+C does not reach it), waits on a
//! pipe from the harness and cleans up when the pipe closes without the
//! harness saying "done" first. A run also cleans up after earlier runs
//! whose process is gone.

use std::ffi::{OsStr, OsString};
use std::fs;
use std::io::{BufRead, Write};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{bail, Context, Result};

use super::cgmounts::{cgroup_mounts, remove_group, Mount};
use super::spawn::Spawner;
use super::PREFIX;
use crate::process::find_program;

/// The run's directory, for the guard (an environment variable rather
/// than an argument, so that the guard's command line does not name the
/// directory and the cleanup does not take it for a leftover).
const DIR_VAR: &str = "ENCLOS_BENCH_DIR";
/// The enclos binary, for the guard.
const ENCLOS_VAR: &str = "ENCLOS_BENCH_ENCLOS";

/// A cleanup command that hangs is given up after this long.
const CLEANUP_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, clap::Args)]
pub struct GuardArgs {}

/// The run's directory and the guard that removes it.
#[derive(Debug)]
pub(super) struct Sandbox {
    base: PathBuf,
    enclos: Option<PathBuf>,
    guard: Option<Child>,
    done: bool,
}

impl Sandbox {
    /// Cleans up after dead earlier runs, then makes this run's directory
    /// and starts its guard.
    pub fn new(enclos: Option<&Path>) -> Result<Sandbox> {
        sweep_dead_runs(enclos);
        let base = std::env::temp_dir().join(format!("{PREFIX}{}", std::process::id()));
        if base.exists() {
            let cleaned = cleanup(&base, enclos);
            cleaned.print();
            if !cleaned.problems.is_empty() {
                bail!(
                    "Cannot remove {} left by an earlier run with this pid",
                    base.display()
                );
            }
        }
        for dir in ["enclos", "lxc", "scratch"] {
            let dir = base.join(dir);
            fs::create_dir_all(&dir).with_context(|| format!("Cannot create {}", dir.display()))?;
        }
        let mut sandbox = Sandbox {
            base,
            enclos: enclos.map(Path::to_path_buf),
            guard: None,
            done: false,
        };
        match sandbox.start_guard() {
            Ok(child) => sandbox.guard = Some(child),
            Err(e) => eprintln!(
                "warning: cannot start the cleanup guard ({e:#}): if this run is interrupted, \
                 the next one removes what it leaves"
            ),
        }
        Ok(sandbox)
    }

    fn start_guard(&self) -> Result<Child> {
        // This very binary, even when a rebuild has replaced its file since
        // it started (current_exe() would then name a deleted file).
        let exe = Path::new("/proc/self/exe");
        let mut cmd = Command::new(exe);
        cmd.args(["bench", "guard"])
            .env(DIR_VAR, &self.base)
            .stdin(Stdio::piped())
            .process_group(0);
        match &self.enclos {
            Some(e) => cmd.env(ENCLOS_VAR, e),
            None => cmd.env_remove(ENCLOS_VAR),
        };
        cmd.spawn()
            .context("Cannot run /proc/self/exe (this xtask) bench guard")
    }

    pub fn base(&self) -> &Path {
        &self.base
    }

    /// The lxcpath of enclos's containers.
    pub fn enclos_dir(&self) -> PathBuf {
        self.base.join("enclos")
    }

    /// The lxcpath of LXC's containers.
    pub fn lxc_dir(&self) -> PathBuf {
        self.base.join("lxc")
    }

    /// Configs, bundles, captured output.
    pub fn scratch(&self) -> PathBuf {
        self.base.join("scratch")
    }

    /// Removes everything now; fails when something could not be removed.
    pub fn finish(mut self) -> Result<()> {
        let cleaned = self.clean();
        if cleaned.problems.is_empty() {
            Ok(())
        } else {
            bail!(
                "The cleanup left things behind:\n  {}",
                cleaned.problems.join("\n  ")
            )
        }
    }

    fn clean(&mut self) -> Cleaned {
        self.done = true;
        let cleaned = cleanup(&self.base, self.enclos.as_deref());
        cleaned.print();
        if let Some(mut guard) = self.guard.take() {
            if let Some(mut stdin) = guard.stdin.take() {
                let _ = stdin.write_all(b"done\n");
            }
            let _ = guard.wait();
        }
        cleaned
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        if !self.done {
            self.clean();
        }
    }
}

/// `cargo xtask bench guard`: waits until the harness says "done" (it
/// cleaned up itself) or goes away without saying it (then cleans up).
pub(super) fn guard(_args: &GuardArgs) -> Result<()> {
    let Some(base) = std::env::var_os(DIR_VAR).map(PathBuf::from) else {
        bail!("{DIR_VAR} is not set: this command is started by `bench compare containers`");
    };
    let enclos = std::env::var_os(ENCLOS_VAR).map(PathBuf::from);
    let mut line = String::new();
    let _ = std::io::stdin().lock().read_line(&mut line);
    if line.trim() == "done" {
        return Ok(());
    }
    eprintln!(
        "\nbench: the run ended early; removing what it left ({})",
        base.display()
    );
    let cleaned = cleanup(&base, enclos.as_deref());
    cleaned.print();
    if cleaned.problems.is_empty() {
        Ok(())
    } else {
        bail!(
            "The cleanup left things behind:\n  {}",
            cleaned.problems.join("\n  ")
        )
    }
}

/// Cleans up after every earlier run whose process is gone.
fn sweep_dead_runs(enclos: Option<&Path>) {
    let Ok(entries) = fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for entry in entries.flatten() {
        let Some(pid) = run_pid(&entry.file_name()) else {
            continue;
        };
        if pid != std::process::id() && !alive(pid) {
            println!("Removing what an earlier run (pid {pid}) left behind");
            cleanup(&entry.path(), enclos).print();
        }
    }
    // Cgroups of dead runs whose directory is already gone.
    if let Ok(mounts) = cgroup_mounts() {
        let groups = run_cgroups(&mounts, None);
        remove_cgroups(&groups, &mut Vec::new());
    }
}

fn alive(pid: u32) -> bool {
    Path::new("/proc").join(pid.to_string()).exists()
}

/// What a cleanup did.
#[derive(Debug, Default)]
struct Cleaned {
    base: PathBuf,
    containers: usize,
    killed: usize,
    unmounted: usize,
    cgroups: usize,
    removed: bool,
    problems: Vec<String>,
}

impl Cleaned {
    fn print(&self) {
        let mut did = Vec::new();
        if self.containers > 0 {
            did.push(format!("destroyed {} container(s)", self.containers));
        }
        if self.killed > 0 {
            did.push(format!("killed {} leftover process(es)", self.killed));
        }
        if self.unmounted > 0 {
            did.push(format!("unmounted {} leftover mount(s)", self.unmounted));
        }
        if self.cgroups > 0 {
            did.push(format!("removed {} leftover cgroup(s)", self.cgroups));
        }
        if self.removed {
            did.push(format!("removed {}", self.base.display()));
        }
        if !did.is_empty() {
            println!("Cleanup: {}", did.join(", "));
        }
        for problem in &self.problems {
            eprintln!("warning: cleanup: {problem}");
        }
    }
}

/// Removes what the run working in `base` (`.../enclos-bench-<pid>`) made.
fn cleanup(base: &Path, enclos: Option<&Path>) -> Cleaned {
    let mut cleaned = Cleaned {
        base: base.to_path_buf(),
        ..Cleaned::default()
    };
    let Some(pid) = base.file_name().and_then(run_pid) else {
        cleaned
            .problems
            .push(format!("{} is not a run's directory", base.display()));
        return cleaned;
    };
    let spawner = match Spawner::new(&base.join("scratch")) {
        Ok(s) => Some(s),
        Err(e) => {
            cleaned
                .problems
                .push(format!("cannot run the tools' cleanup commands: {e}"));
            None
        }
    };
    let mounts = cgroup_mounts().unwrap_or_default();
    if let Some(sp) = &spawner {
        destroy_containers(sp, base, enclos, &mut cleaned);
        delete_crun_containers(sp, base, &mut cleaned.problems);
    }
    let groups = run_cgroups(&mounts, Some(pid));
    kill_leftovers(base, &groups, &mut cleaned);
    remove_dir(base, &mut cleaned);
    remove_run_cgroups(&groups, &mounts, &mut cleaned);
    cleaned
}

/// The run of a directory named `enclos-bench-<pid>`.
fn run_pid(name: &OsStr) -> Option<u32> {
    name.to_str()
        .and_then(|n| n.strip_prefix(PREFIX))
        .and_then(|p| p.parse::<u32>().ok())
}

/// Destroys the containers of the run's two lxcpaths, each with its own
/// tool (unfrozen and killed first).
fn destroy_containers(sp: &Spawner, base: &Path, enclos: Option<&Path>, cleaned: &mut Cleaned) {
    let tools: [(PathBuf, Option<&Path>, Option<&str>); 2] = [
        (base.join("enclos"), enclos, None),
        (base.join("lxc"), None, Some("lxc-")),
    ];
    for (dir, binary, lxc) in tools {
        for name in containers_in(&dir) {
            let tool = |verb: &str| tool_command(binary, lxc, verb, &dir, &name);
            let Some(mut destroy) = tool("destroy") else {
                cleaned.problems.push(format!(
                    "no tool to destroy the container {} in {}",
                    name.to_string_lossy(),
                    dir.display()
                ));
                continue;
            };
            for (verb, extra) in [("unfreeze", None), ("stop", Some("-k"))] {
                if let Some(mut cmd) = tool(verb) {
                    cmd.args(extra);
                    let _ = sp.run(&mut cmd, CLEANUP_TIMEOUT);
                }
            }
            match sp.ok(destroy.arg("-f"), CLEANUP_TIMEOUT) {
                Ok(_) => cleaned.containers += 1,
                Err(e) => cleaned.problems.push(e),
            }
        }
    }
}

/// `enclos VERB -P DIR -n NAME` with the enclos `binary`, or
/// `lxc-VERB -P DIR -n NAME` with LXC's tools (`lxc`: their prefix);
/// `None` when there is no such tool.
fn tool_command(
    binary: Option<&Path>,
    lxc: Option<&str>,
    verb: &str,
    dir: &Path,
    name: &OsStr,
) -> Option<Command> {
    let mut cmd = match (binary, lxc) {
        (Some(b), _) => {
            let mut c = Command::new(b);
            c.arg(verb);
            c
        }
        (None, Some(prefix)) => Command::new(find_program(&format!("{prefix}{verb}"))?),
        (None, None) => return None,
    };
    cmd.arg("-P").arg(dir).arg("-n").arg(name);
    Some(cmd)
}

/// Deletes crun's containers, in the state directory of the run.
fn delete_crun_containers(sp: &Spawner, base: &Path, problems: &mut Vec<String>) {
    let crun_root = base.join("scratch").join("crun-root");
    let (Ok(entries), Some(crun)) = (fs::read_dir(&crun_root), find_program("crun")) else {
        return;
    };
    for entry in entries.flatten() {
        let mut cmd = Command::new(&crun);
        cmd.arg("--root")
            .arg(&crun_root)
            .arg("delete")
            .arg("-f")
            .arg(entry.file_name());
        if let Err(e) = sp.ok(&mut cmd, CLEANUP_TIMEOUT) {
            problems.push(e);
        }
    }
}

/// Kills the processes the run left (thawed first), until none is left
/// or 20 rounds have passed.
fn kill_leftovers(base: &Path, groups: &[(PathBuf, PathBuf)], cleaned: &mut Cleaned) {
    for _ in 0..20 {
        thaw(groups);
        let pids = leftover_processes(base, groups);
        if pids.is_empty() {
            break;
        }
        cleaned.killed += pids.len();
        let _ = Command::new("kill")
            .arg("-KILL")
            .args(pids.iter().map(|p| p.to_string()))
            .stderr(Stdio::null())
            .status();
        std::thread::sleep(Duration::from_millis(50));
    }
    let pids = leftover_processes(base, groups);
    if !pids.is_empty() {
        cleaned
            .problems
            .push(format!("processes still alive after SIGKILL: {pids:?}"));
    }
}

/// Unmounts what is mounted below `base` (none expected: the tools mount
/// in the containers' own mount namespaces), then removes it.
fn remove_dir(base: &Path, cleaned: &mut Cleaned) {
    let below = mounts_below(base);
    for point in below.iter().rev() {
        let status = Command::new("umount")
            .arg("--lazy")
            .arg(point)
            .stderr(Stdio::null())
            .status();
        if status.map(|s| s.success()).unwrap_or(false) {
            cleaned.unmounted += 1;
        }
    }
    if !mounts_below(base).is_empty() {
        cleaned.problems.push(format!(
            "not removing {}: something is still mounted below it",
            base.display()
        ));
    } else if base.exists() {
        match fs::remove_dir_all(base) {
            Ok(()) => cleaned.removed = true,
            Err(e) => cleaned
                .problems
                .push(format!("cannot remove {}: {e}", base.display())),
        }
    }
}

/// Removes the run's cgroups, and the empty `lxc.pivot` groups.
fn remove_run_cgroups(groups: &[(PathBuf, PathBuf)], mounts: &[Mount], cleaned: &mut Cleaned) {
    cleaned.cgroups += remove_cgroups(groups, &mut cleaned.problems);
    // LXC parks processes in an `lxc.pivot` group at the top of each
    // hierarchy and leaves it there; an empty one goes (rmdir refuses a
    // populated group, so another LXC user's is safe).
    for mount in mounts {
        if fs::remove_dir(mount.point.join("lxc.pivot")).is_ok() {
            cleaned.cgroups += 1;
        }
    }
}

/// The containers of an lxcpath: the directories holding a `config`.
fn containers_in(dir: &Path) -> Vec<OsString> {
    let Ok(entries) = fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut names: Vec<OsString> = entries
        .flatten()
        .filter(|e| e.path().join("config").is_file())
        .map(|e| e.file_name())
        .collect();
    names.sort();
    names
}

/// The run named in a cgroup's name: `lxc.payload.enclos-bench-42-7`,
/// `enclos.payload.enclos-bench-42-c` and `enclos-bench-42-7` belong to
/// run 42.
fn run_of(name: &str) -> Option<u32> {
    let (_, rest) = name.split_once(PREFIX)?;
    let digits = rest.split('-').next()?;
    if !rest[digits.len()..].starts_with('-') {
        return None;
    }
    digits.parse().ok()
}

/// The cgroups of run `pid` (or, with `None`, of every dead run) in every
/// hierarchy, searched two levels deep: (mount point, group directory).
fn run_cgroups(mounts: &[Mount], pid: Option<u32>) -> Vec<(PathBuf, PathBuf)> {
    let wanted = |name: &str| match (run_of(name), pid) {
        (Some(run), Some(pid)) => run == pid,
        (Some(run), None) => run != std::process::id() && !alive(run),
        (None, _) => false,
    };
    let mut found = Vec::new();
    for mount in mounts {
        let mut level = vec![mount.point.clone()];
        for _depth in 0..2 {
            let mut next = Vec::new();
            for dir in &level {
                let Ok(entries) = fs::read_dir(dir) else {
                    continue;
                };
                for entry in entries.flatten() {
                    if !entry.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                        continue;
                    }
                    if entry.file_name().to_str().is_some_and(wanted) {
                        found.push((mount.point.clone(), entry.path()));
                    } else {
                        next.push(entry.path());
                    }
                }
            }
            level = next;
        }
    }
    found
}

/// Thaws the frozen groups among `groups` (a frozen process cannot die).
fn thaw(groups: &[(PathBuf, PathBuf)]) {
    for (_, dir) in groups {
        for (file, value) in [("freezer.state", "THAWED"), ("cgroup.freeze", "0")] {
            let path = dir.join(file);
            if path.exists() {
                let _ = fs::write(path, value);
            }
        }
    }
}

/// The processes of the run: in its cgroups (and their children), or
/// whose command line names its directory. Never this process.
fn leftover_processes(base: &Path, groups: &[(PathBuf, PathBuf)]) -> Vec<u32> {
    fn procs_in(dir: &Path, out: &mut Vec<u32>) {
        if let Ok(text) = fs::read_to_string(dir.join("cgroup.procs")) {
            out.extend(
                text.split_whitespace()
                    .filter_map(|p| p.parse::<u32>().ok()),
            );
        }
        if let Ok(entries) = fs::read_dir(dir) {
            for entry in entries.flatten() {
                if entry.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                    procs_in(&entry.path(), out);
                }
            }
        }
    }
    let mut pids = Vec::new();
    for (_, dir) in groups {
        procs_in(dir, &mut pids);
    }
    // `<base>/`: every command of the run names a directory below it (and
    // `/tmp/enclos-bench-12` alone would also match run 123's).
    let needle = base.join("").into_os_string().into_encoded_bytes();
    let needle = needle.as_slice();
    if let Ok(entries) = fs::read_dir("/proc") {
        for entry in entries.flatten() {
            let Some(pid) = entry
                .file_name()
                .to_str()
                .and_then(|p| p.parse::<u32>().ok())
            else {
                continue;
            };
            let Ok(cmdline) = fs::read(entry.path().join("cmdline")) else {
                continue;
            };
            if cmdline.windows(needle.len()).any(|w| w == needle) {
                pids.push(pid);
            }
        }
    }
    let me = std::process::id();
    pids.retain(|&p| p != me && p > 1);
    pids.sort_unstable();
    pids.dedup();
    pids
}

/// The mount points at or below `base` in this mount namespace, outermost
/// first.
fn mounts_below(base: &Path) -> Vec<PathBuf> {
    let Ok(text) = fs::read_to_string("/proc/self/mountinfo") else {
        return Vec::new();
    };
    let mut points: Vec<PathBuf> = enclos_mounts::MountInfo::parse_all(&text)
        .map(|m| m.mount_point)
        .filter(|p| p.starts_with(base))
        .collect();
    points.sort_by_key(|p| p.components().count());
    points
}

/// Removes `groups`; returns how many went. The ones that stay are
/// reported in `problems`.
fn remove_cgroups(groups: &[(PathBuf, PathBuf)], problems: &mut Vec<String>) -> usize {
    let mut removed = 0;
    for (mount, dir) in groups {
        if !dir.exists() {
            continue;
        }
        match remove_group(mount, dir) {
            Ok(()) => removed += 1,
            Err(e) => problems.push(format!("cannot remove the cgroup {}: {e}", dir.display())),
        }
    }
    removed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cgroup_names_tell_their_run() {
        assert_eq!(run_of("lxc.payload.enclos-bench-42-7"), Some(42));
        assert_eq!(run_of("lxc.monitor.enclos-bench-42-c"), Some(42));
        assert_eq!(run_of("enclos.payload.enclos-bench-42-c"), Some(42));
        assert_eq!(run_of("enclos-bench-42-3"), Some(42));
        assert_eq!(run_of("enclos-bench-42"), None);
        assert_eq!(run_of("enclos-bench-x-1"), None);
        assert_eq!(run_of("lxc.pivot"), None);
    }

    #[test]
    fn cleanup_commands_take_lxc_flags() {
        let (dir, name) = (Path::new("/t/enclos"), OsStr::new("enclos-bench-42-c"));
        let cmd = tool_command(Some(Path::new("/x/enclos")), None, "stop", dir, name);
        assert_eq!(
            crate::process::show(&cmd.unwrap()),
            "enclos stop -P /t/enclos -n enclos-bench-42-c"
        );
        assert!(tool_command(None, None, "destroy", dir, name).is_none());
        assert_eq!(run_pid(OsStr::new("enclos-bench-42")), Some(42));
        assert_eq!(run_pid(OsStr::new("enclos-bench-x")), None);
    }
}
