//! The unprivileged rows of `bench compare containers` (issue 9): a
//! busybox container created, then started + attached to + stopped, by a
//! user who is not root ([`BenchUser`]: its own subordinate ids and
//! delegated cgroups), against the same done by root; enclos and LXC.
//!
//! A user's create runs the template inside the user namespace, so the
//! rootfs belongs to the mapped ids on disk: no shifting and no idmapped
//! mount are needed (`info` would say "owned by the map"). Root creating
//! with the same map (`-f` a config with `lxc.idmap`) runs the template
//! as root and shifts the rootfs to the map: that figure is reported
//! beside them. The targets:
//! the user's create within 1.2x of root's, its start + attach + stop
//! within 1.5x. Every command, root's too, goes through setpriv (root's
//! with its own ids), so both pay the same exec. LXC's unprivileged flow
//! is measured where it runs; where it does not, its row gives LXC's
//! error.

use std::path::PathBuf;
use std::process::Command;
use std::rc::Rc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use super::benchuser::{owned_by, BenchUser, RANGE};
use super::containers::{
    availability, print_targets, unavailable, write_lxc_conf, Kind, Tool, BUSYBOX, CREATE_TIMEOUT,
    LXC, LXC_CONF, TIMEOUT,
};
use super::sandbox::Sandbox;
use super::spawn::Spawner;
use super::{measure, report, CompareArgs, Comparison, Plan, Target, Variant, PREFIX};

/// The measures, by the names `--only` takes.
pub(super) const NAMES: &[&str] = &["unpriv-create", "unpriv-start"];

/// A tool and who runs it: root (`user` None) or the bench user.
struct Flow {
    tool: Tool,
    user: Option<Rc<BenchUser>>,
    /// The host uid of the container's root: 0, or the first id of the
    /// map.
    root_uid: u32,
}

impl Flow {
    /// `inner` as this flow's user, through setpriv.
    fn wrap(&self, inner: Command) -> Command {
        match &self.user {
            Some(u) => u.cmd(&inner),
            None => {
                let mut c = Command::new("setpriv");
                c.args(["--reuid=0", "--regid=0", "--clear-groups", "--"])
                    .arg(inner.get_program())
                    .args(inner.get_args());
                c
            }
        }
    }

    fn ok(&self, sp: &Spawner, inner: Command, timeout: Duration) -> Result<Duration, String> {
        sp.ok(&mut self.wrap(inner), timeout).map(|r| r.elapsed)
    }

    /// `info -s`'s state, asked as the flow's user.
    fn state(&self, sp: &Spawner, name: &str) -> Result<String, String> {
        let mut info = self.tool.cmd("info", name);
        info.arg("-s");
        let ran = sp.ok(&mut self.wrap(info), TIMEOUT)?;
        ran.stdout
            .lines()
            .find_map(|l| l.strip_prefix("State:"))
            .map(|s| s.trim().to_string())
            .ok_or_else(|| format!("`{}` printed no State: line", ran.line))
    }

    fn expect(&self, sp: &Spawner, name: &str, want: &str, after: &str) -> Result<(), String> {
        match self.state(sp, name)? {
            s if s == want => Ok(()),
            s => Err(format!("after {after}, {name} is {s}, not {want}")),
        }
    }

    /// `stop -k` for both tools: LXC's graceful stop of busybox waits out
    /// its 60 s timeout, and enclos's, after an attach, takes about 2 s
    /// here (against 80 ms without the attach), which would hide what
    /// the user namespace costs.
    fn stop(&self, name: &str) -> Command {
        self.tool.stop(name, true)
    }
}

