//! `cargo xtask test`: the whole check, in the order CI runs it, stopping
//! at the first failure with its exit code.
//!
//! First the host: what the parts need is installed with apt-get, each
//! Debian package named before it is installed (see [`deps`]). Installing
//! needs root; without root the whole check stops and prints the install
//! command, unless `--quick`.
//!
//! 1. `cargo fmt --all -- --check`
//! 2. `cargo clippy --workspace --all-targets -- -D warnings`
//! 3. the docs: `cargo doc --no-deps --workspace` with `-D warnings`
//! 4. the packaging: `cargo package` of every workspace member that can be
//!    published (read from `cargo metadata`, so a new library crate is in
//!    it without a change here), together, so that those depending on
//!    other members are verified against them;
//! 5. `cargo build --release -p enclos`, then the Debian package (`cargo
//!    xtask dist`, checked by lintian; tests/dist.rs reads it through
//!    `ENCLOS_DEB`);
//! 6. the VM lab (`cargo xtask lab vm`: the labs inside a Debian 12 guest
//!    under systemd, with cgroup v2 then v1; the v2 guest then installs
//!    the package with apt and checks it, reboot and purge included, as
//!    `cargo xtask lab vm --deb` does);
//! 7. LXC's own shell tests against that binary (`cargo xtask
//!    conformance`);
//! 8. `cargo test --workspace` with `ENCLOS_BIN` set to that binary, so the
//!    lab tests play the release build.
//!
//! The last output is a summary: the parts that ran and those left out,
//! each with its reason. `--quick` is the only way to leave parts out: it
//! leaves out fmt, clippy, the docs, the packaging and the VM lab, and,
//! when not root, LXC's tests (the privileged tests then skip themselves,
//! each with its reason).
//!
//! `ENCLOS_REQUIRE_PRIVILEGED` is passed through unchanged (set to 1 by
//! `.ci/run`: a missing privilege is then a failure, not a skip).

use std::process::Command;

use anyhow::{Context, Result};

use crate::deps;
use crate::process::{build_enclos_release, cargo, is_root, run_streaming, show, Failed};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Leave out the long parts: fmt, clippy, the docs, the packaging, the
    /// Debian package and the VM lab (and LXC's tests when not root). The
    /// summary names them.
    #[arg(long)]
    pub quick: bool,
}

/// The parts that ran and those left out, for the closing summary.
#[derive(Debug, Default)]
struct Summary {
    ran: Vec<&'static str>,
    left_out: Vec<(&'static str, String)>,
    failed: Option<&'static str>,
}

impl Summary {
    /// Runs one part, noting that it ran or that it failed.
    fn part(&mut self, name: &'static str, f: impl FnOnce() -> Result<()>) -> Result<()> {
        match f() {
            Ok(()) => {
                self.ran.push(name);
                Ok(())
            }
            Err(e) => {
                self.failed = Some(name);
                Err(e)
            }
        }
    }

    fn leave_out(&mut self, name: &'static str, why: impl Into<String>) {
        let why = why.into();
        println!("==> {name}: left out ({why})");
        self.left_out.push((name, why));
    }

