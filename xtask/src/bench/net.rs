//! `cargo xtask bench compare containers --only veth-start,net-span`:
//! the start of a busybox container with one veth on a bridge, enclos
//! against LXC on the same network keys, and the network part of
//! enclos's start on its own, from the close line of its tracing span
//! `net`.
//!
//! Everything runs in a network namespace the harness makes for itself
//! ([`NetNs`]): the main thread leaves the host's network (and, for a
//! sysfs of that network, its mounts) before the containers are made,
//! makes the bridge there, and comes back at the end. The host sides of
//! the veths land in that namespace (both tools make them in their
//! caller's), and the bridge goes with it; the host's own interfaces are
//! never touched.
//!
//! Two measures, each a [`Comparison`] whose variants alternate:
//!
//! 1. `veth-start`: `lxc-start` and `enclos start` of the veth container
//!    (timed: the start alone; `stop -k` after it is not), with the same
//!    tools' start of a container without network beside them, each
//!    after 100 ms of quiet ([`SETTLE`]); and, beside them, the veth start
//!    right after a start and stop of the same container (a restart),
//!    where LXC's start is at its fastest;
//! 2. `net-span`: `enclos start -l INFO -o LOG`, the duration of the
//!    span `net` read from the log (the veth made, moved, named,
//!    addressed, up, on the bridge), for the veth and the empty network.

use std::fs;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use nix::sched::CloneFlags;

use super::containers::{
    availability, print_targets, timed, unavailable, untimed, with_tool, write_lxc_conf, Kind,
    Tool, BUSYBOX, LXC, TIMEOUT,
};
use super::sandbox::Sandbox;
use super::spawn::Spawner;
use super::{measure, report, CompareArgs, Comparison, Plan, Target, Variant, PREFIX};
use crate::deps::Requirement;

/// The measures, by the names `--only` takes, in their order.
pub(super) const NAMES: &[&str] = &["veth-start", "net-span"];

/// The bridge of the harness's namespace, and the addresses on it.
const BRIDGE: &str = "enclosbench0";
const BRIDGE_ADDRESS: &str = "10.0.99.1/24";
const CONTAINER_ADDRESS: &str = "10.0.99.2/24";

/// Each measure stays within this.
const BUDGET: Duration = Duration::from_secs(40);

/// The quiet before each start (see `Plan::settled`): several RCU grace
/// periods, so that no start finds the cgroup lock as a run before it
/// left it.
const SETTLE: Duration = Duration::from_millis(100);

const IP: &[Requirement] = &[super::containers::req(
    "make the bench's bridge",
    "ip",
    "iproute2",
)];

/// The network keys of the veth containers, the same for both tools.
fn veth_keys() -> String {
    format!(
        "lxc.net.0.type = veth\nlxc.net.0.link = {BRIDGE}\nlxc.net.0.flags = up\n\
         lxc.net.0.name = eth0\nlxc.net.0.ipv4.address = {CONTAINER_ADDRESS}\n"
    )
}

/// The harness's main thread in a network namespace of its own, back in
/// the host's when dropped. Every process the thread starts meanwhile is
/// in it.
///
/// A mount namespace of its own too, private, where /sys is a sysfs of
/// the new network namespace (with the host's cgroup mounts moved onto
/// it): LXC looks for the bridge in /sys/class/net, which shows the
/// interfaces of the namespace that mounted it.
#[derive(Debug)]
struct NetNs {
    net: OwnedFd,
    mnt: OwnedFd,
    cwd: PathBuf,
}

