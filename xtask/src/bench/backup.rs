//! `export`: export and import of the busybox container holding 1 GiB
//! (on the run's btrfs image), against `tar -C rootfs -cf - . | zstd -T0`
//! of the same tree (and `-T1`, zstd's speed on one thread), and against
//! `zstd -dc | tar -x` of the export. enclos's commands run
//! under `bench maxrss` ([`rusage`]), which adds a few milliseconds of
//! its own to seconds of work and gives their peak RSS (`ru_maxrss`,
//! wait4's figure). The issue asks that export be limited by zstd's own
//! speed (reported in MB/s beside `tar | zstd -T0`, no factor stated) and
//! that both stay under 64 MiB of RSS whatever the size.

use std::cell::RefCell;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::rc::Rc;
use std::time::Duration;

use super::bigdata::{DATA_BYTES, DATA_DIR};
use super::containers::{unavailable, Tool, CREATE_TIMEOUT};
use super::spawn::Spawner;
use super::storage::Ctx;
use super::{rusage, CompareArgs, Comparison, Plan, Variant};

/// Peak RSS target of export and import, MiB.
const MAX_RSS_MIB: f64 = 64.0;
/// The labels of the figures kept for [`memory`].
const EXPORT: &str = "enclos export";
const IMPORT: &str = "enclos import";
const TAR_ZSTD: &str = "tar | zstd -T0";
/// zstd on one thread: the speed of zstd alone, without its workers.
const TAR_ZSTD_1: &str = "tar | zstd -T1";

/// The peak RSS of each run of the enclos variants, in KiB, by label.
pub(super) type Figures = RefCell<Vec<(&'static str, u64)>>;

/// The export comparison, then the import one.
pub(super) fn comparisons<'a>(ctx: &'a Ctx, args: &CompareArgs) -> Vec<Comparison<'a>> {
    let source = match &ctx.big {
        Ok(big) => big.with_data[1].as_ref().map_err(Clone::clone),
        Err(why) => Err(why.clone()),
    };
    let plan = Plan::new(args, 5, 1, Duration::from_secs(240));
    let title = |what: &str| {
        format!(
            "storage: {what} of a busybox container holding 1 GiB of random text (on btrfs; \
             MB/s and peak RSS follow the targets)"
        )
    };
    let (export, import) = match source {
        Ok(t) => {
            let env = Rc::new(Env::new(ctx, t));
            (
                vec![
                    tar_zstd(ctx, &env, TAR_ZSTD, "0"),
                    enclos_export(ctx, &env),
                    tar_zstd(ctx, &env, TAR_ZSTD_1, "1"),
                ],
                import_variants(ctx, &env),
            )
        }
        Err(why) => (
            vec![
                unavailable(TAR_ZSTD, why.clone()),
                unavailable(EXPORT, why.clone()),
                unavailable(TAR_ZSTD_1, why.clone()),
            ],
            vec![
                unavailable("zstd -dc | tar -x", why.clone()),
                unavailable(IMPORT, why),
            ],
        ),
    };
    [(title("export"), export), (title("import"), import)]
        .into_iter()
        .map(|(title, variants)| Comparison {
            title,
            variants,
            baseline: 0,
            targets: Vec::new(),
            plan,
        })
        .collect()
}

/// Paths shared by the variants.
struct Env {
    tool: Tool,
    rootfs: PathBuf,
    scratch: PathBuf,
    /// Where imports go (an lxcpath).
    imports: PathBuf,
    /// An export made once for the imports, or why there is none.
    archive: Result<PathBuf, String>,
}

impl Env {
    fn new(ctx: &Ctx, t: &Tool) -> Env {
        let imports = ctx.scratch.join("imports");
        let archive = ctx.scratch.join("import-source.tar.zst");
        let made = fs::create_dir_all(&imports)
            .map_err(|e| format!("cannot create {}: {e}", imports.display()))
            .and_then(|()| ctx.sp.ok(&mut export_cmd(t, &archive), CREATE_TIMEOUT))
            .map(|_| archive);
        Env {
            tool: Tool { ..clone_tool(t) },
            rootfs: t.rootfs(&t.name),
            scratch: ctx.scratch.clone(),
            imports,
            archive: made,
        }
    }

