//! `cargo xtask lab vm`: boots a fresh copy of the lab image (a qcow2
//! overlay on the cached image, two empty disks for LVM and btrfs) and
//! plays the course labs inside with the release binary, then prints a
//! result per lab and exits with the labs' status.
//!
//! The run's files go to the guest over 9p (`target/vm/runs/<pid>/share`:
//! the binary, a copy of lab/, the payload `lab/guest/payload-labs.sh`,
//! and, when lab/escape-suite.sh is among the labs, the escape suite's
//! test binary and probe built here, see [`super::escape`]);
//! the guest writes each lab's output back there and its results on the
//! second serial port. The console, the results and each lab's output are
//! kept in `target/vm/logs/<init>-cgroup-<version>[-with-<part>]/` (the last run of each
//! kind).
//!
//! With `--deb`, the Debian package goes into the share too, and after the
//! labs the guest installs it with apt and checks it as a user would
//! (`lab/guest/package-check.sh`, the result `package`). That check
//! reboots the guest once: QEMU runs with `-no-reboot`, so the guest's
//! clean reboot ends it, and when the guest said `ENCLOS_VM_REBOOT` first,
//! the same disks boot again (console and results of that boot in
//! `console-boot2.log`, `results-boot2.txt`).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use super::escape;
use super::image::{self, repo_file, Extra, Image};
use super::qemu::{self, AccelChoice, Disk, Machine, Watch};
use super::{remove_dir_all_if_exists, secs, sh_quote, vm_dir, ImageArgs};
use crate::deps;
use crate::process::{build_enclos_release, find_program, is_root, show, workspace_root, Failed};

/// The exit code by which a lab says "skipped" (see lab/lib.sh).
const LAB_SKIPPED: i32 = 77;

/// The guest's cgroup layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum CgroupMode {
    /// The unified hierarchy only (Debian 12's default).
    V2,
    /// One v1 hierarchy per controller.
    V1,
    /// v1 controllers, and cgroup2 (no controllers) on
    /// /sys/fs/cgroup/unified.
    Hybrid,
}

impl CgroupMode {
    fn name(self) -> &'static str {
        match self {
            CgroupMode::V2 => "v2",
            CgroupMode::V1 => "v1",
            CgroupMode::Hybrid => "hybrid",
        }
    }

    /// What systemd needs on the kernel command line for this layout.
    fn systemd_cmdline(self) -> &'static str {
        match self {
            CgroupMode::V2 => "systemd.unified_cgroup_hierarchy=1",
            CgroupMode::V1 => {
                "systemd.unified_cgroup_hierarchy=0 systemd.legacy_systemd_cgroup_controller=1"
            }
            CgroupMode::Hybrid => {
                "systemd.unified_cgroup_hierarchy=0 systemd.legacy_systemd_cgroup_controller=0"
            }
        }
    }
}

#[derive(Debug, clap::Parser)]
#[command(name = "lab vm")]
pub struct Args {
    /// Boot Debian's systemd, as a trainee's machine does (the default).
    #[arg(long, conflicts_with = "plain")]
    pub systemd: bool,
    /// Boot without systemd: a small init of ours mounts the cgroup
    /// hierarchy, then runs the labs (a few seconds faster).
    #[arg(long)]
    pub plain: bool,
    /// The guest's cgroup layout: through systemd's kernel command line,
    /// or the plain init's own mounts.
    #[arg(long, value_enum, default_value_t = CgroupMode::V2)]
    pub cgroup: CgroupMode,
    // The help is an attribute, not a doc comment, so rustdoc does not
    // read `<init>` as an HTML tag.
    #[arg(
        long,
        short,
        help = "Also show the guest's console as it runs (it always goes to \
                target/vm/logs/<init>-cgroup-<version>/console.log)"
    )]
    pub verbose: bool,
    /// The accelerator: KVM when a probe boot shows it works, else TCG.
    #[arg(long, value_enum, default_value_t = AccelChoice::Auto, env = "ENCLOS_VM_ACCEL")]
    pub accel: AccelChoice,
    /// Seconds after which the whole run fails and QEMU is killed.
    #[arg(long, default_value_t = 1200, env = "ENCLOS_VM_TIMEOUT")]
    pub timeout: u64,
    /// Seconds after which one lab is killed (and fails).
    #[arg(long, default_value_t = 600)]
    pub lab_timeout: u64,
    /// More kernel command line for the guest (e.g. `loglevel=7`).
    #[arg(long, value_name = "ARGS")]
    pub append: Option<String>,
    #[command(flatten)]
    pub image: ImageArgs,
    /// After the labs, install this Debian package in the guest with apt
    /// and check it as a user would: man pages, completion, checkconfig,
    /// a container with lxc.start.auto = 1 RUNNING after a reboot of the
    /// guest, then apt purge (lab/guest/package-check.sh).
    #[arg(long, value_name = "DEB", conflicts_with = "plain")]
    pub deb: Option<PathBuf>,
    /// The labs to run, by file name in lab/ (lab1-cgroups.sh or
    /// lab1-cgroups); by default every lab/lab*.sh, then
    /// lab/escape-suite.sh (the escape suite, tests/escape.rs, run in the
    /// guest).
    pub labs: Vec<String>,
}

