//! `cargo xtask bench compare containers`: enclos against LXC's lxc-*
//! tools (and crun, and a bare `unshare`), on busybox containers made once
//! in temporary lxcpaths ([`Sandbox`]).
//!
//! Five measures, each a [`Comparison`] whose variants alternate:
//!
//! 1. execute /bin/true: `enclos execute`, `lxc-execute`, `crun run` (a
//!    bundle over the busybox rootfs), and the floor `unshare --mount
//!    --pid --uts --ipc --net --fork /bin/true`;
//! 2. start + stop: `enclos start` + `enclos stop` (graceful: busybox's
//!    halt signal) against `lxc-start` + `lxc-stop -k` (LXC's graceful
//!    stop of its busybox waits 60 s);
//! 3. attach /bin/true into the running container;
//! 4. freeze right after start (only the freeze is timed);
//! 5. create a busybox container of a fresh name (the destroy that
//!    follows is not timed).
//!
//! Every command is spawned directly (no shell) and timed whole; a failing
//! command is reported with its stderr. Each variant is checked once before
//! it is timed (the state after start and stop, the command's output and
//! exit status inside the container, ...), so a broken command cannot win.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use super::crun::{Crun, CRUN_HOSTNAME};
use super::sandbox::Sandbox;
use super::spawn::Spawner;
use super::{measure, report, CompareArgs, Comparison, Plan, Target, Variant, PREFIX};
use crate::deps::{self, Requirement};

/// How long any one command may take before it is killed and reported.
pub(super) const TIMEOUT: Duration = Duration::from_secs(20);
/// The same for creating a container (copies a rootfs).
pub(super) const CREATE_TIMEOUT: Duration = Duration::from_secs(120);

/// The budget of every measure but the slow ones; the five together stay
/// within about three minutes.
const BUDGET: Duration = Duration::from_secs(30);
const SLOW_BUDGET: Duration = Duration::from_secs(40);

/// LXC's config for the containers it creates: no network device, so that
/// LXC needs no lxcbr0 bridge (the host's interfaces are never touched).
pub(super) const LXC_CONF: &str = "lxc.net.0.type = empty\n";

pub(super) const fn req(
    purpose: &'static str,
    program: &'static str,
    package: &'static str,
) -> Requirement {
    Requirement {
        purpose,
        program,
        package,
    }
}

/// LXC's tools, and busybox for the template of both tools.
pub(super) const LXC: &[Requirement] = &[
    req("compare with LXC", "lxc-create", "lxc"),
    req("compare with LXC", "lxc-start", "lxc"),
    req("compare with LXC", "lxc-stop", "lxc"),
    req("compare with LXC", "lxc-execute", "lxc"),
    req("compare with LXC", "lxc-attach", "lxc"),
    req("compare with LXC", "lxc-freeze", "lxc"),
    req("compare with LXC", "lxc-unfreeze", "lxc"),
    req("compare with LXC", "lxc-info", "lxc"),
    req("compare with LXC", "lxc-destroy", "lxc"),
];
pub(super) const BUSYBOX: &[Requirement] = &[req(
    "build the busybox containers",
    "busybox",
    "busybox-static",
)];
const CRUN: &[Requirement] = &[req("compare with crun", "crun", "crun")];
const UNSHARE: &[Requirement] = &[req("time the namespaces alone", "unshare", "util-linux")];

/// Why the programs of `reqs` cannot be used, if they cannot (after
/// trying to install them).
pub(super) fn availability(task: &str, reqs: &[Requirement]) -> Option<String> {
    let missing = deps::ensure_best_effort(task, reqs);
    if missing.is_empty() {
        return None;
    }
    let mut programs: Vec<&str> = missing.iter().map(|r| r.program).collect();
    programs.dedup();
    let mut packages: Vec<&str> = missing.iter().map(|r| r.package).collect();
    packages.dedup();
    Some(format!(
        "{} not found; install with: {}",
        programs.join(", "),
        deps::install_hint(&packages)
    ))
}

/// Writes the LXC config the busybox measures give lxc-create (no
/// network: the comparison times the container, not a bridge) into
/// `scratch`; returns its path.
pub(super) fn write_lxc_conf(scratch: &Path) -> Result<PathBuf> {
    let conf = scratch.join("lxc-net-empty.conf");
    std::fs::write(&conf, LXC_CONF).with_context(|| format!("Cannot write {}", conf.display()))?;
    Ok(conf)
}

