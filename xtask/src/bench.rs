//! `cargo xtask bench compare [GROUP] [--runs N]`: time enclos against the
//! tools a user would pick instead, in one run, alternating the variants
//! (A, B, C, A, B, C, ...) so that drift in the host's load hits them all
//! alike, and print medians, percentiles and ratios.
//!
//! A measure is a [`Comparison`]: a set of [`Variant`]s, each a closure
//! that performs one run and returns the time it measured, checked once
//! before timing, plus the [`Target`]s it claims. [`measure`] and
//! [`report`] are shared by every group:
//!
//! - `cgroups` (this file): each variant is one shell script run as `sh -c
//!   SCRIPT` (so every variant pays the same shell start), with `$G` a
//!   fresh group name per run;
//!   the cg* tools enclos added (lssubsys, cgsnapshot, cgxget) follow, in
//!   [`cgtools`], then cgclear and cgxset ([`cgedit`]), against
//!   cgroup-tools, and cgrulesengd's latency and memory ([`rules`]);
//! - `containers` ([`containers`]): LXC's tools, crun and enclos, each
//!   command spawned directly, in temporary lxcpaths; then the same done
//!   by a user who is not root against root ([`unprivileged`]); and the
//!   start of a container with a veth on a bridge, with the network part
//!   of enclos's start from its tracing span ([`net`]), in a network
//!   namespace of the bench's own;
//! - `storage` ([`storage`]): snapshots, ephemeral copies, creates from
//!   the cached template, and, on 1 GiB ([`bigdata`], [`backup`]),
//!   snapshots on btrfs and overlay, export and import.
//!
//! `--only NAME,...` runs only the measures of those names (an unknown
//! name lists them all).

mod backup;
mod benchuser;
mod bigdata;
mod cgedit;
mod cgmounts;
mod cgtools;
mod containers;
mod crun;
mod libcgroup;
mod net;
mod rules;
mod rusage;
mod sandbox;
mod spawn;
mod storage;
mod unprivileged;

use std::ffi::OsString;
use std::fmt;
use std::io::Write;
use std::path::PathBuf;
use std::process::{self, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Result};

use crate::deps;
use crate::process::{build_enclos_release, is_root, Failed};
pub(crate) use cgmounts::cgroup_mounts;
use cgmounts::{memory_hierarchy, Leftovers, Mount};

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Time enclos against the tools a user would pick instead, all
    /// variants alternating in one run; prints median, p10, p90 and the
    /// ratio to the reference tool.
    Compare(CompareArgs),
    /// (Internal) Started by `compare containers`: waits until its standard
    /// input closes, then removes what that run left (containers,
    /// processes, cgroups, directories) unless told "done" first.
    #[command(hide = true)]
    Guard(sandbox::GuardArgs),
    /// (Internal) Runs a command and writes its peak RSS (KiB) to a file.
    #[command(hide = true)]
    Maxrss(rusage::MaxrssArgs),
}

#[derive(Debug, Clone, clap::Args)]
pub struct CompareArgs {
    /// Which comparison to run.
    #[arg(value_enum, default_value_t = Group::All)]
    pub group: Group,
    /// Measured runs per variant [default: 200 for cgroups; for containers
    /// and storage, from 5 to 150 depending on the measure].
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    pub runs: Option<u32>,
    /// Unmeasured warm-up runs per variant, before the measured ones
    /// [default: 5 for cgroups; 1 to 3 for containers].
    #[arg(long)]
    pub warmup: Option<u32>,
    /// Another enclos binary (an earlier build) measured beside this
    /// checkout's in the container measures, alternating with it in the
    /// same run, so a change's before and after compare fairly.
    #[arg(long, value_name = "ENCLOS")]
    pub baseline: Option<PathBuf>,
    /// Run only the measures of these names (comma-separated, or the flag
    /// repeated); an unknown name lists the known ones.
    #[arg(long, value_name = "NAME", value_delimiter = ',')]
    pub only: Vec<String>,
}

