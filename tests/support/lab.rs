//! The container tests' harness: running the enclos binary as a user
//! would, what the host sees (cgroups, /proc, mounts), and [`Lab`], the
//! per-test guard with its own lxcpath and container names that destroys
//! its containers and removes whatever they left behind, even when the
//! test failed.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use tempfile::TempDir;

use crate::enclos_bin;

/// A command that runs longer than this is killed (and its test fails).
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(90);

/// How long to wait for something that should happen soon (a state, a
/// prompt); only a bound against hanging, never a timing assertion.
pub const SETTLE: Duration = Duration::from_secs(20);

/// The prefix of a container's cgroup on every hierarchy.
pub const CGROUP_PREFIX: &str = "enclos.payload.";

// ---------------------------------------------------------------------------
// Running commands
// ---------------------------------------------------------------------------

/// How a command ended and what it printed.
#[derive(Debug)]
pub struct Out {
    pub cmd: String,
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    pub timed_out: bool,
}

impl Out {
    pub fn ok(&self) -> bool {
        self.code == Some(0) && !self.timed_out
    }

    /// Panics unless the command exited 0.
    pub fn success(self) -> Out {
        assert!(self.ok(), "expected `{}` to succeed: {self:#?}", self.cmd);
        self
    }

    pub fn lines(&self) -> Vec<&str> {
        self.stdout.lines().collect()
    }
}

/// Runs `cmd` with stdin on /dev/null and stdout/stderr in temporary files
/// (so that a daemon inheriting them cannot make us wait), killing it after
/// [`COMMAND_TIMEOUT`].
pub fn run(mut cmd: Command) -> Out {
    let mut out = tempfile::tempfile().expect("temporary file");
    let mut err = tempfile::tempfile().expect("temporary file");
    cmd.stdin(Stdio::null())
        .stdout(out.try_clone().expect("dup"))
        .stderr(err.try_clone().expect("dup"));
    let desc = format!("{cmd:?}");
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {desc}: {e}"));
    drop(cmd);
    let (status, timed_out) = wait_deadline(&mut child, COMMAND_TIMEOUT);
    let read = |f: &mut File| {
        let mut s = String::new();
        f.rewind().expect("rewind");
        let mut bytes = Vec::new();
        f.read_to_end(&mut bytes).expect("read output");
        s.push_str(&String::from_utf8_lossy(&bytes));
        s
    };
    Out {
        cmd: desc,
        code: status.and_then(|s| s.code()),
        stdout: read(&mut out),
        stderr: read(&mut err),
        timed_out,
    }
}

/// Waits for `child`, killing it after `timeout`. Returns its status (None
/// if it could not be waited for) and whether it was killed.
pub fn wait_deadline(
    child: &mut Child,
    timeout: Duration,
) -> (Option<std::process::ExitStatus>, bool) {
    let deadline = Instant::now() + timeout;
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return (Some(status), false),
            Ok(None) if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(10));
            }
            Ok(None) => {
                let _ = child.kill();
                return (child.wait().ok(), true);
            }
            Err(_) => return (None, false),
        }
    }
}

