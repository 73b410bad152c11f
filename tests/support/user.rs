//! A real user for a test: made with useradd, given ranges in /etc/subuid
//! and /etc/subgid, and removed (user, home, ranges, processes) by a Drop
//! guard even when the test fails.
//!
//! ```no_run
//! use enclos_tests::user::TestUser;
//! let u = TestUser::new("np");
//! let out = u.run("id", &["-u"]);
//! assert_eq!(out.stdout.trim(), u.uid.to_string());
//! ```

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use nix::fcntl::{Flock, FlockArg};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use crate::enclos_bin;
use crate::lab::{run, Out};

/// The files the ranges go to.
pub const SUBUID: &str = "/etc/subuid";
pub const SUBGID: &str = "/etc/subgid";
/// No range is given below this (well above the ones useradd hands out).
pub const FIRST_TEST_ID: u32 = 1_000_000;
/// The size of each user's range.
pub const RANGE: u32 = 65_536;

static SEQ: AtomicUsize = AtomicUsize::new(0);
/// Serializes the edits of /etc/subuid and /etc/subgid by this process's
/// tests (the flock below guards against other processes).
static EDIT: Mutex<()> = Mutex::new(());

/// A user made for one test.
#[derive(Debug)]
pub struct TestUser {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
    pub home: PathBuf,
    /// The first id of the user's range in /etc/subuid and /etc/subgid.
    pub subid: u32,
}

/// Holds the flock of /etc/subuid while the two files are edited.
fn lock_subids() -> (std::sync::MutexGuard<'static, ()>, Flock<File>) {
    let guard = EDIT.lock().unwrap_or_else(|e| e.into_inner());
    let file = OpenOptions::new()
        .read(true)
        .append(true)
        .create(true)
        .open(SUBUID)
        .expect("open /etc/subuid");
    let lock = Flock::lock(file, FlockArg::LockExclusive).expect("flock /etc/subuid");
    (guard, lock)
}

/// The first id above every range of both files (and FIRST_TEST_ID).
fn free_start() -> u32 {
    let mut end = FIRST_TEST_ID as u64;
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
    // Round up to a whole range, leaving a gap: adjacent ranges of two
    // users must not look like one.
    let end = end.div_ceil(RANGE as u64) * RANGE as u64 + RANGE as u64;
    u32::try_from(end).expect("free subordinate ids below 2^32")
}

fn append_line(file: &str, line: &str) {
    let mut f = OpenOptions::new()
        .append(true)
        .create(true)
        .open(file)
        .unwrap_or_else(|e| panic!("open {file}: {e}"));
    writeln!(f, "{line}").unwrap_or_else(|e| panic!("write {file}: {e}"));
}

fn remove_lines(file: &str, name: &str) {
    let Ok(text) = fs::read_to_string(file) else {
        return;
    };
    let prefix = format!("{name}:");
    let kept: String = text
        .lines()
        .filter(|l| !l.starts_with(&prefix))
        .map(|l| format!("{l}\n"))
        .collect();
    if kept != text {
        let _ = fs::write(file, kept);
    }
}

fn passwd_ids(name: &str) -> Option<(u32, u32, PathBuf)> {
    let text = fs::read_to_string("/etc/passwd").ok()?;
    let f: Vec<String> = text
        .lines()
        .map(|l| l.split(':').map(str::to_string).collect::<Vec<_>>())
        .find(|f| f.first().map(String::as_str) == Some(name))?;
    Some((f[2].parse().ok()?, f[3].parse().ok()?, PathBuf::from(&f[5])))
}

impl TestUser {
    /// A new user `ent<tag><n>` with a home directory (mode 0711, so a
    /// container's root can pass through it, as on the course's Debian)
    /// and a range of [`RANGE`] ids in /etc/subuid and /etc/subgid.
    pub fn new(tag: &str) -> TestUser {
        let name = format!(
            "en{tag}{}x{}",
            std::process::id() % 100_000,
            SEQ.fetch_add(1, Ordering::Relaxed)
        );
        assert!(name.len() <= 32, "user name {name} too long");
        let (_guard, _lock) = lock_subids();
        let status = Command::new("useradd")
            .args(["-m", "-s", "/bin/sh", "-c", "enclos test user", &name])
            .status()
            .expect("run useradd");
        assert!(status.success(), "useradd {name}: {status}");
        let (uid, gid, home) = passwd_ids(&name).expect("the new user in /etc/passwd");
        // From here the guard removes it all.
        let subid = free_start();
        let user = TestUser {
            name,
            uid,
            gid,
            home,
            subid,
        };
        // useradd may have given ranges of its own (SUB_UID_COUNT): ours
        // replace them, so the user's first range is known.
        remove_lines(SUBUID, &user.name);
        remove_lines(SUBGID, &user.name);
        let line = format!("{}:{}:{}", user.name, subid, RANGE);
        append_line(SUBUID, &line);
        append_line(SUBGID, &line);
        fs::set_permissions(&user.home, fs::Permissions::from_mode(0o711)).expect("chmod home");
        user
    }

