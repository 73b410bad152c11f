//! The commands the volume backends drive (lvm2's, zfs, rbd, mkfs): one
//! way to run them ([`Runner`]), so that every failure names the command,
//! its standard error and what to do, and so that unit tests check the
//! exact command lines and feed the outputs (`Fake`, in tests).

use std::io;
use std::path::Path;
use std::process::Command;

use crate::error::{Error, Result};

/// Runs a command and returns its standard output.
pub(crate) trait Runner: Sync {
    /// Runs `program` with `args`: its standard output when it exits 0;
    /// [`Error::ToolMissing`] when it is not installed, [`Error::Command`]
    /// (with its standard error) when it fails.
    fn run(&self, program: &str, args: &[String]) -> Result<String>;
}

/// The runner of the real system: runs the program found in `PATH`.
#[derive(Debug)]
pub(crate) struct System;

impl Runner for System {
    fn run(&self, program: &str, args: &[String]) -> Result<String> {
        let out = Command::new(program)
            .args(args)
            .env("LC_ALL", "C")
            .output()
            .map_err(|source| spawn_error(program, source))?;
        if !out.status.success() {
            return Err(Error::Command {
                command: command_line(program, args),
                status: out.status.to_string(),
                stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
                hint: "",
            });
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }
}

/// The error of a program that did not start: missing (with the package
/// that has it), or another reason.
fn spawn_error(program: &str, source: io::Error) -> Error {
    if source.kind() == io::ErrorKind::NotFound {
        return Error::ToolMissing {
            program: program.to_string(),
            package: package_of(program),
        };
    }
    Error::Spawn {
        program: program.to_string(),
        source,
    }
}

/// The Debian package that installs `program`.
pub(crate) fn package_of(program: &str) -> &'static str {
    match program {
        "zfs" | "zpool" => "zfsutils-linux",
        "rbd" => "ceph-common",
        "mkfs.xfs" => "xfsprogs",
        "mkfs.btrfs" => "btrfs-progs",
        "mkfs.ext2" | "mkfs.ext3" | "mkfs.ext4" => "e2fsprogs",
        "blkid" => "util-linux",
        p if p.starts_with("mkfs.") => "the package of that filesystem's tools",
        _ => "lvm2",
    }
}

/// `program args...` as a shell would show it.
pub(crate) fn command_line(program: &str, args: &[String]) -> String {
    let mut s = program.to_string();
    for a in args {
        s.push(' ');
        s.push_str(a);
    }
    s
}

/// Adds what to do (starting with "; ") to a failed command's error.
pub(crate) fn with_hint(hint: &'static str) -> impl FnOnce(Error) -> Error {
    move |e| match e {
        Error::Command {
            command,
            status,
            stderr,
            hint: "",
        } => Error::Command {
            command,
            status,
            stderr,
            hint,
        },
        e => e,
    }
}

/// The arguments of a command line, owned.
pub(crate) fn args(parts: &[&str]) -> Vec<String> {
    parts.iter().map(|p| (*p).to_string()).collect()
}

/// The filesystem made when `--fstype` is not given.
pub(crate) const DEFAULT_FSTYPE: &str = "ext4";

/// The type of the filesystem on `device` (an image file or a block
/// device), as `blkid -o value -s TYPE` reads it; `None` where it finds
/// none (blkid then exits 2).
pub(crate) fn fstype_of(runner: &dyn Runner, device: &Path) -> Result<Option<String>> {
    let argv = args(&["-o", "value", "-s", "TYPE", &device.to_string_lossy()]);
    match runner.run("blkid", &argv) {
        Ok(out) => Ok(Some(out.trim().to_string()).filter(|t| !t.is_empty())),
        Err(Error::Command { status, .. }) if status.ends_with(" 2") => Ok(None),
        Err(e) => Err(e),
    }
}

