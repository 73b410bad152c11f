//! `cargo xtask bench compare [GROUP] [--runs N]`: time enclos against the
//! tools a user would pick instead, in one run, alternating the variants
//! (A, B, C, A, B, C, ...) so that drift in the host's load hits them all
//! alike, and print medians and ratios.
//!
//! A comparison group is a set of [`Variant`]s, each one shell script run
//! as `sh -c SCRIPT` per measured run (so every variant pays the same shell
//! start), with `$G` a fresh name per run. Adding a group (`containers`,
//! ...) means adding a [`Group`] value and a function that builds its
//! [`Comparison`].

use std::ffi::OsString;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{self, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use crate::deps;
use crate::process::{build_enclos_release, is_root, Failed};

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Time enclos against the tools a user would pick instead, all
    /// variants alternating in one run; prints median, p10, p90 and the
    /// ratio to the baseline.
    Compare(CompareArgs),
}

#[derive(Debug, clap::Args)]
pub struct CompareArgs {
    /// Which comparison to run.
    #[arg(value_enum, default_value_t = Group::Cgroups)]
    pub group: Group,
    /// Measured runs per variant.
    #[arg(long, default_value_t = 200, value_parser = clap::value_parser!(u32).range(1..))]
    pub runs: u32,
    /// Unmeasured warm-up runs per variant, before the measured ones.
    #[arg(long, default_value_t = 5)]
    pub warmup: u32,
}

/// The comparison groups.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Group {
    /// Create a memory cgroup, run /bin/true in it, delete it: raw shell,
    /// cgroup-tools (cgcreate/cgexec/cgdelete), enclos cg.
    Cgroups,
}

/// Group names of the runs start with this, then `<pid>-<seq>`.
const PREFIX: &str = "enclos-bench-";

/// Measuring stops early (with a note) once this much time has passed, so
/// that a slow host still finishes in about two minutes.
const TIME_BUDGET: Duration = Duration::from_secs(100);

pub fn run(command: Command) -> Result<()> {
    match command {
        Command::Compare(args) => compare(&args),
    }
}

/// One way of doing the thing measured.
#[derive(Debug)]
struct Variant {
    name: &'static str,
    /// Run as `sh -c SCRIPT`; `$G` is the run's unique name.
    script: String,
    /// Run once before timing, to make sure the variant really does the
    /// work (a stub that exits 0 would win every race).
    check: Option<String>,
    /// Why this variant cannot run on this host, if it cannot.
    unavailable: Option<String>,
}

