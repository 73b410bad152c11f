//! `cargo xtask dist`: the Debian package, `target/dist/enclos_VERSION_ARCH.deb`.
//!
//! The package is built with `dpkg-deb` from a tree staged here, not with
//! cargo-deb: most of what goes in is made by running the built binary
//! (`enclos compat list` names the links, `enclos __gen-man` and
//! `__gen-completions` write the man pages and completions), so a staging
//! step is needed whatever builds the archive, and cargo-deb would add a
//! compile of its own (about 200 crates) to every fresh CI machine for the
//! last `tar` of the job. What dpkg-deb needs is in every Debian.
//!
//! The tree:
//! - `/usr/bin/enclos`: the static release binary;
//! - `/usr/libexec/enclos/enclos-user-nic`: the setuid root helper (mode
//!   4755) that gives unprivileged users' containers their veths, within
//!   the rules root writes in `/etc/enclos/enclos-usernet`;
//! - `/usr/libexec/enclos/enclos-init-exec`: the small program through
//!   which a container's init is executed (see crates/init-exec), found
//!   there from `/usr/bin/enclos`;
//! - `/usr/libexec/enclos/compat/NAME`: a link to `/usr/bin/enclos` for
//!   each lxc-* and cg* name (never in /usr/bin, so a real LXC or libcgroup is never
//!   shadowed; `enclos compat install DIR` links them elsewhere), and
//!   `lxc-user-nic`, a link to the setuid helper;
//! - `/usr/share/man/man1/enclos*.1.gz`: the pages of enclos and each
//!   subcommand; `/usr/share/enclos/man/man1/{lxc-*,cg*}.1.gz`: those of
//!   the compat names, found by `man` when the compat directory is on
//!   `PATH` (through the `/usr/libexec/enclos/man` link: man-db looks
//!   beside each PATH directory), and kept out of /usr/share/man, where
//!   Debian's lxc and cgroup-tools own those names;
//! - the bash, zsh and fish completions;
//! - `/etc/enclos/{default,enclos}.conf` (conffiles), `enclos-net.service`
//!   and `enclos.service`, the maintainer scripts, the copyright and
//!   lintian's overrides, from `packaging/`.
//!
//! Lintian then checks the package; an error fails the task.

use std::fs;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};

use crate::deps;
use crate::process::{build_enclos_release, run_checked, show, target_dir, workspace_root};

/// The package's name.
pub const PACKAGE: &str = "enclos";

/// The setuid helper for users' veths, built beside the binary.
pub const USER_NIC: &str = "enclos-user-nic";

/// The trampoline of a container's init, built beside the binary.
pub const INIT_EXEC: &str = "enclos-init-exec";

/// The programs built beside the binary, which go wherever it goes.
pub const BESIDE: [&str; 2] = [USER_NIC, INIT_EXEC];

/// What the package asks of the system, as Debian's lxc writes it.
pub const RECOMMENDS: &str = "busybox-static, uidmap, dnsmasq-base, nftables";
/// What some storage backends need.
pub const SUGGESTS: &str = "lvm2, btrfs-progs";
/// The systemd units, from `packaging/`, enabled and started by the
/// maintainer scripts: the default network, then the autostarted
/// containers.
pub const UNITS: [&str; 2] = ["enclos-net.service", "enclos.service"];

/// Builds the binary, stages the tree, builds the .deb and runs lintian on
/// it. Returns the package's path.
pub fn run() -> Result<PathBuf> {
    deps::ensure("The package", deps::DIST)?;
    let bin = build_enclos_release()?;
    for program in BESIDE {
        anyhow::ensure!(
            bin.with_file_name(program).is_file(),
            "{program} was not built beside {}",
            bin.display()
        );
    }
    let version = env!("CARGO_PKG_VERSION");
    let arch = command_output(Command::new("dpkg").arg("--print-architecture"))?;
    let out_dir = target_dir().join("dist");
    let stage = out_dir.join(format!("{PACKAGE}_{version}_{arch}"));
    if stage.exists() {
        fs::remove_dir_all(&stage).with_context(|| format!("Cannot remove {}", stage.display()))?;
    }
    println!("==> dist: staging {}", stage.display());
    stage_tree(&stage, &bin, &workspace_root().join("packaging"))?;
    write_control(&stage, version, &arch)?;
    let deb = out_dir.join(format!("{PACKAGE}_{version}_{arch}.deb"));
    let mut build = Command::new("dpkg-deb");
    build
        .args(["--root-owner-group", "-Zxz", "--build"])
        .arg(&stage)
        .arg(&deb);
    println!("==> dist: {}", show(&build));
    run_checked(&mut build)?;
    let mut lintian = Command::new("lintian");
    lintian
        .args(["--fail-on", "error,warning", "--display-info"])
        .arg(&deb);
    println!("==> dist: {}", show(&lintian));
    run_checked(&mut lintian)?;
    println!("==> dist: {}", deb.display());
    Ok(deb)
}