/// Prints a group's verdicts, after how long its measures took when
/// `started` is given.
pub(super) fn print_targets(group: &str, started: Option<Instant>, verdicts: &[String]) {
    println!();
    match started {
        Some(t) => println!(
            "{group}: all measures took {:.0}s; targets:",
            t.elapsed().as_secs_f64()
        ),
        None => println!("{group}: targets:"),
    }
    for verdict in verdicts {
        println!("  {verdict}");
    }
}

/// The five measures, by the names `--only` takes, in their order.
pub(super) const NAMES: &[&str] = &["execute", "start-stop", "attach", "freeze", "create"];

/// Runs the five measures; fails only when the harness itself does.
pub(super) fn run(args: &CompareArgs, enclos: &std::result::Result<PathBuf, String>) -> Result<()> {
    let missing = Missing::check();
    let enclos = match (enclos, &missing.busybox) {
        (Ok(bin), None) => Ok(bin.clone()),
        (Ok(_), Some(why)) => Err(why.clone()),
        (Err(why), _) => Err(why.clone()),
    };
    let sandbox = Sandbox::new(enclos.as_ref().ok().map(PathBuf::as_path))?;
    let ctx = Ctx::set_up(&sandbox, enclos, missing, args.baseline.as_deref())?;
    let started = Instant::now();
    let verdicts = measure_all(&ctx, args);
    print_targets("containers", Some(started), &verdicts);
    drop(ctx);
    sandbox.finish()
}

/// Why each tool cannot be measured, when it cannot (its programs are
/// missing after trying to install them).
#[derive(Debug)]
struct Missing {
    busybox: Option<String>,
    /// LXC's tools, or busybox for its template.
    lxc: Option<String>,
    crun: Option<String>,
    unshare: Option<String>,
}

impl Missing {
    fn check() -> Missing {
        let busybox = availability("The busybox containers", BUSYBOX);
        let lxc = availability("The LXC comparison", LXC).or_else(|| busybox.clone());
        Missing {
            busybox,
            lxc,
            crun: availability("The crun comparison", CRUN),
            unshare: availability("The unshare floor", UNSHARE),
        }
    }
}

/// Runs each measure in turn, printing its report; returns the verdicts
/// on the targets.
fn measure_all(ctx: &Ctx, args: &CompareArgs) -> Vec<String> {
    let measures: [(Build, Plan); 5] = [
        (execute, Plan::new(args, 150, 3, BUDGET)),
        (start_stop, Plan::new(args, 80, 2, BUDGET)),
        (attach, Plan::new(args, 150, 3, BUDGET)),
        (freeze, Plan::new(args, 30, 1, SLOW_BUDGET)),
        (create, Plan::new(args, 20, 1, SLOW_BUDGET)),
    ];
    let measures: Vec<(Build, Plan)> = measures
        .into_iter()
        .zip(NAMES)
        .filter(|(_, name)| args.wants(name))
        .map(|(m, _)| m)
        .collect();
    let count = measures.len();
    let mut verdicts = Vec::new();
    for (i, (build, plan)) in measures.into_iter().enumerate() {
        println!();
        print!("[{}/{count}] ", i + 1);
        let mut comparison = build(ctx, plan);
        let outcomes = measure(&mut comparison);
        verdicts.extend(report(&comparison, &outcomes));
        ctx.reset();
    }
    verdicts
}

/// Builds the comparison of one measure.
type Build = fn(&Ctx, Plan) -> Comparison<'_>;

/// What every measure works with.
#[derive(Debug)]
struct Ctx {
    sp: Spawner,
    /// The tools and their container, or why they cannot be measured.
    enclos: std::result::Result<Tool, String>,
    /// `--baseline`: an earlier enclos build, with a container of its own
    /// in the same lxcpath.
    baseline: Option<std::result::Result<Tool, String>>,
    lxc: std::result::Result<Tool, String>,
    crun: std::result::Result<Crun, String>,
    unshare: std::result::Result<(), String>,
}