impl CompareArgs {
    /// Whether the measure `name` is to run (every one without `--only`).
    fn wants(&self, name: &str) -> bool {
        self.only.is_empty() || self.only.iter().any(|o| o == name)
    }
}

/// The comparison groups.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Group {
    /// Create a memory cgroup, run /bin/true in it, delete it: raw shell,
    /// cgroup-tools (cgcreate/cgexec/cgdelete), enclos cg; then lssubsys,
    /// cgsnapshot, cgxget, cgclear and cgxset against cgroup-tools', and
    /// cgrulesengd's time to move a process and its memory with 1,000
    /// rules (names: cgroups, lssubsys, cgsnapshot, cgxget, cgclear,
    /// cgxset, rulesengd).
    Cgroups,
    /// Busybox containers: execute, start + stop, attach, freeze, create:
    /// LXC's lxc-* tools, crun, unshare, enclos; then create and start +
    /// attach + stop by a user who is not root against root; the start
    /// with a veth on a bridge, and enclos's network span, in a network
    /// namespace of the bench's own (names: execute, start-stop, attach,
    /// freeze, create, unpriv-create, unpriv-start, veth-start, net-span).
    Containers,
    /// Snapshots, ephemeral copies, creates on btrfs and overlay, export
    /// and import: enclos against lxc-snapshot, lxc-copy, lxc-create and
    /// `tar | zstd` (names: snapshot, ephemeral-start, ephemeral-stop,
    /// cached-create, snapshot-1g, export).
    Storage,
    /// All three, in that order.
    All,
}

/// Group names of the runs start with this, then `<pid>-<seq>`.
const PREFIX: &str = "enclos-bench-";

pub fn run(command: Command) -> Result<()> {
    match command {
        Command::Compare(args) => compare(&args),
        Command::Guard(args) => sandbox::guard(&args),
        Command::Maxrss(args) => rusage::maxrss(&args),
    }
}

/// What one run (or check) of a variant returns: the time measured, or
/// why it failed (with the failing command's error output).
type Job<'a, T> = Box<dyn FnMut(&str) -> std::result::Result<T, String> + 'a>;

/// One way of doing the thing measured.
struct Variant<'a> {
    name: &'static str,
    /// One measured run, given the run's unique name (`enclos-bench-<pid>-
    /// <seq>`): performs it and returns the time it measured.
    run: Job<'a, Duration>,
    /// Run once before timing, to make sure the variant really does the
    /// work (a stub that exits 0 would win every race).
    check: Option<Job<'a, ()>>,
    /// Why this variant cannot run on this host, if it cannot.
    unavailable: Option<String>,
}

impl fmt::Debug for Variant<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Variant")
            .field("name", &self.name)
            .field("checked", &self.check.is_some())
            .field("unavailable", &self.unavailable)
            .finish_non_exhaustive()
    }
}

/// A claim checked at the end of a comparison.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Target {
    /// The median of `variant` is at most `max` times that of `reference`.
    Ratio {
        variant: usize,
        reference: usize,
        max: f64,
    },
    /// The median of `variant` is at most `max_ms` milliseconds.
    Millis { variant: usize, max_ms: f64 },
}

/// How many runs a comparison makes, and for how long at most.
#[derive(Debug, Clone, Copy)]
struct Plan {
    runs: u32,
    warmup: u32,
    /// Measuring stops early (with a note) once this much time has passed.
    budget: Duration,
    /// A pause before every run, so that no run starts in a state the
    /// run before it left in the kernel (see [`Plan::settled`]).
    settle: Duration,
}

impl Plan {
    /// `runs` and `warmup`, unless the command line says otherwise.
    fn new(args: &CompareArgs, runs: u32, warmup: u32, budget: Duration) -> Plan {
        Plan {
            runs: args.runs.unwrap_or(runs),
            warmup: args.warmup.unwrap_or(warmup),
            budget,
            settle: Duration::ZERO,
        }
    }

