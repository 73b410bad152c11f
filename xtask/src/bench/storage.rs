//! `cargo xtask bench compare storage`: snapshots, ephemeral copies,
//! creates from the cached template, export and import, enclos against
//! lxc-snapshot, lxc-copy, lxc-create and `tar | zstd` (issue 10).
//!
//! On one stopped busybox container per tool, made once in the run's
//! lxcpaths ([`Sandbox`]):
//!
//! - `snapshot`: `snapshot -n C` against `lxc-snapshot -n C`; the snapshot
//!   is destroyed after each run, untimed;
//! - `ephemeral-start`: `copy -e -n C -N E` against `lxc-copy -e`, the
//!   stop -k after it untimed; `ephemeral-stop`: the other way round; each
//!   run waits (untimed) until the copy has vanished;
//! - `cached-create`: `create -B btrfs` (on the run's btrfs image) and
//!   `create -B overlay` from the busybox template, after a first create
//!   filled the cache, against `lxc-create -t busybox`.
//!
//! The 1 GiB measures (`snapshot-1g`, `export`) live in [`bigdata`] and
//! [`backup`].
//!
//! Both tools' busybox containers sit on one ext4 filesystem of the run's
//! own ([`Ext4`]: an image file with a journal, as mkfs.ext4 makes it by
//! default, loop-mounted), not on whatever filesystem holds `$TMPDIR`:
//! the measures then time the tools, not the other processes of the
//! machine. On a shared machine's disk, an overlay's unmount syncs every
//! process's dirty data, and on an ext4 without a journal every new inode
//! is found by scanning past those any process freed in the last 30 s
//! (`recently_deleted`, which took 85% of a snapshot's time in `perf`).

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use super::bigdata::{self, Big};
use super::containers::{
    availability, print_targets, timed, unavailable, untimed, with_tool, write_lxc_conf, Kind,
    Tool, BUSYBOX, CREATE_TIMEOUT, LXC, TIMEOUT,
};
use super::sandbox::Sandbox;
use super::spawn::Spawner;
use super::{backup, measure, report, CompareArgs, Comparison, Plan, Target, Variant, PREFIX};

/// The measures, by the names `--only` takes, in their order.
pub(super) const NAMES: &[&str] = &[
    "snapshot",
    "ephemeral-start",
    "ephemeral-stop",
    "cached-create",
    "snapshot-1g",
    "export",
];

const BUDGET: Duration = Duration::from_secs(40);

/// What every measure works with.
pub(super) struct Ctx {
    pub sp: Spawner,
    /// enclos's busybox container (dir), or why there is none.
    pub enclos: std::result::Result<Tool, String>,
    pub lxc: std::result::Result<Tool, String>,
    /// The btrfs image and the containers holding 1 GiB.
    pub big: std::result::Result<Big, String>,
    pub scratch: PathBuf,
    /// Times and peak RSS of the export measure's runs.
    pub figures: backup::Figures,
}

/// Runs the measures `--only` lets through; fails only when the harness
/// itself does.
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
    let name = format!("{PREFIX}{}-c", std::process::id());
    let ext4 = Ext4::set_up(&sp, sandbox.base()).map_err(anyhow::Error::msg)?;
    println!(
        "storage: busybox containers in {} (one per tool, made once, on the run's ext4 {})",
        ext4.point.display(),
        ext4.image.display()
    );
    let lxc = match availability("The LXC comparison", LXC).or(busybox) {
        Some(why) => Err(why),
        None => Tool {
            kind: Kind::Lxc,
            program: PathBuf::new(),
            dir: ext4.point.join("lxc"),
            conf: Some(conf),
            name: name.clone(),
            backend: None,
        }
        .set_up(&sp),
    };
    let enclos_tool = enclos.clone().and_then(|bin| {
        Tool {
            kind: Kind::Enclos,
            program: bin,
            dir: ext4.point.join("enclos"),
            conf: None,
            name,
            backend: None,
        }
        .set_up(&sp)
    });
    let wants_big = ["cached-create", "snapshot-1g", "export"]
        .iter()
        .any(|n| args.wants(n));
    let big = match (&enclos, wants_big) {
        (Err(why), _) => Err(why.clone()),
        (Ok(_), false) => Err("not needed by the measures asked for".into()),
        (Ok(bin), true) => {
            let data = args.wants("snapshot-1g") || args.wants("export");
            Big::set_up(&sp, bin, sandbox.base(), data)
        }
    };
    let ctx = Ctx {
        sp,
        enclos: enclos_tool,
        lxc,
        big,
        scratch,
        figures: Default::default(),
    };
    let started = Instant::now();
    let verdicts = measure_all(&ctx, args);
    print_targets("storage", Some(started), &verdicts);
    drop(ctx);
    drop(ext4);
    sandbox.finish()
}

