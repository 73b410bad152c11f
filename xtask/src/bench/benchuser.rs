//! A real user for the unprivileged measures: made with useradd, given a
//! range in /etc/subuid and /etc/subgid and cgroup subtrees (`enclos cg
//! delegate`), and removed (processes, subtrees, user, home, ranges) when
//! dropped.
//!
//! A small copy of tests/support/user.rs's `TestUser` (the xtask cannot
//! depend on the test crate, whose helpers panic): the same lock file,
//! `$TMPDIR/enclos-tests-subids.lock`, serializes the edits of the two
//! files with the tests that run at the same time, and the files are
//! replaced whole, by a rename.

use std::fs::{self, OpenOptions};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{bail, Context, Result};

const SUBUID: &str = "/etc/subuid";
const SUBGID: &str = "/etc/subgid";
/// No range is given below this (as in the tests).
const FIRST_ID: u64 = 1_000_000;
pub(super) const RANGE: u32 = 65_536;

#[derive(Debug)]
pub(super) struct BenchUser {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
    pub home: PathBuf,
    pub subid: u32,
    enclos: Option<PathBuf>,
    delegated: bool,
}

/// Holds the lock file while /etc/subuid and /etc/subgid are edited.
fn lock_subids() -> Result<fs::File> {
    let path = std::env::temp_dir().join("enclos-tests-subids.lock");
    let file = OpenOptions::new()
        .read(true)
        .append(true)
        .create(true)
        .open(&path)
        .with_context(|| format!("Cannot open {}", path.display()))?;
    file.lock()
        .with_context(|| format!("Cannot lock {}", path.display()))?;
    Ok(file)
}

/// The first id above every range of both files, a whole range further.
fn free_start() -> Result<u32> {
    let mut end = FIRST_ID;
    for file in [SUBUID, SUBGID] {
        let text = fs::read_to_string(file).unwrap_or_default();
        for line in text.lines().filter(|l| !l.trim_start().starts_with('#')) {
            let f: Vec<&str> = line.split(':').collect();
            if let (Some(Ok(start)), Some(Ok(count))) = (
                f.get(1).map(|s| s.trim().parse::<u64>()),
                f.get(2).map(|s| s.trim().parse::<u64>()),
            ) {
                end = end.max(start + count);
            }
        }
    }
    let end = end.div_ceil(RANGE as u64) * RANGE as u64 + RANGE as u64;
    u32::try_from(end).context("No free subordinate ids below 2^32")
}

/// Rewrites `file` without the lines of `name`, then with `add`; whole,
/// by a rename (enclos, run by a test, may be reading it).
fn rewrite(file: &str, name: &str, add: Option<&str>) -> Result<()> {
    let text = fs::read_to_string(file).unwrap_or_default();
    let prefix = format!("{name}:");
    let mut kept: String = text
        .lines()
        .filter(|l| !l.starts_with(&prefix))
        .map(|l| format!("{l}\n"))
        .collect();
    if let Some(line) = add {
        kept.push_str(line);
        kept.push('\n');
    }
    if kept == text {
        return Ok(());
    }
    let tmp = format!("{file}.enclos-bench");
    fs::write(&tmp, kept).with_context(|| format!("Cannot write {tmp}"))?;
    fs::set_permissions(&tmp, fs::Permissions::from_mode(0o644))?;
    fs::rename(&tmp, file).with_context(|| format!("Cannot replace {file}"))
}

fn passwd_ids(name: &str) -> Option<(u32, u32, PathBuf)> {
    let text = fs::read_to_string("/etc/passwd").ok()?;
    let f: Vec<&str> = text
        .lines()
        .map(|l| l.split(':').collect::<Vec<_>>())
        .find(|f| f.first() == Some(&name))?;
    Some((f[2].parse().ok()?, f[3].parse().ok()?, PathBuf::from(f[5])))
}