    /// The plan with `settle` of quiet before every run, whichever the
    /// tool. The container starts need it: LXC's start writes
    /// `cgroup.procs`, whose lock (the cgroup threadgroup rwsem) makes the
    /// writer wait for an RCU grace period unless another writer passed
    /// within the last one or two. LXC's own stop is such a writer, and
    /// so was whatever ran just before in the alternation: `lxc-start`
    /// timed 10-12 ms right after an `lxc-stop`, 22-24 ms after 20 ms or
    /// more of quiet (12 runs each). Without the pause, LXC's figure
    /// depended on how long the other tools' runs between its own took.
    fn settled(self, settle: Duration) -> Plan {
        Plan { settle, ..self }
    }
}

/// What one measure compares.
#[derive(Debug)]
struct Comparison<'a> {
    title: String,
    variants: Vec<Variant<'a>>,
    /// Index of the variant the ratios of the table are relative to.
    baseline: usize,
    targets: Vec<Target>,
    plan: Plan,
}

fn compare(args: &CompareArgs) -> Result<()> {
    if !is_root() {
        return Err(Failed::new(
            1,
            "`cargo xtask bench compare` must run as root: every variant creates and deletes \
             cgroups or containers.\nRun it again as root, e.g.: sudo env \"PATH=$PATH\" cargo \
             xtask bench compare",
        )
        .into());
    }
    check_only(args)?;
    let enclos = build_enclos_release()
        .and_then(|bin| install(&bin, "enclos"))
        .map_err(|e| format!("{e:#}"));
    let args = &CompareArgs {
        baseline: args
            .baseline
            .as_deref()
            .map(|bin| install(bin, "baseline"))
            .transpose()?,
        ..args.clone()
    };
    if let Err(why) = &enclos {
        eprintln!("warning: enclos will be reported as not available: {why}");
    }

    let mounts = cgroup_mounts()?;
    let (cgroups, containers, storage) = match args.group {
        Group::Cgroups => (true, false, false),
        Group::Containers => (false, true, false),
        Group::Storage => (false, false, true),
        Group::All => (true, true, true),
    };
    let wants_any = |names: &[&str]| names.iter().any(|n| args.wants(n));
    if cgroups && wants_any(CGROUPS) {
        // Removes the groups of this run (and of dead earlier runs) on
        // every exit path, failures included.
        let _cleanup = Leftovers::new(mounts.iter().map(|m| m.point.clone()).collect());
        if args.wants("cgroups") {
            let mut comparison = self::cgroups(args, &enclos, &mounts)?;
            let outcomes = measure(&mut comparison);
            report(&comparison, &outcomes);
        }
        let more = cgtools::comparisons(args, &enclos)
            .into_iter()
            .chain(cgedit::comparisons(args, &enclos, &mounts)?);
        for mut comparison in more {
            println!();
            let outcomes = measure(&mut comparison);
            report(&comparison, &outcomes);
        }
        if args.wants("rulesengd") {
            println!();
            rules::run(args, &enclos, &mounts)?;
        }
    }
    if containers && wants_any(containers::NAMES) {
        println!();
        containers::run(args, &enclos)?;
    }
    if containers && wants_any(unprivileged::NAMES) {
        println!();
        unprivileged::run(args, &enclos)?;
    }
    if containers && wants_any(net::NAMES) {
        println!();
        net::run(args, &enclos)?;
    }
    if storage && wants_any(storage::NAMES) {
        println!();
        storage::run(args, &enclos)?;
    }
    Ok(())
}

/// The measures of the `cgroups` group, by the names `--only` takes.
const CGROUPS: &[&str] = &[
    "cgroups",
    "lssubsys",
    "cgsnapshot",
    "cgxget",
    "cgclear",
    "cgxset",
    "rulesengd",
];

