//! The enclos binary through /proc/PID/exe (the class of runc's
//! CVE-2019-5736): under `execute`, PID 1 of the container is our own
//! init, an enclos process; its /proc/1/exe must be the binary seen
//! through a read-only overlay mounted nowhere (as root), or a sealed
//! in-memory copy, never the host's file, and writing through it must
//! fail. The
//! binary run (and attacked) is a copy in the test's directory, so a
//! failed defence damages only that copy.
//!
//! On a host that runs AppArmor, the container's profile lets it ptrace
//! (and so read /proc/PID/exe of) only its own processes: PID 1 of
//! `execute`, enclos, is not under the profile, so the link does not
//! even read.

use enclos_tests::enclos_bin;
use enclos_tests::lab::*;

use super::{container, rootfs, Kind};

pub fn exe_overwrite(kind: Kind) {
    let lab = Lab::new();
    let n = container(&lab, kind, "exe", "");
    let bin = lab.path().join("enclos-copy");
    std::fs::copy(enclos_bin(), &bin).expect("copy the enclos binary");
    let before = std::fs::read(&bin).expect("read the copy");
    let script = "echo label=$(cat /proc/self/attr/current 2>/dev/null); \
                  echo exe=$(readlink /proc/1/exe); \
                  (echo pwned >/proc/1/exe && echo WROTE-EXE); \
                  (exec 3</proc/1/exe && echo pwned >/proc/self/fd/3 && echo WROTE-FD); \
                  (echo pwned >>/proc/1/exe && echo WROTE-APPEND); echo END";
    let mut cmd = std::process::Command::new(&bin);
    cmd.args([
        "execute",
        "-P",
        lab.path_str(),
        "-n",
        &n,
        "--",
        "sh",
        "-c",
        script,
    ]);
    let out = run(cmd);
    assert!(
        out.stdout.contains("END"),
        "execute ran the attempt: {out:#?}"
    );
    assert!(
        !out.stdout.contains("WROTE"),
        "a write went through: {out:#?}"
    );
    let said = |key: &str| {
        out.lines()
            .iter()
            .find_map(|l| l.strip_prefix(key))
            .unwrap_or_else(|| panic!("the attempt printed no {key}: {out:#?}"))
            .trim()
            .to_string()
    };
    let exe = said("exe=");
    let host = bin.to_str().unwrap();
    assert!(
        !exe.contains(host),
        "/proc/1/exe is the host's binary: {out:#?}"
    );
    if !exe.is_empty() {
        // A file of a mount attached nowhere reads as its path from the
        // mount's root: the overlay's root is the binary's directory.
        let overlay = format!("/{}", bin.file_name().unwrap().to_str().unwrap());
        assert!(
            exe == overlay || exe.starts_with("/memfd:"),
            "/proc/1/exe is {exe:?}, neither {overlay:?} nor a memfd: {out:#?}"
        );
    } else if kind == Kind::Privileged {
        // Privileged root reads the link, unless AppArmor forbids it (the
        // unprivileged root may not: init is not dumpable to it). Either
        // hides the host path too.
        let label = said("label=");
        assert!(
            !label.is_empty() && label != "unconfined",
            "/proc/1/exe did not read, yet the attempt ran unconfined ({label:?}): {out:#?}"
        );
    }
    assert!(
        std::fs::read(&bin).expect("read the copy") == before,
        "the binary changed"
    );
}

/// A copy of the enclos binary in the lab, the one started and attacked
/// (a failed defence damages only it), with its bytes before; alone in
/// its directory (init then execs the container's init through the
/// enclos binary itself), or with the trampoline program beside it.
struct Copy {
    bin: std::path::PathBuf,
    before: Vec<u8>,
    program: Option<(std::path::PathBuf, Vec<u8>)>,
}

impl Copy {
    fn new(lab: &Lab) -> Copy {
        let bin = lab.path().join("enclos-copy");
        std::fs::copy(enclos_bin(), &bin).expect("copy the enclos binary");
        let before = std::fs::read(&bin).expect("read the copy");
        Copy {
            bin,
            before,
            program: None,
        }
    }

    /// The copy, and one of the trampoline program beside it (where a
    /// build puts it; the package puts it in ../libexec/enclos).
    fn with_program(lab: &Lab) -> Copy {
        let mut copy = Copy::new(lab);
        let built = enclos_bin().with_file_name("enclos-init-exec");
        assert!(
            built.is_file(),
            "{} is missing: build it beside enclos (cargo build --release -p enclos -p \
             enclos-init-exec --target x86_64-unknown-linux-gnu, as `cargo xtask test` does)",
            built.display()
        );
        let program = lab.path().join("enclos-init-exec");
        std::fs::copy(&built, &program).expect("copy the trampoline program");
        let before = std::fs::read(&program).expect("read the program's copy");
        copy.program = Some((program, before));
        copy
    }

    /// `start` of `n` by the copy.
    fn start(&self, lab: &Lab, n: &str) {
        let mut cmd = std::process::Command::new(&self.bin);
        cmd.args(["start", "-P", lab.path_str(), "-n", n]);
        let out = run(cmd);
        assert_eq!(out.code, Some(0), "{out:#?}");
    }

