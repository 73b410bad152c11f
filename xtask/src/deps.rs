//! Host prerequisites: what each task needs, how to check it, and the
//! Debian package that provides it.
//!
//! Each task has a table of [`Requirement`]s. [`ensure`] installs whatever
//! is missing with apt-get when it can (root, apt-get present), after
//! naming the packages; otherwise it prints the exact command to run and
//! fails. [`ensure_best_effort`] does the same but reports what is still
//! missing instead of failing, for tasks that can go on without it.
//! QEMU comes from the release's backports suite ([`FROM_BACKPORTS`]),
//! which is added to apt's sources first when it is missing.

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

/// Building enclos (linking Rust binaries).
pub const BUILD: &[Requirement] = &[req("link Rust binaries", "cc", "gcc")];

/// The lab scripts and the tools they call (`cargo xtask demo` plays them,
/// `cargo xtask test` too). cgroup-tools is not among them: the labs type
/// libcgroup's commands, and enclos answers them.
pub const LABS: &[Requirement] = &[
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

/// The storage tests' file systems: images formatted with btrfs (the btrfs
/// backend, its snapshots and the template cache) and ext4 (loop).
pub const STORAGE: &[Requirement] = &[
    req("the btrfs backend's tests", "mkfs.btrfs", "btrfs-progs"),
    req("the loop backend's tests", "mkfs.ext4", "e2fsprogs"),
];

/// The default network (`enclos net up`) and its tests (tests/net_default.rs):
/// DHCP and DNS for the containers, and the NAT table.
pub const NET: &[Requirement] = &[
    req("DHCP and DNS of `enclos net up`", "dnsmasq", "dnsmasq-base"),
    req("the NAT of `enclos net up`", "nft", "nftables"),
];

/// `cargo xtask conformance` (a step of `cargo xtask test`): LXC's own
/// shell tests, LXC's tools they compare with, and `unshare` for the
/// private mount namespace each test runs in.
pub const CONFORMANCE: &[Requirement] = &[
    req(
        "LXC's own shell tests (the conformance suite)",
        "lxc-test-exit-code",
        "lxc-tests",
    ),
    req(
        "LXC's tools, which the conformance suite compares with",
        "lxc-start",
        "lxc",
    ),
    req(
        "a private mount namespace per conformance test",
        "unshare",
        "util-linux",
    ),
];

/// `cargo xtask bench compare cgroups`: libcgroup's tools to compare with.
pub const BENCH_CGROUPS: &[Requirement] = &[
    req("compare with cgroup-tools", "cgcreate", "cgroup-tools"),
    req("compare with cgroup-tools", "cgexec", "cgroup-tools"),
    req("compare with cgroup-tools", "cgdelete", "cgroup-tools"),
];

/// `cargo xtask vm build` and `lab vm`: building the Debian image and
/// booting it under QEMU. QEMU comes from bookworm-backports (see
/// [`FROM_BACKPORTS`]).
pub const VM: &[Requirement] = &[
    req("boot the lab VM", "qemu-system-x86_64", "qemu-system-x86"),
    req(
        "make the lab VM's throwaway disk overlays",
        "qemu-img",
        "qemu-utils",
    ),
    req(
        "build the lab VM's Debian root filesystem",
        "mmdebstrap",
        "mmdebstrap",
    ),
    req("make the lab VM's disk image", "mkfs.ext4", "e2fsprogs"),
    req("unpack Debian's kernel package", "dpkg-deb", "dpkg"),
    req("resolve and download Debian's kernel", "apt-get", "apt"),
];

/// `cargo xtask dist`: building the Debian package and checking it.
pub const DIST: &[Requirement] = &[
    req("build the Debian package", "dpkg-deb", "dpkg"),
    req("strip the binary for the package", "strip", "binutils"),
    req("compress the man pages and the changelog", "gzip", "gzip"),
    req("list the package's checksums", "md5sum", "coreutils"),
    req("check the Debian package", "lintian", "lintian"),
    req("check the package's zsh completion", "zsh", "zsh"),
    req("check the package's fish completion", "fish", "fish"),
];

/// The Vagrantfile's test (`vagrant validate`).
pub const VAGRANT: &[Requirement] = &[req("validate the Vagrantfile", "vagrant", "vagrant")];

/// Packages installed from the release's backports suite
/// (`<codename>-backports`, added to apt's sources when missing): the
/// qemu-utils that Debian 12 hosts are set up with comes from there, and
/// the stable QEMU system emulator cannot be installed next to it.
pub const FROM_BACKPORTS: &[&str] = &["qemu-system-x86", "qemu-utils"];

/// Packages installed without their recommends: vagrant recommends
/// vagrant-libvirt, which brings libvirt's daemon (about 190 packages) that
/// validating a Vagrantfile does not need; fish recommends python3 and
/// clipboard tools, which completing a command line does not need.
pub const WITHOUT_RECOMMENDS: &[&str] = &["vagrant", "fish"];

/// The sources file this module writes to enable backports.
const BACKPORTS_SOURCES: &str = "/etc/apt/sources.list.d/enclos-backports.sources";

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
    let (backports, stable): (Vec<&str>, Vec<&str>) =
        packages.iter().partition(|p| FROM_BACKPORTS.contains(*p));
    let (lean, stable): (Vec<&str>, Vec<&str>) =
        stable.iter().partition(|p| WITHOUT_RECOMMENDS.contains(*p));
    let mut commands = Vec::new();
    if !stable.is_empty() {
        let mut cmd = Command::new("apt-get");
        cmd.args(["install", "-y"])
            .args(&stable)
            .env("DEBIAN_FRONTEND", "noninteractive");
        apt_get(&mut cmd)?;
        commands.push(show(&cmd));
    }
    if !lean.is_empty() {
        let mut cmd = Command::new("apt-get");
        cmd.args(["install", "-y", "--no-install-recommends"])
            .args(&lean)
            .env("DEBIAN_FRONTEND", "noninteractive");
        apt_get(&mut cmd)?;
        commands.push(show(&cmd));
    }
    if !backports.is_empty() {
        let suite = enable_backports()?;
        // Without the recommends, QEMU comes without its GUI (and half
        // the download).
        let mut cmd = Command::new("apt-get");
        cmd.args(["install", "-y", "--no-install-recommends", "-t", &suite])
            .args(&backports)
            .env("DEBIAN_FRONTEND", "noninteractive");
        apt_get(&mut cmd)?;
        commands.push(show(&cmd));
    }
    let still: Vec<&str> = self::missing(missing).iter().map(|r| r.program).collect();
    if still.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "`{}` succeeded but {} still cannot be found on PATH",
            commands.join("` and `"),
            still.join(", ")
        ))
    }
}

