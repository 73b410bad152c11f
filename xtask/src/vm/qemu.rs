//! Booting the image under QEMU: direct kernel boot with our initramfs,
//! every disk an explicit virtio-blk-pci device (the root disk first), the
//! run's files over 9p, the console on the first serial port (a log file)
//! and the results on the second (another file, that only the payload
//! writes). `-no-reboot` and `panic=-1` make QEMU exit whatever happens in
//! the guest; the host kills it on a timeout.
//!
//! No thread is started here: the console and results files are polled
//! from the calling thread while QEMU runs.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use super::image::Image;
use super::vm_dir;
use crate::process::show;

/// How the guest's CPU runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Accel {
    Kvm,
    Tcg,
}

impl Accel {
    pub fn name(self) -> &'static str {
        match self {
            Accel::Kvm => "kvm",
            Accel::Tcg => "tcg",
        }
    }
}

/// The accelerator asked for on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum AccelChoice {
    /// KVM when a probe boot works with it, else TCG.
    Auto,
    Kvm,
    Tcg,
}

/// A virtio disk; the guest sees its serial number as `enclos-<id>`.
#[derive(Debug, Clone)]
pub struct Disk {
    pub id: &'static str,
    pub path: PathBuf,
    /// `qcow2` or `raw`.
    pub format: &'static str,
    pub readonly: bool,
}

/// One boot of the image.
#[derive(Debug, Clone)]
pub struct Machine {
    pub kernel: PathBuf,
    pub initramfs: PathBuf,
    pub cmdline: String,
    pub accel: Accel,
    pub memory_mib: u32,
    pub cpus: u32,
    /// The root disk first: the initramfs mounts /dev/vda.
    pub disks: Vec<Disk>,
    /// Shared with the guest over 9p, mount tag `enclos`.
    pub share: Option<PathBuf>,
    /// The first serial port (the guest's console).
    pub console: PathBuf,
    /// The second serial port (the payload's results).
    pub results: PathBuf,
    /// QEMU's own messages.
    pub qemu_log: PathBuf,
    /// QEMU's CPU model (`-cpu`), when not its default: `max` gives a TCG
    /// guest every instruction set QEMU emulates (SSE4.2, PCLMUL), which
    /// Ceph's erasure-code libraries run at start.
    pub cpu_model: Option<&'static str>,
}

impl Machine {
    pub fn command(&self) -> Command {
        let mut cmd = Command::new("qemu-system-x86_64");
        cmd.args(["-accel", self.accel.name()])
            .args(["-m", &self.memory_mib.to_string()])
            .args(["-smp", &self.cpus.to_string()])
            .args(self.cpu_model.map(|m| ["-cpu", m]).into_iter().flatten())
            .args(["-nodefaults", "-no-user-config", "-display", "none"])
            .arg("-no-reboot")
            .arg("-kernel")
            .arg(&self.kernel)
            .arg("-initrd")
            .arg(&self.initramfs)
            .args(["-append", &self.cmdline])
            .arg("-serial")
            .arg(format!("file:{}", self.console.display()))
            .arg("-serial")
            .arg(format!("file:{}", self.results.display()))
            .args(["-device", "virtio-rng-pci"]);
        for disk in &self.disks {
            let mut drive = format!(
                "file={},format={},if=none,id={},cache=unsafe,discard=unmap",
                disk.path.display(),
                disk.format,
                disk.id
            );
            if disk.readonly {
                drive.push_str(",readonly=on");
            }
            cmd.arg("-drive").arg(drive).arg("-device").arg(format!(
                "virtio-blk-pci,drive={},serial=enclos-{}",
                disk.id, disk.id
            ));
        }
        if let Some(share) = &self.share {
            cmd.arg("-virtfs").arg(format!(
                "local,path={},mount_tag=enclos,security_model=none,id=enclos",
                share.display()
            ));
        }
        cmd
    }
}