impl Args {
    fn plain(&self) -> bool {
        self.plain && !self.systemd
    }

    /// The guest's init, as the messages name it.
    fn init_name(&self) -> &'static str {
        if self.plain() {
            "plain init"
        } else {
            "systemd"
        }
    }

    /// What the run reports on: the labs, then the package check.
    fn checks(&self, labs: &[String]) -> Vec<String> {
        let mut checks = labs.to_vec();
        if self.deb.is_some() {
            checks.push(PACKAGE_CHECK.to_string());
        }
        checks
    }
}

/// The name under which the guest reports the package check.
const PACKAGE_CHECK: &str = "package";

/// The guest's word for "reboot me" on the results port.
const REBOOT_MARKER: &str = "ENCLOS_VM_REBOOT";

/// `cargo xtask lab vm`.
pub fn run(args: &Args) -> Result<()> {
    deps::ensure("The VM lab", deps::VM)?;
    // A lab that does not exist fails before anything is built.
    select_labs(&args.labs, &args.image.with)?;
    if let Some(deb) = &args.deb {
        if !deb.is_file() {
            bail!(Failed::new(
                2,
                format!(
                    "--deb {}: no such file; build the package with `cargo xtask dist`",
                    deb.display()
                )
            ));
        }
    }
    let enclos = build_enclos_release()?;
    run_labs(&enclos, args)
}

/// The VM lab as a step of `cargo xtask test`: every lab in a Debian 12
/// guest under systemd with cgroup v2 (what this host lacks), followed in
/// the same guest by the check of the package `deb` when there is one,
/// then every lab with cgroup v1. Skipped (with the reason) when this host has no QEMU or is
/// not root, unless `ENCLOS_REQUIRE_PRIVILEGED=1`, which installs QEMU
/// instead. `ENCLOS_VM_LABS` (lab names, space-separated) narrows the labs.
pub fn test_step(enclos: &Path, deb: Option<&Path>) -> Result<()> {
    let required = enclos_testkit::privileged_required();
    if !required {
        if find_program("qemu-system-x86_64").is_none() {
            println!(
                "==> vm lab: SKIPPED: qemu-system-x86_64 is not installed. Install it with\n    \
                 {}\n  or run with ENCLOS_REQUIRE_PRIVILEGED=1, which installs it",
                deps::install_hint(&["qemu-system-x86", "qemu-utils"])
            );
            return Ok(());
        }
        if !is_root() {
            println!(
                "==> vm lab: SKIPPED: building the VM's image needs root (run the tests as root)"
            );
            return Ok(());
        }
    }
    deps::ensure("The VM lab", deps::VM)?;
    let labs: Vec<String> = std::env::var("ENCLOS_VM_LABS")
        .unwrap_or_default()
        .split_whitespace()
        .map(str::to_string)
        .collect();
    let mut failed = Vec::new();
    for cgroup in [CgroupMode::V2, CgroupMode::V1] {
        let mut args = <Args as clap::Parser>::parse_from(["lab vm"]);
        args.cgroup = cgroup;
        args.labs = labs.clone();
        if cgroup == CgroupMode::V2 {
            args.deb = deb.map(Path::to_path_buf);
        }
        let command = format!(
            "cargo xtask lab vm --cgroup {}{}{}",
            cgroup.name(),
            args.deb
                .as_ref()
                .map(|d| format!(" --deb {}", d.display()))
                .unwrap_or_default(),
            labs.iter().map(|l| format!(" {l}")).collect::<String>()
        );
        println!();
        println!("==> vm lab: {command}");
        if let Err(e) = run_labs(enclos, &args) {
            eprintln!("error: {e:#}");
            failed.push((cgroup.name(), command));
        }
    }
    match failed.as_slice() {
        [] => Ok(()),
        [(_, command), ..] => bail!(Failed::new(
            1,
            format!(
                "The VM lab failed with cgroup {} (see above); run it alone with `{command}`",
                failed
                    .iter()
                    .map(|(c, _)| *c)
                    .collect::<Vec<_>>()
                    .join(" and "),
            )
        )),
    }
}