/// Polls `f` until it returns Some, for at most `timeout`.
pub fn poll<T>(timeout: Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return Some(v);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

// ---------------------------------------------------------------------------
// What the host sees: cgroups, /proc, mounts
// ---------------------------------------------------------------------------

/// One cgroup hierarchy mounted on the host.
#[derive(Debug, Clone)]
pub struct CgroupMount {
    pub path: PathBuf,
    /// `cgroup` (v1) or `cgroup2`.
    pub fstype: String,
    /// The super options: the v1 controllers are among them.
    pub options: Vec<String>,
}

/// The cgroup hierarchies mounted on the host, from /proc/self/mountinfo.
pub fn cgroup_mounts() -> Vec<CgroupMount> {
    let info = std::fs::read_to_string("/proc/self/mountinfo").expect("read mountinfo");
    let mut mounts: Vec<CgroupMount> = Vec::new();
    for m in enclos_mounts::MountInfo::parse_all(&info) {
        if m.fstype != "cgroup" && m.fstype != "cgroup2" {
            continue;
        }
        if mounts.iter().any(|c| c.path == m.mount_point) {
            continue;
        }
        mounts.push(CgroupMount {
            options: m.super_options.split(',').map(str::to_string).collect(),
            path: m.mount_point,
            fstype: m.fstype,
        });
    }
    mounts
}

/// How this host limits a cgroup's memory: cgroup v1's
/// memory.limit_in_bytes, else cgroup v2's memory.max.
#[derive(Debug)]
pub struct MemoryLimit {
    /// The configuration key, `lxc.cgroup.memory.limit_in_bytes` or
    /// `lxc.cgroup2.memory.max`.
    pub key: &'static str,
    /// The cgroup file.
    pub file: &'static str,
    /// The hierarchy holding it.
    pub mount: PathBuf,
    /// Whether it is cgroup v1 (with kernel memory accounting).
    pub v1: bool,
}

impl MemoryLimit {
    pub fn of_host() -> MemoryLimit {
        let mounts = cgroup_mounts();
        if let Some(m) = mounts
            .iter()
            .find(|m| m.fstype == "cgroup" && m.options.iter().any(|o| o == "memory"))
        {
            return MemoryLimit {
                key: "lxc.cgroup.memory.limit_in_bytes",
                file: "memory.limit_in_bytes",
                mount: m.path.clone(),
                v1: true,
            };
        }
        let m = mounts
            .iter()
            .find(|m| m.fstype == "cgroup2")
            .expect("a memory controller on cgroup v1 or v2");
        MemoryLimit {
            key: "lxc.cgroup2.memory.max",
            file: "memory.max",
            mount: m.path.clone(),
            v1: false,
        }
    }

    /// The limit of container `name` as the host's cgroup file says.
    pub fn of(&self, name: &str) -> String {
        let path = self
            .mount
            .join(format!("{CGROUP_PREFIX}{name}"))
            .join(self.file);
        std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
            .trim()
            .to_string()
    }
}

/// The cgroup directories of container `name` that exist on the host.
pub fn cgroup_dirs(name: &str) -> Vec<PathBuf> {
    cgroup_mounts()
        .into_iter()
        .map(|m| m.path.join(format!("{CGROUP_PREFIX}{name}")))
        .filter(|d| d.is_dir())
        .collect()
}

/// The prefix of a daemonized monitor's own cgroup.
pub const MONITOR_CGROUP_PREFIX: &str = "enclos.monitor.";

/// The monitor cgroups of container `name` (at the root of each
/// hierarchy) that exist.
pub fn monitor_cgroup_dirs(name: &str) -> Vec<PathBuf> {
    cgroup_mounts()
        .into_iter()
        .map(|m| m.path.join(format!("{MONITOR_CGROUP_PREFIX}{name}")))
        .filter(|d| d.is_dir())
        .collect()
}

/// The processes in container `name`'s cgroups, on any hierarchy.
pub fn cgroup_procs(name: &str) -> BTreeSet<i32> {
    let mut procs = BTreeSet::new();
    for dir in cgroup_dirs(name) {
        collect_procs(&dir, &mut procs);
    }
    procs
}

pub fn collect_procs(dir: &Path, procs: &mut BTreeSet<i32>) {
    if let Ok(s) = std::fs::read_to_string(dir.join("cgroup.procs")) {
        procs.extend(s.lines().filter_map(|l| l.trim().parse::<i32>().ok()));
    }
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                collect_procs(&e.path(), procs);
            }
        }
    }
}

/// Every `enclos.payload.*` cgroup on the host whose name contains `tag`.
pub fn payload_cgroups_with(tag: &str) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for m in cgroup_mounts() {
        if let Ok(entries) = std::fs::read_dir(&m.path) {
            for e in entries.flatten() {
                let n = e.file_name().to_string_lossy().into_owned();
                if n.starts_with(CGROUP_PREFIX) && n.contains(tag) {
                    found.push(e.path());
                }
            }
        }
    }
    found
}

/// The mount points on the host under `dir`.
pub fn mounts_under(dir: &Path) -> Vec<String> {
    let dir = dir.to_string_lossy().into_owned();
    let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    enclos_mounts::MountInfo::parse_all(&info)
        .map(|m| m.mount_point.to_string_lossy().into_owned())
        .filter(|p| p.starts_with(&dir))
        .collect()
}

/// A field of `/proc/<pid>/status` ("Uid", "NSpid", "State").
pub fn proc_status(pid: i32, field: &str) -> Option<String> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    s.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .map(|v| v.split_whitespace().collect::<Vec<_>>().join(" "))
}

/// Whether `pid` is a live process (a zombie does not count).
pub fn alive(pid: i32) -> bool {
    proc_status(pid, "State").is_some_and(|s| !s.starts_with('Z') && !s.starts_with('X'))
}

/// The pid in its innermost pid namespace, from the NSpid line.
pub fn innermost_pid(pid: i32) -> Option<i32> {
    proc_status(pid, "NSpid")?
        .split(' ')
        .next_back()?
        .parse()
        .ok()
}

/// The host pid of the process of container `name` whose pid inside the
/// container is `nspid`.
pub fn host_pid(name: &str, nspid: i32) -> Option<i32> {
    cgroup_procs(name)
        .into_iter()
        .find(|p| innermost_pid(*p) == Some(nspid))
}