impl Ctx {
    /// Makes the containers (one per tool, in the sandbox's lxcpaths) and
    /// crun's bundles over the first rootfs made.
    fn set_up(
        sandbox: &Sandbox,
        enclos: std::result::Result<PathBuf, String>,
        missing: Missing,
        baseline: Option<&Path>,
    ) -> Result<Ctx> {
        let scratch = sandbox.scratch();
        let sp = Spawner::new(&scratch)
            .with_context(|| format!("Cannot create {}", scratch.display()))?;
        let conf = write_lxc_conf(&scratch)?;
        let name = format!("{PREFIX}{}-c", std::process::id());

        println!(
            "containers: busybox containers in {} (one per tool, made once)",
            sandbox.base().display()
        );
        let enclos = enclos.and_then(|bin| {
            Tool {
                kind: Kind::Enclos,
                program: bin,
                dir: sandbox.enclos_dir(),
                conf: None,
                name: name.clone(),
                backend: None,
            }
            .set_up(&sp)
        });
        let baseline = baseline.map(|bin| {
            Tool {
                kind: Kind::Enclos,
                program: bin.to_path_buf(),
                dir: sandbox.enclos_dir(),
                conf: None,
                name: format!("{name}-b"),
                backend: None,
            }
            .set_up(&sp)
        });
        let lxc = match missing.lxc {
            Some(why) => Err(why),
            None => Tool {
                kind: Kind::Lxc,
                program: PathBuf::new(),
                dir: sandbox.lxc_dir(),
                conf: Some(conf),
                name,
                backend: None,
            }
            .set_up(&sp),
        };
        let rootfs = [&enclos, &lxc]
            .into_iter()
            .flatten()
            .map(|t| t.rootfs(&t.name))
            .next();
        let crun = match (missing.crun, rootfs) {
            (Some(why), _) => Err(why),
            (None, None) => {
                Err("no busybox rootfs to run (neither tool made its container)".into())
            }
            (None, Some(rootfs)) => Crun::new(&scratch, &rootfs),
        };
        Ok(Ctx {
            sp,
            enclos,
            baseline,
            lxc,
            crun,
            unshare: missing.unshare.map_or(Ok(()), Err),
        })
    }

    /// The tools with a container: enclos, the baseline, LXC.
    fn tools(&self) -> impl Iterator<Item = &Tool> {
        [Some(&self.enclos), self.baseline.as_ref(), Some(&self.lxc)]
            .into_iter()
            .flatten()
            .flatten()
    }

