//! `cargo xtask conformance [TEST...]`: LXC's own shell tests (Debian's
//! `lxc-tests` package, `/usr/bin/lxc-test-*`) played against enclos.
//!
//! Each test runs with enclos's `lxc-*` links first on `PATH` (LXC's other
//! `lxc-*` tools are hidden behind shims that say enclos lacks them, so the
//! real LXC never stands in), in a private mount namespace (`unshare -m`)
//! where `/var/lib/lxc` (which the tests hard-code) and enclos's lxcpath
//! `/var/lib/enclos` are bind mounts of one scratch directory. Each test has
//! a timeout; afterwards, in the same kind of namespace, every container it
//! left is destroyed (`lxc-destroy -f`). The scratch directory goes at the
//! end; the mount namespaces go with their processes.
//!
//! Each test is reported PASS, FAIL (with the last lines of its output),
//! EXPECTED-FAIL (with the issue that will fix it) or UNEXPECTED-PASS (an
//! expected failure that passes: the list below must shrink). FAIL and
//! UNEXPECTED-PASS fail the step.
//!
//! `--lxc` plays the same tests against the real LXC instead, for
//! reference (with a `default.conf` whose network is only the loopback,
//! up: the tests need no more, and this host may have no `lxcbr0`).

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use crate::deps;
use crate::process::{build_enclos_release, is_root, Failed};

/// The shell tests of `lxc-tests` this suite plays, in order. Those of
/// `lxc-tests` written in C drive liblxc's API, which enclos does not
/// provide; `usernsexec` and `unpriv` add a user and subordinate id ranges
/// to the host, so they run only when named (see [`ON_REQUEST`]).
pub const TESTS: &[&str] = &[
    "exit-code",
    "lxc-attach",
    "autostart",
    "createconfig",
    "cloneconfig",
    "rootfs",
    "procsys",
    "no-new-privs",
    "automount",
    "snapdeps",
    "symlink",
];

/// Tests run only when named on the command line: they change the host's
/// users and `/etc/subuid`.
pub const ON_REQUEST: &[&str] = &["usernsexec", "unpriv"];

/// The tests enclos is known to fail, with the issue that will fix each.
pub const EXPECTED_FAILURES: &[(&str, &str)] = &[
    (
        "no-new-privs",
        "issue 12 (confinement): the busybox template's busybox is not setuid, so ping as uid 1000 fails even without lxc.no_new_privs (which itself works: the first ping is refused)",
    ),
    ("usernsexec", "issue 9 (unprivileged): lxc-usernsexec"),
    (
        "unpriv",
        "issue 9 (unprivileged) and issue 11 (networking): unprivileged containers with a veth",
    ),
];

/// How long one test may run before its process group is killed.
const DEFAULT_TIMEOUT_SECS: u64 = 300;

/// How many lines of a failed test's output the report shows.
const TAIL_LINES: usize = 25;

/// How many lines of an expected failure's output the report shows (to
/// see that it still fails for the reason given): the first errors the
/// lxc-* tools printed, or else its last lines.
const EXPECTED_LINES: usize = 3;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The tests to run, by name without `lxc-test-` (all of the suite
    /// when none is given).
    #[arg(value_name = "TEST")]
    pub tests: Vec<String>,
    /// Seconds one test may run before it is killed and reported FAIL.
    #[arg(long, default_value_t = DEFAULT_TIMEOUT_SECS)]
    pub timeout: u64,
    /// Play the tests against the real LXC instead of enclos (reference).
    #[arg(long)]
    pub lxc: bool,
    /// The enclos binary to test (built in release when not given).
    #[arg(long, value_name = "PATH")]
    pub enclos: Option<PathBuf>,
}