    fn print(&self) {
        println!();
        match self.failed {
            Some(part) => println!("==> test summary: FAILED in {part} (see above)"),
            None => println!("==> test summary: passed"),
        }
        let ran = if self.ran.is_empty() {
            "nothing".to_string()
        } else {
            self.ran.join(", ")
        };
        println!("    ran: {ran}");
        if self.left_out.is_empty() {
            println!("    left out: nothing");
        }
        for (part, why) in &self.left_out {
            println!("    left out: {part} ({why})");
        }
    }
}

pub fn run(args: &Args) -> Result<()> {
    let required = enclos_testkit::privileged_required();
    let privileged = required || is_root();
    prepare_host(args.quick, privileged)?;
    let mut summary = Summary::default();
    let result = run_parts(args, privileged, &mut summary);
    summary.print();
    result
}

/// Installs what the parts that will run need (naming each package), or,
/// without root and without `--quick`, fails with the install command and
/// the ways on.
fn prepare_host(quick: bool, privileged: bool) -> Result<()> {
    if !privileged && !quick {
        return Err(Failed::new(1, not_root_message()).into());
    }
    deps::ensure("The tests", deps::BUILD)?;
    if privileged {
        deps::ensure("The tests", deps::LABS)?;
        deps::ensure("The default network's tests", deps::NET)?;
        deps::ensure("The storage tests", deps::STORAGE)?;
        deps::ensure("LXC's own tests", deps::CONFORMANCE)?;
    } else {
        // --quick without root: the tests that need these skip with a reason.
        deps::ensure_best_effort("The tests", deps::LABS);
    }
    if privileged && !quick {
        deps::ensure("The VM lab", deps::VM)?;
        deps::ensure("The Vagrantfile's test", deps::VAGRANT)?;
    }
    Ok(())
}

/// Why a run without root stops, what the host lacks, and what to type.
fn not_root_message() -> String {
    let all = [
        deps::BUILD,
        deps::LABS,
        deps::NET,
        deps::STORAGE,
        deps::CONFORMANCE,
        deps::VM,
        deps::VAGRANT,
    ];
    let mut packages: Vec<&str> = all
        .iter()
        .flat_map(|reqs| deps::missing(reqs))
        .map(|r| r.package)
        .collect();
    packages.sort_unstable();
    packages.dedup();
    let mut msg = String::from(
        "`cargo xtask test` runs every part, and the VM lab, LXC's own tests and the \
         privileged tests need root.\n",
    );
    if !packages.is_empty() {
        msg.push_str(&format!(
            "This host also lacks Debian packages ({}); run as root, the tests install \
             them. To install them yourself:\n    {}\n",
            packages.join(", "),
            deps::install_hint(&packages)
        ));
    }
    msg.push_str(
        "Run it as root: sudo env \"PATH=$PATH\" cargo xtask test\n\
         or leave the parts that need root out: cargo xtask test --quick",
    );
    msg
}

/// The parts, in order, each noted in `summary`; stops at the first failure.
fn run_parts(args: &Args, privileged: bool, summary: &mut Summary) -> Result<()> {
    if args.quick {
        for part in ["fmt", "clippy", "docs", "packaging"] {
            summary.leave_out(part, "--quick");
        }
    } else {
        summary.part("fmt", || step("fmt", &["fmt", "--all", "--", "--check"]))?;
        summary.part("clippy", || {
            step(
                "clippy",
                &[
                    "clippy",
                    "--workspace",
                    "--all-targets",
                    "--",
                    "-D",
                    "warnings",
                ],
            )
        })?;
        summary.part("docs", docs)?;
        summary.part("packaging", packaging)?;
    }
    let mut enclos = None;
    summary.part("release build", || {
        enclos = Some(build_enclos_release()?);
        Ok(())
    })?;
    let enclos = enclos.context("The release build gave no binary")?;
    let mut deb = None;
    if args.quick {
        summary.leave_out("dist", "--quick");
    } else {
        summary.part("dist", || {
            deb = Some(crate::dist::run()?);
            Ok(())
        })?;
    }
    if args.quick {
        summary.leave_out("VM lab", "--quick");
    } else {
        summary.part("VM lab", || {
            crate::vm::lab::test_step(&enclos, deb.as_deref())
        })?;
    }
    if privileged {
        summary.part("LXC's tests", || crate::conformance::test_step(&enclos))?;
    } else {
        summary.leave_out("LXC's tests", "not root: they start containers");
    }
    summary.part("cargo test", || {
        let mut cmd = cargo();
        cmd.args(["test", "--workspace"]).env("ENCLOS_BIN", &enclos);
        if let Some(deb) = &deb {
            cmd.env("ENCLOS_DEB", deb);
        }
        println!("==> test: ENCLOS_BIN={} {}", enclos.display(), show(&cmd));
        let status = run_streaming(&mut cmd)?;
        if status.success() {
            Ok(())
        } else {
            // cargo test's own summary says what failed.
            Err(Failed::status(status, None).into())
        }
    })?;
    if !privileged {
        summary.leave_out(
            "the privileged tests",
            "not root: each said it skipped, with its reason",
        );
    }
    Ok(())
}

/// The docs build without a warning (broken links, bad HTML in comments).
fn docs() -> Result<()> {
    let mut cmd = cargo();
    cmd.args(["doc", "--no-deps", "--workspace"])
        .env("RUSTDOCFLAGS", "-D warnings");
    println!("==> docs: RUSTDOCFLAGS=\"-D warnings\" {}", show(&cmd));
    let status = run_streaming(&mut cmd)?;
    if status.success() {
        Ok(())
    } else {
        Err(Failed::status(status, Some(format!("The docs have warnings ({status})"))).into())
    }
}

/// Every publishable member packages and builds from its package alone
/// (path dependencies carry versions, the README and metadata are there).
/// They are packaged in one `cargo package` so that a crate depending on
/// another member is verified against that member's package.
fn packaging() -> Result<()> {
    let members = publishable_members()?;
    let mut cmd = cargo();
    cmd.args(["package", "--allow-dirty"]);
    for member in &members {
        cmd.args(["-p", member]);
    }
    forget_unpacked(&members)?;
    let result = step_cmd("packaging", cmd);
    forget_unpacked(&members)?;
    result
}

/// Removes the copies of `members` that an earlier `cargo package` unpacked
/// into cargo's home. Cargo keys its temporary registry by the checkout's
/// path and never unpacks a crate again once its directory is there, so a
/// second run from the same path would verify against the first run's
/// sources. Only local registries (named `-HASH`) are touched.
fn forget_unpacked(members: &[String]) -> Result<()> {
    let home = std::env::var_os("CARGO_HOME")
        .map(std::path::PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| std::path::Path::new(&h).join(".cargo")))
        .context("Neither CARGO_HOME nor HOME is set: cannot find cargo's home")?;
    for kind in ["src", "cache"] {
        let Ok(registries) = std::fs::read_dir(home.join("registry").join(kind)) else {
            continue;
        };
        for registry in registries.flatten() {
            if !registry.file_name().to_string_lossy().starts_with('-') {
                continue;
            }
            for entry in std::fs::read_dir(registry.path())?.flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                if is_unpacked_member(&name, members) {
                    let path = entry.path();
                    let removed = if path.is_dir() {
                        std::fs::remove_dir_all(&path)
                    } else {
                        std::fs::remove_file(&path)
                    };
                    removed.with_context(|| {
                        format!("Cannot remove the stale packaged copy {}", path.display())
                    })?;
                }
            }
        }
    }
    Ok(())
}