    /// A variant of `--baseline`, when one was given, named `name`.
    fn baseline_variant<'a>(
        &'a self,
        name: &'static str,
        run: fn(&Tool, &Spawner, &str) -> std::result::Result<Duration, String>,
        check: fn(&Tool, &Spawner, &str) -> std::result::Result<(), String>,
    ) -> Option<Variant<'a>> {
        let tool = self.baseline.as_ref()?;
        Some(with_tool(name, tool, &self.sp, run, check))
    }

    /// Brings the containers back to STOPPED after a measure (a failed
    /// run may leave one running or frozen).
    fn reset(&self) {
        for tool in self.tools() {
            if tool.state(&self.sp, &tool.name).as_deref() == Ok("STOPPED") {
                continue;
            }
            let _ = self.sp.run(&mut tool.cmd("unfreeze", &tool.name), TIMEOUT);
            if let Err(why) = self.sp.ok(&mut tool.stop(&tool.name, true), TIMEOUT) {
                eprintln!(
                    "warning: cannot stop {} after the measure: {why}",
                    tool.name
                );
            }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    Enclos,
    Lxc,
}

/// enclos or LXC, with its lxcpath and its container. Both take LXC's
/// flags, so one command builder serves both.
#[derive(Debug)]
pub(super) struct Tool {
    pub kind: Kind,
    /// The enclos binary (LXC's tools are found on PATH).
    pub program: PathBuf,
    /// The lxcpath (`-P`).
    pub dir: PathBuf,
    /// LXC's `-f` config for create.
    pub conf: Option<PathBuf>,
    /// The container made once for the measures that need one.
    pub name: String,
    /// The backing store create asks for (`-B`), if not the default.
    pub backend: Option<&'static str>,
}

impl Tool {
    /// `enclos VERB -P DIR -n NAME` or `lxc-VERB -P DIR -n NAME`.
    pub fn cmd(&self, verb: &str, name: &str) -> Command {
        let mut cmd = match self.kind {
            Kind::Enclos => {
                let mut cmd = Command::new(&self.program);
                cmd.arg(verb);
                cmd
            }
            Kind::Lxc => Command::new(format!("lxc-{verb}")),
        };
        cmd.arg("-P").arg(&self.dir).arg("-n").arg(name);
        cmd
    }

    pub fn create(&self, name: &str) -> Command {
        let mut cmd = self.cmd("create", name);
        cmd.args(["-t", "busybox"]);
        if let Some(backend) = self.backend {
            cmd.args(["-B", backend]);
        }
        if let Some(conf) = &self.conf {
            cmd.arg("-f").arg(conf);
        }
        cmd
    }

    pub fn stop(&self, name: &str, kill: bool) -> Command {
        let mut cmd = self.cmd("stop", name);
        if kill {
            cmd.arg("-k");
        }
        cmd
    }

    pub fn destroy(&self, name: &str) -> Command {
        let mut cmd = self.cmd("destroy", name);
        cmd.arg("-f");
        cmd
    }

    /// `enclos VERB ... -- ARGV` (attach, execute).
    pub fn inside(&self, verb: &str, name: &str, argv: &[&str]) -> Command {
        let mut cmd = self.cmd(verb, name);
        cmd.arg("--").args(argv);
        cmd
    }

    pub fn rootfs(&self, name: &str) -> PathBuf {
        self.dir.join(name).join("rootfs")
    }

    /// The container's state as `info -s` prints it (`RUNNING`, ...).
    pub fn state(&self, sp: &Spawner, name: &str) -> std::result::Result<String, String> {
        let mut cmd = self.cmd("info", name);
        cmd.arg("-s");
        let ran = sp.ok(&mut cmd, TIMEOUT)?;
        ran.stdout
            .lines()
            .find_map(|l| l.strip_prefix("State:"))
            .map(|s| s.trim().to_string())
            .ok_or_else(|| {
                format!(
                    "`{}` printed no \"State:\" line: {:?}",
                    ran.line,
                    ran.stdout.trim()
                )
            })
    }

    /// Fails unless the container is in state `want`, `after` what.
    pub fn expect(
        &self,
        sp: &Spawner,
        name: &str,
        want: &str,
        after: &str,
    ) -> std::result::Result<(), String> {
        let state = self.state(sp, name)?;
        if state == want {
            Ok(())
        } else {
            Err(format!(
                "after {after}, the state of {name} is {state}, not {want}"
            ))
        }
    }

    /// Creates the tool's container (once, before the measures).
    pub fn set_up(self, sp: &Spawner) -> std::result::Result<Tool, String> {
        let ran = sp
            .ok(&mut self.create(&self.name), CREATE_TIMEOUT)
            .map_err(|why| format!("setting up its container failed: {why}"))?;
        self.expect(sp, &self.name, "STOPPED", "create")
            .map_err(|why| format!("setting up its container failed: {why}"))?;
        println!("  {} ({:.0} ms)", ran.line, ran.elapsed.as_secs_f64() * 1e3);
        Ok(self)
    }

    /// Runs `argv` in the container with `verb` (attach, execute) and
    /// checks that it really ran there: `hostname` prints the container's
    /// name, and an exit status of 3 comes back.
    fn check_inside(&self, sp: &Spawner, verb: &str) -> std::result::Result<(), String> {
        let name = &self.name;
        let ran = sp.ok(&mut self.inside(verb, name, &["/bin/hostname"]), TIMEOUT)?;
        if ran.stdout.trim() != name {
            return Err(format!(
                "`{}` printed {:?}, not the container's name {name:?}",
                ran.line,
                ran.stdout.trim()
            ));
        }
        let ran = sp.run(
            &mut self.inside(verb, name, &["/bin/sh", "-c", "exit 3"]),
            TIMEOUT,
        )?;
        if ran.status.code() != Some(3) {
            return Err(format!(
                "`{}` ended with {}, not with the command's exit status 3; {}",
                ran.line,
                ran.status,
                ran.output()
            ));
        }
        Ok(())
    }
}

// ---------------------------------------------------------------- measures

/// A variant that runs `run` and `check` with `tool`, or is not available
/// for the reason `tool` holds.
pub(super) fn with_tool<'a>(
    name: &'static str,
    tool: &'a std::result::Result<Tool, String>,
    sp: &'a Spawner,
    run: fn(&Tool, &Spawner, &str) -> std::result::Result<Duration, String>,
    check: fn(&Tool, &Spawner, &str) -> std::result::Result<(), String>,
) -> Variant<'a> {
    match tool {
        Ok(tool) => Variant {
            name,
            run: Box::new(move |run_name| run(tool, sp, run_name)),
            check: Some(Box::new(move |run_name| check(tool, sp, run_name))),
            unavailable: None,
        },
        Err(why) => unavailable(name, why.clone()),
    }
}