/// `cargo xtask conformance`.
pub fn run(args: &Args) -> Result<()> {
    if !is_root() {
        bail!("The conformance suite starts containers and mounts: run it as root");
    }
    deps::ensure("The conformance suite", deps::CONFORMANCE)?;
    let enclos = match &args.enclos {
        Some(p) => std::fs::canonicalize(p)
            .with_context(|| format!("Cannot find the enclos binary {}", p.display()))?,
        None => build_enclos_release()?,
    };
    let tests = selected(&args.tests)?;
    let target = if args.lxc {
        Target::Lxc
    } else {
        Target::Enclos(enclos)
    };
    run_suite(&target, &tests, Duration::from_secs(args.timeout))
}

/// The step of `cargo xtask test`: the whole suite against `enclos`,
/// skipped with its reason when not root (unless
/// `ENCLOS_REQUIRE_PRIVILEGED=1`).
pub fn test_step(enclos: &Path) -> Result<()> {
    let required = enclos_testkit::privileged_required();
    if !is_root() && !required {
        println!("==> conformance: SKIPPED: LXC's tests start containers and need root");
        return Ok(());
    }
    println!(
        "\n==> conformance: cargo xtask conformance --enclos {}",
        enclos.display()
    );
    let args = Args {
        tests: Vec::new(),
        timeout: DEFAULT_TIMEOUT_SECS,
        lxc: false,
        enclos: Some(enclos.to_path_buf()),
    };
    run(&args)
}

/// The tests named on the command line (checked), or the whole suite.
fn selected(names: &[String]) -> Result<Vec<String>> {
    if names.is_empty() {
        return Ok(TESTS.iter().map(|t| t.to_string()).collect());
    }
    let mut out = Vec::new();
    for name in names {
        let name = name.strip_prefix("lxc-test-").unwrap_or(name);
        if !TESTS.contains(&name) && !ON_REQUEST.contains(&name) {
            bail!(
                "Unknown conformance test '{name}': the suite has {}",
                TESTS
                    .iter()
                    .chain(ON_REQUEST)
                    .copied()
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
        out.push(name.to_string());
    }
    Ok(out)
}

/// Which implementation of the lxc-* tools the tests drive.
enum Target {
    Enclos(PathBuf),
    Lxc,
}

/// The result of one test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    Pass,
    Fail,
    ExpectedFail,
    UnexpectedPass,
}

impl Verdict {
    fn of(passed: bool, expected_failure: bool) -> Verdict {
        match (passed, expected_failure) {
            (true, false) => Verdict::Pass,
            (false, false) => Verdict::Fail,
            (false, true) => Verdict::ExpectedFail,
            (true, true) => Verdict::UnexpectedPass,
        }
    }

    fn word(self) -> &'static str {
        match self {
            Verdict::Pass => "PASS",
            Verdict::Fail => "FAIL",
            Verdict::ExpectedFail => "EXPECTED-FAIL",
            Verdict::UnexpectedPass => "UNEXPECTED-PASS",
        }
    }

    fn is_failure(self) -> bool {
        matches!(self, Verdict::Fail | Verdict::UnexpectedPass)
    }
}

/// The scratch directory of one run: `lxc/` (bound on /var/lib/lxc and
/// /var/lib/enclos), `bin/` (the links and shims), one log per test.
/// Removed on drop.
struct Scratch {
    root: PathBuf,
    /// /var/lib/enclos when this run created it (removed again if empty).
    made_lxcpath: Option<PathBuf>,
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if let Err(e) = std::fs::remove_dir_all(&self.root) {
            eprintln!(
                "warning: cannot remove the conformance scratch directory {}: {e}",
                self.root.display()
            );
        }
        if let Some(dir) = &self.made_lxcpath {
            let _ = std::fs::remove_dir(dir);
        }
    }
}

const LXC_DIR: &str = "/var/lib/lxc";
const ENCLOS_DIR: &str = "/var/lib/enclos";