    fn out(&self, run: &str) -> PathBuf {
        self.scratch.join(format!("{run}.tar.zst"))
    }
}

fn clone_tool(t: &Tool) -> Tool {
    Tool {
        kind: t.kind,
        program: t.program.clone(),
        dir: t.dir.clone(),
        conf: t.conf.clone(),
        name: t.name.clone(),
        backend: t.backend,
    }
}

fn export_cmd(t: &Tool, out: &Path) -> Command {
    let mut cmd = t.cmd("export", &t.name);
    cmd.arg("-q").arg("-o").arg(out);
    cmd
}

/// Fails unless `path` is a file of at least `min` bytes.
fn sized(path: &Path, min: u64) -> Result<(), String> {
    match fs::metadata(path) {
        Ok(m) if m.len() >= min => Ok(()),
        Ok(m) => Err(format!("{} holds {} bytes only", path.display(), m.len())),
        Err(e) => Err(format!("{} was not written: {e}", path.display())),
    }
}

/// Runs `cmd` under `bench maxrss`: its time and peak RSS.
fn with_rss(sp: &Spawner, env: &Env, run: &str, cmd: &Command) -> Result<(Duration, u64), String> {
    let file = env.scratch.join(format!("{run}.maxrss"));
    let ran = sp.ok(&mut rusage::wrap(&file, cmd), CREATE_TIMEOUT)?;
    let kib = rusage::read_kib(&file);
    let _ = fs::remove_file(&file);
    Ok((ran.elapsed, kib?))
}

/// `tar -C ROOTFS -cf - . | zstd -q -T<threads> > FILE`.
fn tar_zstd<'a>(
    ctx: &'a Ctx,
    env: &Rc<Env>,
    name: &'static str,
    threads: &'static str,
) -> Variant<'a> {
    let sp = &ctx.sp;
    let command = move |env: &Env, run: &str| {
        let mut cmd = Command::new("sh");
        cmd.args(["-c", r#"tar -C "$R" -cf - . | zstd -q "-T$N" > "$F""#])
            .env("R", &env.rootfs)
            .env("N", threads)
            .env("F", env.out(run));
        cmd
    };
    let (e1, e2) = (env.clone(), env.clone());
    Variant {
        name,
        run: Box::new(move |run| {
            let took = sp
                .ok(&mut command(&e1, run), CREATE_TIMEOUT)
                .map(|r| r.elapsed);
            let _ = fs::remove_file(e1.out(run));
            took
        }),
        check: Some(Box::new(move |run| {
            let ran = sp.ok(&mut command(&e2, run), CREATE_TIMEOUT).map(|_| ());
            let size = sized(&e2.out(run), DATA_BYTES / 2);
            let _ = fs::remove_file(e2.out(run));
            ran.and(size)
        })),
        unavailable: None,
    }
}

fn enclos_export<'a>(ctx: &'a Ctx, env: &Rc<Env>) -> Variant<'a> {
    let (sp, figures) = (&ctx.sp, &ctx.figures);
    let (e1, e2) = (env.clone(), env.clone());
    Variant {
        name: EXPORT,
        run: Box::new(move |run| {
            let took = with_rss(sp, &e1, run, &export_cmd(&e1.tool, &e1.out(run)));
            let _ = fs::remove_file(e1.out(run));
            let (took, kib) = took?;
            figures.borrow_mut().push((EXPORT, kib));
            Ok(took)
        }),
        check: Some(Box::new(move |run| {
            let ran = sp.ok(&mut export_cmd(&e2.tool, &e2.out(run)), CREATE_TIMEOUT);
            let size = sized(&e2.out(run), DATA_BYTES / 2);
            let _ = fs::remove_file(e2.out(run));
            ran.and(size)
        })),
        unavailable: None,
    }
}