pub(super) fn unavailable<'a>(name: &'static str, why: String) -> Variant<'a> {
    Variant {
        name,
        run: Box::new(|_| Err("not available".into())),
        check: None,
        unavailable: Some(why),
    }
}

/// Times one command that must succeed.
pub(super) fn timed(sp: &Spawner, cmd: &mut Command) -> std::result::Result<Duration, String> {
    sp.ok(cmd, TIMEOUT).map(|ran| ran.elapsed)
}

/// Runs one command that is not timed, for a message that says so.
pub(super) fn untimed(sp: &Spawner, cmd: &mut Command) -> std::result::Result<(), String> {
    sp.ok(cmd, TIMEOUT)
        .map(|_| ())
        .map_err(|why| format!("(untimed step) {why}"))
}

/// 1. execute /bin/true in a new container.
fn execute(ctx: &Ctx, plan: Plan) -> Comparison<'_> {
    let sp = &ctx.sp;
    fn run(t: &Tool, sp: &Spawner, _: &str) -> std::result::Result<Duration, String> {
        timed(sp, &mut t.inside("execute", &t.name, &["/bin/true"]))
    }
    fn check(t: &Tool, sp: &Spawner, _: &str) -> std::result::Result<(), String> {
        t.check_inside(sp, "execute")?;
        t.expect(sp, &t.name, "STOPPED", "execute")
    }
    let mut comparison = Comparison {
        title: "containers: execute /bin/true in a new container (the command's own \
                namespaces and init; crun: pid, mount, uts, ipc, net namespaces)"
            .into(),
        variants: vec![
            with_tool("lxc-execute", &ctx.lxc, sp, run, check),
            with_tool("enclos execute", &ctx.enclos, sp, run, check),
            crun_run(ctx),
            unshare_floor(ctx),
        ],
        baseline: 0,
        targets: vec![
            Target::Ratio {
                variant: 1,
                reference: 0,
                max: 0.25,
            },
            Target::Ratio {
                variant: 1,
                reference: 2,
                max: 1.0,
            },
        ],
        plan,
    };
    comparison
        .variants
        .extend(ctx.baseline_variant("enclos execute (baseline)", run, check));
    comparison
}

/// `crun run` of the /bin/true bundle, checked with the bundle that
/// prints its hostname.
fn crun_run(ctx: &Ctx) -> Variant<'_> {
    let sp = &ctx.sp;
    let crun = match &ctx.crun {
        Ok(crun) => crun,
        Err(why) => return unavailable("crun run", why.clone()),
    };
    Variant {
        name: "crun run",
        run: Box::new(move |id| timed(sp, &mut crun.run(&crun.bundle, id))),
        check: Some(Box::new(move |id| {
            let ran = sp.ok(&mut crun.run(&crun.check_bundle, id), TIMEOUT)?;
            if ran.stdout.trim() == CRUN_HOSTNAME {
                Ok(())
            } else {
                Err(format!(
                    "`{}` printed {:?}, not the bundle's hostname {CRUN_HOSTNAME:?}",
                    ran.line,
                    ran.stdout.trim()
                ))
            }
        })),
        unavailable: None,
    }
}

/// The floor: `unshare` of the same namespaces, /bin/true in them;
/// checked by the command being pid 1.
fn unshare_floor(ctx: &Ctx) -> Variant<'_> {
    let sp = &ctx.sp;
    if let Err(why) = &ctx.unshare {
        return unavailable("unshare (floor)", why.clone());
    }
    Variant {
        name: "unshare (floor)",
        run: Box::new(move |_| timed(sp, &mut unshare_cmd(&["/bin/true"]))),
        check: Some(Box::new(move |_| {
            let ran = sp.ok(&mut unshare_cmd(&["/bin/sh", "-c", "echo $$"]), TIMEOUT)?;
            if ran.stdout.trim() == "1" {
                Ok(())
            } else {
                Err(format!(
                    "`{}` printed {:?}: the command is not pid 1 of a new pid namespace",
                    ran.line,
                    ran.stdout.trim()
                ))
            }
        })),
        unavailable: None,
    }
}

/// `unshare --mount --pid --uts --ipc --net --fork ARGV`.
fn unshare_cmd(argv: &[&str]) -> Command {
    let mut cmd = Command::new("unshare");
    cmd.args(["--mount", "--pid", "--uts", "--ipc", "--net", "--fork"])
        .args(argv);
    cmd
}