fn make_scratch(target: &Target) -> Result<Scratch> {
    let root = std::env::temp_dir().join(format!("enclos-conformance.{}", std::process::id()));
    let made_lxcpath = (!Path::new(ENCLOS_DIR).exists()).then(|| PathBuf::from(ENCLOS_DIR));
    for dir in [root.join("lxc"), root.join("bin"), PathBuf::from(LXC_DIR)] {
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("Cannot create {}", dir.display()))?;
    }
    let scratch = Scratch { root, made_lxcpath };
    std::fs::create_dir_all(ENCLOS_DIR).with_context(|| format!("Cannot create {ENCLOS_DIR}"))?;
    match target {
        Target::Enclos(enclos) => install_links(enclos, &scratch.root.join("bin"))?,
        Target::Lxc => std::fs::write(
            scratch.root.join("default.conf"),
            "lxc.net.0.type = empty\nlxc.net.0.flags = up\n",
        )
        .context("Cannot write the conformance default.conf")?,
    }
    Ok(scratch)
}

/// enclos's links (`enclos compat install`), then a shim for every other
/// `lxc-*` tool of `PATH`, so that a test calling a tool enclos lacks fails
/// with that reason instead of running LXC's.
fn install_links(enclos: &Path, bin: &Path) -> Result<()> {
    let status = Command::new(enclos)
        .args(["compat", "install"])
        .arg(bin)
        .stdout(Stdio::null())
        .status()
        .with_context(|| format!("Cannot run {}", enclos.display()))?;
    anyhow::ensure!(
        status.success(),
        "`enclos compat install {}` failed ({status})",
        bin.display()
    );
    let path = std::env::var_os("PATH").unwrap_or_default();
    for dir in std::env::split_paths(&path) {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let shim = bin.join(&name);
            if !name.starts_with("lxc-") || name.starts_with("lxc-test-") || shim.exists() {
                continue;
            }
            let text = format!(
                "#!/bin/sh\necho \"{name}: enclos has no {name} (the conformance suite hides LXC's)\" >&2\nexit 127\n"
            );
            std::fs::write(&shim, text)
                .with_context(|| format!("Cannot write {}", shim.display()))?;
            std::fs::set_permissions(&shim, std::fs::Permissions::from_mode(0o755))
                .with_context(|| format!("Cannot make {} executable", shim.display()))?;
        }
    }
    Ok(())
}

fn run_suite(target: &Target, tests: &[String], timeout: Duration) -> Result<()> {
    let scratch = make_scratch(target)?;
    let who = match target {
        Target::Enclos(_) => "enclos",
        Target::Lxc => "LXC",
    };
    let mut results = Vec::new();
    for name in tests {
        let expected = match target {
            Target::Enclos(_) => EXPECTED_FAILURES
                .iter()
                .find(|(t, _)| t == name)
                .map(|(_, why)| *why),
            Target::Lxc => None,
        };
        let log = scratch.root.join(format!("{name}.log"));
        println!("==> conformance ({who}): lxc-test-{name}");
        let outcome = run_one(target, &scratch, name, &log, timeout)?;
        let verdict = Verdict::of(outcome.passed, expected.is_some());
        let mut line = format!("    {:<15} lxc-test-{name}", verdict.word());
        match verdict {
            Verdict::ExpectedFail => line.push_str(&format!(" ({})", expected.unwrap_or(""))),
            Verdict::UnexpectedPass => line.push_str(&format!(
                " (listed as waiting for {}: take it off EXPECTED_FAILURES in xtask/src/conformance.rs)",
                expected.unwrap_or("")
            )),
            _ => {}
        }
        if let Some(why) = &outcome.why {
            line.push_str(&format!(": {why}"));
        }
        println!("{line}");
        let shown = match verdict {
            Verdict::Fail => tail(&log, TAIL_LINES),
            Verdict::ExpectedFail => tool_errors(&log, EXPECTED_LINES),
            _ => Vec::new(),
        };
        for l in shown {
            println!("      | {l}");
        }
        if let Some(left) = cleanup(target, &scratch, timeout)? {
            println!("    warning: after lxc-test-{name}: {left}");
        }
        results.push((name.clone(), verdict));
    }
    if matches!(target, Target::Lxc) {
        remove_lxc_pivots();
    }
    report(who, &results)
}