/// Stages everything but `DEBIAN/control` under `root`: the binary `bin`,
/// what it generates, and the files of `packaging`.
pub fn stage_tree(root: &Path, bin: &Path, packaging: &Path) -> Result<()> {
    let usr_bin = root.join("usr/bin");
    mkdir(&usr_bin)?;
    install_stripped(bin, &usr_bin.join(PACKAGE), 0o755)?;
    let compat = root.join("usr/libexec/enclos/compat");
    mkdir(&compat)?;
    let helper = bin.with_file_name(USER_NIC);
    if helper.is_file() {
        let to = root.join("usr/libexec/enclos").join(USER_NIC);
        install_stripped(&helper, &to, 0o4755)?;
        // LXC's name for it: a link to the helper itself, so the setuid
        // bit applies (a link to enclos would lose the privilege).
        let link = compat.join("lxc-user-nic");
        symlink(format!("../{USER_NIC}"), &link)
            .with_context(|| format!("Cannot create link {}", link.display()))?;
    }
    let init_exec = bin.with_file_name(INIT_EXEC);
    if init_exec.is_file() {
        let to = root.join("usr/libexec/enclos").join(INIT_EXEC);
        install_stripped(&init_exec, &to, 0o755)?;
    }
    let names = command_output(Command::new(bin).args(["compat", "list"]))?;
    for name in names.lines().filter(|n| !n.is_empty()) {
        let link = compat.join(name);
        symlink("../../../bin/enclos", &link)
            .with_context(|| format!("Cannot create link {}", link.display()))?;
    }
    stage_man(root, bin, packaging)?;
    stage_completions(root, bin)?;
    let etc = root.join("etc/enclos");
    mkdir(&etc)?;
    for conf in ["default.conf", "enclos.conf"] {
        install(&packaging.join(conf), &etc.join(conf), 0o644)?;
    }
    let units = root.join("lib/systemd/system");
    mkdir(&units)?;
    for unit in UNITS {
        install(&packaging.join(unit), &units.join(unit), 0o644)?;
    }
    let doc = root.join("usr/share/doc").join(PACKAGE);
    mkdir(&doc)?;
    install(&packaging.join("copyright"), &doc.join("copyright"), 0o644)?;
    fs::write(doc.join("changelog"), changelog(env!("CARGO_PKG_VERSION")))
        .context("Cannot write the changelog")?;
    gzip(&doc.join("changelog"))?;
    let overrides = root.join("usr/share/lintian/overrides");
    mkdir(&overrides)?;
    install(
        &packaging.join("lintian-overrides"),
        &overrides.join(PACKAGE),
        0o644,
    )?;
    let debian = root.join("DEBIAN");
    mkdir(&debian)?;
    for script in ["postinst", "prerm", "postrm"] {
        install(&packaging.join(script), &debian.join(script), 0o755)?;
    }
    fs::write(
        debian.join("conffiles"),
        "/etc/enclos/default.conf\n/etc/enclos/enclos.conf\n",
    )
    .context("Cannot write DEBIAN/conffiles")?;
    write_md5sums(root)?;
    set_dir_modes(root)
}