/// How one lab ended.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Verdict {
    Pass,
    Skip,
    Fail(i32),
    /// The VM stopped before the lab ended.
    NotRun,
}

#[derive(Debug)]
struct LabResult {
    lab: String,
    verdict: Verdict,
    secs: Option<u64>,
}

/// Plays the labs named in `args` (all by default) inside a fresh VM with
/// the binary `enclos`.
pub fn run_labs(enclos: &Path, args: &Args) -> Result<()> {
    let labs = select_labs(&args.labs, &args.image.with)?;
    let suite = if labs.iter().any(|l| l == escape::LAB) {
        Some(escape::build()?)
    } else {
        None
    };
    let image = image::ensure(&args.image.options(false))?;

    let runs = vm_dir().join("runs");
    remove_stale_runs(&runs);
    let run = RunDir::create(&runs.join(std::process::id().to_string()))?;
    let accel = qemu::choose_accel(&image, args.accel, &run.0)?;
    let share = write_share(&run.0, enclos, suite.as_ref(), &labs, args)?;
    let disks = lab_disks(&image, &run.0)?;
    let logs = logs_dir(args)?;
    let mut machine = Machine {
        kernel: image.kernel.clone(),
        initramfs: image.initramfs.clone(),
        cmdline: lab_cmdline(args),
        accel,
        memory_mib: if args.image.with.contains(&Extra::Ceph) {
            4096
        } else {
            2048
        },
        cpus: 2,
        cpu_model: args.image.with.contains(&Extra::Ceph).then_some("max"),
        disks,
        share: Some(share.clone()),
        console: logs.join("console.log"),
        results: logs.join("results.txt"),
        qemu_log: logs.join("qemu.log"),
    };
    let checks = args.checks(&labs);
    let outcome = boot_and_reboot(&mut machine, args, &checks, &logs)?;

    keep_lab_outputs(&share, &logs);
    let results = parse_results(&checks, &outcome.results);
    print_summary(&results, &logs, &outcome, args);
    check_vm_ended(&outcome, &machine)?;
    check_labs(&results, &logs)?;
    check_payload_exit(&outcome, &machine)?;
    check_skips(&results)
}

/// The share: the binary, lab/, the payload and its settings (run.env),
/// the escape suite when a lab runs it, and the package of `--deb`.
fn write_share(
    run: &Path,
    enclos: &Path,
    suite: Option<&escape::Suite>,
    labs: &[String],
    args: &Args,
) -> Result<PathBuf> {
    let share = run.join("share");
    std::fs::create_dir_all(share.join("out"))
        .with_context(|| format!("Cannot create {}", share.display()))?;
    std::fs::copy(enclos, share.join("enclos")).with_context(|| {
        format!(
            "Cannot copy {} into the VM's share {}",
            enclos.display(),
            share.display()
        )
    })?;
    // The setuid helper of users' veths, built beside enclos: lab 2.6
    // installs it setuid in its own directory.
    // The trampoline of containers' init, beside enclos in the guest too.
    for name in crate::dist::BESIDE {
        let program = enclos.with_file_name(name);
        if program.is_file() {
            std::fs::copy(&program, share.join(name)).with_context(|| {
                format!("Cannot copy {} into the VM's share", program.display())
            })?;
        }
    }
    copy_dir(&workspace_root().join("lab"), &share.join("lab"))?;
    if let Some(suite) = suite {
        escape::copy_into(suite, &share)?;
    }
    std::fs::write(
        share.join("payload.sh"),
        repo_file("lab/guest/payload-labs.sh")?,
    )
    .context("Cannot write the VM's payload")?;
    let mut env = format!(
        "LABS='{}'\nLAB_TIMEOUT={}\n",
        labs.join(" "),
        args.lab_timeout
    );
    if let Some(deb) = &args.deb {
        let name = deb
            .file_name()
            .with_context(|| format!("--deb {} names no file", deb.display()))?;
        std::fs::copy(deb, share.join(name))
            .with_context(|| format!("Cannot copy {} into the VM's share", deb.display()))?;
        env.push_str(&format!("DEB={}\n", sh_quote(&name.to_string_lossy())));
    }
    std::fs::write(share.join("run.env"), env).context("Cannot write the VM's run.env")?;
    Ok(share)
}