impl NetNs {
    /// Leaves the host's network for a new namespace with loopback up and
    /// the bench's bridge.
    fn enter() -> Result<NetNs> {
        let open = |path: &str| -> Result<OwnedFd> {
            Ok(fs::File::open(path)
                .with_context(|| format!("Cannot open {path}"))?
                .into())
        };
        let home = NetNs {
            net: open("/proc/thread-self/ns/net")?,
            mnt: open("/proc/thread-self/ns/mnt")?,
            cwd: std::env::current_dir().context("Cannot read the current directory")?,
        };
        nix::sched::unshare(CloneFlags::CLONE_NEWNET | CloneFlags::CLONE_NEWNS)
            .context("Cannot make network and mount namespaces for the bench (unshare)")?;
        // From here, dropping `home` goes back.
        own_sysfs().context("Cannot mount a sysfs of the bench's network namespace")?;
        for args in [
            &["link", "set", "lo", "up"][..],
            &["link", "add", BRIDGE, "type", "bridge"],
            &["addr", "add", BRIDGE_ADDRESS, "dev", BRIDGE],
            &["link", "set", BRIDGE, "up"],
        ] {
            let out = Command::new("ip")
                .args(args)
                .output()
                .context("Cannot run ip")?;
            if !out.status.success() {
                bail!(
                    "Cannot make the bench's bridge in its namespace: `ip {}` failed ({}): {}",
                    args.join(" "),
                    out.status,
                    String::from_utf8_lossy(&out.stderr).trim()
                );
            }
        }
        Ok(home)
    }
}

/// In a new mount namespace: every mount private, a new sysfs on /sys,
/// and the host's /sys/fs/cgroup tree moved onto it.
fn own_sysfs() -> Result<()> {
    use nix::mount::{mount, MsFlags};
    const NONE: Option<&str> = None;
    mount(NONE, "/", NONE, MsFlags::MS_REC | MsFlags::MS_PRIVATE, NONE)
        .context("Cannot make the mounts private")?;
    let cgroup = Path::new("/sys/fs/cgroup");
    let hold = std::env::temp_dir().join(format!("{PREFIX}{}-cgroup", std::process::id()));
    let held = cgroup.is_dir();
    if held {
        fs::create_dir_all(&hold).with_context(|| format!("Cannot create {}", hold.display()))?;
        mount(
            Some(cgroup),
            &hold,
            NONE,
            MsFlags::MS_BIND | MsFlags::MS_REC,
            NONE,
        )
        .context("Cannot bind /sys/fs/cgroup aside")?;
    }
    mount(Some("sysfs"), "/sys", Some("sysfs"), MsFlags::empty(), NONE)
        .context("Cannot mount sysfs on /sys")?;
    if held {
        mount(Some(&hold), cgroup, NONE, MsFlags::MS_MOVE, NONE)
            .context("Cannot move the cgroup mounts onto the new /sys")?;
        let _ = fs::remove_dir(&hold);
    }
    Ok(())
}

impl Drop for NetNs {
    fn drop(&mut self) {
        for (fd, flag, what) in [
            (&self.mnt, CloneFlags::CLONE_NEWNS, "mount"),
            (&self.net, CloneFlags::CLONE_NEWNET, "network"),
        ] {
            if let Err(e) = nix::sched::setns(fd, flag) {
                eprintln!("warning: cannot go back to the host's {what} namespace: {e}");
            }
        }
        // Entering a mount namespace moves to its root.
        if let Err(e) = std::env::set_current_dir(&self.cwd) {
            eprintln!("warning: cannot go back to {}: {e}", self.cwd.display());
        }
    }
}

/// The ports of the bench's bridge (the host sides of the veths).
fn ports(sp: &Spawner) -> std::result::Result<Vec<String>, String> {
    let ran = sp.ok(
        Command::new("ip").args(["-o", "link", "show", "master", BRIDGE]),
        TIMEOUT,
    )?;
    Ok(ran
        .stdout
        .lines()
        .filter_map(|l| l.split(": ").nth(1))
        .map(|n| n.split('@').next().unwrap_or(n).to_string())
        .collect())
}