impl BenchUser {
    /// A new user `enb<pid>` with a home (mode 0711), a range of
    /// [`RANGE`] ids, and cgroup subtrees when `enclos` is given.
    pub fn new(enclos: Option<&Path>) -> Result<BenchUser> {
        let name = format!("enb{}", std::process::id());
        let lock = lock_subids()?;
        let status = Command::new("useradd")
            .args(["-m", "-s", "/bin/sh", "-c", "enclos bench user", &name])
            .status()
            .context("Cannot run useradd")?;
        if !status.success() {
            bail!("useradd {name} failed ({status})");
        }
        let Some((uid, gid, home)) = passwd_ids(&name) else {
            bail!("{name} is not in /etc/passwd after useradd");
        };
        let mut user = BenchUser {
            subid: 0,
            name,
            uid,
            gid,
            home,
            enclos: enclos.map(Path::to_path_buf),
            delegated: false,
        };
        // From here the drop removes it all.
        user.subid = free_start()?;
        let line = format!("{}:{}:{RANGE}", user.name, user.subid);
        rewrite(SUBUID, &user.name, Some(&line))?;
        rewrite(SUBGID, &user.name, Some(&line))?;
        drop(lock);
        fs::set_permissions(&user.home, fs::Permissions::from_mode(0o711))?;
        if let Some(bin) = &user.enclos {
            let status = Command::new(bin)
                .args(["cg", "delegate", "--user", &user.name])
                .stdout(Stdio::null())
                .status()?;
            user.delegated = status.success();
        }
        Ok(user)
    }

    /// `program args...` as this user (setpriv), in its home, with an
    /// environment of its own.
    pub fn cmd(&self, inner: &Command) -> Command {
        let mut c = Command::new("setpriv");
        c.arg(format!("--reuid={}", self.uid))
            .arg(format!("--regid={}", self.gid))
            .arg("--init-groups")
            .arg("--")
            .arg(inner.get_program())
            .args(inner.get_args())
            .current_dir(&self.home)
            .env_clear()
            .env("HOME", &self.home)
            .env("USER", &self.name)
            .env("LOGNAME", &self.name)
            .env("PATH", "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin")
            .env("XDG_CONFIG_HOME", self.home.join(".config"))
            .env("XDG_DATA_HOME", self.home.join(".local/share"));
        c
    }

    /// Writes `text` to `rel` under the home, as the user's file.
    pub fn write(&self, rel: &str, text: &str) -> Result<PathBuf> {
        let path = self.home.join(rel);
        let mut dirs = Vec::new();
        let mut dir = path.parent().map(Path::to_path_buf);
        while let Some(d) = dir.filter(|d| !d.exists()) {
            dir = d.parent().map(Path::to_path_buf);
            dirs.push(d);
        }
        for d in dirs.iter().rev() {
            fs::create_dir(d).with_context(|| format!("Cannot create {}", d.display()))?;
        }
        fs::write(&path, text).with_context(|| format!("Cannot write {}", path.display()))?;
        for p in dirs.iter().chain([&path]) {
            std::os::unix::fs::chown(p, Some(self.uid), Some(self.gid))?;
        }
        Ok(path)
    }

    /// Kills the processes of the user and of its subordinate ids.
    fn kill_processes(&self) {
        let ids = self.subid..self.subid + RANGE;
        for _ in 0..50 {
            let mut pids = Vec::new();
            for entry in fs::read_dir("/proc").into_iter().flatten().flatten() {
                let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
                    continue;
                };
                if let Ok(meta) = fs::metadata(entry.path()) {
                    if meta.uid() == self.uid || ids.contains(&meta.uid()) {
                        pids.push(pid.to_string());
                    }
                }
            }
            if pids.is_empty() {
                return;
            }
            let _ = Command::new("kill")
                .arg("-KILL")
                .args(&pids)
                .stderr(Stdio::null())
                .status();
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }
}

impl Drop for BenchUser {
    fn drop(&mut self) {
        self.kill_processes();
        if let (true, Some(bin)) = (self.delegated, &self.enclos) {
            let _ = Command::new(bin)
                .args(["cg", "delegate", "--user", &self.name, "--remove"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
        let lock = lock_subids();
        let _ = Command::new("userdel")
            .args(["-r", "-f", &self.name])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        if self.home.exists() {
            let _ = fs::remove_dir_all(&self.home);
        }
        for file in [SUBUID, SUBGID] {
            if let Err(e) = rewrite(file, &self.name, None) {
                eprintln!("warning: cannot remove {} from {file}: {e:#}", self.name);
            }
        }
        drop(lock);
    }
}

/// Whether `path` belongs to host uid `uid`.
pub(super) fn owned_by(path: &Path, uid: u32) -> bool {
    fs::symlink_metadata(path).is_ok_and(|m| m.uid() == uid)
}
