//! The escape suite (tests/escape.rs) in the lab VM: the lab
//! `lab/escape-suite.sh` runs the suite's test binary in the guest, so
//! that every case is tried on Debian's kernel with cgroup v2 (or v1) and
//! AppArmor, which this host may lack.
//!
//! The guest has no Rust toolchain, so everything the suite builds at run
//! time is built here: the test binary (`cargo test --test escape
//! --no-run`, the guest having the same Debian and glibc) and the syscall
//! probe that tests/escape/seccomp.rs otherwise compiles with rustc. Both
//! go into the run's share, in `escape/`; the guest's payload names that
//! directory to the lab (`LAB_ESCAPE_SUITE`), and the lab gives the probe
//! to the suite by `ENCLOS_ESCAPE_PROBE`.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{bail, Context, Result};

use crate::process::{cargo, show, target_dir, workspace_root, Failed};

/// The lab that runs the suite, a file of lab/.
pub const LAB: &str = "escape-suite.sh";

/// The directory of the share that holds the suite.
pub const SHARE_DIR: &str = "escape";

/// The suite's file names in [`SHARE_DIR`] (lab/escape-suite.sh runs
/// them by these names).
const TEST_NAME: &str = "escape";
const PROBE_NAME: &str = "enclos-probe";

/// The suite, built for the guest.
#[derive(Debug)]
pub struct Suite {
    /// The test binary of tests/escape.rs.
    pub tests: PathBuf,
    /// The static syscall probe of tests/escape/seccomp_probe.rs.
    pub probe: PathBuf,
}

/// Builds the suite: its test binary, then its probe.
pub fn build() -> Result<Suite> {
    let tests = test_binary()?;
    let probe = probe()?;
    Ok(Suite { tests, probe })
}

/// Copies the suite into `share`/[`SHARE_DIR`].
pub fn copy_into(suite: &Suite, share: &Path) -> Result<()> {
    let dir = share.join(SHARE_DIR);
    std::fs::create_dir_all(&dir).with_context(|| format!("Cannot create {}", dir.display()))?;
    for (from, name) in [(&suite.tests, TEST_NAME), (&suite.probe, PROBE_NAME)] {
        std::fs::copy(from, dir.join(name)).with_context(|| {
            format!(
                "Cannot copy {} into the VM's share {}",
                from.display(),
                dir.display()
            )
        })?;
    }
    Ok(())
}

/// `cargo test --test escape --no-run`, and the executable cargo names
/// for it.
fn test_binary() -> Result<PathBuf> {
    let mut cmd = cargo();
    cmd.args([
        "test",
        "--test",
        "escape",
        "--no-run",
        "--message-format=json",
    ]);
    println!("==> build: {}", show(&cmd));
    let out = cmd
        .stderr(Stdio::inherit())
        .output()
        .with_context(|| format!("Cannot run `{}`", show(&cmd)))?;
    if !out.status.success() {
        bail!(Failed::status(
            out.status,
            Some(format!("`{}` failed (see above)", show(&cmd)))
        ));
    }
    test_executable(&String::from_utf8_lossy(&out.stdout), "escape").with_context(|| {
        format!(
            "`{}` named no test executable for the target escape",
            show(&cmd)
        )
    })
}

/// The executable of the test target `name` in cargo's JSON messages:
/// its `compiler-artifact` with `profile.test` true.
fn test_executable(messages: &str, name: &str) -> Option<PathBuf> {
    messages
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|m| m["reason"] == "compiler-artifact")
        .filter(|m| m["profile"]["test"] == true && m["target"]["name"] == name)
        .find_map(|m| m["executable"].as_str().map(PathBuf::from))
}

/// The probe, compiled as tests/escape/seccomp.rs compiles it (the flags
/// of tests/escape/seccomp_probe.rustc-args, read by both): a static
/// binary (the container sees none of the host's libraries), std only.
fn probe() -> Result<PathBuf> {
    let src = workspace_root().join("tests/escape/seccomp_probe.rs");
    let dir = target_dir().join("vm");
    std::fs::create_dir_all(&dir).with_context(|| format!("Cannot create {}", dir.display()))?;
    let out = dir.join(PROBE_NAME);
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let mut cmd = Command::new(rustc);
    let args = workspace_root().join("tests/escape/seccomp_probe.rustc-args");
    let args = std::fs::read_to_string(&args)
        .with_context(|| format!("Cannot read {}", args.display()))?;
    cmd.args(args.lines()).arg(&src).arg("-o").arg(&out);
    println!("==> build: {}", show(&cmd));
    let status = cmd
        .status()
        .with_context(|| format!("Cannot run `{}`", show(&cmd)))?;
    if !status.success() {
        bail!(Failed::status(
            status,
            Some(format!("`{}` failed (see above)", show(&cmd)))
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_test_executable_is_the_artifact_built_for_tests() {
        let messages = r#"{"reason":"compiler-artifact","target":{"name":"escape","kind":["lib"]},"profile":{"test":false},"executable":null}
not json: cargo's noise
{"reason":"compiler-artifact","target":{"name":"other","kind":["test"]},"profile":{"test":true},"executable":"/t/debug/deps/other-1"}
{"reason":"compiler-artifact","target":{"name":"escape","kind":["test"]},"profile":{"test":true},"executable":"/t/debug/deps/escape-2"}
{"reason":"build-finished","success":true}"#;
        assert_eq!(
            test_executable(messages, "escape"),
            Some(PathBuf::from("/t/debug/deps/escape-2"))
        );
        assert_eq!(test_executable(messages, "missing"), None);
        assert_eq!(
            test_executable(r#"{"reason":"build-finished"}"#, "escape"),
            None
        );
    }
}