    /// Fails unless what an attempt `said` shows it ran, wrote nothing
    /// and never saw the copy as `/proc/1/exe`, and the copy is unchanged.
    fn assert_held(&self, said: &str) {
        assert!(said.contains("END"), "the attempt ran: {said}");
        assert!(!said.contains("WROTE"), "a write went through: {said}");
        assert!(
            !said.contains(self.bin.to_str().unwrap()),
            "/proc/1/exe was the host's binary: {said}"
        );
        self.assert_unchanged();
    }

    /// Fails unless the copies still hold their bytes.
    fn assert_unchanged(&self) {
        assert!(
            std::fs::read(&self.bin).expect("read the copy") == self.before,
            "the binary changed"
        );
        if let Some((program, before)) = &self.program {
            assert!(
                std::fs::read(program).expect("read the program's copy") == *before,
                "the trampoline program changed"
            );
        }
    }
}

/// The writes of an attempt on `/proc/1/exe`, for `sh -c`.
const WRITE_ATTEMPT: &str = "echo exe=$(readlink /proc/1/exe); \
     (echo pwned >>/proc/1/exe && echo WROTE-EXE); \
     (exec 3</proc/1/exe && echo pwned >/proc/self/fd/3 && echo WROTE-FD); echo END";

/// Writes an executable shell script at `path`.
fn script(path: &std::path::Path, body: &str) {
    std::fs::write(path, format!("#!/bin/sh\n{body}\n")).expect("write the script");
    std::fs::set_permissions(path, std::os::unix::fs::PermissionsExt::from_mode(0o755))
        .expect("make the script executable");
}

/// The container's init is `/proc/self/exe` (as an init that is a script
/// whose interpreter is `/proc/self/exe` would make it): whatever execs
/// it, the container's PID 1 must then run a sealed enclos binary, never
/// the host's file, and nothing in the container may write through it.
/// The init is enclos's `wait` on a container of the rootfs's own, which
/// keeps it running meanwhile.
pub fn init_is_proc_self_exe(kind: Kind) {
    proc_self_exe_init(kind, Copy::new);
}

/// [`init_is_proc_self_exe`] with the copy `copy` makes.
fn proc_self_exe_init(kind: Kind, copy: fn(&Lab) -> Copy) {
    let lab = Lab::new();
    let n = container(
        &lab,
        kind,
        "exeinit",
        "lxc.init.cmd = /proc/self/exe wait -n w -s RUNNING -t 60",
    );
    let inner = rootfs(&lab, &n).join("var/lib/enclos/w");
    std::fs::create_dir_all(&inner).expect("make the rootfs's own container");
    std::fs::write(inner.join("config"), "lxc.uts.name = w\n").expect("write its config");
    let copy = copy(&lab);
    copy.start(&lab, &n);
    let init = lab.init_pid(&n);
    let exe = std::fs::read_link(format!("/proc/{init}/exe")).expect("read init's exe");
    let overlay = format!("/{}", copy.bin.file_name().unwrap().to_str().unwrap());
    let shown = exe.to_string_lossy();
    assert!(
        exe != copy.bin && (shown == overlay || shown.starts_with("/memfd:")),
        "the container's init runs {shown}, neither {overlay:?} in the detached overlay nor a memfd"
    );
    assert!(
        std::fs::OpenOptions::new()
            .append(true)
            .open(format!("/proc/{init}/exe"))
            .is_err(),
        "init's exe opened for writing"
    );
    let out = lab.attach(&n, &["sh", "-c", WRITE_ATTEMPT]);
    lab.enclos("stop", &["-n", &n, "-k"]).success();
    copy.assert_held(&out.stdout);
}

/// As [`init_is_proc_self_exe`], with the trampoline program installed
/// beside the enclos binary: init execs the container's init through it,
/// seen through its read-only overlay, so an init of `/proc/self/exe` runs
/// that program again, which refuses to be anything but enclos's
/// trampoline. It says so on the container's console and ends; never
/// the host's enclos (whose `wait` would keep the container running), and
/// no file changes.
///
/// On a host that runs AppArmor, the start re-executes itself sealed and
/// the program is not used: the container's init is then the sealed
/// enclos binary, as in [`init_is_proc_self_exe`], the program beside it
/// or not.
pub fn init_is_proc_self_exe_through_the_program(kind: Kind) {
    if host_runs_apparmor() {
        return proc_self_exe_init(kind, Copy::with_program);
    }
    let lab = Lab::new();
    let log = lab.path().join("console.log");
    let n = container(
        &lab,
        kind,
        "exeprog",
        &format!(
            "lxc.init.cmd = /proc/self/exe wait -n w -s RUNNING -t 60\nlxc.console.logfile = {}",
            log.display()
        ),
    );
    let inner = rootfs(&lab, &n).join("var/lib/enclos/w");
    std::fs::create_dir_all(&inner).expect("make the rootfs's own container");
    std::fs::write(inner.join("config"), "lxc.uts.name = w\n").expect("write its config");
    let copy = Copy::with_program(&lab);
    // The start itself may see init end or not: what ran is the question.
    let mut cmd = std::process::Command::new(&copy.bin);
    cmd.args(["start", "-P", lab.path_str(), "-n", &n]);
    let started = run(cmd);
    let stopped = poll(std::time::Duration::from_secs(30), || {
        (lab.state(&n) == "STOPPED").then_some(())
    });
    let said = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(
        said.contains("enclos-init-exec: started by enclos's init only"),
        "the container's init did not run the sealed trampoline program (console: {said:?}; \
         start: {started:#?})"
    );
    assert!(stopped.is_some(), "the container still runs: {said:?}");
    copy.assert_unchanged();
}