/// Runs the unprivileged measures `--only` lets through.
pub(super) fn run(args: &CompareArgs, enclos: &std::result::Result<PathBuf, String>) -> Result<()> {
    let busybox = availability("The busybox containers", BUSYBOX);
    let enclos = match (enclos, &busybox) {
        (Ok(bin), None) => Ok(bin.clone()),
        (Ok(_), Some(why)) | (Err(why), _) => Err(why.clone()),
    };
    let sandbox = Sandbox::new(enclos.as_ref().ok().map(PathBuf::as_path))?;
    let scratch = sandbox.scratch();
    let sp =
        Spawner::new(&scratch).with_context(|| format!("Cannot create {}", scratch.display()))?;
    let conf = write_lxc_conf(&scratch)?;
    let user = BenchUser::new(enclos.as_ref().ok().map(PathBuf::as_path)).map(Rc::new);
    let user = match user {
        Ok(u) => write_configs(&u).map(|()| u),
        Err(e) => Err(e),
    }
    .map_err(|e| format!("cannot make the bench user: {e:#}"));
    if let Ok(u) = &user {
        println!(
            "unprivileged: user {} (uid {}), ids {}-{} in /etc/subuid and /etc/subgid",
            u.name,
            u.uid,
            u.subid,
            u.subid + RANGE - 1
        );
    }
    let lxc = availability("The LXC comparison", LXC).or(busybox);
    let name = format!("{PREFIX}{}-u", std::process::id());
    let flow = |kind: Kind, as_user: bool| -> Result<Flow, String> {
        let program = match kind {
            Kind::Enclos => enclos.clone()?,
            Kind::Lxc => lxc.clone().map_or(Ok(PathBuf::new()), Err)?,
        };
        let (dir, conf, user) = match (as_user, kind) {
            (false, Kind::Enclos) => (sandbox.enclos_dir(), None, None),
            (false, Kind::Lxc) => (sandbox.lxc_dir(), Some(conf.clone()), None),
            (true, _) => {
                let u = user.clone()?;
                let sub = if kind == Kind::Lxc { "lxc" } else { "enclos" };
                (u.home.join(".local/share").join(sub), None, Some(u))
            }
        };
        Ok(Flow {
            tool: Tool {
                kind,
                program,
                dir,
                conf,
                name: name.clone(),
                backend: None,
            },
            root_uid: user.as_ref().map_or(0, |u| u.subid),
            user,
        })
    };
    let flows = [
        flow(Kind::Enclos, false),
        flow(Kind::Enclos, true),
        flow(Kind::Lxc, false),
        flow(Kind::Lxc, true),
        shifting(flow(Kind::Enclos, false), &user, &scratch),
    ];
    let verdicts = measure_both(args, &sp, &flows);
    print_targets("unprivileged", None, &verdicts);
    for f in flows.iter().flatten() {
        let _ = sp.run(&mut f.wrap(f.tool.stop(&f.tool.name, true)), TIMEOUT);
        let _ = sp.run(&mut f.wrap(f.tool.destroy(&f.tool.name)), TIMEOUT);
    }
    drop(flows);
    drop(user);
    sandbox.finish()
}

/// The user's default.conf for enclos and for LXC: the course's maps,
/// and no network device (an unprivileged veth needs lxc-user-nic).
fn write_configs(u: &BenchUser) -> Result<()> {
    let text = format!(
        "lxc.idmap = u 0 {s} {RANGE}\nlxc.idmap = g 0 {s} {RANGE}\n{LXC_CONF}",
        s = u.subid
    );
    u.write(".config/enclos/default.conf", &text)?;
    u.write(".config/lxc/default.conf", &text)?;
    Ok(())
}

/// Root's enclos flow made to create with the user's map (`-f` a config
/// with `lxc.idmap`): the template runs as root and the rootfs is shifted
/// to the map afterwards.
fn shifting(
    flow: Result<Flow, String>,
    user: &Result<Rc<BenchUser>, String>,
    scratch: &std::path::Path,
) -> Result<Flow, String> {
    let (mut flow, u) = (flow?, user.clone()?);
    let conf = scratch.join("idmap.conf");
    let text = format!(
        "lxc.idmap = u 0 {s} {RANGE}\nlxc.idmap = g 0 {s} {RANGE}\n{LXC_CONF}",
        s = u.subid
    );
    std::fs::write(&conf, text).map_err(|e| format!("cannot write {}: {e}", conf.display()))?;
    flow.tool.conf = Some(conf);
    flow.tool.name.push_str("-s");
    flow.root_uid = u.subid;
    Ok(flow)
}

const VARIANTS: [&str; 5] = [
    "enclos (root)",
    "enclos (user)",
    "LXC (root)",
    "LXC (user)",
    "enclos (root, shifted to the map)",
];

/// The create comparison over the five flows, then the start one over the
/// first four.
fn measure_both(
    args: &CompareArgs,
    sp: &Spawner,
    flows: &[Result<Flow, String>; 5],
) -> Vec<String> {
    let four = &flows[..4];
    let mut verdicts = Vec::new();
    let started = Instant::now();
    if args.wants("unpriv-create") {
        println!();
        let mut c = comparison(
            "containers, unprivileged: create a busybox container as a user (template run in \
             the user namespace, files owned by the map: no shift, no idmapped mount) and as \
             root; and by root with the user's map, the rootfs shifted (figure reported); the \
             destroy after it is not timed",
            flows,
            sp,
            create_run,
            create_check,
            (1.2, Plan::new(args, 15, 1, Duration::from_secs(60))),
        );
        let outcomes = measure(&mut c);
        verdicts.extend(report(&c, &outcomes));
    }
    if args.wants("unpriv-start") {
        println!();
        let made: Vec<Option<String>> = four
            .iter()
            .map(|f| {
                let f = f.as_ref().ok()?;
                let n = &f.tool.name;
                f.ok(sp, f.tool.create(n), CREATE_TIMEOUT)
                    .err()
                    .map(|why| format!("its container could not be made: {why}"))
            })
            .collect();
        let mut c = comparison(
            "containers, unprivileged: start + attach /bin/true + stop -k, as a user and as \
             root",
            four,
            sp,
            cycle_run,
            cycle_check,
            (1.5, Plan::new(args, 30, 1, Duration::from_secs(60))),
        );
        for (v, why) in c.variants.iter_mut().zip(made) {
            v.unavailable = v.unavailable.take().or(why);
        }
        let outcomes = measure(&mut c);
        verdicts.extend(report(&c, &outcomes));
    }
    println!("unprivileged: took {:.0}s", started.elapsed().as_secs_f64());
    verdicts
}