/// The disks: a throwaway overlay on the image, two empty sparse disks
/// (for LVM and btrfs).
fn lab_disks(image: &Image, run: &Path) -> Result<Vec<Disk>> {
    let overlay = run.join("root.qcow2");
    overlay_on(image, &overlay)?;
    let mut disks = vec![Disk {
        id: "root",
        path: overlay,
        format: "qcow2",
        readonly: false,
    }];
    for id in ["lvm", "btrfs"] {
        let path = run.join(format!("{id}.raw"));
        let file = std::fs::File::create(&path)
            .with_context(|| format!("Cannot create {}", path.display()))?;
        file.set_len(8 << 30)
            .with_context(|| format!("Cannot size {}", path.display()))?;
        disks.push(Disk {
            id,
            path,
            format: "raw",
            readonly: false,
        });
    }
    Ok(disks)
}

/// `target/vm/logs/<init>-cgroup-<version>[-with-<part>...]/`, emptied
/// for this run.
fn logs_dir(args: &Args) -> Result<PathBuf> {
    let mut extras = args.image.with.clone();
    extras.sort();
    extras.dedup();
    let logs = vm_dir().join("logs").join(format!(
        "{}-cgroup-{}{}",
        if args.plain() { "plain" } else { "systemd" },
        args.cgroup.name(),
        extras
            .iter()
            .map(|e| format!("-with-{}", e.name()))
            .collect::<String>()
    ));
    remove_dir_all_if_exists(&logs)?;
    std::fs::create_dir_all(&logs).with_context(|| format!("Cannot create {}", logs.display()))?;
    Ok(logs)
}

/// AppArmor on, as on a Debian or Ubuntu host: the confinement lab checks
/// the profile enclos loads for a container.
const APPARMOR_CMDLINE: &str = "apparmor=1 security=apparmor";

/// The guest's kernel command line: the console, the cgroup layout,
/// AppArmor, the init, and `--append`.
fn lab_cmdline(args: &Args) -> String {
    let mut cmdline = format!(
        "console=ttyS0 panic=-1 enclos.lab enclos.cgroup={} {APPARMOR_CMDLINE}",
        args.cgroup.name()
    );
    if args.plain() {
        cmdline.push_str(" init=/usr/local/sbin/enclos-vm-boot");
    } else {
        cmdline.push(' ');
        cmdline.push_str(args.cgroup.systemd_cmdline());
    }
    if let Some(extra) = &args.append {
        cmdline.push(' ');
        cmdline.push_str(extra);
    }
    cmdline
}

/// Boots `machine` and, when the guest asked for a reboot before its
/// payload ended, boots the same disks once more, with the console and
/// results of that boot in `*-boot2.*` files of `logs` (`machine` then
/// names them). The outcome is the last boot's, with the results and
/// time of both.
fn boot_and_reboot(
    machine: &mut Machine,
    args: &Args,
    checks: &[String],
    logs: &Path,
) -> Result<qemu::Outcome> {
    let first = boot(machine, args, checks)?;
    let rebooted = first.killed.is_none()
        && !first.ended
        && qemu::result_lines(&first.results).any(|l| l == REBOOT_MARKER);
    if !rebooted {
        return Ok(first);
    }
    machine.console = logs.join("console-boot2.log");
    machine.results = logs.join("results-boot2.txt");
    println!(
        "==> lab vm: the guest rebooted after {}; booting its disks again",
        secs(first.elapsed)
    );
    let mut second = boot(machine, args, checks)?;
    second.results = first.results + &second.results;
    second.elapsed += first.elapsed;
    Ok(second)
}

/// Boots `machine`, says so, and prints the guest's progress until it
/// ends.
fn boot(machine: &Machine, args: &Args, labs: &[String]) -> Result<qemu::Outcome> {
    let watch = Watch {
        start_marker: "ENCLOS_VM_START",
        end_marker: "ENCLOS_LAB_EXIT=",
        boot_timeout: Duration::from_secs(300),
        timeout: Duration::from_secs(args.timeout),
        verbose: args.verbose,
    };
    println!(
        "==> lab vm: booting Debian 12 ({}, cgroup {}, {}) for {}; console in {}",
        args.init_name(),
        args.cgroup.name(),
        machine.accel.name(),
        labs.join(", "),
        machine.console.display()
    );
    if args.verbose {
        println!("    {}", show(&machine.command()));
    }
    let booted = Instant::now();
    let outcome = qemu::run(machine, &watch, &mut |line| progress(line, booted))?;
    if !emulator_crashed_early(&outcome, &machine.qemu_log) {
        return Ok(outcome);
    }
    // QEMU's TCG has rare assertion failures of its own (seen:
    // iotlb_to_section while the kernel probes PCI): the guest had not
    // started its payload, so the same disks boot again, once.
    println!(
        "==> lab vm: QEMU itself crashed while the guest booted{}; booting again, once",
        qemu_said(&machine.qemu_log)
    );
    let booted = Instant::now();
    qemu::run(machine, &watch, &mut |line| progress(line, booted))
}

