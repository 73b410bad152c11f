//! Peak memory of one command: `cargo xtask bench maxrss --out FILE --
//! PROGRAM ARGS...` (internal) runs the command as its only child, waits
//! for it, and writes the children's `ru_maxrss` (getrusage, the figure
//! wait4 reports) to FILE, in KiB. A process of its own, so that no other
//! child of the harness counts; standard input and output pass through
//! (an export to `-`).

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};
use nix::sys::resource::{getrusage, UsageWho};

#[derive(Debug, clap::Args)]
pub struct MaxrssArgs {
    /// Where to write the peak RSS, in KiB.
    #[arg(long, value_name = "FILE")]
    out: PathBuf,
    /// The command and its arguments.
    #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true)]
    argv: Vec<OsString>,
}

/// Runs the command; exits with its exit status.
pub(super) fn maxrss(args: &MaxrssArgs) -> Result<()> {
    let status = Command::new(&args.argv[0])
        .args(&args.argv[1..])
        .status()
        .with_context(|| format!("Cannot run {}", args.argv[0].to_string_lossy()))?;
    let usage = getrusage(UsageWho::RUSAGE_CHILDREN).context("getrusage(RUSAGE_CHILDREN)")?;
    // Linux gives ru_maxrss in KiB.
    std::fs::write(&args.out, usage.max_rss().to_string())
        .with_context(|| format!("Cannot write {}", args.out.display()))?;
    if !status.success() {
        bail!("{} failed ({status})", args.argv[0].to_string_lossy());
    }
    Ok(())
}

/// `bench maxrss --out OUT -- PROGRAM ARGS` through this very xtask.
pub(super) fn wrap(out: &Path, cmd: &Command) -> Command {
    let mut wrapped = Command::new("/proc/self/exe");
    wrapped
        .args(["bench", "maxrss", "--out"])
        .arg(out)
        .arg("--")
        .arg(cmd.get_program())
        .args(cmd.get_args());
    for (k, v) in cmd.get_envs() {
        match v {
            Some(v) => wrapped.env(k, v),
            None => wrapped.env_remove(k),
        };
    }
    if let Some(dir) = cmd.get_current_dir() {
        wrapped.current_dir(dir);
    }
    wrapped
}

/// The figure [`maxrss`] wrote, in KiB.
pub(super) fn read_kib(out: &Path) -> std::result::Result<u64, String> {
    let text = std::fs::read_to_string(out)
        .map_err(|e| format!("no peak RSS in {}: {e}", out.display()))?;
    text.trim()
        .parse()
        .map_err(|e| format!("bad peak RSS {:?} in {}: {e}", text.trim(), out.display()))
}

/// A process's VmRSS from /proc/PID/status, in KiB.
pub(super) fn vm_rss_kib(pid: u32) -> std::result::Result<u64, String> {
    let path = format!("/proc/{pid}/status");
    let status = std::fs::read_to_string(&path).map_err(|e| format!("cannot read {path}: {e}"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .ok_or_else(|| format!("no VmRSS line in {path}"))
}

/// A memory figure against its target, worded as the time verdicts are:
/// `Target MET: enclos export peak RSS <= 64 MiB (enclos export 9.1 MiB)`.
pub(super) fn verdict(name: &str, what: &str, kib: Option<u64>, max_mib: f64) -> String {
    let claim = format!("{name} {what} <= {max_mib} MiB");
    match kib {
        Some(kib) => {
            let mib = kib as f64 / 1024.0;
            let verdict = if mib <= max_mib { "MET" } else { "NOT MET" };
            format!("Target {verdict}: {claim} ({name} {mib:.1} MiB)")
        }
        None => format!("Target not evaluated: {claim} ({name} has no measurement)"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_verdicts_read_like_time_ones() {
        assert_eq!(
            verdict("enclos", "VmRSS", Some(2048), 5.0),
            "Target MET: enclos VmRSS <= 5 MiB (enclos 2.0 MiB)"
        );
        assert!(verdict("enclos", "VmRSS", Some(6000), 5.0).starts_with("Target NOT MET"));
        assert_eq!(
            verdict("x", "peak RSS", None, 64.0),
            "Target not evaluated: x peak RSS <= 64 MiB (x has no measurement)"
        );
    }
}