/// `zstd -dc ARCHIVE | tar -x` into a directory, and `enclos import`.
fn import_variants<'a>(ctx: &'a Ctx, env: &Rc<Env>) -> Vec<Variant<'a>> {
    let archive = match &env.archive {
        Ok(a) => a.clone(),
        Err(why) => {
            let why = format!("the export to import failed: {why}");
            return vec![
                unavailable("zstd -dc | tar -x", why.clone()),
                unavailable(IMPORT, why),
            ];
        }
    };
    let (sp, figures) = (&ctx.sp, &ctx.figures);
    let untar = {
        let (env, archive) = (env.clone(), archive.clone());
        move |run: &str| {
            let dir = env.imports.join(format!("{run}.tar"));
            let mut cmd = Command::new("sh");
            cmd.args([
                "-c",
                r#"mkdir "$D" && zstd -q -dc "$A" | tar -C "$D" -xf -"#,
            ])
            .env("D", &dir)
            .env("A", &archive);
            let took = sp.ok(&mut cmd, CREATE_TIMEOUT).map(|r| r.elapsed);
            let data = dir.join("rootfs").join(DATA_DIR).join("00");
            let found = sized(&data, DATA_BYTES / 32);
            let _ = fs::remove_dir_all(&dir);
            took.and_then(|t| found.map(|()| t))
        }
    };
    let import = {
        let env = env.clone();
        move |run: &str| {
            let mut t = clone_tool(&env.tool);
            t.dir = env.imports.clone();
            let mut cmd = t.cmd("import", run);
            cmd.arg("-q").arg(&archive);
            // `import FILE -n NAME`: the archive is an operand.
            let took = with_rss(sp, &env, run, &cmd);
            let data = t.rootfs(run).join(DATA_DIR).join("00");
            let found = sized(&data, DATA_BYTES / 32);
            let destroyed = sp.ok(&mut t.destroy(run), CREATE_TIMEOUT).map(|_| ());
            let (took, kib) = took?;
            found.and(destroyed)?;
            figures.borrow_mut().push((IMPORT, kib));
            Ok(took)
        }
    };
    vec![
        Variant {
            name: "zstd -dc | tar -x",
            run: Box::new(untar),
            check: None,
            unavailable: None,
        },
        Variant {
            name: IMPORT,
            run: Box::new(import),
            check: None,
            unavailable: None,
        },
    ]
}

/// MB/s of the exports, and the peak RSS of export and import against
/// the target; the verdict lines.
pub(super) fn memory(ctx: &Ctx, samples: &[(&str, Vec<Duration>)]) -> Vec<String> {
    let figures = ctx.figures.borrow();
    let mut lines = Vec::new();
    println!();
    let mbs = |label: &str| {
        let runs = samples.iter().find(|(n, _)| *n == label)?.1.clone();
        let n = runs.len();
        median(runs).map(|m| (DATA_BYTES as f64 / 1e6 / m.as_secs_f64(), m, n))
    };
    for label in [TAR_ZSTD, TAR_ZSTD_1, EXPORT, IMPORT] {
        if let Some((rate, median, n)) = mbs(label) {
            println!(
                "{label}: 1 GiB in {:.2} s (median of {n}): {rate:.0} MB/s",
                median.as_secs_f64()
            );
        }
    }
    let claim = "Target (reported; the issue states no factor): enclos export limited by \
                 zstd's own speed";
    lines.push(match (mbs(EXPORT), mbs(TAR_ZSTD), mbs(TAR_ZSTD_1)) {
        (Some((ours, ..)), Some((all, ..)), one) => format!(
            "{claim}: enclos export {ours:.0} MB/s beside tar | zstd -T0 {all:.0} MB/s \
             ({:.2}x its rate){}",
            ours / all,
            one.map(|(one, ..)| format!(" and tar | zstd -T1 {one:.0} MB/s ({:.2}x)", ours / one))
                .unwrap_or_default()
        ),
        _ => format!("{claim}: not evaluated (a variant has no measurement)"),
    });
    for label in [EXPORT, IMPORT] {
        let peak = figures
            .iter()
            .filter(|(l, _)| *l == label)
            .map(|(_, k)| *k)
            .max();
        lines.push(rusage::verdict(
            label,
            "peak RSS (ru_maxrss) for 1 GiB",
            peak,
            MAX_RSS_MIB,
        ));
    }
    for line in &lines {
        println!("{line}");
    }
    lines
}

fn median(mut v: Vec<Duration>) -> Option<Duration> {
    v.sort();
    v.get(v.len() / 2).copied()
}