type Step = fn(&Flow, &Spawner, &str) -> Result<Duration, String>;
type Check = fn(&Flow, &Spawner, &str) -> Result<(), String>;

/// The four variants; targets: each user's figure against root's.
fn comparison<'a>(
    title: &str,
    flows: &'a [Result<Flow, String>],
    sp: &'a Spawner,
    run: Step,
    check: Check,
    (max, plan): (f64, Plan),
) -> Comparison<'a> {
    let variants = flows
        .iter()
        .zip(VARIANTS)
        .map(|(f, name)| match f {
            Ok(f) => Variant {
                name,
                run: Box::new(move |n| run(f, sp, n)),
                check: Some(Box::new(move |n| check(f, sp, n))),
                unavailable: None,
            },
            Err(why) => unavailable(name, why.clone()),
        })
        .collect();
    Comparison {
        title: title.to_string(),
        variants,
        baseline: 0,
        targets: vec![
            Target::Ratio {
                variant: 1,
                reference: 0,
                max,
            },
            Target::Ratio {
                variant: 3,
                reference: 2,
                max,
            },
        ],
        plan,
    }
}

fn create_run(f: &Flow, sp: &Spawner, name: &str) -> Result<Duration, String> {
    let took = f.ok(sp, f.tool.create(name), CREATE_TIMEOUT)?;
    f.ok(sp, f.tool.destroy(name), TIMEOUT)
        .map_err(|why| format!("(untimed step) {why}"))?;
    Ok(took)
}

/// The container is STOPPED and its busybox belongs to the flow's root.
fn create_check(f: &Flow, sp: &Spawner, name: &str) -> Result<(), String> {
    f.ok(sp, f.tool.create(name), CREATE_TIMEOUT)?;
    let state = f.expect(sp, name, "STOPPED", "create");
    let busybox = f.tool.rootfs(name).join("bin/busybox");
    let owner = if owned_by(&busybox, f.root_uid) {
        Ok(())
    } else {
        Err(format!(
            "{} does not belong to host uid {}",
            busybox.display(),
            f.root_uid
        ))
    };
    f.ok(sp, f.tool.destroy(name), TIMEOUT)?;
    state.and(owner)
}

fn cycle_run(f: &Flow, sp: &Spawner, _: &str) -> Result<Duration, String> {
    let n = &f.tool.name;
    let start = f.ok(sp, f.tool.cmd("start", n), TIMEOUT)?;
    let attach = f.ok(sp, f.tool.inside("attach", n, &["/bin/true"]), TIMEOUT)?;
    let stop = f.ok(sp, f.stop(n), TIMEOUT)?;
    Ok(start + attach + stop)
}

/// Runs, init is the flow's root on the host, attach is root inside,
/// stops.
fn cycle_check(f: &Flow, sp: &Spawner, _: &str) -> Result<(), String> {
    let n = &f.tool.name;
    f.ok(sp, f.tool.cmd("start", n), TIMEOUT)?;
    let result = (|| {
        f.expect(sp, n, "RUNNING", "start")?;
        let mut info = f.tool.cmd("info", n);
        info.args(["-p", "-H"]);
        let ran = sp.ok(&mut f.wrap(info), TIMEOUT)?;
        let pid = ran.stdout.trim();
        let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
            .map_err(|e| format!("cannot read the status of init (pid {pid:?}): {e}"))?;
        let uid = status
            .lines()
            .find_map(|l| l.strip_prefix("Uid:"))
            .and_then(|l| l.split_whitespace().next())
            .unwrap_or("?");
        if uid != f.root_uid.to_string() {
            return Err(format!(
                "init (pid {pid}) runs as host uid {uid}, not {}",
                f.root_uid
            ));
        }
        let ran = sp.ok(
            &mut f.wrap(f.tool.inside("attach", n, &["id", "-u"])),
            TIMEOUT,
        )?;
        match ran.stdout.trim() {
            "0" => Ok(()),
            other => Err(format!("`{}` printed {other:?}, not 0", ran.line)),
        }
    })();
    f.ok(sp, f.stop(n), TIMEOUT)?;
    result?;
    f.expect(sp, n, "STOPPED", "stop")
}
