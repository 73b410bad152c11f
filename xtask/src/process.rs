//! Running commands, workspace paths, and the exit codes xtask ends with.

use std::ffi::OsStr;
use std::fmt;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus};

use anyhow::{Context, Result};

/// An error that ends xtask with a given exit code. `message` is printed
/// as `error: ...` unless it is `None` (the failing command already said
/// everything).
#[derive(Debug)]
pub struct Failed {
    pub code: u8,
    pub message: Option<String>,
}

impl Failed {
    /// Exit with `code`, printing `message`.
    pub fn new(code: u8, message: impl Into<String>) -> Failed {
        Failed {
            code,
            message: Some(message.into()),
        }
    }

    /// Exit with the code of a command that failed, printing `message`
    /// when given.
    pub fn status(status: ExitStatus, message: Option<String>) -> Failed {
        Failed {
            code: exit_code(status),
            message,
        }
    }
}

impl fmt::Display for Failed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.message {
            Some(m) => f.write_str(m),
            None => write!(f, "exit code {}", self.code),
        }
    }
}

impl std::error::Error for Failed {}

/// The code a shell would report for `status`: the exit code, or 128 +
/// the signal. Never 0 for a failed status.
pub fn exit_code(status: ExitStatus) -> u8 {
    let code = match (status.code(), status.signal()) {
        (Some(c), _) => c,
        (None, Some(sig)) => 128 + sig,
        (None, None) => 1,
    };
    match u8::try_from(code) {
        Ok(0) | Err(_) => 1,
        Ok(c) => c,
    }
}

/// The workspace root (the parent of `xtask/`).
pub fn workspace_root() -> PathBuf {
    let xtask = Path::new(env!("CARGO_MANIFEST_DIR"));
    xtask.parent().unwrap_or(xtask).to_path_buf()
}

/// Cargo's target directory: `$CARGO_TARGET_DIR` (relative to the current
/// directory, as cargo reads it) or `<workspace>/target`.
pub fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) if !dir.is_empty() => {
            let dir = PathBuf::from(dir);
            if dir.is_absolute() {
                dir
            } else {
                std::env::current_dir()
                    .map(|cwd| cwd.join(&dir))
                    .unwrap_or(dir)
            }
        }
        _ => workspace_root().join("target"),
    }
}

/// A `cargo` command (the cargo that runs xtask) in the workspace root.
pub fn cargo() -> Command {
    let program = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(program);
    cmd.current_dir(workspace_root());
    cmd
}

/// The command line of `cmd`, for headers and messages. The program is
/// shown by its file name (`cargo`, not `/root/.cargo/bin/cargo`).
pub fn show(cmd: &Command) -> String {
    let program = Path::new(cmd.get_program())
        .file_name()
        .unwrap_or(cmd.get_program());
    std::iter::once(program)
        .chain(cmd.get_args())
        .map(quote)
        .collect::<Vec<_>>()
        .join(" ")
}

fn quote(arg: &OsStr) -> String {
    let s = arg.to_string_lossy();
    let plain = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c));
    if plain {
        s.into_owned()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// Runs `cmd` with the terminal as its stdin, stdout and stderr.
pub fn run_streaming(cmd: &mut Command) -> Result<ExitStatus> {
    cmd.status()
        .with_context(|| format!("Cannot run `{}`", show(cmd)))
}

/// Runs `cmd` streamed; a non-zero exit becomes [`Failed`] with its code.
pub fn run_checked(cmd: &mut Command) -> Result<()> {
    let status = run_streaming(cmd)?;
    if status.success() {
        Ok(())
    } else {
        Err(Failed::status(status, Some(format!("`{}` failed ({status})", show(cmd)))).into())
    }
}

/// Whether this process runs with effective uid 0 (read from
/// `/proc/self/status`, so no unsafe call is needed).
pub fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|l| l.strip_prefix("Uid:"))
                .and_then(|ids| ids.split_whitespace().nth(1).map(|e| e == "0"))
        })
        .unwrap_or(false)
}

/// The executable `program` as found on `$PATH` (or itself when it holds a
/// slash).
pub fn find_program(program: &str) -> Option<PathBuf> {
    let executable = |p: &Path| {
        p.metadata()
            .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
            .unwrap_or(false)
    };
    if program.contains('/') {
        let p = PathBuf::from(program);
        return executable(&p).then_some(p);
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|p| executable(p))
}

/// Builds the CLI in release (output streamed) and returns the absolute
/// path of the binary.
///
/// On a glibc host the binary is linked statically (`+crt-static`, with an
/// explicit `--target` so that proc-macros stay dynamic): each enclos
/// command is a short-lived process, and skipping the dynamic loader saves
/// about 0.4 ms of every run (measured with hyperfine on `cg get`: 1.7 ms
/// static against 2.3 ms dynamic), which is what lets `cg create` + `cg
/// exec` + `cg delete` keep up with mkdir + sh + rmdir. A static binary can
/// also be executed inside any container's root filesystem.
pub fn build_enclos_release() -> Result<PathBuf> {
    let triple = host_triple()?;
    let mut cmd = cargo();
    cmd.args(["build", "--release", "-p", "enclos"]);
    // The programs beside it are packages of the same names.
    for program in crate::dist::BESIDE {
        cmd.args(["-p", program]);
    }
    let dir = if triple.ends_with("-linux-gnu") {
        cmd.args(["--target", &triple]);
        let var = format!(
            "CARGO_TARGET_{}_RUSTFLAGS",
            triple.to_uppercase().replace(['-', '.'], "_")
        );
        cmd.env(var, "-C target-feature=+crt-static");
        target_dir().join(&triple).join("release")
    } else {
        target_dir().join("release")
    };
    println!("==> build: {}", show(&cmd));
    run_checked(&mut cmd)?;
    let bin = dir.join("enclos");
    anyhow::ensure!(
        bin.is_file(),
        "`cargo build` succeeded but {} does not exist",
        bin.display()
    );
    Ok(bin)
}

/// The host's target triple, from `rustc -vV`.
fn host_triple() -> Result<String> {
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let out = Command::new(&rustc)
        .arg("-vV")
        .output()
        .with_context(|| format!("Cannot run {} -vV", rustc.to_string_lossy()))?;
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("host: "))
        .map(str::to_string)
        .context("`rustc -vV` printed no host triple")
}
