//! Host prerequisites: what each task needs, how to check it, and the
//! Debian package that provides it.
//!
//! Each task has a table of [`Requirement`]s. [`ensure`] installs whatever
//! is missing with apt-get when it can (root, apt-get present), after
//! naming the packages; otherwise it prints the exact command to run and
//! fails. [`ensure_best_effort`] does the same but reports what is still
//! missing instead of failing, for tasks that can go on without it.

use std::process::Command;

use anyhow::Result;

use crate::process::{find_program, is_root, run_streaming, show, Failed};

/// One thing a task needs from the host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Requirement {
    /// What it is needed for, in words.
    pub purpose: &'static str,
    /// The program whose presence on `$PATH` shows the need is met.
    pub program: &'static str,
    /// The Debian package that provides `program`.
    pub package: &'static str,
}

const fn req(purpose: &'static str, program: &'static str, package: &'static str) -> Requirement {
    Requirement {
        purpose,
        program,
        package,
    }
}

/// `cargo xtask demo`: the lab scripts and the tools they call.
pub const DEMO: &[Requirement] = &[
    req("run the lab scripts", "bash", "bash"),
    req("core utilities the labs call", "mkdir", "coreutils"),
    req(
        "the busybox container template",
        "busybox",
        "busybox-static",
    ),
    req(
        "driving a container's console in Lab 2",
        "script",
        "bsdutils",
    ),
];

/// `cargo xtask test`: building (linking) and the lab scripts the tests
/// play. (cgroup-tools is not needed: the tests never call it.)
pub const TEST: &[Requirement] = &[
    req("link Rust binaries", "cc", "gcc"),
    req("run the lab scripts", "bash", "bash"),
    req("core utilities the labs call", "mkdir", "coreutils"),
    req(
        "the busybox container template",
        "busybox",
        "busybox-static",
    ),
    req(
        "driving a container's console in Lab 2",
        "script",
        "bsdutils",
    ),
];

/// `cargo xtask bench compare cgroups`: libcgroup's tools to compare with.
pub const BENCH_CGROUPS: &[Requirement] = &[
    req("compare with cgroup-tools", "cgcreate", "cgroup-tools"),
    req("compare with cgroup-tools", "cgexec", "cgroup-tools"),
    req("compare with cgroup-tools", "cgdelete", "cgroup-tools"),
];

/// The requirements of `reqs` that this host lacks.
pub fn missing(reqs: &[Requirement]) -> Vec<Requirement> {
    reqs.iter()
        .filter(|r| find_program(r.program).is_none())
        .copied()
        .collect()
}

/// Makes sure every requirement is met, installing the missing packages
/// with apt-get (as root). `task` names who needs them ("The demo").
/// Fails with exit code 1 when they cannot be installed.
pub fn ensure(task: &str, reqs: &[Requirement]) -> Result<()> {
    let missing = missing(reqs);
    if missing.is_empty() {
        return Ok(());
    }
    install(task, &missing).map_err(|why| Failed::new(1, why).into())
}

/// Like [`ensure`], but a failure to install is only reported (as a
/// warning): returns the requirements still missing afterwards.
pub fn ensure_best_effort(task: &str, reqs: &[Requirement]) -> Vec<Requirement> {
    let before = missing(reqs);
    if before.is_empty() {
        return Vec::new();
    }
    if let Err(why) = install(task, &before) {
        eprintln!("warning: {why}");
    }
    missing(reqs)
}

/// Installs the packages of `missing`, or says why it cannot.
fn install(task: &str, missing: &[Requirement]) -> std::result::Result<(), String> {
    let mut packages: Vec<&str> = missing.iter().map(|r| r.package).collect();
    packages.sort_unstable();
    packages.dedup();

    println!("{task} needs Debian packages that this host lacks:");
    for package in &packages {
        let of_package: Vec<&Requirement> =
            missing.iter().filter(|r| r.package == *package).collect();
        let mut purposes: Vec<&str> = of_package.iter().map(|r| r.purpose).collect();
        purposes.dedup();
        let programs: Vec<String> = of_package
            .iter()
            .map(|r| format!("`{}`", r.program))
            .collect();
        println!(
            "  - {package}: to {} ({} not found on PATH)",
            purposes.join(", "),
            programs.join(", ")
        );
    }
    if find_program("apt-get").is_none() {
        let programs: Vec<&str> = missing.iter().map(|r| r.program).collect();
        return Err(format!(
            "This host has no apt-get: install the packages that provide {} with its package \
             manager, then run this again",
            programs.join(", ")
        ));
    }
    if !is_root() {
        return Err(format!(
            "Installing packages needs root. Install them with:\n    {}\nthen run this again",
            install_hint(&packages)
        ));
    }
    let mut cmd = Command::new("apt-get");
    cmd.args(["install", "-y"])
        .args(&packages)
        .env("DEBIAN_FRONTEND", "noninteractive");
    println!("==> deps: {}", show(&cmd));
    match run_streaming(&mut cmd) {
        Ok(status) if status.success() => {}
        Ok(status) => {
            return Err(format!(
                "`{}` failed ({status}); if the package lists are stale, run `apt-get update` \
                 first",
                show(&cmd)
            ))
        }
        Err(e) => return Err(format!("{e:#}")),
    }
    let still: Vec<&str> = self::missing(missing).iter().map(|r| r.program).collect();
    if still.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "`{}` succeeded but {} still cannot be found on PATH",
            show(&cmd),
            still.join(", ")
        ))
    }
}

/// The command a user should type to install `packages`.
pub fn install_hint(packages: &[&str]) -> String {
    let sudo = if is_root() { "" } else { "sudo " };
    format!("{sudo}apt-get install -y {}", packages.join(" "))
}
