//! Running the commands of `bench compare containers`: spawned directly
//! (no shell), standard input from /dev/null, standard output and error
//! into files (a daemon that keeps them open cannot hold the harness up),
//! each with a timeout.

use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use crate::process::show;

/// Runs commands, capturing their output in two files of a directory.
#[derive(Debug)]
pub(super) struct Spawner {
    stdout: PathBuf,
    stderr: PathBuf,
}

/// A command that ran to its end (successfully or not).
#[derive(Debug)]
pub(super) struct Ran {
    /// The command line, for messages.
    pub line: String,
    pub status: ExitStatus,
    /// Wall time from just before the spawn to the exit being reaped.
    pub elapsed: Duration,
    pub stdout: String,
    pub stderr: String,
}

impl Ran {
    /// "`CMD` failed (exit status: 1); its stderr: ...".
    pub fn failure(&self) -> String {
        format!(
            "`{}` failed ({}); {}",
            self.line,
            self.status,
            self.output()
        )
    }

    /// The command's error output (its standard output when it wrote no
    /// error), last lines only, for messages.
    pub fn output(&self) -> String {
        let (what, text) = if self.stderr.trim().is_empty() && !self.stdout.trim().is_empty() {
            ("no stderr; its stdout", &self.stdout)
        } else {
            ("its stderr", &self.stderr)
        };
        let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
        if lines.is_empty() {
            return "it wrote nothing on stderr".to_string();
        }
        const LAST: usize = 12;
        let skipped = lines.len().saturating_sub(LAST);
        let mut out = format!("{what}:");
        if skipped > 0 {
            out.push_str(&format!("\n    [... {skipped} line(s)]"));
        }
        for line in &lines[skipped..] {
            out.push_str("\n    ");
            out.push_str(line.trim_end());
        }
        out
    }
}

impl Spawner {
    /// Output files in `dir` (created if needed), named after this process
    /// so that two processes sharing `dir` never mix them up.
    pub fn new(dir: &Path) -> io::Result<Spawner> {
        fs::create_dir_all(dir)?;
        let pid = std::process::id();
        Ok(Spawner {
            stdout: dir.join(format!("{pid}.stdout")),
            stderr: dir.join(format!("{pid}.stderr")),
        })
    }

    /// Runs `cmd` to its end, killing it after `timeout`. Fails only when
    /// it cannot be spawned or times out; see [`Spawner::ok`].
    pub fn run(&self, cmd: &mut Command, timeout: Duration) -> Result<Ran, String> {
        let line = show(cmd);
        let files = File::create(&self.stdout).and_then(|o| Ok((o, File::create(&self.stderr)?)));
        let (out, err) = files.map_err(|e| {
            format!(
                "cannot create the output files {}: {e}",
                self.stdout.display()
            )
        })?;
        cmd.stdin(Stdio::null()).stdout(out).stderr(err);

        let started = Instant::now();
        let mut child = cmd
            .spawn()
            .map_err(|e| format!("cannot run `{line}`: {e}"))?;
        let pid = child.id();
        let (tx, rx) = mpsc::channel();
        let waiter = thread::spawn(move || {
            let status = child.wait();
            let _ = tx.send((status, Instant::now()));
        });
        let (waited, ended, timed_out) = match rx.recv_timeout(timeout) {
            Ok((status, ended)) => (status, ended, false),
            Err(_) => {
                // Not reaped yet (the waiter still waits), so `pid` is
                // still this child's.
                let _ = Command::new("kill")
                    .args(["-KILL", &pid.to_string()])
                    .stderr(Stdio::null())
                    .status();
                match rx.recv() {
                    Ok((status, ended)) => (status, ended, true),
                    Err(_) => return Err(format!("lost track of `{line}` (pid {pid})")),
                }
            }
        };
        let _ = waiter.join();
        let status = waited.map_err(|e| format!("cannot wait for `{line}`: {e}"))?;
        let read = |p: &Path| {
            fs::read(p)
                .map(|b| String::from_utf8_lossy(&b).into_owned())
                .unwrap_or_default()
        };
        let ran = Ran {
            line,
            status,
            elapsed: ended - started,
            stdout: read(&self.stdout),
            stderr: read(&self.stderr),
        };
        if timed_out {
            return Err(format!(
                "`{}` did not finish within {}s and was killed; {}",
                ran.line,
                timeout.as_secs(),
                ran.output()
            ));
        }
        Ok(ran)
    }

    /// Runs `cmd`; an exit status other than 0 is an error, which quotes
    /// its stderr.
    pub fn ok(&self, cmd: &mut Command, timeout: Duration) -> Result<Ran, String> {
        let ran = self.run(cmd, timeout)?;
        if ran.status.success() {
            Ok(ran)
        } else {
            Err(ran.failure())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spawner() -> (Spawner, PathBuf) {
        let dir = std::env::temp_dir().join(format!(
            "xtask-spawn-test-{}-{:?}",
            std::process::id(),
            thread::current().id()
        ));
        (Spawner::new(&dir).unwrap(), dir)
    }

    #[test]
    fn captures_output_and_status() {
        let (sp, dir) = spawner();
        let ran = sp
            .ok(
                Command::new("sh").args(["-c", "echo out; echo err >&2"]),
                Duration::from_secs(10),
            )
            .unwrap();
        assert_eq!(ran.stdout, "out\n");
        assert_eq!(ran.stderr, "err\n");

        let why = sp
            .ok(
                Command::new("sh").args(["-c", "echo 'it broke' >&2; exit 3"]),
                Duration::from_secs(10),
            )
            .unwrap_err();
        assert!(why.contains("exit status: 3"), "{why}");
        assert!(why.contains("its stderr:\n    it broke"), "{why}");
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn kills_after_the_timeout() {
        let (sp, dir) = spawner();
        let started = Instant::now();
        let why = sp
            .run(Command::new("sleep").arg("30"), Duration::from_millis(200))
            .unwrap_err();
        assert!(started.elapsed() < Duration::from_secs(10));
        assert!(why.contains("was killed"), "{why}");
        fs::remove_dir_all(dir).unwrap();
    }
}