/// Fails when `--only` names a measure that does not exist.
fn check_only(args: &CompareArgs) -> Result<()> {
    let groups = [
        CGROUPS,
        containers::NAMES,
        unprivileged::NAMES,
        net::NAMES,
        storage::NAMES,
    ];
    let known: Vec<&str> = groups.concat();
    let unknown: Vec<&str> = args
        .only
        .iter()
        .map(String::as_str)
        .filter(|n| !known.contains(n))
        .collect();
    if unknown.is_empty() {
        return Ok(());
    }
    bail!(
        "No measure named {} (--only); the measures are: {}",
        unknown.join(", "),
        known.join(", ")
    )
}

/// Copies `bin`, and the programs beside it (`enclos-user-nic`,
/// `enclos-init-exec`) when there are, into
/// a directory of the target dir made afresh (`bench-install/NAME`), as an
/// installer would, and returns the copy's path.
///
/// The linker's own output is measurably slower to execute while it stays
/// in the page cache as the linker left it: 226 page faults for `enclos
/// --version` against 213 for the same bytes written by a copy, about
/// 0.2 ms of every exec, and a start makes two. What a user runs was
/// written by `install` or dpkg, so that is what the bench measures.
fn install(bin: &std::path::Path, name: &str) -> Result<PathBuf> {
    use anyhow::Context;
    let dir = crate::process::target_dir()
        .join("bench-install")
        .join(name);
    if dir.exists() {
        std::fs::remove_dir_all(&dir)
            .with_context(|| format!("Cannot remove {}", dir.display()))?;
    }
    std::fs::create_dir_all(&dir).with_context(|| format!("Cannot create {}", dir.display()))?;
    let to = dir.join("enclos");
    std::fs::copy(bin, &to)
        .with_context(|| format!("Cannot copy {} to {}", bin.display(), to.display()))?;
    for program in crate::dist::BESIDE {
        let from = bin.with_file_name(program);
        if from.is_file() {
            std::fs::copy(&from, dir.join(program))
                .with_context(|| format!("Cannot copy {} to {}", from.display(), dir.display()))?;
        }
    }
    Ok(to)
}

// ---------------------------------------------------------------- cgroups