/// QEMU died of SIGABRT (one of its assertions) before the guest wrote
/// anything on the results port.
fn emulator_crashed_early(outcome: &qemu::Outcome, qemu_log: &Path) -> bool {
    use std::os::unix::process::ExitStatusExt;
    let aborted = outcome.status.and_then(|s| s.signal()) == Some(6); // SIGABRT
    aborted
        && outcome.killed.is_none()
        && outcome.results.trim().is_empty()
        && qemu::tail(qemu_log, 10).contains("Assertion")
}

/// Keeps each lab's output next to the console log.
fn keep_lab_outputs(share: &Path, logs: &Path) {
    if let Ok(entries) = std::fs::read_dir(share.join("out")) {
        for entry in entries.flatten() {
            let _ = std::fs::copy(entry.path(), logs.join(entry.file_name()));
        }
    }
}

/// Prints the console's last lines, before an error that points at them.
fn print_console_tail(console: &Path) {
    println!(
        "---- last lines of the console ({}) ----",
        console.display()
    );
    println!("{}", qemu::tail(console, 40));
    println!("---- end of the console ----");
}

/// Fails when QEMU was killed, when the guest stopped before the labs'
/// end, or when the guest reported an error of its own.
fn check_vm_ended(outcome: &qemu::Outcome, machine: &Machine) -> Result<()> {
    let guest_error: Vec<&str> = qemu::result_lines(&outcome.results)
        .filter_map(|l| l.strip_prefix("ENCLOS_VM_ERROR "))
        .collect();
    if let Some(reason) = &outcome.killed {
        print_console_tail(&machine.console);
        bail!(Failed::new(
            1,
            format!(
                "The lab VM failed: {reason}, so QEMU was killed; the console's last lines are \
                 above (all of it in {})",
                machine.console.display()
            )
        ));
    }
    if outcome.ended && guest_error.is_empty() {
        return Ok(());
    }
    print_console_tail(&machine.console);
    let why = if !guest_error.is_empty() {
        format!("the guest says: {}", guest_error.join("; "))
    } else {
        format!(
            "the guest stopped ({}) before reporting the labs' end{}",
            outcome
                .status
                .map(|s| format!("QEMU {s}"))
                .unwrap_or_else(|| "QEMU's status unknown".into()),
            qemu_said(&machine.qemu_log)
        )
    };
    bail!(Failed::new(
        1,
        format!(
            "The lab VM failed: {why}. The console's last lines are above (all of it in {})",
            machine.console.display()
        )
    ))
}

/// `; QEMU said: <the last lines of its log>`, or nothing when it said
/// nothing.
fn qemu_said(qemu_log: &Path) -> String {
    let said = qemu::tail(qemu_log, 10);
    if said.trim().is_empty() {
        String::new()
    } else {
        format!("; QEMU said: {}", said.trim())
    }
}

/// Fails when a lab failed or did not run, with the first failed lab's
/// exit code.
fn check_labs(results: &[LabResult], logs: &Path) -> Result<()> {
    let failed: Vec<&LabResult> = results
        .iter()
        .filter(|r| matches!(r.verdict, Verdict::Fail(_) | Verdict::NotRun))
        .collect();
    let Some(first) = failed.first() else {
        return Ok(());
    };
    let code = match first.verdict {
        Verdict::Fail(rc) => u8::try_from(rc).ok().filter(|c| *c != 0).unwrap_or(1),
        _ => 1,
    };
    let names: Vec<&str> = failed.iter().map(|r| r.lab.as_str()).collect();
    bail!(Failed::new(
        code,
        format!(
            "{} failed in the lab VM: see the lab's output above and in {}",
            names.join(", "),
            logs.display()
        )
    ))
}