/// Fails unless the bridge has `want` ports within a few seconds (the
/// kernel removes a veth whose peer's namespace went after a while).
fn expect_ports(sp: &Spawner, want: usize, after: &str) -> std::result::Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let found = ports(sp)?;
        if found.len() == want {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(format!(
                "after {after}, {BRIDGE} has the ports {found:?}, not {want}"
            ));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The tools' containers: one with the veth, one without network.
#[derive(Debug)]
struct Pair {
    veth: std::result::Result<Tool, String>,
    empty: std::result::Result<Tool, String>,
}

impl Pair {
    /// Creates both containers of a tool (`program` for enclos), from
    /// the config without network; the veth one then gets the veth keys.
    fn set_up(
        sp: &Spawner,
        kind: Kind,
        program: std::result::Result<PathBuf, String>,
        dir: PathBuf,
        conf: &Path,
        name: &str,
    ) -> Pair {
        let tool = |suffix: &str| {
            program.clone().and_then(|program| {
                Tool {
                    kind,
                    program,
                    dir: dir.clone(),
                    conf: Some(conf.to_path_buf()),
                    name: format!("{name}-{suffix}"),
                    backend: None,
                }
                .set_up(sp)
            })
        };
        let veth = tool("v").and_then(|t| {
            with_veth(&t.dir.join(&t.name).join("config"))
                .map_err(|e| format!("setting up its container failed: {e:#}"))?;
            Ok(t)
        });
        Pair {
            veth,
            empty: tool("e"),
        }
    }

    fn tools(&self) -> impl Iterator<Item = &Tool> {
        [&self.veth, &self.empty].into_iter().flatten()
    }
}

/// Replaces the network keys of the config at `path` by the veth's.
fn with_veth(path: &Path) -> Result<()> {
    let text =
        fs::read_to_string(path).with_context(|| format!("Cannot read {}", path.display()))?;
    let mut out: String = text
        .lines()
        .filter(|l| !l.trim_start().starts_with("lxc.net."))
        .map(|l| format!("{l}\n"))
        .collect();
    out.push_str(&veth_keys());
    fs::write(path, out).with_context(|| format!("Cannot write {}", path.display()))
}

/// What both measures work with.
#[derive(Debug)]
struct Ctx {
    sp: Spawner,
    enclos: Pair,
    /// `--baseline`: an earlier enclos build's veth container.
    baseline: Option<std::result::Result<Tool, String>>,
    lxc: Pair,
    /// The log of `net-span`'s starts.
    log: PathBuf,
}

impl Ctx {
    fn set_up(
        sandbox: &Sandbox,
        sp: Spawner,
        enclos: std::result::Result<PathBuf, String>,
        lxc_missing: Option<String>,
        baseline: Option<&Path>,
    ) -> Result<Ctx> {
        let scratch = sandbox.scratch();
        let conf = write_lxc_conf(&scratch)?;
        let name = format!("{PREFIX}{}-n", std::process::id());
        println!(
            "net: busybox containers in {}, with a veth on {BRIDGE} ({BRIDGE_ADDRESS}) in the \
             bench's own network namespace, or without network",
            sandbox.base().display()
        );
        let enclos = Pair::set_up(
            &sp,
            Kind::Enclos,
            enclos,
            sandbox.enclos_dir(),
            &conf,
            &name,
        );
        let lxc = Pair::set_up(
            &sp,
            Kind::Lxc,
            lxc_missing.map_or(Ok(PathBuf::new()), Err),
            sandbox.lxc_dir(),
            &conf,
            &name,
        );
        let baseline = baseline.map(|bin| {
            let b = Pair::set_up(
                &sp,
                Kind::Enclos,
                Ok(bin.to_path_buf()),
                sandbox.enclos_dir(),
                &conf,
                &format!("{name}-b"),
            );
            b.veth
        });
        Ok(Ctx {
            sp,
            enclos,
            baseline,
            lxc,
            log: scratch.join("net-span.log"),
        })
    }

    fn tools(&self) -> impl Iterator<Item = &Tool> {
        self.enclos
            .tools()
            .chain(self.lxc.tools())
            .chain(self.baseline.iter().flatten())
    }

    /// Brings every container back to STOPPED after a measure.
    fn reset(&self) {
        for tool in self.tools() {
            if tool.state(&self.sp, &tool.name).as_deref() == Ok("STOPPED") {
                continue;
            }
            if let Err(why) = self.sp.ok(&mut tool.stop(&tool.name, true), TIMEOUT) {
                eprintln!(
                    "warning: cannot stop {} after the measure: {why}",
                    tool.name
                );
            }
        }
    }
}

/// Runs the measures `--only` lets through; fails only when the harness
/// itself does.
pub(super) fn run(args: &CompareArgs, enclos: &std::result::Result<PathBuf, String>) -> Result<()> {
    if let Some(why) = availability("The bench's bridge", IP) {
        bail!("The network measures need `ip`: {why}");
    }
    let busybox = availability("The busybox containers", BUSYBOX);
    let lxc_missing = availability("The LXC comparison", LXC).or_else(|| busybox.clone());
    let enclos = match (enclos, &busybox) {
        (Ok(bin), None) => Ok(bin.clone()),
        (Ok(_), Some(why)) | (Err(why), _) => Err(why.clone()),
    };
    // The namespace first: the guard (whose `stop` removes host veths
    // named in run files) and every container are in it.
    let netns = NetNs::enter()?;
    let sandbox = Sandbox::new(enclos.as_ref().ok().map(PathBuf::as_path))?;
    let scratch = sandbox.scratch();
    let sp =
        Spawner::new(&scratch).with_context(|| format!("Cannot create {}", scratch.display()))?;
    let ctx = Ctx::set_up(&sandbox, sp, enclos, lxc_missing, args.baseline.as_deref())?;
    let started = Instant::now();
    let mut verdicts = Vec::new();
    let measures: [(Build, Plan); 2] = [
        (veth_start, Plan::new(args, 60, 2, BUDGET).settled(SETTLE)),
        (net_span, Plan::new(args, 60, 2, BUDGET)),
    ];
    for ((build, plan), name) in measures.into_iter().zip(NAMES) {
        if !args.wants(name) {
            continue;
        }
        println!();
        let mut comparison = build(&ctx, plan);
        let outcomes = measure(&mut comparison);
        verdicts.extend(report(&comparison, &outcomes));
        ctx.reset();
    }
    print_targets("net", Some(started), &verdicts);
    drop(ctx);
    let finished = sandbox.finish();
    drop(netns);
    finished
}

/// Builds the comparison of one measure.
type Build = fn(&Ctx, Plan) -> Comparison<'_>;

/// Starts the container and checks it runs; for the veth, that the
/// bridge has its one port and that eth0 is up inside. (Not its address:
/// the busybox containers' rcS starts udhcpc, whose first step flushes
/// it.)
fn check_start(t: &Tool, sp: &Spawner, veth: bool) -> std::result::Result<(), String> {
    sp.ok(&mut t.cmd("start", &t.name), TIMEOUT)?;
    t.expect(sp, &t.name, "RUNNING", "start")?;
    if veth {
        expect_ports(sp, 1, "start")?;
        let show = ["/bin/busybox", "ip", "-o", "link", "show", "dev", "eth0"];
        let ran = sp.ok(&mut t.inside("attach", &t.name, &show), TIMEOUT)?;
        if !ran.stdout.contains(",UP") {
            return Err(format!(
                "`{}` printed {:?}: eth0 is not up in the container",
                ran.line,
                ran.stdout.trim()
            ));
        }
    }
    Ok(())
}

/// Stops the container (`-k`) and checks that nothing is left on the
/// bridge.
fn check_stop(t: &Tool, sp: &Spawner) -> std::result::Result<(), String> {
    sp.ok(&mut t.stop(&t.name, true), TIMEOUT)?;
    t.expect(sp, &t.name, "STOPPED", "stop -k")?;
    expect_ports(sp, 0, "stop -k")
}

/// 1. start of the veth container (and of the one without network).
fn veth_start(ctx: &Ctx, plan: Plan) -> Comparison<'_> {
    fn run(t: &Tool, sp: &Spawner, _: &str) -> std::result::Result<Duration, String> {
        let elapsed = timed(sp, &mut t.cmd("start", &t.name))?;
        untimed(sp, &mut t.stop(&t.name, true))?;
        Ok(elapsed)
    }
    /// The start right after a stop of the same container, untimed: what
    /// a script that restarts it meets (LXC's start then finds the cgroup
    /// lock as its stop left it, and waits for no grace period).
    fn run_after_stop(t: &Tool, sp: &Spawner, n: &str) -> std::result::Result<Duration, String> {
        untimed(sp, &mut t.cmd("start", &t.name))?;
        untimed(sp, &mut t.stop(&t.name, true))?;
        run(t, sp, n)
    }
    fn check_veth(t: &Tool, sp: &Spawner, _: &str) -> std::result::Result<(), String> {
        check_start(t, sp, true)?;
        check_stop(t, sp)
    }
    fn check_empty(t: &Tool, sp: &Spawner, _: &str) -> std::result::Result<(), String> {
        check_start(t, sp, false)?;
        check_stop(t, sp)
    }
    let sp = &ctx.sp;
    let mut comparison = Comparison {
        title: format!(
            "net: start of a busybox container with one veth on a bridge (flags up, a static \
             IPv4 address), and without network (timed: the start alone; stop -k after it is \
             not); \"restart\": the start right after a start and stop -k of the same \
             container, untimed\n  keys: {}",
            veth_keys().trim_end().replace('\n', "; ")
        ),
        variants: vec![
            with_tool("lxc-start (veth)", &ctx.lxc.veth, sp, run, check_veth),
            with_tool("enclos start (veth)", &ctx.enclos.veth, sp, run, check_veth),
            with_tool("lxc-start (empty)", &ctx.lxc.empty, sp, run, check_empty),
            with_tool(
                "enclos start (empty)",
                &ctx.enclos.empty,
                sp,
                run,
                check_empty,
            ),
            with_tool(
                "lxc-start (veth, restart)",
                &ctx.lxc.veth,
                sp,
                run_after_stop,
                check_veth,
            ),
            with_tool(
                "enclos start (veth, restart)",
                &ctx.enclos.veth,
                sp,
                run_after_stop,
                check_veth,
            ),
        ],
        baseline: 0,
        targets: vec![Target::Ratio {
            variant: 1,
            reference: 0,
            max: 0.5,
        }],
        plan,
    };
    if let Some(tool) = &ctx.baseline {
        comparison.variants.push(with_tool(
            "enclos start (veth, baseline)",
            tool,
            sp,
            run,
            check_veth,
        ));
    }
    comparison
}

