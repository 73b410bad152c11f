//! `cargo xtask test`: the whole check, in the order CI runs it, stopping
//! at the first failure with its exit code.
//!
//! 1. `cargo fmt --all -- --check`
//! 2. `cargo clippy --workspace --all-targets -- -D warnings`
//! 3. `cargo build --release -p enclos`
//! 4. the VM lab (`cargo xtask lab vm`: the labs inside a Debian 12 guest
//!    under systemd, with cgroup v2 then v1), skipped with its reason when
//!    this host has no QEMU (or is not root), unless
//!    `ENCLOS_REQUIRE_PRIVILEGED=1`;
//! 5. LXC's own shell tests against that binary (`cargo xtask
//!    conformance`), skipped when not root unless
//!    `ENCLOS_REQUIRE_PRIVILEGED=1`;
//! 6. `cargo test --workspace` with `ENCLOS_BIN` set to that binary, so the
//!    lab tests play the release build; its summary is the last output
//!    (which is why the VM lab comes before it).
//!
//! `ENCLOS_REQUIRE_PRIVILEGED` is passed through unchanged (set to 1 by
//! `.ci/run`: a missing privilege is then a failure, not a skip). With it,
//! the deps step also installs QEMU (from backports) and vagrant (for the
//! Vagrantfile's test).

use anyhow::Result;

use crate::deps;
use crate::process::{build_enclos_release, cargo, run_streaming, show, Failed};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Skip the fmt and clippy steps (a developer's shortcut; CI runs them).
    #[arg(long)]
    pub quick: bool,
}

pub fn run(args: &Args) -> Result<()> {
    deps::ensure("The tests", deps::BUILD)?;
    deps::ensure("The tests", deps::LABS)?;
    let required = std::env::var("ENCLOS_REQUIRE_PRIVILEGED").is_ok_and(|v| v.trim() == "1");
    if required || crate::process::is_root() {
        deps::ensure("LXC's own tests", deps::CONFORMANCE)?;
    }
    if required {
        deps::ensure("The VM lab", deps::VM)?;
        deps::ensure("The Vagrantfile's test", deps::VAGRANT)?;
    }

    if !args.quick {
        step("fmt", &["fmt", "--all", "--", "--check"])?;
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
        )?;
    }
    let enclos = build_enclos_release()?;
    crate::vm::lab::test_step(&enclos)?;
    crate::conformance::test_step(&enclos)?;

    let mut cmd = cargo();
    cmd.args(["test", "--workspace"]).env("ENCLOS_BIN", &enclos);
    println!("==> test: ENCLOS_BIN={} {}", enclos.display(), show(&cmd));
    let status = run_streaming(&mut cmd)?;
    if status.success() {
        Ok(())
    } else {
        // cargo test's own summary says what failed: keep it the last word.
        Err(Failed::status(status, None).into())
    }
}

/// Runs `cargo ARGS` under a header line.
fn step(name: &str, args: &[&str]) -> Result<()> {
    let mut cmd = cargo();
    cmd.args(args);
    println!("==> {name}: {}", show(&cmd));
    let status = run_streaming(&mut cmd)?;
    if status.success() {
        Ok(())
    } else {
        Err(Failed::status(status, Some(format!("{name} failed ({status})"))).into())
    }
}