/// Fails when the payload itself ended with anything but 0.
fn check_payload_exit(outcome: &qemu::Outcome, machine: &Machine) -> Result<()> {
    if outcome.exit_code == Some(0) {
        return Ok(());
    }
    bail!(Failed::new(
        1,
        format!(
            "Every lab passed or skipped, but the guest's payload ended with {}: see {}",
            outcome
                .exit_code
                .map_or_else(|| "no exit code".to_string(), |c| format!("exit code {c}")),
            machine.console.display()
        )
    ))
}

/// Under `ENCLOS_REQUIRE_PRIVILEGED=1`, fails when a lab skipped itself.
fn check_skips(results: &[LabResult]) -> Result<()> {
    let skipped: Vec<&str> = results
        .iter()
        .filter(|r| r.verdict == Verdict::Skip)
        .map(|r| r.lab.as_str())
        .collect();
    let required = enclos_testkit::privileged_required();
    if required && !skipped.is_empty() {
        bail!(Failed::new(
            1,
            format!(
                "{} skipped itself in the lab VM (the reason is above); \
                 ENCLOS_REQUIRE_PRIVILEGED=1 makes a skip a failure",
                skipped.join(", ")
            )
        ));
    }
    Ok(())
}

/// Prints the guest's progress as its results come.
fn progress(line: &str, booted: Instant) {
    let mut words = line.split_whitespace();
    match words.next() {
        Some("ENCLOS_VM_START") => println!(
            "==> lab vm: the guest is up after {}; playing the labs",
            secs(booted.elapsed())
        ),
        Some("ENCLOS_LAB_BEGIN") => {
            println!("==> lab vm: {} ...", words.next().unwrap_or("?"));
        }
        Some("ENCLOS_LAB_RESULT") => {
            let lab = words.next().unwrap_or("?");
            let rc: i32 = words.next().and_then(|w| w.parse().ok()).unwrap_or(-1);
            let took = words.next().unwrap_or("?");
            let verdict = match rc {
                0 => "PASS".to_string(),
                LAB_SKIPPED => "SKIP".to_string(),
                rc => format!("FAIL (exit code {rc})"),
            };
            println!("==> lab vm: {lab}: {verdict} in {took} s");
        }
        Some("ENCLOS_VM_ERROR") => println!("==> lab vm: the guest failed: {line}"),
        Some(REBOOT_MARKER) => println!("==> lab vm: the guest reboots (a clean shutdown)"),
        _ => {}
    }
}

/// Each lab's verdict from the results port.
fn parse_results(labs: &[String], results: &str) -> Vec<LabResult> {
    labs.iter()
        .map(|lab| {
            let found = qemu::result_lines(results).find_map(|l| {
                let mut w = l.split_whitespace();
                (w.next() == Some("ENCLOS_LAB_RESULT") && w.next() == Some(lab.as_str())).then(
                    || {
                        let rc: Option<i32> = w.next().and_then(|x| x.parse().ok());
                        let secs: Option<u64> = w.next().and_then(|x| x.parse().ok());
                        (rc, secs)
                    },
                )
            });
            let (verdict, secs) = match found {
                Some((Some(0), s)) => (Verdict::Pass, s),
                Some((Some(LAB_SKIPPED), s)) => (Verdict::Skip, s),
                Some((Some(rc), s)) => (Verdict::Fail(rc), s),
                Some((None, s)) => (Verdict::Fail(1), s),
                None => (Verdict::NotRun, None),
            };
            LabResult {
                lab: lab.clone(),
                verdict,
                secs,
            }
        })
        .collect()
}

fn print_summary(results: &[LabResult], logs: &Path, outcome: &qemu::Outcome, args: &Args) {
    println!();
    println!(
        "==> lab vm: results (Debian 12, {}, cgroup {}; VM ran {}; logs in {})",
        args.init_name(),
        args.cgroup.name(),
        secs(outcome.elapsed),
        logs.display()
    );
    for r in results {
        let took = r.secs.map(|s| format!(" ({s} s)")).unwrap_or_default();
        let log = logs.join(format!("{}.log", r.lab));
        match &r.verdict {
            Verdict::Pass => println!("    PASS     {}{took}", r.lab),
            Verdict::Skip => {
                let reason = last_line(&log).unwrap_or_else(|| "no reason given".into());
                println!("    SKIP     {}{took}: {reason}", r.lab);
            }
            Verdict::Fail(rc) => {
                if !args.verbose {
                    println!("---- last lines of {} ----", r.lab);
                    println!("{}", qemu::tail(&log, 30));
                    println!("---- end of {} ----", r.lab);
                }
                println!(
                    "    FAIL     {}{took}: exit code {rc}, output in {}",
                    r.lab,
                    log.display()
                );
            }
            Verdict::NotRun => println!(
                "    NOT RUN  {}: the VM stopped before this lab ended",
                r.lab
            ),
        }
    }
}