/// 2. the span `net` of enclos's start, from its log.
fn net_span(ctx: &Ctx, plan: Plan) -> Comparison<'_> {
    let mut variants = vec![
        span_variant("enclos net span (veth)", &ctx.enclos.veth, ctx, true),
        span_variant("enclos net span (empty)", &ctx.enclos.empty, ctx, false),
    ];
    if let Some(tool) = &ctx.baseline {
        variants.push(span_variant(
            "enclos net span (veth, baseline)",
            tool,
            ctx,
            true,
        ));
    }
    Comparison {
        title: "net: the network part of enclos's start, on its own: the span `net` (from \
                `enclos start -l INFO -o LOG`, its close line's time.busy)"
            .into(),
        variants,
        baseline: 0,
        targets: vec![Target::Millis {
            variant: 0,
            max_ms: 5.0,
        }],
        plan,
    }
}

/// A variant that starts `tool`'s container with a log at INFO and
/// returns the duration of its span `net`; checked like the start.
fn span_variant<'a>(
    name: &'static str,
    tool: &'a std::result::Result<Tool, String>,
    ctx: &'a Ctx,
    veth: bool,
) -> Variant<'a> {
    let t = match tool {
        Ok(t) => t,
        Err(why) => return unavailable(name, why.clone()),
    };
    let (sp, log) = (&ctx.sp, &ctx.log);
    let start = move || -> std::result::Result<Duration, String> {
        let _ = fs::remove_file(log);
        let mut cmd = t.cmd("start", &t.name);
        cmd.args(["-l", "INFO", "-o"]).arg(log);
        sp.ok(&mut cmd, TIMEOUT)?;
        let text = fs::read_to_string(log)
            .map_err(|e| format!("`{}` wrote no log {}: {e}", t.name, log.display()))?;
        span_time(&text, "net").ok_or_else(|| {
            format!(
                "the log of `enclos start -n {}` has no close line of the span net: {:?}",
                t.name,
                text.lines().rev().take(5).collect::<Vec<_>>()
            )
        })
    };
    Variant {
        name,
        run: Box::new(move |_| {
            let span = start()?;
            untimed(sp, &mut t.stop(&t.name, true))?;
            Ok(span)
        }),
        check: Some(Box::new(move |_| {
            start()?;
            t.expect(sp, &t.name, "RUNNING", "start")?;
            if veth {
                expect_ports(sp, 1, "start")?;
            }
            check_stop(t, sp)
        })),
        unavailable: None,
    }
}