/// LXC parks processes in an `lxc.pivot` group at the top of each
/// hierarchy and leaves it there: an empty one goes (rmdir refuses a
/// populated group, so another LXC user's is safe).
fn remove_lxc_pivots() {
    for mount in crate::bench::cgroup_mounts().unwrap_or_default() {
        let _ = std::fs::remove_dir(mount.point.join("lxc.pivot"));
    }
}

fn report(who: &str, results: &[(String, Verdict)]) -> Result<()> {
    println!("\n==> conformance ({who}): summary");
    for (name, verdict) in results {
        println!("    {:<15} lxc-test-{name}", verdict.word());
    }
    let count = |v: Verdict| results.iter().filter(|(_, r)| *r == v).count();
    println!(
        "    {} passed, {} failed, {} expected failures, {} unexpected passes",
        count(Verdict::Pass),
        count(Verdict::Fail),
        count(Verdict::ExpectedFail),
        count(Verdict::UnexpectedPass)
    );
    let bad: Vec<&str> = results
        .iter()
        .filter(|(_, v)| v.is_failure())
        .map(|(n, _)| n.as_str())
        .collect();
    if bad.is_empty() {
        Ok(())
    } else {
        Err(Failed::new(1, format!("Conformance tests failed: {}", bad.join(", "))).into())
    }
}

/// How one test ended.
struct Outcome {
    passed: bool,
    /// Why it failed, when its exit code does not say it (timeout, signal).
    why: Option<String>,
}

/// `unshare -m` running `sh -c SCRIPT`: binds the scratch lxc directory on
/// /var/lib/lxc and /var/lib/enclos (and, for LXC, the scratch default.conf
/// on LXC's), then runs `"$@"`. Its own process group, so that a timeout
/// kills the whole test.
fn in_namespace(target: &Target, scratch: &Scratch) -> Command {
    let lxc = scratch.root.join("lxc");
    let mut script = String::from(
        "set -e; mount --make-rprivate /; mount --bind \"$1\" /var/lib/lxc; \
         mount --bind \"$1\" /var/lib/enclos; ",
    );
    if matches!(target, Target::Lxc) {
        script.push_str("mount --bind \"$2\" /etc/lxc/default.conf; ");
    }
    script.push_str("shift 2; set +e; exec \"$@\"");
    let mut cmd = Command::new("unshare");
    cmd.args(["--mount", "--propagation", "private", "--", "sh", "-c"])
        .arg(script)
        .arg("sh")
        .arg(&lxc)
        .arg(scratch.root.join("default.conf"))
        .stdin(Stdio::null())
        .process_group(0);
    if matches!(target, Target::Enclos(_)) {
        let path = std::env::var_os("PATH").unwrap_or_default();
        let mut dirs = vec![scratch.root.join("bin")];
        dirs.extend(std::env::split_paths(&path));
        if let Ok(joined) = std::env::join_paths(dirs) {
            cmd.env("PATH", joined);
        }
    }
    cmd
}

fn run_one(
    target: &Target,
    scratch: &Scratch,
    name: &str,
    log: &Path,
    timeout: Duration,
) -> Result<Outcome> {
    let out = File::create(log).with_context(|| format!("Cannot create {}", log.display()))?;
    let err = out.try_clone().context("Cannot duplicate the log file")?;
    let mut cmd = in_namespace(target, scratch);
    cmd.arg(format!("/usr/bin/lxc-test-{name}"))
        .current_dir(&scratch.root)
        .stdout(out)
        .stderr(err);
    run_with_timeout(&mut cmd, timeout)
}