/// utime + stime of `pid`, in clock ticks, from `/proc/<pid>/stat`.
pub fn cpu_ticks(pid: i32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .unwrap_or_else(|e| panic!("read /proc/{pid}/stat: {e}"));
    // Fields after "(comm)": state is field 3, utime 14, stime 15.
    let rest = &stat[stat.rfind(')').expect("comm") + 2..];
    let f: Vec<&str> = rest.split(' ').collect();
    f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap()
}

/// Kills every process in the cgroup `dir` (and below), thaws it so that
/// the kill lands, and removes it, children first. Gives up after a while.
pub fn kill_and_remove(dir: &Path) {
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                kill_and_remove(&e.path());
            }
        }
    }
    let _ = poll(Duration::from_secs(5), || {
        let mut procs = BTreeSet::new();
        collect_procs(dir, &mut procs);
        for p in &procs {
            let _ = kill(Pid::from_raw(*p), Signal::SIGKILL);
        }
        let _ = std::fs::write(dir.join("freezer.state"), "THAWED");
        let _ = std::fs::write(dir.join("cgroup.freeze"), "0");
        std::fs::remove_dir(dir)
            .ok()
            .or((!dir.exists()).then_some(()))
    });
}

/// `enclos cg delete -r --kill CONTROLLER:GROUP` for each of
/// `controllers`: what a test's cgroup guard does on drop, whatever the
/// group holds. Failures are ignored (the group may not exist).
pub fn cg_delete_tree(controllers: &[&str], group: &str) {
    for ctrl in controllers {
        let mut c = Command::new(enclos_bin());
        c.args(["cg", "delete", "-r", "--kill", &format!("{ctrl}:{group}")]);
        let _ = run(c);
    }
}

// ---------------------------------------------------------------------------
// The per-test guard
// ---------------------------------------------------------------------------

static SEQ: AtomicUsize = AtomicUsize::new(0);

/// A test's own lxcpath and container names. Dropping it destroys the
/// containers (`destroy -f`), then removes whatever is left of them (cgroups,
/// monitors, mounts) and, unless the test is already failing, fails it if
/// anything was left.
#[derive(Debug)]
pub struct Lab {
    pub dir: TempDir,
    pub names: Mutex<Vec<String>>,
}

impl Default for Lab {
    fn default() -> Self {
        Self::new()
    }
}