/// Makes a filesystem of `fstype` on `device` (an image file or a block
/// device) with `mkfs.FSTYPE`, without asking.
pub(crate) fn mkfs(runner: &dyn Runner, device: &Path, fstype: &str) -> Result<()> {
    let force: &[&str] = match fstype {
        "ext2" | "ext3" | "ext4" => &["-q", "-F"],
        "xfs" | "btrfs" => &["-q", "-f"],
        _ => &[],
    };
    let mut argv = args(force);
    argv.push(device.to_string_lossy().into_owned());
    runner.run(&format!("mkfs.{fstype}"), &argv)?;
    Ok(())
}

#[cfg(test)]
pub(crate) mod fake {
    //! A runner that records the command lines and answers from a script.

    use std::sync::Mutex;

    use super::{command_line, Runner};
    use crate::error::{Error, Result};

    /// Records every command line; answers the first scripted reply whose
    /// prefix starts the command line (and is not used up), else an empty
    /// output.
    #[derive(Debug, Default)]
    pub(crate) struct Fake {
        calls: Mutex<Vec<String>>,
        replies: Mutex<Vec<(String, Reply)>>,
    }

    #[derive(Debug, Clone)]
    enum Reply {
        Out(String),
        Fail(i32, String),
    }

    impl Fake {
        pub(crate) fn new() -> Fake {
            Fake::default()
        }

        /// The next command starting with `prefix` prints `stdout`.
        pub(crate) fn answer(self, prefix: &str, stdout: &str) -> Fake {
            self.push(prefix, Reply::Out(stdout.to_string()))
        }

        /// The next command starting with `prefix` fails with `stderr`.
        pub(crate) fn fail(self, prefix: &str, stderr: &str) -> Fake {
            self.fail_with(prefix, 5, stderr)
        }

        /// The next command starting with `prefix` exits `code` with
        /// `stderr`.
        pub(crate) fn fail_with(self, prefix: &str, code: i32, stderr: &str) -> Fake {
            self.push(prefix, Reply::Fail(code, stderr.to_string()))
        }

        fn push(self, prefix: &str, reply: Reply) -> Fake {
            self.replies
                .lock()
                .unwrap()
                .push((prefix.to_string(), reply));
            self
        }

        /// The command lines run so far.
        pub(crate) fn calls(&self) -> Vec<String> {
            self.calls.lock().unwrap().clone()
        }
    }

    impl Runner for Fake {
        fn run(&self, program: &str, args: &[String]) -> Result<String> {
            let line = command_line(program, args);
            self.calls.lock().unwrap().push(line.clone());
            let mut replies = self.replies.lock().unwrap();
            let Some(i) = replies.iter().position(|(p, _)| line.starts_with(p)) else {
                return Ok(String::new());
            };
            match replies.remove(i).1 {
                Reply::Out(s) => Ok(s),
                Reply::Fail(code, stderr) => Err(Error::Command {
                    command: line,
                    status: format!("exit status: {code}"),
                    stderr,
                    hint: "",
                }),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_program_names_its_package() {
        let err = System
            .run("lvcreate-enclos-test-missing", &[])
            .unwrap_err()
            .to_string();
        assert_eq!(err, "lvcreate-enclos-test-missing not found: install lvm2");
        let err = spawn_error("zfs", io::Error::from(io::ErrorKind::NotFound)).to_string();
        assert_eq!(err, "zfs not found: install zfsutils-linux");
    }

    #[test]
    fn a_failed_command_shows_its_line_stderr_and_hint() {
        let err = System
            .run("sh", &args(&["-c", "echo oops >&2; exit 3"]))
            .map_err(with_hint("; try again"))
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "`sh -c echo oops >&2; exit 3` failed (exit status: 3): oops; try again"
        );
        assert_eq!(System.run("echo", &args(&["hi"])).unwrap(), "hi\n");
    }

    #[test]
    fn mkfs_forces_without_asking() {
        let f = fake::Fake::new();
        mkfs(&f, Path::new("/dev/lxc/c1"), "ext4").unwrap();
        mkfs(&f, Path::new("/dev/lxc/c1"), "xfs").unwrap();
        assert_eq!(
            f.calls(),
            ["mkfs.ext4 -q -F /dev/lxc/c1", "mkfs.xfs -q -f /dev/lxc/c1"]
        );
    }
}