/// The man pages, gzipped: enclos's in /usr/share/man/man1, the compat
/// names' in /usr/share/enclos/man/man1 (see the module's docs); the
/// setuid helper's, from `packaging/man`, in both (as `enclos-user-nic`
/// and `lxc-user-nic`).
fn stage_man(root: &Path, bin: &Path, packaging: &Path) -> Result<()> {
    let gen = root.join("gen-man");
    run_checked(Command::new(bin).arg("__gen-man").arg(&gen))?;
    let man1 = root.join("usr/share/man/man1");
    let compat_man1 = root.join("usr/share/enclos/man/man1");
    for (from, to) in [(gen.clone(), &man1), (gen.join("compat"), &compat_man1)] {
        mkdir(to)?;
        for entry in read_dir_sorted(&from)? {
            if entry.extension().is_some_and(|e| e == "1") {
                let dest = to.join(entry.file_name().context("A man page without a name")?);
                install(&entry, &dest, 0o644)?;
                gzip(&dest)?;
            }
        }
    }
    fs::remove_dir_all(&gen).with_context(|| format!("Cannot remove {}", gen.display()))?;
    // The setuid helper has no clap (few dependencies on purpose): its
    // page is written by hand, under both its names.
    let page = packaging.join("man/enclos-user-nic.1");
    for dest in [
        man1.join("enclos-user-nic.1"),
        compat_man1.join("lxc-user-nic.1"),
    ] {
        install(&page, &dest, 0o644)?;
        gzip(&dest)?;
    }
    let link = root.join("usr/libexec/enclos/man");
    symlink("../../share/enclos/man", &link)
        .with_context(|| format!("Cannot create link {}", link.display()))
}

/// The completions where bash-completion, zsh and fish look for them.
fn stage_completions(root: &Path, bin: &Path) -> Result<()> {
    let gen = root.join("gen-completions");
    run_checked(Command::new(bin).arg("__gen-completions").arg(&gen))?;
    for (file, dir, name) in [
        (
            "enclos.bash",
            "usr/share/bash-completion/completions",
            "enclos",
        ),
        ("_enclos", "usr/share/zsh/vendor-completions", "_enclos"),
        (
            "enclos.fish",
            "usr/share/fish/vendor_completions.d",
            "enclos.fish",
        ),
    ] {
        let dir = root.join(dir);
        mkdir(&dir)?;
        install(&gen.join(file), &dir.join(name), 0o644)?;
    }
    fs::remove_dir_all(&gen).with_context(|| format!("Cannot remove {}", gen.display()))
}

/// `DEBIAN/control` for `version` on `arch`, with the tree's size.
fn write_control(root: &Path, version: &str, arch: &str) -> Result<()> {
    let mut du = Command::new("du");
    du.args(["-sk", "--exclude=DEBIAN"]).arg(root);
    let size = command_output(&mut du)?
        .split_whitespace()
        .next()
        .map(str::to_string)
        .context("`du -sk` printed no size")?;
    fs::write(root.join("DEBIAN/control"), control(version, arch, &size))
        .context("Cannot write DEBIAN/control")
}

/// The text of `DEBIAN/control`.
pub fn control(version: &str, arch: &str, installed_size: &str) -> String {
    format!(
        "Package: {PACKAGE}\n\
         Version: {version}\n\
         Architecture: {arch}\n\
         Maintainer: enclos developers <enclos@example.invalid>\n\
         Installed-Size: {installed_size}\n\
         Recommends: {RECOMMENDS}\n\
         Suggests: {SUGGESTS}\n\
         Section: admin\n\
         Priority: optional\n\
         Description: system containers and control groups, as LXC and libcgroup\n \
         enclos creates, starts, attaches to, snapshots and destroys system\n \
         containers with LXC's configuration language and commands, and\n \
         manages control groups (v1, v2 or hybrid) with libcgroup's.\n \
         .\n \
         The lxc-* and cg* names are links in /usr/libexec/enclos/compat,\n \
         so that a real LXC or libcgroup is never shadowed: put that\n \
         directory on PATH, or run `enclos compat install /usr/local/bin`.\n \
         enclos-net.service makes the default network (bridge lxcbr0, NAT,\n \
         DHCP) and enclos.service starts the containers marked lxc.start.auto\n \
         at boot.\n"
    )
}

/// A native package's changelog (Debian policy wants one).
fn changelog(version: &str) -> String {
    format!(
        "{PACKAGE} ({version}) unstable; urgency=medium\n\n  \
         * Built by `cargo xtask dist`.\n\n \
         -- enclos developers <enclos@example.invalid>  Thu, 01 Jan 2026 00:00:00 +0000\n"
    )
}