/// Runs an `apt-get install` command under a header line. When it fails,
/// the package lists may be missing or stale (a new machine): `apt-get
/// update` runs once and the install is tried again.
fn apt_get(cmd: &mut Command) -> std::result::Result<(), String> {
    println!("==> deps: {}", show(cmd));
    match run_streaming(cmd) {
        Ok(status) if status.success() => return Ok(()),
        Ok(_) => {}
        Err(e) => return Err(format!("{e:#}")),
    }
    let mut update = Command::new("apt-get");
    update
        .arg("update")
        .env("DEBIAN_FRONTEND", "noninteractive");
    println!(
        "==> deps: {} (the install failed: refreshing the package lists)",
        show(&update)
    );
    match run_streaming(&mut update) {
        Ok(status) if status.success() => {}
        Ok(status) => {
            return Err(format!(
                "`{}` failed ({status}): check apt's sources and the network",
                show(&update)
            ))
        }
        Err(e) => return Err(format!("{e:#}")),
    }
    println!("==> deps: {}", show(cmd));
    match run_streaming(cmd) {
        Ok(status) if status.success() => Ok(()),
        Ok(status) => Err(format!(
            "`{}` failed ({status}) even after `apt-get update`: the package may not exist in this release",
            show(cmd)
        )),
        Err(e) => Err(format!("{e:#}")),
    }
}