/// Whether `name` is `MEMBER-VERSION` or `MEMBER-VERSION.crate` for one of
/// `members`.
fn is_unpacked_member(name: &str, members: &[String]) -> bool {
    members.iter().any(|m| {
        name.strip_prefix(m.as_str())
            .and_then(|rest| rest.strip_prefix('-'))
            .is_some_and(|version| version.starts_with(|c: char| c.is_ascii_digit()))
    })
}

/// The workspace members that may be published (no `publish = false`),
/// from `cargo metadata`.
fn publishable_members() -> Result<Vec<String>> {
    let mut cmd = cargo();
    cmd.args(["metadata", "--no-deps", "--format-version", "1"]);
    let out = cmd
        .output()
        .with_context(|| format!("Cannot run `{}`", show(&cmd)))?;
    if !out.status.success() {
        return Err(Failed::new(
            1,
            format!(
                "`{}` failed ({}): {}",
                show(&cmd),
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            ),
        )
        .into());
    }
    let meta: serde_json::Value =
        serde_json::from_slice(&out.stdout).context("Cannot read cargo metadata's output")?;
    publishable(&meta)
}

/// The names of the packages of `meta` whose `publish` is not `[]`.
fn publishable(meta: &serde_json::Value) -> Result<Vec<String>> {
    let packages = meta["packages"]
        .as_array()
        .context("cargo metadata's output has no packages")?;
    let mut names: Vec<String> = packages
        .iter()
        .filter(|p| !p["publish"].as_array().is_some_and(Vec::is_empty))
        .filter_map(|p| p["name"].as_str().map(str::to_string))
        .collect();
    names.sort();
    Ok(names)
}

/// Runs `cargo ARGS` under a header line.
fn step(name: &str, args: &[&str]) -> Result<()> {
    let mut cmd = cargo();
    cmd.args(args);
    step_cmd(name, cmd)
}

/// Runs `cmd` under a header line; its failure names the part.
fn step_cmd(name: &str, mut cmd: Command) -> Result<()> {
    println!("==> {name}: {}", show(&cmd));
    let status = run_streaming(&mut cmd)?;
    if status.success() {
        Ok(())
    } else {
        Err(Failed::status(status, Some(format!("{name} failed ({status})"))).into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unpacked_member_names() {
        let members = vec!["enclos".to_string(), "enclos-config".to_string()];
        assert!(is_unpacked_member("enclos-config-0.1.0", &members));
        assert!(is_unpacked_member("enclos-0.1.0.crate", &members));
        assert!(!is_unpacked_member("enclos-configx-0.1.0", &members));
        assert!(!is_unpacked_member("serde-1.0.0", &members));
    }

    #[test]
    fn publishable_leaves_out_publish_false() {
        let meta = serde_json::json!({"packages": [
            {"name": "enclos-storage", "publish": null},
            {"name": "xtask", "publish": []},
            {"name": "enclos-cgroupfs", "publish": null},
            {"name": "enclos-tests", "publish": []},
        ]});
        assert_eq!(
            publishable(&meta).unwrap(),
            ["enclos-cgroupfs", "enclos-storage"]
        );
    }

    #[test]
    fn summary_names_what_ran_and_what_was_left_out() {
        let mut s = Summary::default();
        s.part("fmt", || Ok(())).unwrap();
        s.leave_out("VM lab", "--quick");
        assert!(s.part("docs", || anyhow::bail!("no")).is_err());
        assert_eq!(s.ran, ["fmt"]);
        assert_eq!(s.left_out, [("VM lab", "--quick".to_string())]);
        assert_eq!(s.failed, Some("docs"));
    }
}