/// `DEBIAN/md5sums`: every regular file but the conffiles and DEBIAN/.
fn write_md5sums(root: &Path) -> Result<()> {
    let mut files = Vec::new();
    for top in ["usr", "lib"] {
        collect_files(&root.join(top), root, &mut files)?;
    }
    files.sort();
    let mut md5 = Command::new("md5sum");
    md5.current_dir(root).args(&files);
    let sums = command_output(&mut md5)?;
    fs::write(root.join("DEBIAN/md5sums"), sums + "\n").context("Cannot write DEBIAN/md5sums")
}

fn collect_files(dir: &Path, root: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    for path in read_dir_sorted(dir)? {
        let meta = fs::symlink_metadata(&path)?;
        if meta.is_dir() {
            collect_files(&path, root, out)?;
        } else if meta.is_file() {
            out.push(path.strip_prefix(root)?.to_path_buf());
        }
    }
    Ok(())
}

fn read_dir_sorted(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut entries = fs::read_dir(dir)
        .with_context(|| format!("Cannot read {}", dir.display()))?
        .map(|e| e.map(|e| e.path()))
        .collect::<std::io::Result<Vec<_>>>()
        .with_context(|| format!("Cannot read {}", dir.display()))?;
    entries.sort();
    Ok(entries)
}

/// `mkdir -p`.
fn mkdir(dir: &Path) -> Result<()> {
    fs::create_dir_all(dir).with_context(|| format!("Cannot create {}", dir.display()))
}

/// Mode 0755 on `dir` and every directory under it, whatever the umask.
fn set_dir_modes(dir: &Path) -> Result<()> {
    fs::set_permissions(dir, fs::Permissions::from_mode(0o755))
        .with_context(|| format!("Cannot set the mode of {}", dir.display()))?;
    for path in read_dir_sorted(dir)? {
        if fs::symlink_metadata(&path)?.is_dir() {
            set_dir_modes(&path)?;
        }
    }
    Ok(())
}

/// Copies `from` to `to` with `mode`.
fn install(from: &Path, to: &Path, mode: u32) -> Result<()> {
    fs::copy(from, to)
        .with_context(|| format!("Cannot copy {} to {}", from.display(), to.display()))?;
    fs::set_permissions(to, fs::Permissions::from_mode(mode))
        .with_context(|| format!("Cannot set the mode of {}", to.display()))
}

/// [`install`], then `strip` as dh_strip does (the symbols stay in
/// target/, not in the package), then the mode again: strip rewrites the
/// file, and a setuid bit would not survive it.
fn install_stripped(from: &Path, to: &Path, mode: u32) -> Result<()> {
    install(from, to, mode)?;
    run_checked(
        Command::new("strip")
            .args(["--remove-section=.comment", "--remove-section=.note"])
            .arg(to),
    )?;
    fs::set_permissions(to, fs::Permissions::from_mode(mode))
        .with_context(|| format!("Cannot chmod {}", to.display()))
}

/// `gzip -9n FILE` (no name or timestamp inside, as Debian wants).
fn gzip(file: &Path) -> Result<()> {
    run_checked(Command::new("gzip").arg("-9nf").arg(file))
}

/// Runs `cmd` and returns its standard output, trimmed.
fn command_output(cmd: &mut Command) -> Result<String> {
    let out = cmd
        .output()
        .with_context(|| format!("Cannot run `{}`", show(cmd)))?;
    if !out.status.success() {
        bail!(
            "`{}` failed ({}): {}",
            show(cmd),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_has_the_fields_dpkg_and_the_issue_want() {
        let text = control("1.2.3", "amd64", "4242");
        let field = |name: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(&format!("{name}: ")))
                .unwrap_or_else(|| panic!("no {name} in\n{text}"))
                .to_string()
        };
        assert_eq!(field("Package"), "enclos");
        assert_eq!(field("Version"), "1.2.3");
        assert_eq!(field("Architecture"), "amd64");
        assert_eq!(field("Installed-Size"), "4242");
        assert_eq!(
            field("Recommends"),
            "busybox-static, uidmap, dnsmasq-base, nftables"
        );
        assert_eq!(field("Suggests"), "lvm2, btrfs-progs");
        // The long description's lines start with one space; no blank line.
        let after: Vec<&str> = text
            .lines()
            .skip_while(|l| !l.starts_with("Description:"))
            .skip(1)
            .collect();
        assert!(
            !after.is_empty() && after.iter().all(|l| l.starts_with(' ') && l.len() > 1),
            "{text}"
        );
        assert!(text.ends_with('\n'));
    }
}