/// A file named as the trampoline program beside the enclos binary that
/// others than root may write (here a script, group-writable) is never
/// run in a container: the start takes the enclos binary instead, says
/// why in its log, and the container runs its own init.
pub fn untrusted_program_beside_the_binary(kind: Kind) {
    let lab = Lab::new();
    let n = container(&lab, kind, "exeuntrusted", "");
    let copy = Copy::new(&lab);
    let program = lab.path().join("enclos-init-exec");
    script(&program, "echo RAN-UNTRUSTED >/untrusted.out");
    std::fs::set_permissions(
        &program,
        std::os::unix::fs::PermissionsExt::from_mode(0o775),
    )
    .expect("make the script group-writable");
    let log = lab.path().join("start.log");
    let mut cmd = std::process::Command::new(&copy.bin);
    cmd.args(["start", "-P", lab.path_str(), "-n", &n, "-l", "DEBUG", "-o"])
        .arg(&log);
    let out = run(cmd);
    assert_eq!(out.code, Some(0), "{out:#?}");
    assert_eq!(lab.state(&n), "RUNNING");
    let ps = lab.attach(&n, &["cat", "/proc/1/cmdline"]);
    lab.enclos("stop", &["-n", &n, "-k"]).success();
    assert!(
        // busybox's init names itself so.
        ps.stdout.starts_with("init\0"),
        "the container's init is not its own: {ps:#?}"
    );
    assert!(
        !rootfs(&lab, &n).join("untrusted.out").exists(),
        "the untrusted program ran in the container"
    );
    let logged = std::fs::read_to_string(&log).expect("the start's log");
    // On a host that runs AppArmor, no trampoline is looked for at all.
    let why = match host_runs_apparmor() {
        true => "start re-executes sealed: the host runs AppArmor",
        false => "mode 775: others than root may write it",
    };
    assert!(
        logged.contains(why),
        "the log does not say why the program was not taken ({why:?}): {logged}"
    );
}

/// Whether the host runs AppArmor, where a start re-executes itself
/// sealed and never runs a trampoline of the host's.
fn host_runs_apparmor() -> bool {
    std::fs::read_to_string("/sys/module/apparmor/parameters/enabled")
        .is_ok_and(|v| v.trim() == "Y")
}

/// A start hook (`lxc.hook.start`, a program of the container's, run in
/// its namespaces before init execs) tries to write through
/// `/proc/1/exe`: PID 1 is then our init, an enclos process, which must
/// run from a sealed binary (the start re-executes itself sealed when such
/// hooks run), and the write must fail.
pub fn start_hook_writes_init_exe(kind: Kind) {
    let lab = Lab::new();
    let n = container(&lab, kind, "exehook", "lxc.hook.start = /exe-hook.sh");
    script(
        &rootfs(&lab, &n).join("exe-hook.sh"),
        &format!("{{ {WRITE_ATTEMPT}; }} >/exe-hook.out 2>&1"),
    );
    let copy = Copy::new(&lab);
    copy.start(&lab, &n);
    let said =
        std::fs::read_to_string(rootfs(&lab, &n).join("exe-hook.out")).expect("the hook's output");
    lab.enclos("stop", &["-n", &n, "-k"]).success();
    copy.assert_held(&said);
}

/// A start-host hook (run on the host while init waits, with its pid in
/// `LXC_PID`) enters init's namespaces and runs the container's own shell
/// there: PID 1, our init, must then run from a sealed binary, and the
/// write through `/proc/1/exe` must fail.
pub fn start_host_hook_enters_init(kind: Kind) {
    let lab = Lab::new();
    let out = lab.path().join("start-host.out");
    let hook = lab.path().join("start-host.sh");
    script(
        &hook,
        &format!(
            "nsenter -t \"$LXC_PID\" -m -p -- /bin/sh -c '{WRITE_ATTEMPT}' >{} 2>&1",
            out.display()
        ),
    );
    let n = container(
        &lab,
        kind,
        "exehost",
        &format!("lxc.hook.start-host = {}", hook.display()),
    );
    let copy = Copy::new(&lab);
    copy.start(&lab, &n);
    lab.enclos("stop", &["-n", &n, "-k"]).success();
    copy.assert_held(&std::fs::read_to_string(&out).expect("the hook's output"));
}