/// What one group compares.
#[derive(Debug)]
struct Comparison {
    title: String,
    variants: Vec<Variant>,
    /// Environment of every script (the same for all variants).
    env: Vec<(&'static str, OsString)>,
    /// Index of the variant the ratios are relative to.
    baseline: usize,
    /// The claim checked at the end: variant index, and the highest ratio
    /// of its median to the baseline's that meets the target.
    target: Option<(usize, f64)>,
}

fn compare(args: &CompareArgs) -> Result<()> {
    if !is_root() {
        return Err(Failed::new(
            1,
            "`cargo xtask bench compare` must run as root: every variant creates and deletes \
             cgroups.\nRun it again as root, e.g.: sudo env \"PATH=$PATH\" cargo xtask bench \
             compare",
        )
        .into());
    }
    let enclos = build_enclos_release().map_err(|e| format!("{e:#}"));
    if let Err(why) = &enclos {
        eprintln!("warning: enclos will be reported as not available: {why}");
    }

    let mounts = cgroup_mounts()?;
    // Removes the groups of this run (and of dead earlier runs) on every
    // exit path, failures included.
    let _cleanup = Leftovers::new(mounts.iter().map(|m| m.point.clone()).collect());

    let groups = match args.group {
        Group::Cgroups => vec![Group::Cgroups],
    };
    for group in groups {
        let comparison = match group {
            Group::Cgroups => cgroups(&enclos, &mounts)?,
        };
        let outcomes = measure(&comparison, args.runs, args.warmup);
        report(&comparison, &outcomes);
    }
    Ok(())
}

// ---------------------------------------------------------------- cgroups

fn cgroups(enclos: &std::result::Result<PathBuf, String>, mounts: &[Mount]) -> Result<Comparison> {
    let (memory, version) = memory_hierarchy(mounts)?;

    let missing = deps::ensure_best_effort("The cgroup-tools comparison", deps::BENCH_CGROUPS);
    let tools_missing = if missing.is_empty() {
        None
    } else {
        let programs: Vec<&str> = missing.iter().map(|r| r.program).collect();
        Some(format!(
            "{} not found; install with: {}",
            programs.join(", "),
            deps::install_hint(&["cgroup-tools"])
        ))
    };

    let raw = Trio {
        create: r#"mkdir "$M/$G""#,
        exec: |cmd| format!(r#"sh -c 'echo $$ > "$M/$G/cgroup.procs" && exec {cmd}'"#),
        delete: r#"rmdir "$M/$G""#,
    };
    let tools = Trio {
        create: r#"cgcreate -g memory:"$G""#,
        exec: |cmd| format!(r#"cgexec -g memory:"$G" {cmd}"#),
        delete: r#"cgdelete memory:"$G""#,
    };
    let ours = Trio {
        create: r#""$ENCLOS" cg create -g memory:"$G""#,
        exec: |cmd| format!(r#""$ENCLOS" cg exec -g memory:"$G" {cmd}"#),
        delete: r#""$ENCLOS" cg delete memory:"$G""#,
    };
    let variants = vec![
        raw.variant("raw shell", None),
        tools.variant("cgroup-tools", tools_missing),
        ours.variant("enclos", enclos.as_ref().err().cloned()),
    ];
    let enclos_path = match enclos {
        Ok(p) => p.clone().into_os_string(),
        Err(_) => OsString::from("enclos-not-built"),
    };
    Ok(Comparison {
        title: format!(
            "cgroups: create a memory group, run /bin/true in it, delete it \
             (memory hierarchy {}, cgroup {version})",
            memory.display()
        ),
        variants,
        env: vec![("M", memory.into_os_string()), ("ENCLOS", enclos_path)],
        baseline: 0,
        target: Some((2, 1.0)),
    })
}

/// Create a group `$G` in the memory hierarchy `$M`, run a command in it,
/// delete it: one way of doing it.
#[derive(Debug, Clone, Copy)]
struct Trio {
    create: &'static str,
    /// The command line that runs `cmd` in the group.
    exec: fn(&str) -> String,
    delete: &'static str,
}

impl Trio {
    fn variant(&self, name: &'static str, unavailable: Option<String>) -> Variant {
        let Trio {
            create,
            exec,
            delete,
        } = *self;
        // Timed: the three commands, nothing else.
        let script = format!("{create} && {} && {delete}", exec("/bin/true"));
        // Checked once before timing: the group appears, the command runs
        // in it, the group goes.
        let check = format!(
            r#"{create} || exit 1
test -d "$M/$G" || {{ echo "$M/$G does not exist after the create command" >&2; exit 1; }}
out=$({}) || exit 1
printf '%s\n' "$out" | grep -q ":/$G\$" || {{ echo "the command did not run in $G: $out" >&2; exit 1; }}
{delete} || exit 1
test ! -d "$M/$G" || {{ echo "$M/$G still exists after the delete command" >&2; exit 1; }}"#,
            exec("cat /proc/self/cgroup")
        );
        Variant {
            name,
            script,
            check: Some(check),
            unavailable,
        }
    }
}

// -------------------------------------------------------------- measuring

#[derive(Debug)]
enum State {
    Running,
    Unavailable(String),
    /// A measured run failed; the samples before it are kept but not shown.
    Failed(String),
}

#[derive(Debug)]
struct Outcome {
    samples: Vec<Duration>,
    state: State,
}

fn measure(cmp: &Comparison, runs: u32, warmup: u32) -> Vec<Outcome> {
    let mut outcomes: Vec<Outcome> = cmp
        .variants
        .iter()
        .map(|v| Outcome {
            samples: Vec::with_capacity(runs as usize),
            state: match &v.unavailable {
                Some(why) => State::Unavailable(why.clone()),
                None => State::Running,
            },
        })
        .collect();
    let pid = process::id();
    let mut seq: u64 = 0;
    let mut next_group = || {
        seq += 1;
        format!("{PREFIX}{pid}-{seq}")
    };

    for (variant, outcome) in cmp.variants.iter().zip(outcomes.iter_mut()) {
        if let (Some(check), State::Running) = (&variant.check, &outcome.state) {
            if let Err(why) = time_once(check, &cmp.env, &next_group()) {
                outcome.state = State::Unavailable(format!("its check failed: {why}"));
            }
        }
    }
    let running = outcomes
        .iter()
        .filter(|o| matches!(o.state, State::Running))
        .count();
    println!("{}", cmp.title);
    println!(
        "Measuring {running} variant(s), alternating: {warmup} warm-up + {runs} measured run(s) \
         each"
    );

    let start = Instant::now();
    let total = warmup + runs;
    let progress_every = (total / 20).max(1);
    for i in 0..total {
        for (variant, outcome) in cmp.variants.iter().zip(outcomes.iter_mut()) {
            if !matches!(outcome.state, State::Running) {
                continue;
            }
            match time_once(&variant.script, &cmp.env, &next_group()) {
                Ok(elapsed) if i >= warmup => outcome.samples.push(elapsed),
                Ok(_) => {}
                Err(why) if i < warmup => {
                    outcome.state = State::Unavailable(format!("its first run failed: {why}"));
                }
                Err(why) => {
                    let n = i - warmup + 1;
                    outcome.state = State::Failed(format!("measured run {n} failed: {why}"));
                }
            }
        }
        if (i + 1) % progress_every == 0 {
            eprint!(".");
            let _ = std::io::stderr().flush();
        }
        if start.elapsed() > TIME_BUDGET && i + 1 < total {
            eprintln!();
            println!(
                "note: stopped after {} measured run(s) per variant to stay within {}s",
                (i + 1).saturating_sub(warmup),
                TIME_BUDGET.as_secs()
            );
            break;
        }
    }
    eprintln!();
    outcomes
}

/// Wall time of one `sh -c SCRIPT`, or why it failed.
fn time_once(
    script: &str,
    env: &[(&'static str, OsString)],
    group: &str,
) -> std::result::Result<Duration, String> {
    let mut cmd = process::Command::new("/bin/sh");
    cmd.arg("-c")
        .arg(script)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .env("G", group)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let started = Instant::now();
    let out = cmd
        .output()
        .map_err(|e| format!("cannot run /bin/sh: {e}"))?;
    let elapsed = started.elapsed();
    if out.status.success() {
        return Ok(elapsed);
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    let last = stderr
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("no error output");
    Err(format!("{} ({})", last.trim(), out.status))
}

// -------------------------------------------------------------- reporting

#[derive(Debug, Clone, Copy)]
struct Summary {
    median: f64,
    p10: f64,
    p90: f64,
}

impl Summary {
    /// Milliseconds; percentiles interpolate linearly between ranks.
    fn of(samples: &[Duration]) -> Option<Summary> {
        if samples.is_empty() {
            return None;
        }
        let mut ms: Vec<f64> = samples.iter().map(|d| d.as_secs_f64() * 1e3).collect();
        ms.sort_by(f64::total_cmp);
        Some(Summary {
            median: percentile(&ms, 0.5),
            p10: percentile(&ms, 0.1),
            p90: percentile(&ms, 0.9),
        })
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let pos = p * (sorted.len() - 1) as f64;
    let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
    sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo as f64)
}

fn report(cmp: &Comparison, outcomes: &[Outcome]) {
    let summaries: Vec<Option<Summary>> = outcomes
        .iter()
        .map(|o| match o.state {
            State::Running => Summary::of(&o.samples),
            _ => None,
        })
        .collect();
    let base = summaries[cmp.baseline].map(|s| s.median);
    let base_name = cmp.variants[cmp.baseline].name;
    let width = cmp
        .variants
        .iter()
        .map(|v| v.name.len())
        .max()
        .unwrap_or(0)
        .max("variant".len());

    println!();
    println!(
        "{:<width$}  {:>5}  {:>10}  {:>10}  {:>10}  {:>8}",
        "variant",
        "runs",
        "median ms",
        "p10 ms",
        "p90 ms",
        format!("vs {base_name}").as_str()
    );
    for ((variant, outcome), summary) in cmp.variants.iter().zip(outcomes).zip(&summaries) {
        match (summary, &outcome.state) {
            (Some(s), _) => {
                let ratio = base
                    .map(|b| format!("{:.2}x", s.median / b))
                    .unwrap_or_else(|| "-".into());
                println!(
                    "{:<width$}  {:>5}  {:>10.2}  {:>10.2}  {:>10.2}  {:>8}",
                    variant.name,
                    outcome.samples.len(),
                    s.median,
                    s.p10,
                    s.p90,
                    ratio
                );
            }
            (None, State::Unavailable(why)) => {
                println!("{:<width$}  not available ({why})", variant.name);
            }
            (None, State::Failed(why)) => {
                println!("{:<width$}  failed ({why})", variant.name);
            }
            (None, State::Running) => {
                println!("{:<width$}  no samples", variant.name);
            }
        }
    }

    if let Some((idx, max_ratio)) = cmp.target {
        let name = cmp.variants[idx].name;
        let claim = format!("{name} median <= {max_ratio:.1}x {base_name}");
        match (summaries[idx], base) {
            (Some(s), Some(b)) => {
                let ratio = s.median / b;
                let verdict = if ratio <= max_ratio { "MET" } else { "NOT MET" };
                println!(
                    "Target {verdict}: {claim} ({name} {:.2} ms, {base_name} {b:.2} ms: {ratio:.2}x)",
                    s.median
                );
            }
            (None, _) => println!("Target not evaluated: {claim} ({name} has no measurement)"),
            (_, None) => println!("Target not evaluated: {claim} ({base_name} has no measurement)"),
        }
    }
}

// ----------------------------------------------------------------- mounts

/// A cgroup mount from `/proc/self/mountinfo`.
#[derive(Debug, Clone)]
struct Mount {
    point: PathBuf,
    /// `cgroup` (v1) or `cgroup2`.
    fstype: String,
    /// Super-block options: the controllers of a v1 mount.
    options: Vec<String>,
}

fn cgroup_mounts() -> Result<Vec<Mount>> {
    let path = "/proc/self/mountinfo";
    let text = fs::read_to_string(path).with_context(|| format!("Cannot read {path}"))?;
    Ok(parse_cgroup_mounts(&text))
}

fn parse_cgroup_mounts(text: &str) -> Vec<Mount> {
    text.lines()
        .filter_map(|line| {
            // id parent major:minor root mount-point options [optional...] - fstype source super-options
            let (left, right) = line.split_once(" - ")?;
            let point = left.split(' ').nth(4)?;
            let mut right = right.split(' ');
            let fstype = right.next()?;
            if fstype != "cgroup" && fstype != "cgroup2" {
                return None;
            }
            let options = right.nth(1).unwrap_or("");
            Some(Mount {
                point: PathBuf::from(unescape(point)),
                fstype: fstype.to_string(),
                options: options.split(',').map(str::to_string).collect(),
            })
        })
        .collect()
}

/// Undoes mountinfo's octal escapes (`\040` is a space).
fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 4 <= b.len() {
            let oct = std::str::from_utf8(&b[i + 1..i + 4]).ok();
            if let Some(v) = oct.and_then(|o| u8::from_str_radix(o, 8).ok()) {
                out.push(v);
                i += 4;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The mount point serving the memory controller: the v1 `memory` mount,
/// or the v2 mount when memory is enabled in its root's subtree_control.
fn memory_hierarchy(mounts: &[Mount]) -> Result<(PathBuf, &'static str)> {
    if let Some(m) = mounts
        .iter()
        .find(|m| m.fstype == "cgroup" && m.options.iter().any(|o| o == "memory"))
    {
        return Ok((m.point.clone(), "v1"));
    }
    let Some(v2) = mounts.iter().find(|m| m.fstype == "cgroup2") else {
        bail!("No cgroup hierarchy serves the memory controller on this host (no v1 memory mount, no cgroup2 mount in /proc/self/mountinfo)");
    };
    let control = v2.point.join("cgroup.subtree_control");
    let enabled = fs::read_to_string(&control)
        .with_context(|| format!("Cannot read {}", control.display()))?;
    if !enabled.split_whitespace().any(|c| c == "memory") {
        bail!(
            "The memory controller is not enabled in {}; enable it with: echo +memory > {}",
            control.display(),
            control.display()
        );
    }
    Ok((v2.point.clone(), "v2"))
}

// ---------------------------------------------------------------- cleanup

/// Removes the `enclos-bench-<pid>-*` groups left at the top of every
/// cgroup mount by this process or by a process that no longer exists
/// (an interrupted earlier run), when created and again when dropped.
#[derive(Debug)]
struct Leftovers {
    mounts: Vec<PathBuf>,
}

impl Leftovers {
    fn new(mounts: Vec<PathBuf>) -> Leftovers {
        let guard = Leftovers { mounts };
        guard.sweep();
        guard
    }

    fn sweep(&self) {
        let me = process::id();
        let mut removed = 0;
        for mount in &self.mounts {
            let Ok(entries) = fs::read_dir(mount) else {
                continue;
            };
            for entry in entries.flatten() {
                let name = entry.file_name();
                let Some(pid) = name
                    .to_str()
                    .and_then(|n| n.strip_prefix(PREFIX))
                    .and_then(|rest| rest.split('-').next())
                    .and_then(|p| p.parse::<u32>().ok())
                else {
                    continue;
                };
                let dead = !Path::new("/proc").join(pid.to_string()).exists();
                if pid != me && !dead {
                    continue;
                }
                match remove_group(mount, &entry.path()) {
                    Ok(()) => removed += 1,
                    Err(e) => eprintln!("warning: cannot remove {}: {e}", entry.path().display()),
                }
            }
        }
        if removed > 0 {
            println!("Removed {removed} leftover {PREFIX}* cgroup(s)");
        }
    }
}

impl Drop for Leftovers {
    fn drop(&mut self) {
        self.sweep();
    }
}

/// Removes the group `dir` and its children, moving any process left in
/// them to the root group of `mount` first.
fn remove_group(mount: &Path, dir: &Path) -> std::io::Result<()> {
    for entry in fs::read_dir(dir)?.flatten() {
        if entry.file_type().map(|t| t.is_dir()).unwrap_or(false) {
            remove_group(mount, &entry.path())?;
        }
    }
    if let Ok(pids) = fs::read_to_string(dir.join("cgroup.procs")) {
        for pid in pids.split_whitespace() {
            let _ = fs::write(mount.join("cgroup.procs"), pid);
        }
    }
    // A group whose last process has just exited may stay busy briefly.
    let mut tries = 0;
    loop {
        match fs::remove_dir(dir) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(_) if tries < 20 => {
                tries += 1;
                std::thread::sleep(Duration::from_millis(10));
            }
            Err(e) => return Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_cgroup_mounts() {
        let text = "\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime shared:5 - cgroup cgroup rw,memory
36 31 0:33 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct
41 31 0:38 / /sys/fs/cgroup/my\\040v2 rw,relatime - cgroup2 cgroup2 rw
";
        let mounts = parse_cgroup_mounts(text);
        assert_eq!(mounts.len(), 3);
        assert_eq!(mounts[0].point, Path::new("/sys/fs/cgroup/memory"));
        assert!(mounts[0].options.iter().any(|o| o == "memory"));
        assert_eq!(mounts[2].point, Path::new("/sys/fs/cgroup/my v2"));
        assert_eq!(mounts[2].fstype, "cgroup2");
        let (mem, v) = memory_hierarchy(&mounts).unwrap();
        assert_eq!(
            (mem.as_path(), v),
            (Path::new("/sys/fs/cgroup/memory"), "v1")
        );
    }

    #[test]
    fn raw_shell_trio_is_one_script() {
        let raw = Trio {
            create: r#"mkdir "$M/$G""#,
            exec: |cmd| format!(r#"sh -c 'echo $$ > "$M/$G/cgroup.procs" && exec {cmd}'"#),
            delete: r#"rmdir "$M/$G""#,
        };
        let v = raw.variant("raw shell", None);
        assert_eq!(
            v.script,
            r#"mkdir "$M/$G" && sh -c 'echo $$ > "$M/$G/cgroup.procs" && exec /bin/true' && rmdir "$M/$G""#
        );
        let check = v.check.unwrap();
        assert!(check.contains("exec cat /proc/self/cgroup'"), "{check}");
    }

    #[test]
    fn percentiles_interpolate() {
        let v = [1.0, 2.0, 3.0, 4.0, 5.0];
        assert_eq!(percentile(&v, 0.5), 3.0);
        assert!((percentile(&v, 0.1) - 1.4).abs() < 1e-9);
        assert!((percentile(&v, 0.9) - 4.6).abs() < 1e-9);
        assert_eq!(percentile(&[7.0], 0.9), 7.0);
    }
}