    /// `program args...` as this user (setpriv: its uid, gid and groups),
    /// in its home, with an environment of its own: HOME, USER, LOGNAME,
    /// PATH, and XDG_CONFIG_HOME and XDG_DATA_HOME under the home.
    pub fn cmd(&self, program: impl AsRef<Path>, args: &[&str]) -> Command {
        let mut c = Command::new("setpriv");
        c.arg(format!("--reuid={}", self.uid))
            .arg(format!("--regid={}", self.gid))
            .arg("--init-groups")
            .arg("--")
            .arg(program.as_ref())
            .args(args)
            .current_dir(&self.home)
            .env_clear()
            .env("HOME", &self.home)
            .env("USER", &self.name)
            .env("LOGNAME", &self.name)
            .env("PATH", "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin")
            .env("XDG_CONFIG_HOME", self.home.join(".config"))
            .env("XDG_DATA_HOME", self.home.join(".local/share"));
        if let Some(log) = std::env::var_os("ENCLOS_LOG") {
            c.env("ENCLOS_LOG", log);
        }
        c
    }

    /// [`TestUser::cmd`] in a mount namespace of its own where each of
    /// `hidden` (directories of the host, such as `/etc/lxc`) is an empty
    /// tmpfs: what the user sees on a host without them.
    pub fn cmd_hiding(&self, hidden: &[&str], program: impl AsRef<Path>, args: &[&str]) -> Command {
        let inner = self.cmd(program, args);
        let mut script = String::new();
        for dir in hidden {
            script.push_str(&format!("mount -t tmpfs -o ro tmpfs '{dir}' || exit 125; "));
        }
        script.push_str("exec \"$@\"");
        let mut c = Command::new("unshare");
        c.args([
            "--mount",
            "--propagation",
            "private",
            "sh",
            "-c",
            &script,
            "sh",
        ])
        .arg(inner.get_program())
        .args(inner.get_args())
        .current_dir(&self.home)
        .env_clear()
        .envs(inner.get_envs().filter_map(|(k, v)| Some((k, v?))));
        c
    }

    /// Runs `program args...` as this user.
    pub fn run(&self, program: impl AsRef<Path>, args: &[&str]) -> Out {
        run(self.cmd(program, args))
    }

    /// Runs `enclos args...` as this user.
    pub fn enclos(&self, args: &[&str]) -> Out {
        self.run(enclos_bin(), args)
    }

    /// The user's lxcpath: `$XDG_DATA_HOME/enclos`.
    pub fn lxcpath(&self) -> PathBuf {
        self.home.join(".local/share/enclos")
    }

    /// Writes `text` to `rel` under the home, as the user's file.
    pub fn write(&self, rel: &str, text: &str) -> PathBuf {
        let path = self.home.join(rel);
        let mut dir = path.parent().unwrap().to_path_buf();
        let mut made = Vec::new();
        while !dir.exists() {
            made.push(dir.clone());
            dir = dir.parent().unwrap().to_path_buf();
        }
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(&path, text).unwrap();
        for p in made.iter().chain([&path]) {
            std::os::unix::fs::chown(p, Some(self.uid), Some(self.gid)).unwrap();
        }
        path
    }

    /// Kills every process running as this user or as its subordinate
    /// ids (a container it started), by their pid.
    fn kill_processes(&self) {
        let ids = self.subid..self.subid + RANGE;
        for _ in 0..50 {
            let mut found = false;
            for pid in fs::read_dir("/proc").into_iter().flatten().flatten() {
                let Ok(pid) = pid.file_name().to_string_lossy().parse::<i32>() else {
                    continue;
                };
                let Ok(meta) = fs::metadata(format!("/proc/{pid}")) else {
                    continue;
                };
                if meta.uid() == self.uid || ids.contains(&meta.uid()) {
                    found = true;
                    let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
                }
            }
            if !found {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }
}

impl Drop for TestUser {
    fn drop(&mut self) {
        self.kill_processes();
        let (_guard, _lock) = lock_subids();
        // userdel -r removes the home, with what the user's containers
        // left in it (files of subordinate ids included).
        let _ = Command::new("userdel")
            .args(["-r", "-f", &self.name])
            .output();
        if self.home.exists() {
            let _ = fs::remove_dir_all(&self.home);
        }
        remove_lines(SUBUID, &self.name);
        remove_lines(SUBGID, &self.name);
    }
}