fn cgroups<'a>(
    args: &CompareArgs,
    enclos: &std::result::Result<PathBuf, String>,
    mounts: &[Mount],
) -> Result<Comparison<'a>> {
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

    let enclos_path = match enclos {
        Ok(p) => p.clone().into_os_string(),
        Err(_) => OsString::from("enclos-not-built"),
    };
    // The environment of every script (the same for all variants).
    let env = vec![
        ("M", memory.clone().into_os_string()),
        ("ENCLOS", enclos_path),
    ];
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
        raw.variant("raw shell", None, &env),
        tools.variant("cgroup-tools", tools_missing, &env),
        ours.variant("enclos", enclos.as_ref().err().cloned(), &env),
    ];
    Ok(Comparison {
        title: format!(
            "cgroups: create a memory group, run /bin/true in it, delete it \
             (memory hierarchy {}, cgroup {version})",
            memory.display()
        ),
        variants,
        baseline: 0,
        targets: vec![Target::Ratio {
            variant: 2,
            reference: 0,
            max: 1.0,
        }],
        plan: Plan::new(args, 200, 5, Duration::from_secs(100)),
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
    /// Timed: the three commands, nothing else.
    fn script(&self) -> String {
        format!(
            "{} && {} && {}",
            self.create,
            (self.exec)("/bin/true"),
            self.delete
        )
    }

    /// Checked once before timing: the group appears, the command runs in
    /// it, the group goes.
    fn check_script(&self) -> String {
        let Trio {
            create,
            exec,
            delete,
        } = *self;
        format!(
            r#"{create} || exit 1
test -d "$M/$G" || {{ echo "$M/$G does not exist after the create command" >&2; exit 1; }}
out=$({}) || exit 1
printf '%s\n' "$out" | grep -q ":/$G\$" || {{ echo "the command did not run in $G: $out" >&2; exit 1; }}
{delete} || exit 1
test ! -d "$M/$G" || {{ echo "$M/$G still exists after the delete command" >&2; exit 1; }}"#,
            exec("cat /proc/self/cgroup")
        )
    }

    fn variant<'a>(
        &self,
        name: &'static str,
        unavailable: Option<String>,
        env: &[(&'static str, OsString)],
    ) -> Variant<'a> {
        let (script, check) = (self.script(), self.check_script());
        let (env, check_env) = (env.to_vec(), env.to_vec());
        Variant {
            name,
            run: Box::new(move |group| time_script(&script, &env, group)),
            check: Some(Box::new(move |group| {
                time_script(&check, &check_env, group).map(|_| ())
            })),
            unavailable,
        }
    }
}

/// Wall time of one `sh -c SCRIPT` with `$G` set to `group`, or why it
/// failed.
fn time_script(
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

/// Checks every variant once, then runs them round-robin: `warmup`
/// unmeasured rounds, then `runs` measured ones (fewer when the budget
/// runs out). A variant whose check or warm-up fails is not available; one
/// whose measured run fails is out, with the error.
fn measure(cmp: &mut Comparison<'_>) -> Vec<Outcome> {
    let Plan {
        runs,
        warmup,
        budget,
        settle,
    } = cmp.plan;
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
    let mut next_name = || {
        seq += 1;
        format!("{PREFIX}{pid}-{seq}")
    };

    println!("{}", cmp.title);
    for (variant, outcome) in cmp.variants.iter_mut().zip(outcomes.iter_mut()) {
        if let (Some(check), State::Running) = (&mut variant.check, &outcome.state) {
            if let Err(why) = check(&next_name()) {
                outcome.state = State::Unavailable(format!("its check failed: {why}"));
            }
        }
    }
    let running = outcomes
        .iter()
        .filter(|o| matches!(o.state, State::Running))
        .count();
    println!(
        "Measuring {running} variant(s), alternating: {warmup} warm-up + {runs} measured run(s) \
         each{}",
        match settle.is_zero() {
            true => String::new(),
            false => format!(", each after {} ms of quiet", settle.as_millis()),
        }
    );

    let start = Instant::now();
    let total = warmup + runs;
    let progress_every = (total / 20).max(1);
    for i in 0..total {
        for (variant, outcome) in cmp.variants.iter_mut().zip(outcomes.iter_mut()) {
            if !matches!(outcome.state, State::Running) {
                continue;
            }
            std::thread::sleep(settle);
            match (variant.run)(&next_name()) {
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
        if start.elapsed() > budget && i + 1 < total {
            eprintln!();
            println!(
                "note: stopped after {} measured run(s) per variant to stay within {}s",
                (i + 1).saturating_sub(warmup),
                budget.as_secs()
            );
            break;
        }
    }
    eprintln!();
    outcomes
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

/// A measured ratio: `0.42x`, or `0.003x` when it is small.
fn ratio(x: f64) -> String {
    if x < 0.095 {
        format!("{x:.3}x")
    } else {
        format!("{x:.2}x")
    }
}

/// A factor as a target states it: `1.0`, `0.25`, `0.5`.
fn factor(x: f64) -> String {
    let s = format!("{x:.2}");
    let s = s.trim_end_matches('0');
    if s.ends_with('.') {
        format!("{s}0")
    } else {
        s.to_string()
    }
}

/// What the table shows of a variant.
#[derive(Debug, Clone, Copy)]
struct Row {
    /// Of its samples: all of them, or those before its failure.
    summary: Option<Summary>,
    /// A measured run failed (the summary covers the runs before it).
    failed: bool,
}

/// Prints the table of a comparison (variant, runs, median, p10, p90,
/// ratio to the baseline), then one line per target; returns those lines.
fn report(cmp: &Comparison<'_>, outcomes: &[Outcome]) -> Vec<String> {
    let rows: Vec<Row> = outcomes
        .iter()
        .map(|o| Row {
            summary: Summary::of(&o.samples),
            failed: matches!(o.state, State::Failed(_)),
        })
        .collect();
    let base = rows[cmp.baseline].summary.map(|s| s.median);
    let base_name = cmp.variants[cmp.baseline].name;
    let width = cmp
        .variants
        .iter()
        .map(|v| v.name.len())
        .max()
        .unwrap_or(0)
        .max("variant".len());
    let vs = format!("vs {base_name}");
    let vs_width = vs.len().max(8);

    println!();
    println!(
        "{:<width$}  {:>5}  {:>10}  {:>10}  {:>10}  {:>vs_width$}",
        "variant", "runs", "median ms", "p10 ms", "p90 ms", vs
    );
    for ((variant, outcome), row) in cmp.variants.iter().zip(outcomes).zip(&rows) {
        if let Some(s) = row.summary {
            let ratio = base
                .map(|b| ratio(s.median / b))
                .unwrap_or_else(|| "-".into());
            println!(
                "{:<width$}  {:>5}  {:>10.2}  {:>10.2}  {:>10.2}  {:>vs_width$}",
                variant.name,
                outcome.samples.len(),
                s.median,
                s.p10,
                s.p90,
                ratio
            );
        }
        let indent = if row.summary.is_some() {
            format!("{:<width$}  ", "")
        } else {
            format!("{:<width$}  ", variant.name)
        };
        match &outcome.state {
            State::Running if row.summary.is_none() => println!("{indent}no samples"),
            State::Running => {}
            State::Unavailable(why) => println!("{indent}not available: {why}"),
            State::Failed(why) if row.summary.is_some() => {
                println!("{indent}^ FAILED (figures of the runs before): {why}")
            }
            State::Failed(why) => println!("{indent}FAILED: {why}"),
        }
    }

    let verdicts: Vec<String> = cmp
        .targets
        .iter()
        .map(|t| verdict(cmp, &rows, *t))
        .collect();
    for line in &verdicts {
        println!("{line}");
    }
    verdicts
}

/// The line that says whether `target` is met, with the figures. A target
/// involving a variant that failed is not evaluated (the figures of the
/// runs before the failure are given).
fn verdict(cmp: &Comparison<'_>, rows: &[Row], target: Target) -> String {
    let failed = |idx: &[usize]| {
        idx.iter()
            .find(|&&i| rows[i].failed)
            .map(|&i| cmp.variants[i].name)
    };
    let judge = |claim: String, ok: bool, figures: String, failed: Option<&str>| match failed {
        None => {
            let verdict = if ok { "MET" } else { "NOT MET" };
            format!("Target {verdict}: {claim} ({figures})")
        }
        Some(name) => {
            format!("Target not evaluated: {claim} ({name} failed; on the runs before: {figures})")
        }
    };
    match target {
        Target::Ratio {
            variant,
            reference,
            max,
        } => {
            let (name, ref_name) = (cmp.variants[variant].name, cmp.variants[reference].name);
            let claim = format!("{name} median <= {}x {ref_name}", factor(max));
            match (rows[variant].summary, rows[reference].summary) {
                (Some(s), Some(r)) => {
                    let x = s.median / r.median;
                    let figures = format!(
                        "{name} {:.2} ms, {ref_name} {:.2} ms: {}",
                        s.median,
                        r.median,
                        ratio(x)
                    );
                    judge(claim, x <= max, figures, failed(&[variant, reference]))
                }
                (None, _) => {
                    format!("Target not evaluated: {claim} ({name} has no measurement)")
                }
                (_, None) => {
                    format!("Target not evaluated: {claim} ({ref_name} has no measurement)")
                }
            }
        }
        Target::Millis { variant, max_ms } => {
            let name = cmp.variants[variant].name;
            let claim = format!("{name} median <= {max_ms} ms");
            match rows[variant].summary {
                Some(s) => {
                    let figures = format!("{name} {:.2} ms", s.median);
                    judge(claim, s.median <= max_ms, figures, failed(&[variant]))
                }
                None => format!("Target not evaluated: {claim} ({name} has no measurement)"),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_shell_trio_is_one_script() {
        let raw = Trio {
            create: r#"mkdir "$M/$G""#,
            exec: |cmd| format!(r#"sh -c 'echo $$ > "$M/$G/cgroup.procs" && exec {cmd}'"#),
            delete: r#"rmdir "$M/$G""#,
        };
        assert_eq!(
            raw.script(),
            r#"mkdir "$M/$G" && sh -c 'echo $$ > "$M/$G/cgroup.procs" && exec /bin/true' && rmdir "$M/$G""#
        );
        let check = raw.check_script();
        assert!(check.contains("exec cat /proc/self/cgroup'"), "{check}");
    }

    #[test]
    fn factors_print_as_stated() {
        assert_eq!(factor(1.0), "1.0");
        assert_eq!(factor(0.25), "0.25");
        assert_eq!(factor(0.5), "0.5");
        assert_eq!(factor(0.8), "0.8");
    }

    #[test]
    fn verdicts_compare_medians() {
        let variant = |name| Variant {
            name,
            run: Box::new(|_| Ok(Duration::ZERO)),
            check: None,
            unavailable: None,
        };
        let cmp = Comparison {
            title: String::new(),
            variants: vec![variant("lxc"), variant("enclos"), variant("crun")],
            baseline: 0,
            targets: Vec::new(),
            plan: Plan {
                runs: 1,
                warmup: 0,
                budget: Duration::ZERO,
                settle: Duration::ZERO,
            },
        };
        let s = |median| Row {
            summary: Some(Summary {
                median,
                p10: median,
                p90: median,
            }),
            failed: false,
        };
        let none = Row {
            summary: None,
            failed: false,
        };
        let summaries = [s(40.0), s(9.0), none];
        let by = |variant, reference, max| Target::Ratio {
            variant,
            reference,
            max,
        };
        assert_eq!(
            verdict(&cmp, &summaries, by(1, 0, 0.25)),
            "Target MET: enclos median <= 0.25x lxc (enclos 9.00 ms, lxc 40.00 ms: 0.23x)"
        );
        assert!(verdict(&cmp, &summaries, by(1, 0, 0.2)).starts_with("Target NOT MET"));
        assert_eq!(
            verdict(&cmp, &summaries, by(1, 2, 1.0)),
            "Target not evaluated: enclos median <= 1.0x crun (crun has no measurement)"
        );
        let millis = Target::Millis {
            variant: 1,
            max_ms: 20.0,
        };
        assert_eq!(
            verdict(&cmp, &summaries, millis),
            "Target MET: enclos median <= 20 ms (enclos 9.00 ms)"
        );
        let failed = [
            s(40.0),
            Row {
                failed: true,
                ..s(30.0)
            },
            none,
        ];
        assert_eq!(
            verdict(&cmp, &failed, by(1, 0, 0.5)),
            "Target not evaluated: enclos median <= 0.5x lxc (enclos failed; on the runs \
             before: enclos 30.00 ms, lxc 40.00 ms: 0.75x)"
        );
    }

    #[test]
    fn only_names_known_measures() {
        let args = |only: &[&str]| CompareArgs {
            group: Group::All,
            runs: None,
            warmup: None,
            baseline: None,
            only: only.iter().map(|s| s.to_string()).collect(),
        };
        assert!(check_only(&args(&["rulesengd", "export", "attach"])).is_ok());
        let err = check_only(&args(&["export", "nope"]))
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("No measure named nope (--only)"), "{err}");
        assert!(err.contains("unpriv-start"), "{err}");
        assert!(args(&[]).wants("snapshot"));
        assert!(!args(&["export"]).wants("snapshot"));
        let mut all = [
            CGROUPS,
            containers::NAMES,
            unprivileged::NAMES,
            net::NAMES,
            storage::NAMES,
        ]
        .concat();
        let count = all.len();
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len(), count, "a name names two measures");
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