fn last_line(path: &Path) -> Option<String> {
    let text = std::fs::read_to_string(path).ok()?;
    text.lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .map(|l| l.trim().to_string())
}

/// The labs that need an optional part of the image (`--with`).
const LAB_EXTRAS: &[(&str, Extra)] = &[("lab2-zfs.sh", Extra::Zfs), ("lab2-rbd.sh", Extra::Ceph)];

/// The optional part of the image the lab `file` needs, if any.
fn lab_extra(file: &str) -> Option<Extra> {
    LAB_EXTRAS
        .iter()
        .find(|(lab, _)| *lab == file)
        .map(|(_, extra)| *extra)
}

/// The labs to run, as file names in lab/: those named (with or without
/// `.sh`, with or without `lab/`), or every `lab/lab*.sh` but those that
/// need an optional part of the image not in `extras`, then the escape
/// suite's lab (last: its fork bomb and memory hog come after the
/// course). A named lab that needs one not in `extras` is an error.
fn select_labs(named: &[String], extras: &[Extra]) -> Result<Vec<String>> {
    let dir = workspace_root().join("lab");
    let mut all: Vec<String> = std::fs::read_dir(&dir)
        .with_context(|| format!("Cannot list the labs in {}", dir.display()))?
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| (n.starts_with("lab") && n.ends_with(".sh")) || n == escape::LAB)
        .collect();
    all.sort_by_key(|n| (n == escape::LAB, n.clone()));
    if named.is_empty() {
        if !all.iter().any(|n| n.starts_with("lab")) {
            bail!("No lab script (lab/lab*.sh) in {}", dir.display());
        }
        all.retain(|lab| lab_extra(lab).is_none_or(|e| extras.contains(&e)));
        return Ok(all);
    }
    named
        .iter()
        .map(|n| {
            let base = n.rsplit('/').next().unwrap_or(n);
            let file = if base.ends_with(".sh") {
                base.to_string()
            } else {
                format!("{base}.sh")
            };
            match lab_extra(&file) {
                Some(extra) if all.contains(&file) && !extras.contains(&extra) => {
                    bail!(Failed::new(
                        2,
                        format!(
                        "The lab {file} needs the image's optional part {0}, slow to build and \
                         so left out by default: run `cargo xtask lab vm --with {0} {file}`",
                        extra.name()
                    )
                    ))
                }
                _ => {}
            }
            if all.contains(&file) {
                Ok(file)
            } else {
                bail!(Failed::new(
                    2,
                    format!(
                        "There is no lab {n} in {} (not written yet?), so it cannot run; the labs \
                         are: {}",
                        dir.display(),
                        all.join(", ")
                    )
                ))
            }
        })
        .collect()
}