/// 2. start, then stop: gracefully for enclos, `-k` for LXC.
fn start_stop(ctx: &Ctx, plan: Plan) -> Comparison<'_> {
    /// LXC's graceful stop of its busybox waits out its 60 s timeout.
    fn graceful(t: &Tool) -> bool {
        t.kind == Kind::Enclos
    }
    fn run(t: &Tool, sp: &Spawner, _: &str) -> std::result::Result<Duration, String> {
        let start = timed(sp, &mut t.cmd("start", &t.name))?;
        let stop = timed(sp, &mut t.stop(&t.name, !graceful(t)))?;
        Ok(start + stop)
    }
    fn check(t: &Tool, sp: &Spawner, _: &str) -> std::result::Result<(), String> {
        sp.ok(&mut t.cmd("start", &t.name), TIMEOUT)?;
        t.expect(sp, &t.name, "RUNNING", "start")?;
        sp.ok(&mut t.stop(&t.name, !graceful(t)), TIMEOUT)?;
        t.expect(sp, &t.name, "STOPPED", "stop")
    }
    let sp = &ctx.sp;
    let mut comparison = Comparison {
        title: "containers: start, then stop (enclos: graceful, busybox's halt signal; \
                LXC: -k, its graceful stop of busybox takes 60 s)"
            .into(),
        variants: vec![
            with_tool("lxc-start + lxc-stop -k", &ctx.lxc, sp, run, check),
            with_tool("enclos start + stop", &ctx.enclos, sp, run, check),
        ],
        baseline: 0,
        targets: vec![Target::Ratio {
            variant: 1,
            reference: 0,
            max: 0.5,
        }],
        plan,
    };
    comparison
        .variants
        .extend(ctx.baseline_variant("enclos start + stop (baseline)", run, check));
    comparison
}

/// 3. attach /bin/true into the running container.
fn attach(ctx: &Ctx, plan: Plan) -> Comparison<'_> {
    fn run(t: &Tool, sp: &Spawner, _: &str) -> std::result::Result<Duration, String> {
        timed(sp, &mut t.inside("attach", &t.name, &["/bin/true"]))
    }
    fn check(t: &Tool, sp: &Spawner, _: &str) -> std::result::Result<(), String> {
        t.check_inside(sp, "attach")?;
        t.expect(sp, &t.name, "RUNNING", "attach")
    }
    let sp = &ctx.sp;
    // Every container runs during the whole measure (Ctx::reset stops them).
    let [lxc_down, enclos_down] = [&ctx.lxc, &ctx.enclos].map(|t| start_for_attach(sp, t));
    let baseline_down = ctx.baseline.as_ref().and_then(|t| start_for_attach(sp, t));
    let mut lxc = with_tool("lxc-attach", &ctx.lxc, sp, run, check);
    let mut enclos = with_tool("enclos attach", &ctx.enclos, sp, run, check);
    lxc.unavailable = lxc.unavailable.or(lxc_down);
    enclos.unavailable = enclos.unavailable.or(enclos_down);
    let mut comparison = Comparison {
        title: "containers: attach /bin/true into the running container".into(),
        variants: vec![lxc, enclos],
        baseline: 0,
        targets: vec![Target::Ratio {
            variant: 1,
            reference: 0,
            max: 0.8,
        }],
        plan,
    };
    if let Some(mut baseline) = ctx.baseline_variant("enclos attach (baseline)", run, check) {
        baseline.unavailable = baseline.unavailable.or(baseline_down);
        comparison.variants.push(baseline);
    }
    comparison
}

/// Starts `tool`'s container for the attach measure; why it did not, if
/// it did not.
fn start_for_attach(sp: &Spawner, tool: &std::result::Result<Tool, String>) -> Option<String> {
    let t = tool.as_ref().ok()?;
    sp.ok(&mut t.cmd("start", &t.name), TIMEOUT)
        .and_then(|_| t.expect(sp, &t.name, "RUNNING", "start"))
        .err()
        .map(|why| format!("its container did not start: {why}"))
}

