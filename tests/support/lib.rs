//! Shared helpers for the privileged integration tests.
//!
//! A privileged test starts with `if !require_root("name") { return; }`:
//! when not root it prints `SKIP name: reason` and is skipped, unless
//! `ENCLOS_REQUIRE_PRIVILEGED=1` (set by `.ci/run`) turns the skip into a
//! failure. A test that finds the host lacking a kernel feature calls
//! [`missing_feature`] and returns, with the same rule.

pub mod idmap;
pub mod lab;
pub mod netns;
pub mod user;

use std::fs::File;
use std::io::Read;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::{mpsc, OnceLock};
use std::time::{Duration, Instant};

use nix::fcntl::OFlag;
use nix::sys::signal::{killpg, Signal};
use nix::unistd::{pipe2, Pid};

pub use enclos_testkit::{missing_feature, privileged_required, require_root, REQUIRE_PRIVILEGED};

/// The workspace root (the root package's directory).
pub fn workspace_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The enclos binary the tests run: `$ENCLOS_BIN` when set (as `cargo
/// xtask test` does), else `target/release/enclos`, built once per test
/// process with `cargo build --release -p enclos`.
pub fn enclos_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        if let Some(bin) = std::env::var_os("ENCLOS_BIN").filter(|b| !b.is_empty()) {
            let bin = PathBuf::from(bin);
            assert!(
                bin.is_file(),
                "ENCLOS_BIN={} is not a file: build it with `cargo build --release -p enclos`",
                bin.display()
            );
            return bin;
        }
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let status = Command::new(&cargo)
            .args(["build", "--release", "-p", "enclos"])
            .current_dir(workspace_root())
            .status()
            .unwrap_or_else(|e| panic!("Cannot run {}: {e}", Path::new(&cargo).display()));
        assert!(
            status.success(),
            "`cargo build --release -p enclos` failed ({status}); set ENCLOS_BIN to use a \
             binary built elsewhere"
        );
        let target = std::env::var_os("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .map(|t| {
                if t.is_absolute() {
                    t
                } else {
                    workspace_root().join(t)
                }
            })
            .unwrap_or_else(|| workspace_root().join("target"));
        let bin = target.join("release").join("enclos");
        assert!(
            bin.is_file(),
            "`cargo build` succeeded but {} does not exist",
            bin.display()
        );
        bin
    })
}

/// What a command printed (stdout and stderr interleaved, as on a
/// terminal) and how it ended.
#[derive(Debug)]
pub struct Transcript {
    pub status: ExitStatus,
    pub output: String,
    /// It was killed for running longer than the timeout.
    pub timed_out: bool,
}

/// Runs `cmd` in its own process group with stdout and stderr on one pipe,
/// killing the whole group if it runs longer than `timeout`.
pub fn run_merged(mut cmd: Command, timeout: Duration) -> std::io::Result<Transcript> {
    // O_CLOEXEC: a process spawned meanwhile by another test thread must
    // not inherit the write end (it would hold the pipe open).
    let (read, write) = pipe2(OFlag::O_CLOEXEC)?;
    let write2 = write.try_clone()?;
    cmd.stdin(Stdio::null())
        .stdout(Stdio::from(write))
        .stderr(Stdio::from(write2))
        .process_group(0);
    let mut child = cmd.spawn()?;
    // Our copies of the write end go with `cmd`, so the reader sees EOF
    // once the command and its children are done.
    drop(cmd);

    let (tx, rx) = mpsc::channel::<Vec<u8>>();
    std::thread::spawn(move || {
        let mut pipe = File::from(read);
        let mut buf = [0u8; 8192];
        while let Ok(n @ 1..) = pipe.read(&mut buf) {
            if tx.send(buf[..n].to_vec()).is_err() {
                break;
            }
        }
    });

    let pgid = Pid::from_raw(child.id() as i32);
    let deadline = Instant::now() + timeout;
    let mut timed_out = false;
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        if Instant::now() >= deadline {
            timed_out = true;
            let _ = killpg(pgid, Signal::SIGKILL);
            break child.wait()?;
        }
        std::thread::sleep(Duration::from_millis(20));
    };

    let mut output = Vec::new();
    // A process the command left behind may still hold the pipe: give it a
    // moment, then keep what was written so far.
    let drain_until = Instant::now() + Duration::from_secs(5);
    loop {
        let left = drain_until.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(chunk) => output.extend_from_slice(&chunk),
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                output.extend_from_slice(
                    b"\n[output cut: a process left behind still holds the output pipe]\n",
                );
                break;
            }
        }
    }
    Ok(Transcript {
        status,
        output: String::from_utf8_lossy(&output).into_owned(),
        timed_out,
    })
}