/// The run's ext4 filesystem: an image file in the run's directory, made
/// with mkfs.ext4's defaults (a journal) and loop-mounted; unmounted and
/// removed when dropped, with the containers on it destroyed first by
/// [`Sandbox`]'s cleanup when the harness dies.
struct Ext4 {
    image: PathBuf,
    point: PathBuf,
    mounted: bool,
}

impl Ext4 {
    const BYTES: u64 = 2 << 30;

    fn set_up(sp: &Spawner, base: &std::path::Path) -> std::result::Result<Ext4, String> {
        let mut fs = Ext4 {
            image: base.join("ext4.img"),
            point: base.join("ext4"),
            mounted: false,
        };
        std::fs::create_dir_all(&fs.point)
            .map_err(|e| format!("cannot create {}: {e}", fs.point.display()))?;
        std::fs::File::create(&fs.image)
            .and_then(|f| f.set_len(Self::BYTES))
            .map_err(|e| format!("cannot make {}: {e}", fs.image.display()))?;
        sp.ok(
            Command::new("mkfs.ext4").args(["-q", "-F"]).arg(&fs.image),
            CREATE_TIMEOUT,
        )?;
        sp.ok(
            Command::new("mount")
                .args(["-o", "loop"])
                .arg(&fs.image)
                .arg(&fs.point),
            TIMEOUT,
        )?;
        fs.mounted = true;
        for d in ["enclos", "lxc"] {
            let d = fs.point.join(d);
            std::fs::create_dir_all(&d)
                .map_err(|e| format!("cannot create {}: {e}", d.display()))?;
        }
        Ok(fs)
    }
}

impl Drop for Ext4 {
    fn drop(&mut self) {
        if self.mounted {
            let umount = |lazy: bool| {
                let mut c = Command::new("umount");
                if lazy {
                    c.arg("--lazy");
                }
                c.arg(&self.point)
                    .stderr(std::process::Stdio::null())
                    .status()
                    .is_ok_and(|s| s.success())
            };
            if !umount(false) && !umount(true) {
                eprintln!("warning: cannot unmount {}", self.point.display());
            }
        }
        let _ = std::fs::remove_file(&self.image);
    }
}

/// Builds the comparison of one measure.
type Build = for<'a> fn(&'a Ctx, &CompareArgs) -> Vec<Comparison<'a>>;

fn measure_all(ctx: &Ctx, args: &CompareArgs) -> Vec<String> {
    let measures: [Build; 6] = [
        snapshot,
        ephemeral_start,
        ephemeral_stop,
        cached_create,
        bigdata::snapshots,
        backup::comparisons,
    ];
    let mut verdicts = Vec::new();
    for (build, name) in measures.into_iter().zip(NAMES) {
        if !args.wants(name) {
            continue;
        }
        // The measured runs of each variant, by name.
        let mut samples = Vec::new();
        for mut comparison in build(ctx, args) {
            println!();
            let outcomes = measure(&mut comparison);
            verdicts.extend(report(&comparison, &outcomes));
            for (v, o) in comparison.variants.iter().zip(outcomes) {
                samples.push((v.name, o.samples));
            }
        }
        if name == &"export" {
            verdicts.extend(backup::memory(ctx, &samples));
        }
    }
    verdicts
}