/// What to wait for, and for how long.
#[derive(Debug, Clone)]
pub struct Watch {
    /// Written on the results port once the payload starts; the boot
    /// timeout runs until then.
    pub start_marker: &'static str,
    /// Written on the results port when it is over (`ENCLOS_LAB_EXIT=`,
    /// followed by the exit code, or `ENCLOS_PROBE_OK`).
    pub end_marker: &'static str,
    pub boot_timeout: Duration,
    pub timeout: Duration,
    /// Copy the console to stdout as it comes.
    pub verbose: bool,
}

/// How a boot ended.
#[derive(Debug)]
pub struct Outcome {
    /// What the guest wrote on the results port.
    pub results: String,
    /// The end marker was written; with `ENCLOS_LAB_EXIT=<rc>`, the code.
    pub ended: bool,
    pub exit_code: Option<i32>,
    /// Why QEMU was killed (a timeout), if it was.
    pub killed: Option<String>,
    /// QEMU's own exit status.
    pub status: Option<ExitStatus>,
    pub elapsed: Duration,
}

/// Kills QEMU (and waits for it) when dropped: no guest outlives xtask's
/// run, whatever the reason it stops.
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
        }
        let _ = self.0.wait();
    }
}

/// The results port's lines, as the guest wrote them (its tty adds \r).
pub fn result_lines(results: &str) -> impl Iterator<Item = &str> {
    results.lines().map(|l| l.trim()).filter(|l| !l.is_empty())
}

