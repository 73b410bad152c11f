//! The course labs (`lab/*.sh`) played against the enclos binary, one test
//! per lab script.
//!
//! The binary is `$ENCLOS_BIN` (set by `cargo xtask test`) or
//! `target/release/enclos`, built on demand. A lab needs root; exit code 77
//! means "skipped: this host lacks something" (the reason is its last line).
//! With `ENCLOS_REQUIRE_PRIVILEGED=1` both skips become failures.

use std::process::Command;
use std::time::Duration;

use enclos_tests::{enclos_bin, missing_feature, require_root, run_merged, workspace_root};

/// Exit code of a lab script that skips itself.
const LAB_SKIPPED: i32 = 77;

/// A lab running longer than this (seconds; `ENCLOS_LAB_TIMEOUT`
/// overrides) is killed and fails.
const DEFAULT_TIMEOUT_SECS: u64 = 900;

#[test]
fn lab1_cgroups() {
    play("lab1_cgroups", "lab/lab1-cgroups.sh");
}

/// The cg* tools the course does not type: lssubsys, cgxset/cgxget,
/// cgsnapshot loaded back, cgclear, cgrulesengd.
#[test]
fn lab1_cgroup_tools() {
    play("lab1_cgroup_tools", "lab/lab1-cgroup-tools.sh");
}

#[test]
fn lab2_containers() {
    play("lab2_containers", "lab/lab2-containers.sh");
}

#[test]
fn lab2_unprivileged() {
    play("lab2_unprivileged", "lab/lab2-unprivileged.sh");
}

#[test]
fn lab2_ephemeral() {
    play("lab2_ephemeral", "lab/lab2-ephemeral.sh");
}

#[test]
fn lab2_backups() {
    // Its container is lxc-bb too, as in the course: a prefix keeps it
    // (and its cgroup) apart from lab2_containers', which runs alongside.
    play_prefixed("lab2_backups", "lab/lab2-backups.sh", "backups-");
}

// lab/lab2-lvm.sh is not played here: it wipes a spare disk
// (`LAB_LVM_DISK`) and needs device-mapper, which this host lacks. It runs
// in the VM lab, on the disk the VM has for it: `cargo xtask lab vm
// lab2-lvm.sh` (and with every lab, `cargo xtask lab vm`). Played without
// that disk, it skips itself and says so.

/// Plays the lab `script` (relative to the workspace) as
/// `ENCLOS=<bin> bash <script>` and checks that it exits 0.
fn play(test: &str, script: &str) {
    play_prefixed(test, script, "");
}

/// As [`play`], with `LAB_PREFIX=prefix` when `prefix` is not empty.
fn play_prefixed(test: &str, script: &str, prefix: &str) {
    if !require_root(test) {
        return;
    }
    // The labs use the course's names (lxc-bb), and so the same host-wide
    // cgroup names: one lab at a time.
    static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let root = workspace_root();
    let path = root.join(script);
    assert!(
        path.is_file(),
        "{test}: lab script {} not found",
        path.display()
    );
    let enclos = enclos_bin();
    let timeout = std::env::var("ENCLOS_LAB_TIMEOUT")
        .ok()
        .and_then(|t| t.parse().ok())
        .unwrap_or(DEFAULT_TIMEOUT_SECS);

    // Containers go to a lxcpath of the test's own, removed afterwards.
    let lxcpath = tempfile::tempdir().expect("a temporary lxcpath");
    let mut cmd = Command::new("bash");
    if !prefix.is_empty() {
        cmd.env("LAB_PREFIX", prefix);
    }
    cmd.arg(script)
        .env("ENCLOS", enclos)
        .env("LAB_LXCPATH", lxcpath.path())
        .current_dir(root);
    let run = run_merged(cmd, Duration::from_secs(timeout))
        .unwrap_or_else(|e| panic!("{test}: cannot run bash {script}: {e}"));
    let transcript = || {
        format!(
            "\n----- ENCLOS={} bash {script} -----\n{}\n----- end of output -----",
            enclos.display(),
            run.output.trim_end()
        )
    };
    if run.timed_out {
        panic!(
            "{test}: {script} timed out after {timeout}s and was killed{}",
            transcript()
        );
    }
    match run.status.code() {
        // Shown with --nocapture.
        Some(0) => print!("{}", run.output),
        Some(LAB_SKIPPED) => {
            print!("{}", run.output);
            let reason = run
                .output
                .lines()
                .rev()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("the lab gave no reason")
                .trim();
            missing_feature(test, &format!("{script} skipped itself: {reason}"));
        }
        _ => panic!("{test}: {script} failed ({}){}", run.status, transcript()),
    }
}