/// A qcow2 overlay on the image's root.img: the run writes there, the
/// image stays pristine.
pub(super) fn overlay_on(image: &Image, overlay: &Path) -> Result<()> {
    let mut cmd = Command::new("qemu-img");
    cmd.args(["create", "-q", "-f", "qcow2", "-F", "raw", "-b"])
        .arg(&image.root)
        .arg(overlay);
    let out = cmd
        .output()
        .with_context(|| format!("Cannot run `{}`", show(&cmd)))?;
    if !out.status.success() {
        bail!(
            "`{}` failed ({}): {}",
            show(&cmd),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

/// A run's scratch directory, removed when dropped.
pub(super) struct RunDir(pub(super) PathBuf);

impl RunDir {
    pub(super) fn create(path: &Path) -> Result<RunDir> {
        remove_dir_all_if_exists(path)?;
        std::fs::create_dir_all(path)
            .with_context(|| format!("Cannot create {}", path.display()))?;
        Ok(RunDir(path.to_path_buf()))
    }
}

impl Drop for RunDir {
    fn drop(&mut self) {
        if let Err(e) = remove_dir_all_if_exists(&self.0) {
            eprintln!("warning: {e:#} (the VM run's directory); remove it by hand");
        }
    }
}

/// Removes the scratch directories of runs whose xtask is gone (killed
/// before it could clean up).
pub(super) fn remove_stale_runs(runs: &Path) {
    let Ok(entries) = std::fs::read_dir(runs) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let alive = name
            .parse::<u32>()
            .is_ok_and(|pid| Path::new(&format!("/proc/{pid}")).exists());
        if !alive {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// Copies the directory `from` into `to` (files and directories only).
pub(super) fn copy_dir(from: &Path, to: &Path) -> Result<()> {
    std::fs::create_dir_all(to).with_context(|| format!("Cannot create {}", to.display()))?;
    for entry in
        std::fs::read_dir(from).with_context(|| format!("Cannot list {}", from.display()))?
    {
        let entry = entry.with_context(|| format!("Cannot list {}", from.display()))?;
        let (src, dst) = (entry.path(), to.join(entry.file_name()));
        if entry.file_type().map(|t| t.is_dir()).unwrap_or(false) {
            copy_dir(&src, &dst)?;
        } else {
            std::fs::copy(&src, &dst)
                .with_context(|| format!("Cannot copy {} to {}", src.display(), dst.display()))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(argv: &[&str]) -> Args {
        <Args as clap::Parser>::parse_from(std::iter::once("lab vm").chain(argv.iter().copied()))
    }

    #[test]
    fn the_kernel_command_line_names_the_layout_and_the_init() {
        assert_eq!(
            lab_cmdline(&args(&[])),
            "console=ttyS0 panic=-1 enclos.lab enclos.cgroup=v2 apparmor=1 security=apparmor systemd.unified_cgroup_hierarchy=1"
        );
        assert_eq!(
            lab_cmdline(&args(&[
                "--plain",
                "--cgroup",
                "hybrid",
                "--append",
                "loglevel=7"
            ])),
            "console=ttyS0 panic=-1 enclos.lab enclos.cgroup=hybrid apparmor=1 security=apparmor \
             init=/usr/local/sbin/enclos-vm-boot loglevel=7"
        );
        assert_eq!(args(&["--plain"]).init_name(), "plain init");
        assert_eq!(args(&["--systemd"]).init_name(), "systemd");
    }

    #[test]
    fn the_package_check_follows_the_labs_under_systemd_only() {
        let labs = vec!["lab1-cgroups.sh".to_string()];
        assert_eq!(args(&[]).checks(&labs), labs);
        assert_eq!(
            args(&["--deb", "enclos_1_amd64.deb"]).checks(&labs),
            ["lab1-cgroups.sh", "package"]
        );
        let plain = <Args as clap::Parser>::try_parse_from(["lab vm", "--plain", "--deb", "x.deb"]);
        assert!(
            plain.is_err(),
            "--deb needs systemd (the unit), not --plain"
        );
    }

    #[test]
    fn the_first_failed_lab_gives_the_exit_code() {
        let result = |lab: &str, verdict| LabResult {
            lab: lab.into(),
            verdict,
            secs: None,
        };
        let logs = Path::new("/t/logs");
        assert!(check_labs(&[result("a", Verdict::Pass)], logs).is_ok());
        let err = check_labs(
            &[
                result("a", Verdict::Skip),
                result("b", Verdict::Fail(3)),
                result("c", Verdict::NotRun),
            ],
            logs,
        )
        .unwrap_err();
        let failed = err.downcast_ref::<Failed>().expect("a Failed");
        assert_eq!(failed.code, 3);
        assert_eq!(
            err.to_string(),
            "b, c failed in the lab VM: see the lab's output above and in /t/logs"
        );
    }

    #[test]
    fn a_lab_that_needs_an_optional_part_runs_only_with_it() {
        let all = select_labs(&[], &[]).unwrap();
        assert!(!all.contains(&"lab2-zfs.sh".to_string()), "{all:?}");
        assert!(all.contains(&"lab2-lvm.sh".to_string()), "{all:?}");
        assert_eq!(all.last().map(String::as_str), Some(escape::LAB));
        assert_eq!(
            select_labs(&["escape-suite".into()], &[]).unwrap(),
            [escape::LAB]
        );
        let with = select_labs(&[], &[Extra::Zfs]).unwrap();
        assert!(with.contains(&"lab2-zfs.sh".to_string()), "{with:?}");
        let err = select_labs(&["lab2-zfs".into()], &[])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("cargo xtask lab vm --with zfs lab2-zfs.sh"),
            "{err}"
        );
        assert_eq!(
            select_labs(&["lab2-zfs".into()], &[Extra::Zfs]).unwrap(),
            ["lab2-zfs.sh"]
        );
        assert_eq!(args(&["--with", "zfs"]).image.with, [Extra::Zfs]);
        assert!(!all.contains(&"lab2-rbd.sh".to_string()), "{all:?}");
        assert!(select_labs(&["lab2-rbd".into()], &[Extra::Zfs]).is_err());
    }
}