/// Makes sure apt knows this Debian release's backports suite: adds it to
/// apt's sources (a file of our own) when no source names it, and runs
/// `apt-get update` when its package list is not there yet. Returns the
/// suite's name (`bookworm-backports`).
fn enable_backports() -> std::result::Result<String, String> {
    let codename = debian_codename().ok_or_else(|| {
        format!(
            "{} come from Debian's backports, but this host is not a Debian release with a \
             codename in /etc/os-release: install QEMU (qemu-system-x86_64, qemu-img) with its \
             own package manager, then run this again",
            FROM_BACKPORTS.join(" and ")
        )
    })?;
    let suite = format!("{codename}-backports");
    let named = apt_sources_text().contains(&suite);
    if !named {
        let text = format!(
            "# Added by `cargo xtask` (enclos) to install QEMU from {suite}.\n\
             Types: deb\n\
             URIs: http://deb.debian.org/debian\n\
             Suites: {suite}\n\
             Components: main\n\
             Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n"
        );
        println!("==> deps: adding {suite} to apt's sources ({BACKPORTS_SOURCES})");
        std::fs::write(BACKPORTS_SOURCES, text).map_err(|e| {
            format!(
                "Cannot write {BACKPORTS_SOURCES} to enable {suite}: {e}; add {suite} to apt's \
                 sources yourself, then run this again"
            )
        })?;
    }
    if !named || !backports_listed(&suite) {
        let mut cmd = Command::new("apt-get");
        cmd.arg("update");
        println!("==> deps: {}", show(&cmd));
        match run_streaming(&mut cmd) {
            Ok(status) if status.success() => {}
            Ok(status) => {
                return Err(format!(
                    "`apt-get update` failed ({status}) after enabling {suite}: check the \
                     network and apt's sources, then run this again"
                ))
            }
            Err(e) => return Err(format!("{e:#}")),
        }
    }
    Ok(suite)
}

/// The release's codename (`bookworm`) from /etc/os-release, on Debian.
fn debian_codename() -> Option<String> {
    let text = std::fs::read_to_string("/etc/os-release").ok()?;
    let field = |key: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(key)?.strip_prefix('='))
            .map(|v| v.trim().trim_matches('"').to_string())
    };
    (field("ID")? == "debian")
        .then(|| field("VERSION_CODENAME"))
        .flatten()
        .filter(|c| !c.is_empty())
}

/// Everything apt's sources say, concatenated (to look for a suite).
fn apt_sources_text() -> String {
    let mut text = std::fs::read_to_string("/etc/apt/sources.list").unwrap_or_default();
    if let Ok(dir) = std::fs::read_dir("/etc/apt/sources.list.d") {
        for entry in dir.flatten() {
            let path = entry.path();
            let name = path.to_string_lossy();
            if name.ends_with(".list") || name.ends_with(".sources") {
                text.push_str(&std::fs::read_to_string(&path).unwrap_or_default());
            }
        }
    }
    text
}

/// Whether apt already has the package list of `suite` (it was updated
/// since the suite was added).
fn backports_listed(suite: &str) -> bool {
    Command::new("apt-cache")
        .args(["policy", FROM_BACKPORTS[0]])
        .output()
        .map(|out| String::from_utf8_lossy(&out.stdout).contains(suite))
        .unwrap_or(false)
}

/// The command a user should type to install `packages` (those of
/// [`FROM_BACKPORTS`] with `-t <codename>-backports`, once that suite is
/// in apt's sources; those of [`WITHOUT_RECOMMENDS`] without their
/// recommends).
pub fn install_hint(packages: &[&str]) -> String {
    let sudo = if is_root() { "" } else { "sudo " };
    let (backports, stable): (Vec<&str>, Vec<&str>) =
        packages.iter().partition(|p| FROM_BACKPORTS.contains(*p));
    let (lean, stable): (Vec<&str>, Vec<&str>) =
        stable.iter().partition(|p| WITHOUT_RECOMMENDS.contains(*p));
    let mut hints = Vec::new();
    if !stable.is_empty() {
        hints.push(format!("{sudo}apt-get install -y {}", stable.join(" ")));
    }
    if !lean.is_empty() {
        hints.push(format!(
            "{sudo}apt-get install -y --no-install-recommends {}",
            lean.join(" ")
        ));
    }
    if !backports.is_empty() {
        let suite = format!(
            "{}-backports",
            debian_codename().unwrap_or_else(|| "bookworm".into())
        );
        hints.push(format!(
            "{sudo}apt-get install -y --no-install-recommends -t {suite} {}   (after adding \
             {suite} to apt's sources and running apt-get update)",
            backports.join(" ")
        ));
    }
    hints.join("\n    ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn install_hint_keeps_vagrant_without_recommends_and_qemu_from_backports() {
        let hint = install_hint(&["gcc", "vagrant", "qemu-system-x86"]);
        let lines: Vec<&str> = hint.lines().map(str::trim).collect();
        assert_eq!(lines.len(), 3, "{hint}");
        assert!(lines[0].ends_with("apt-get install -y gcc"), "{hint}");
        assert!(
            lines[1].ends_with("apt-get install -y --no-install-recommends vagrant"),
            "{hint}"
        );
        assert!(
            lines[2].contains("--no-install-recommends -t ")
                && lines[2].contains("-backports qemu-system-x86"),
            "{hint}"
        );
    }
}