/// Runs `cmd` (its own process group) and waits at most `timeout`, then
/// kills the group.
fn run_with_timeout(cmd: &mut Command, timeout: Duration) -> Result<Outcome> {
    let mut child = cmd.spawn().context("Cannot run unshare")?;
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(status) = child.try_wait().context("Cannot wait for a test")? {
            let why = (!status.success()).then(|| format!("{status}"));
            return Ok(Outcome {
                passed: status.success(),
                why,
            });
        }
        if Instant::now() >= deadline {
            let group = format!("-{}", child.id());
            let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
            let _ = child.wait();
            return Ok(Outcome {
                passed: false,
                why: Some(format!("killed after {} s", timeout.as_secs())),
            });
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Destroys whatever containers a test left in the scratch lxcpath, inside
/// a namespace like the test's (so that the paths in their configs mean
/// the same). Says what is left, if anything.
fn cleanup(target: &Target, scratch: &Scratch, timeout: Duration) -> Result<Option<String>> {
    let lxc = scratch.root.join("lxc");
    let names: Vec<String> = std::fs::read_dir(&lxc)
        .with_context(|| format!("Cannot read {}", lxc.display()))?
        .flatten()
        .filter(|e| e.path().join("config").is_file())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    for name in &names {
        let mut cmd = in_namespace(target, scratch);
        cmd.args(["lxc-destroy", "-f", "-n", name])
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        run_with_timeout(&mut cmd, timeout)?;
    }
    let mut left = Vec::new();
    for entry in std::fs::read_dir(&lxc)
        .with_context(|| format!("Cannot read {}", lxc.display()))?
        .flatten()
    {
        // Files (a test's log) go silently; a directory is a container
        // that lxc-destroy left behind.
        let path = entry.path();
        if path.is_dir() {
            left.push(entry.file_name().to_string_lossy().into_owned());
            let _ = std::fs::remove_dir_all(&path);
        } else {
            let _ = std::fs::remove_file(&path);
        }
    }
    if left.is_empty() {
        return Ok(None);
    }
    Ok(Some(format!(
        "it left {} in the lxcpath, which lxc-destroy -f did not remove",
        left.join(", ")
    )))
}

/// The lines of `path`.
fn lines(path: &Path) -> Vec<String> {
    let Ok(file) = File::open(path) else {
        return Vec::new();
    };
    BufReader::new(file).lines().map_while(|l| l.ok()).collect()
}

/// The last `n` lines of `path`.
fn tail(path: &Path, n: usize) -> Vec<String> {
    let lines = lines(path);
    lines[lines.len().saturating_sub(n)..].to_vec()
}

/// The first `n` errors an lxc-* tool printed in `path` (`lxc-start:
/// ...`), or its last `n` lines when there is none.
fn tool_errors(path: &Path, n: usize) -> Vec<String> {
    let errors: Vec<String> = lines(path)
        .into_iter()
        .filter(|l| is_tool_error(l))
        .take(n)
        .collect();
    if errors.is_empty() {
        tail(path, n)
    } else {
        errors
    }
}

/// Whether `line` is an error of an lxc-* tool: `lxc-NAME: message`.
fn is_tool_error(line: &str) -> bool {
    line.split_once(": ")
        .is_some_and(|(tool, _)| tool.starts_with("lxc-") && !tool.contains(char::is_whitespace))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expected_failures_are_tests_of_the_suite() {
        for (name, why) in EXPECTED_FAILURES {
            assert!(
                TESTS.contains(name) || ON_REQUEST.contains(name),
                "{name} is not a test of the suite"
            );
            assert!(why.starts_with("issue "), "{name}: name the issue");
        }
    }

    #[test]
    fn tool_errors_are_the_lines_lxc_tools_print() {
        assert!(is_tool_error("lxc-start: Key 'lxc.x' is not supported"));
        assert!(!is_tool_error("+ lxc-start -n c1"));
        assert!(!is_tool_error("FAIL: Test 1: expected pass"));
    }

    #[test]
    fn verdicts() {
        assert_eq!(Verdict::of(true, false), Verdict::Pass);
        assert_eq!(Verdict::of(false, true), Verdict::ExpectedFail);
        assert!(Verdict::of(true, true).is_failure());
        assert!(Verdict::of(false, false).is_failure());
        assert!(!Verdict::of(false, true).is_failure());
    }

    #[test]
    fn unknown_test_is_refused() {
        let err = selected(&["nope".to_string()]).unwrap_err().to_string();
        assert!(err.contains("Unknown conformance test 'nope'"), "{err}");
        assert_eq!(
            selected(&["lxc-test-rootfs".to_string()]).unwrap(),
            vec!["rootfs"]
        );
    }
}