/// 4. freeze right after start: start, freeze (timed), unfreeze, stop -k.
fn freeze(ctx: &Ctx, plan: Plan) -> Comparison<'_> {
    fn run(t: &Tool, sp: &Spawner, _: &str) -> std::result::Result<Duration, String> {
        untimed(sp, &mut t.cmd("start", &t.name))?;
        let elapsed = timed(sp, &mut t.cmd("freeze", &t.name))?;
        untimed(sp, &mut t.cmd("unfreeze", &t.name))?;
        untimed(sp, &mut t.stop(&t.name, true))?;
        Ok(elapsed)
    }
    fn check(t: &Tool, sp: &Spawner, _: &str) -> std::result::Result<(), String> {
        sp.ok(&mut t.cmd("start", &t.name), TIMEOUT)?;
        sp.ok(&mut t.cmd("freeze", &t.name), TIMEOUT)?;
        t.expect(sp, &t.name, "FROZEN", "freeze")?;
        sp.ok(&mut t.cmd("unfreeze", &t.name), TIMEOUT)?;
        t.expect(sp, &t.name, "RUNNING", "unfreeze")?;
        sp.ok(&mut t.stop(&t.name, true), TIMEOUT)?;
        t.expect(sp, &t.name, "STOPPED", "stop -k")
    }
    let sp = &ctx.sp;
    let mut comparison = Comparison {
        title: "containers: freeze right after start (timed: the freeze alone; start, \
                unfreeze and stop -k are not)"
            .into(),
        variants: vec![
            with_tool("lxc-freeze", &ctx.lxc, sp, run, check),
            with_tool("enclos freeze", &ctx.enclos, sp, run, check),
        ],
        baseline: 0,
        targets: vec![Target::Millis {
            variant: 1,
            max_ms: 20.0,
        }],
        plan,
    };
    comparison
        .variants
        .extend(ctx.baseline_variant("enclos freeze (baseline)", run, check));
    comparison
}

/// 5. create a busybox container of a fresh name; destroy it untimed.
fn create(ctx: &Ctx, plan: Plan) -> Comparison<'_> {
    fn run(t: &Tool, sp: &Spawner, name: &str) -> std::result::Result<Duration, String> {
        let elapsed = sp.ok(&mut t.create(name), CREATE_TIMEOUT)?.elapsed;
        untimed(sp, &mut t.destroy(name))?;
        Ok(elapsed)
    }
    fn check(t: &Tool, sp: &Spawner, name: &str) -> std::result::Result<(), String> {
        sp.ok(&mut t.create(name), CREATE_TIMEOUT)?;
        t.expect(sp, name, "STOPPED", "create")?;
        let busybox = t.rootfs(name).join("bin/busybox");
        if !busybox.is_file() {
            return Err(format!(
                "after create, {} does not exist",
                busybox.display()
            ));
        }
        sp.ok(&mut t.destroy(name), TIMEOUT)?;
        let dir = t.dir.join(name);
        if dir.exists() {
            return Err(format!("after destroy, {} still exists", dir.display()));
        }
        Ok(())
    }
    let sp = &ctx.sp;
    let mut comparison = Comparison {
        title: "containers: create a busybox container of a fresh name (the destroy after it \
                is not timed)"
            .into(),
        variants: vec![
            with_tool("lxc-create", &ctx.lxc, sp, run, check),
            with_tool("enclos create", &ctx.enclos, sp, run, check),
        ],
        baseline: 0,
        targets: vec![Target::Ratio {
            variant: 1,
            reference: 0,
            max: 0.25,
        }],
        plan,
    };
    comparison
        .variants
        .extend(ctx.baseline_variant("enclos create (baseline)", run, check));
    comparison
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tools_take_lxc_flags() {
        let tool = |kind| Tool {
            kind,
            program: PathBuf::from("/x/enclos"),
            dir: PathBuf::from("/t/d"),
            conf: (kind == Kind::Lxc).then(|| PathBuf::from("/t/net.conf")),
            name: "c".into(),
            backend: None,
        };
        let show = |cmd: Command| crate::process::show(&cmd);
        assert_eq!(
            show(tool(Kind::Enclos).stop("c", false)),
            "enclos stop -P /t/d -n c"
        );
        assert_eq!(
            show(tool(Kind::Lxc).stop("c", true)),
            "lxc-stop -P /t/d -n c -k"
        );
        assert_eq!(
            show(tool(Kind::Lxc).create("n")),
            "lxc-create -P /t/d -n n -t busybox -f /t/net.conf"
        );
        assert_eq!(
            show(tool(Kind::Enclos).inside("attach", "c", &["/bin/true"])),
            "enclos attach -P /t/d -n c -- /bin/true"
        );
    }
}