impl Lab {
    pub fn new() -> Lab {
        Lab {
            dir: tempfile::Builder::new()
                .prefix("enclos-ct-")
                .tempdir()
                .expect("temporary lxcpath"),
            names: Mutex::new(Vec::new()),
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn path_str(&self) -> &str {
        self.dir.path().to_str().expect("utf-8 temp path")
    }

    /// A fresh container name, unique on this host while the test runs,
    /// that the guard will clean up.
    pub fn name(&self, tag: &str) -> String {
        let n = format!(
            "{tag}-{}-{}",
            std::process::id(),
            SEQ.fetch_add(1, Ordering::Relaxed)
        );
        self.names.lock().unwrap().push(n.clone());
        n
    }

    /// `enclos SUB -P LXCPATH ARGS...`, not run yet.
    pub fn cmd(&self, sub: &str, args: &[&str]) -> Command {
        let mut c = Command::new(enclos_bin());
        c.arg(sub).arg("-P").arg(self.path()).args(args);
        c
    }

    pub fn enclos(&self, sub: &str, args: &[&str]) -> Out {
        run(self.cmd(sub, args))
    }

    /// Writes `text` to `file` in the lxcpath: a configuration file for
    /// `-f`.
    pub fn conf(&self, file: &str, text: &str) -> PathBuf {
        let p = self.path().join(file);
        std::fs::write(&p, text).expect("write config file");
        p
    }

    /// Creates container `name` from the busybox template, with `extra`
    /// config keys through `-f` when not empty.
    pub fn create_with(&self, name: &str, extra: &str) {
        if extra.is_empty() {
            self.enclos("create", &["-n", name, "-t", "busybox"])
                .success();
        } else {
            let conf = self.conf(&format!("{name}.conf"), extra);
            let conf = conf.to_str().unwrap();
            self.enclos("create", &["-n", name, "-t", "busybox", "-f", conf])
                .success();
        }
    }

    pub fn create(&self, tag: &str) -> String {
        let n = self.name(tag);
        self.create_with(&n, "");
        n
    }

    pub fn start(&self, name: &str) {
        self.enclos("start", &["-n", name]).success();
        assert_eq!(self.state(name), "RUNNING", "after start");
    }

    /// A new container, started.
    pub fn running(&self, tag: &str) -> String {
        let n = self.create(tag);
        self.start(&n);
        n
    }

    /// The state `info -s` prints.
    pub fn state(&self, name: &str) -> String {
        let out = self.enclos("info", &["-n", name, "-s"]).success();
        let line = out.stdout.trim();
        line.strip_prefix("State:")
            .unwrap_or_else(|| panic!("info -s printed {line:?}"))
            .trim()
            .to_string()
    }

    /// Init's host pid as `info -p` prints it.
    pub fn init_pid(&self, name: &str) -> i32 {
        let out = self.enclos("info", &["-n", name, "-p"]).success();
        let line = out.stdout.trim();
        line.strip_prefix("PID:")
            .unwrap_or_else(|| panic!("info -p printed {line:?}"))
            .trim()
            .parse()
            .unwrap_or_else(|e| panic!("info -p printed {line:?}: {e}"))
    }

    pub fn attach(&self, name: &str, cmd: &[&str]) -> Out {
        let mut args = vec!["-n", name, "--"];
        args.extend_from_slice(cmd);
        self.enclos("attach", &args)
    }

    /// Asserts what a user checks after a container stopped: `info -s`
    /// says STOPPED, no cgroup is left, `init` (if given) is gone.
    pub fn assert_stopped_and_clean(&self, name: &str, init: Option<i32>) {
        assert_eq!(self.state(name), "STOPPED", "state of {name}");
        assert_eq!(
            cgroup_dirs(name),
            Vec::<PathBuf>::new(),
            "cgroups of {name}"
        );
        assert_eq!(
            monitor_cgroup_dirs(name),
            Vec::<PathBuf>::new(),
            "monitor cgroups of {name}"
        );
        if let Some(pid) = init {
            assert!(
                poll(SETTLE, || (!alive(pid)).then_some(())).is_some(),
                "init {pid} of {name} still runs"
            );
        }
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        let names = self.names.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let lxcpath = self.path_str().to_string();
        let mut left: Vec<String> = Vec::new();
        let monitors: Vec<i32> = names
            .iter()
            .filter_map(|n| {
                std::fs::read_to_string(self.path().join(n).join(".enclos/monitor.pid")).ok()
            })
            .filter_map(|s| s.trim().parse().ok())
            .collect();
        for n in &names {
            if !self.path().join(n).exists() {
                continue;
            }
            let out = self.enclos("destroy", &["-n", n, "-f"]);
            if out.ok() && !self.path().join(n).exists() {
                continue;
            }
            // A failed `destroy -f` is the subject of its own test
            // (destroy_force_removes_running_containers_at_once); here a
            // second
            // try is enough not to blame the test at hand for it.
            let again = self.enclos("destroy", &["-n", n, "-f"]);
            let _ = writeln!(
                std::io::stderr(),
                "note: cleaning up {n}: `destroy -f` failed once: {}",
                out.stderr.trim()
            );
            if !again.ok() || self.path().join(n).exists() {
                left.push(format!("container {n} (destroy -f: {again:?})"));
            }
        }
        for n in &names {
            for dir in cgroup_dirs(n).into_iter().chain(monitor_cgroup_dirs(n)) {
                left.push(format!("cgroup {}", dir.display()));
                kill_and_remove(&dir);
            }
        }
        for pid in monitors {
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            if alive(pid) && String::from_utf8_lossy(&cmdline).contains(&lxcpath) {
                left.push(format!("monitor process {pid}"));
                let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
            }
        }
        let mut mounts = mounts_under(self.path());
        mounts.reverse();
        for m in mounts {
            left.push(format!("mount {m}"));
            let _ = nix::mount::umount2(m.as_str(), nix::mount::MntFlags::MNT_DETACH);
        }
        if !left.is_empty() && !std::thread::panicking() {
            panic!("the test left behind: {}", left.join("; "));
        }
    }
}

/// The config file of a container as key -> values.
pub fn read_config(path: &Path) -> BTreeMap<String, Vec<String>> {
    let text =
        std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    let mut map: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('#') {
            continue;
        }
        if let Some((k, v)) = line.split_once('=') {
            map.entry(k.trim().to_string())
                .or_default()
                .push(v.trim().to_string());
        }
    }
    map
}

/// "Key:   value" lines, as info prints them.
pub fn fields(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect()
}

/// The one line an error must be: exit 1, nothing on stdout, one line on
/// stderr containing `needle`.
pub fn assert_one_error_line(out: &Out, needle: &str) {
    assert_eq!(out.code, Some(1), "exit code: {out:#?}");
    assert_eq!(out.stdout, "", "nothing on stdout: {out:#?}");
    let lines: Vec<&str> = out
        .stderr
        .lines()
        .filter(|l| !l.trim().is_empty())
        .collect();
    assert_eq!(lines.len(), 1, "one error line: {out:#?}");
    assert!(
        out.stderr.contains(needle),
        "expected {needle:?} in the error: {out:#?}"
    );
}

pub fn page_size() -> u64 {
    nix::unistd::sysconf(nix::unistd::SysconfVar::PAGE_SIZE)
        .ok()
        .flatten()
        .map(|p| p as u64)
        .unwrap_or(4096)
}