/// Boots `machine` and waits for it to end, calling `on_result` with each
/// new line of the results port.
pub fn run(machine: &Machine, watch: &Watch, on_result: &mut dyn FnMut(&str)) -> Result<Outcome> {
    let mut qemu = spawn(machine)?;
    let started = Instant::now();

    let mut console = File::open(&machine.console)
        .with_context(|| format!("Cannot open {}", machine.console.display()))?;
    let mut console_pos = 0u64;
    let mut results = ResultsSeen::default();
    let mut killed = None;
    let mut stdout = std::io::stdout();
    let status = loop {
        let exited = qemu.0.try_wait().context("Cannot wait for QEMU")?;
        if watch.verbose {
            console_pos = copy_new(&mut console, console_pos, &mut stdout);
        }
        let payload_started = results.poll(&machine.results, watch, on_result);
        if let Some(status) = exited {
            break Some(status);
        }
        if let Some(reason) =
            kill_reason(watch, started.elapsed(), payload_started, results.ended_at)
        {
            let _ = qemu.0.kill();
            killed = Some(reason);
            break qemu.0.wait().ok();
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    if watch.verbose {
        copy_new(&mut console, console_pos, &mut stdout);
        let _ = stdout.flush();
    }
    let results = std::fs::read_to_string(&machine.results).unwrap_or_default();
    let end = result_lines(&results)
        .find(|l| l.starts_with(watch.end_marker))
        .map(str::to_string);
    Ok(Outcome {
        ended: end.is_some(),
        exit_code: end.and_then(|l| l[watch.end_marker.len()..].trim().parse().ok()),
        results,
        killed,
        status,
        elapsed: started.elapsed(),
    })
}

/// Starts QEMU for `machine`, its console and results files empty, its
/// own messages going to its log.
fn spawn(machine: &Machine) -> Result<KillOnDrop> {
    for path in [&machine.console, &machine.results] {
        File::create(path).with_context(|| format!("Cannot create {}", path.display()))?;
    }
    let qemu_log = File::create(&machine.qemu_log)
        .with_context(|| format!("Cannot create {}", machine.qemu_log.display()))?;
    let mut cmd = machine.command();
    cmd.stdin(Stdio::null())
        .stdout(
            qemu_log
                .try_clone()
                .with_context(|| format!("Cannot reopen {}", machine.qemu_log.display()))?,
        )
        .stderr(qemu_log);
    let child = cmd
        .spawn()
        .with_context(|| format!("Cannot start `{}`", show(&cmd)))?;
    Ok(KillOnDrop(child))
}

/// The lines of the results port handed on so far.
#[derive(Debug, Default)]
struct ResultsSeen {
    /// How many complete lines were handed on.
    count: usize,
    /// When the end marker came.
    ended_at: Option<Instant>,
}

impl ResultsSeen {
    /// Hands each new complete line of the results file to `on_result`;
    /// returns whether the payload has started.
    fn poll(&mut self, path: &Path, watch: &Watch, on_result: &mut dyn FnMut(&str)) -> bool {
        let results = std::fs::read_to_string(path).unwrap_or_default();
        let lines: Vec<&str> = result_lines(&results).collect();
        // A line is complete once a newline follows it.
        let complete = if results.ends_with('\n') {
            lines.len()
        } else {
            lines.len().saturating_sub(1)
        };
        for line in lines.iter().take(complete).skip(self.count) {
            on_result(line);
            if line.starts_with(watch.end_marker) && self.ended_at.is_none() {
                self.ended_at = Some(Instant::now());
            }
        }
        self.count = self.count.max(complete);
        lines.contains(&watch.start_marker)
    }
}

/// Why QEMU must be killed now, if it must: it outlived its payload, or
/// the boot or the whole run took too long.
fn kill_reason(
    watch: &Watch,
    elapsed: Duration,
    payload_started: bool,
    ended_at: Option<Instant>,
) -> Option<String> {
    if ended_at.is_some_and(|t| t.elapsed() > Duration::from_secs(30)) {
        Some("QEMU was still running 30 s after the guest's payload ended".to_string())
    } else if !payload_started && ended_at.is_none() && elapsed > watch.boot_timeout {
        Some(format!(
            "the guest did not start its payload within {} s of booting",
            watch.boot_timeout.as_secs()
        ))
    } else if elapsed > watch.timeout {
        Some(format!(
            "the guest was still running after {} s",
            watch.timeout.as_secs()
        ))
    } else {
        None
    }
}

/// Copies what `file` gained since `pos` to `out`; returns the new
/// position.
fn copy_new(file: &mut File, pos: u64, out: &mut impl Write) -> u64 {
    let mut buf = Vec::new();
    if file.seek(SeekFrom::Start(pos)).is_err() || file.read_to_end(&mut buf).is_err() {
        return pos;
    }
    let _ = out.write_all(&buf);
    let _ = out.flush();
    pos + buf.len() as u64
}

/// The last `n` lines of a log file, for an error message.
pub fn tail(path: &Path, n: usize) -> String {
    let text = std::fs::read(path)
        .map(|b| String::from_utf8_lossy(&b).replace('\r', ""))
        .unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// How long the KVM probe may take to reach the root filesystem.
const PROBE_SECS: u64 = 15;

/// The accelerator for booting `image`: the one asked for, or with
/// `auto` KVM when /dev/kvm can be opened and a probe boot of the real
/// kernel reaches the root filesystem with it, else TCG. The probe's
/// verdict is kept in `target/vm/accel-probe` for this host kernel, QEMU
/// and guest kernel: a KVM that hangs costs its timeout once.
pub fn choose_accel(image: &Image, choice: AccelChoice, scratch: &Path) -> Result<Accel> {
    match choice {
        AccelChoice::Kvm => return Ok(Accel::Kvm),
        AccelChoice::Tcg => return Ok(Accel::Tcg),
        AccelChoice::Auto => {}
    }
    let kvm_usable = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/kvm")
        .is_ok();
    if !kvm_usable {
        println!("==> vm: /dev/kvm cannot be opened: the guest runs under TCG (emulation)");
        return Ok(Accel::Tcg);
    }
    let key = format!(
        "host {} | {} | guest {}",
        std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .unwrap_or_default()
            .trim(),
        qemu_version(),
        image.release
    );
    let cache = vm_dir().join("accel-probe");
    let known = std::fs::read_to_string(&cache).unwrap_or_default();
    if let Some(verdict) = known
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{key} => ")))
    {
        let accel = if verdict.trim() == "kvm" {
            Accel::Kvm
        } else {
            Accel::Tcg
        };
        println!(
            "==> vm: accelerator {} (probed before: {})",
            accel.name(),
            cache.display()
        );
        return Ok(accel);
    }
    let accel = probe_kvm(image, scratch)?;
    let mut text = known;
    text.push_str(&format!("{key} => {}\n", accel.name()));
    if let Err(e) = std::fs::write(&cache, text) {
        eprintln!("warning: cannot write {}: {e}", cache.display());
    }
    Ok(accel)
}

/// Boots the guest kernel of `image` with KVM until its root filesystem
/// is mounted (at most [`PROBE_SECS`]): KVM if it gets there, else TCG.
fn probe_kvm(image: &Image, scratch: &Path) -> Result<Accel> {
    println!("==> vm: probing KVM: booting the guest kernel with it (at most {PROBE_SECS} s)");
    std::fs::create_dir_all(scratch)
        .with_context(|| format!("Cannot create {}", scratch.display()))?;
    let machine = Machine {
        kernel: image.kernel.clone(),
        initramfs: image.initramfs.clone(),
        cmdline: "console=ttyS0 panic=-1 enclos.probe".into(),
        accel: Accel::Kvm,
        memory_mib: 512,
        cpus: 1,
        cpu_model: None,
        disks: vec![Disk {
            id: "root",
            path: image.root.clone(),
            format: "raw",
            readonly: true,
        }],
        share: None,
        console: scratch.join("probe-console.log"),
        results: scratch.join("probe-results.txt"),
        qemu_log: scratch.join("probe-qemu.log"),
    };
    let watch = Watch {
        start_marker: "ENCLOS_PROBE_OK",
        end_marker: "ENCLOS_PROBE_OK",
        boot_timeout: Duration::from_secs(PROBE_SECS),
        timeout: Duration::from_secs(PROBE_SECS),
        verbose: false,
    };
    let outcome = run(&machine, &watch, &mut |_| {})?;
    if outcome.ended {
        println!(
            "==> vm: KVM works ({:.1} s to the root filesystem)",
            outcome.elapsed.as_secs_f64()
        );
        return Ok(Accel::Kvm);
    }
    println!(
        "==> vm: KVM does not boot this kernel here ({}): the guest runs under TCG \
         (emulation); --accel kvm forces it",
        if outcome.killed.is_some() {
            format!("no sign of its root filesystem within {PROBE_SECS} s")
        } else {
            "it stopped before mounting its root filesystem".to_string()
        }
    );
    Ok(Accel::Tcg)
}

/// QEMU's version line.
fn qemu_version() -> String {
    Command::new("qemu-system-x86_64")
        .arg("--version")
        .output()
        .map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .next()
                .unwrap_or("")
                .to_string()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn qemu_is_killed_on_each_timeout() {
        let watch = Watch {
            start_marker: "START",
            end_marker: "END",
            boot_timeout: Duration::from_secs(10),
            timeout: Duration::from_secs(100),
            verbose: false,
        };
        let secs = Duration::from_secs;
        assert_eq!(kill_reason(&watch, secs(5), false, None), None);
        assert_eq!(
            kill_reason(&watch, secs(11), false, None).as_deref(),
            Some("the guest did not start its payload within 10 s of booting")
        );
        assert_eq!(kill_reason(&watch, secs(11), true, None), None);
        assert_eq!(
            kill_reason(&watch, secs(101), true, None).as_deref(),
            Some("the guest was still running after 100 s")
        );
        assert_eq!(
            kill_reason(&watch, secs(50), true, Some(Instant::now())),
            None
        );
    }

    #[test]
    fn results_are_handed_on_once_each_when_complete() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("results.txt");
        let watch = Watch {
            start_marker: "START",
            end_marker: "END=",
            boot_timeout: Duration::from_secs(10),
            timeout: Duration::from_secs(100),
            verbose: false,
        };
        let mut seen = ResultsSeen::default();
        let mut lines = Vec::new();
        std::fs::write(&path, "START\r\nLAB a 0\r\nEND=0").unwrap();
        assert!(seen.poll(&path, &watch, &mut |l| lines.push(l.to_string())));
        assert_eq!(lines, ["START", "LAB a 0"]);
        assert!(seen.ended_at.is_none());
        std::fs::write(&path, "START\r\nLAB a 0\r\nEND=0\r\n").unwrap();
        seen.poll(&path, &watch, &mut |l| lines.push(l.to_string()));
        assert_eq!(lines, ["START", "LAB a 0", "END=0"]);
        assert!(seen.ended_at.is_some());
    }
}