/// The duration of the span `span` in a tracing log: its close line,
/// `... net{container=...}: close time.busy=1.23ms time.idle=4.5µs`
/// (busy: the time the span was entered, its whole life here).
fn span_time(log: &str, span: &str) -> Option<Duration> {
    let open = format!("{span}{{");
    log.lines()
        .rev()
        .filter(|l| l.contains(&open) && l.contains(": close "))
        .filter_map(|l| {
            l.split_whitespace()
                .find_map(|w| w.strip_prefix("time.busy="))
        })
        .filter_map(parse_duration)
        .next()
}

/// `1.23ms`, `456µs`, `12.0ns`, `1.5s` as tracing prints them.
fn parse_duration(text: &str) -> Option<Duration> {
    let split = text.find(|c: char| !(c.is_ascii_digit() || c == '.'))?;
    let (number, unit) = text.split_at(split);
    let n: f64 = number.parse().ok()?;
    let scale = match unit {
        "ns" => 1e-9,
        "µs" | "us" => 1e-6,
        "ms" => 1e-3,
        "s" => 1.0,
        _ => return None,
    };
    Some(Duration::from_secs_f64(n * scale))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn span_close_lines_give_durations() {
        let log = "2026-12-01T10:00:00.000001Z  INFO net{container=c}: close time.busy=1.23ms \
                   time.idle=4.50µs\n\
                   2026-12-01T10:00:00.000002Z  INFO RUNNING container=c init=42\n";
        assert_eq!(span_time(log, "net"), Some(Duration::from_micros(1230)));
        assert_eq!(span_time(log, "other"), None);
        assert_eq!(span_time("INFO net{container=c}: created\n", "net"), None);
        assert_eq!(parse_duration("456µs"), Some(Duration::from_micros(456)));
        assert_eq!(parse_duration("12.0ns"), Some(Duration::from_nanos(12)));
        assert_eq!(parse_duration("1.50s"), Some(Duration::from_millis(1500)));
        assert_eq!(parse_duration("3furlongs"), None);
    }

    #[test]
    fn veth_keys_replace_the_network() {
        let dir = std::env::temp_dir().join(format!("xtask-net-test-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let config = dir.join("config");
        fs::write(
            &config,
            "lxc.uts.name = c\nlxc.net.0.type = empty\nlxc.rootfs.path = dir:/r\n",
        )
        .unwrap();
        with_veth(&config).unwrap();
        let text = fs::read_to_string(&config).unwrap();
        assert!(!text.contains("type = empty"), "{text}");
        assert!(text.starts_with("lxc.uts.name = c\nlxc.rootfs.path = dir:/r\n"));
        assert!(
            text.contains(&format!("lxc.net.0.link = {BRIDGE}\n")),
            "{text}"
        );
        fs::remove_dir_all(dir).unwrap();
    }
}