/// `snapshot -n C` / `lxc-snapshot -n C`.
fn snap_cmd(t: &Tool, extra: &[&str]) -> Command {
    let mut cmd = match t.kind {
        Kind::Enclos => {
            let mut c = Command::new(&t.program);
            c.arg("snapshot");
            c
        }
        Kind::Lxc => Command::new("lxc-snapshot"),
    };
    cmd.arg("-P").arg(&t.dir).arg("-n").arg(&t.name).args(extra);
    cmd
}

/// One snapshot of `t`'s container, timed; destroyed after, untimed.
pub(super) fn snap_run(t: &Tool, sp: &Spawner, _: &str) -> std::result::Result<Duration, String> {
    let took = timed(sp, &mut snap_cmd(t, &[]))?;
    untimed(sp, &mut snap_cmd(t, &["-d", "snap0"]))?;
    Ok(took)
}

/// A snapshot gives snaps/snap0/{config,ts}, and its destroy removes it.
pub(super) fn snap_check(t: &Tool, sp: &Spawner, _: &str) -> std::result::Result<(), String> {
    sp.ok(&mut snap_cmd(t, &[]), TIMEOUT)?;
    let snap = t.dir.join(&t.name).join("snaps/snap0");
    let found = ["config", "ts"].iter().all(|f| snap.join(f).is_file());
    sp.ok(&mut snap_cmd(t, &["-d", "snap0"]), TIMEOUT)?;
    if !found {
        return Err(format!(
            "after the snapshot, {}/{{config,ts}} are missing",
            snap.display()
        ));
    }
    if snap.exists() {
        return Err(format!(
            "after snapshot -d snap0, {} still exists",
            snap.display()
        ));
    }
    Ok(())
}

/// 1. A snapshot of the stopped container; destroyed after, untimed.
fn snapshot<'a>(ctx: &'a Ctx, args: &CompareArgs) -> Vec<Comparison<'a>> {
    let sp = &ctx.sp;
    vec![Comparison {
        title: "storage: snapshot of the stopped busybox container (dir; the snapshot's \
                destroy after it is not timed)"
            .into(),
        variants: vec![
            with_tool("lxc-snapshot", &ctx.lxc, sp, snap_run, snap_check),
            with_tool("enclos snapshot", &ctx.enclos, sp, snap_run, snap_check),
        ],
        baseline: 0,
        targets: vec![Target::Ratio {
            variant: 1,
            reference: 0,
            max: 0.2,
        }],
        plan: Plan::new(args, 30, 2, BUDGET),
    }]
}

/// `copy -e -n C -N NEW` / `lxc-copy -e -n C -N NEW`.
fn ephemeral(t: &Tool, new: &str) -> Command {
    let mut cmd = match t.kind {
        Kind::Enclos => {
            let mut c = Command::new(&t.program);
            c.arg("copy");
            c
        }
        Kind::Lxc => Command::new("lxc-copy"),
    };
    cmd.arg("-P")
        .arg(&t.dir)
        .args(["-e", "-n"])
        .arg(&t.name)
        .arg("-N")
        .arg(new);
    cmd
}

/// Waits (untimed) until the ephemeral copy `name` has left the lxcpath.
fn vanished(t: &Tool, name: &str) -> std::result::Result<(), String> {
    let dir = t.dir.join(name);
    let deadline = Instant::now() + Duration::from_secs(10);
    while dir.exists() {
        if Instant::now() > deadline {
            return Err(format!(
                "the ephemeral copy {} was still there 10 s after it stopped",
                dir.display()
            ));
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    Ok(())
}

/// Starts the copy, checks it runs, stops it, checks it vanished.
fn check_ephemeral(t: &Tool, sp: &Spawner, name: &str) -> std::result::Result<(), String> {
    sp.ok(&mut ephemeral(t, name), TIMEOUT)?;
    let running = t.expect(sp, name, "RUNNING", "copy -e");
    sp.ok(&mut t.stop(name, true), TIMEOUT)?;
    running?;
    vanished(t, name)
}

/// 2. Ephemeral copy start; its stop -k is not timed.
fn ephemeral_start<'a>(ctx: &'a Ctx, args: &CompareArgs) -> Vec<Comparison<'a>> {
    fn run(t: &Tool, sp: &Spawner, name: &str) -> std::result::Result<Duration, String> {
        let took = timed(sp, &mut ephemeral(t, name))?;
        untimed(sp, &mut t.stop(name, true))?;
        vanished(t, name)?;
        Ok(took)
    }
    ephemeral_comparison(
        ctx,
        args,
        "start: copy -e (the stop -k after it is not timed)",
        run,
    )
}

/// 3. Ephemeral copy stop -k; its start is not timed.
fn ephemeral_stop<'a>(ctx: &'a Ctx, args: &CompareArgs) -> Vec<Comparison<'a>> {
    fn run(t: &Tool, sp: &Spawner, name: &str) -> std::result::Result<Duration, String> {
        untimed(sp, &mut ephemeral(t, name))?;
        let took = timed(sp, &mut t.stop(name, true))?;
        vanished(t, name)?;
        Ok(took)
    }
    ephemeral_comparison(
        ctx,
        args,
        "stop -k (the copy -e before it is not timed)",
        run,
    )
}

fn ephemeral_comparison<'a>(
    ctx: &'a Ctx,
    args: &CompareArgs,
    what: &str,
    run: fn(&Tool, &Spawner, &str) -> std::result::Result<Duration, String>,
) -> Vec<Comparison<'a>> {
    let sp = &ctx.sp;
    let (lxc, enclos) = if what.starts_with("start") {
        ("lxc-copy -e", "enclos copy -e")
    } else {
        ("lxc-stop -k", "enclos stop -k")
    };
    vec![Comparison {
        title: format!(
            "storage: ephemeral copy of the stopped busybox container, {what}; the copy's \
             vanishing is awaited untimed"
        ),
        variants: vec![
            with_tool(lxc, &ctx.lxc, sp, run, check_ephemeral),
            with_tool(enclos, &ctx.enclos, sp, run, check_ephemeral),
        ],
        baseline: 0,
        targets: vec![Target::Ratio {
            variant: 1,
            reference: 0,
            max: 0.5,
        }],
        plan: Plan::new(args, 20, 1, BUDGET),
    }]
}

/// 4. A second create from the busybox template, on btrfs and overlay,
///    against lxc-create (dir); the destroy after it is not timed.
fn cached_create<'a>(ctx: &'a Ctx, args: &CompareArgs) -> Vec<Comparison<'a>> {
    fn run(t: &Tool, sp: &Spawner, name: &str) -> std::result::Result<Duration, String> {
        let took = sp.ok(&mut t.create(name), CREATE_TIMEOUT)?.elapsed;
        untimed(sp, &mut t.destroy(name))?;
        Ok(took)
    }
    fn check(t: &Tool, sp: &Spawner, name: &str) -> std::result::Result<(), String> {
        sp.ok(&mut t.create(name), CREATE_TIMEOUT)?;
        let state = t.expect(sp, name, "STOPPED", "create");
        sp.ok(&mut t.destroy(name), TIMEOUT)?;
        state
    }
    let sp = &ctx.sp;
    let on = |backend: &'static str, name: &'static str| -> Variant<'a> {
        match &ctx.big {
            Ok(big) => {
                let tool = big.creator(backend);
                Variant {
                    name,
                    run: Box::new(move |n| run(tool, sp, n)),
                    check: Some(Box::new(move |n| check(tool, sp, n))),
                    unavailable: None,
                }
            }
            Err(why) => unavailable(name, why.clone()),
        }
    };
    vec![Comparison {
        title: "storage: create a busybox container, the template's rootfs already cached \
                (btrfs: on the run's btrfs image; overlay and LXC: in the run's directory; \
                the destroy after it is not timed)"
            .into(),
        variants: vec![
            with_tool("lxc-create", &ctx.lxc, sp, run, check),
            on("btrfs", "enclos create -B btrfs"),
            on("overlay", "enclos create -B overlay"),
        ],
        baseline: 0,
        targets: vec![
            Target::Ratio {
                variant: 1,
                reference: 0,
                max: 0.1,
            },
            Target::Ratio {
                variant: 2,
                reference: 0,
                max: 0.1,
            },
        ],
        plan: Plan::new(args, 15, 1, BUDGET),
    }]
}
