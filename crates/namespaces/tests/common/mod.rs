//! Helpers for the privileged tests: skipping, busybox rootfs trees, child
//! guards and pipe capture.
#![allow(dead_code)]

use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{kill, Signal};
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::Pid;

/// Serializes the tests of one binary: a test thread cloning while another
/// is inside a lock (the allocator's, a lazy static's) or holds a fresh
/// pipe end would hand the child a stuck lock or a stray fd.
pub fn serial() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

pub use enclos_testkit::{missing_feature, require_root};

/// True when busybox is there to build a rootfs; otherwise skips (or fails).
pub fn require_busybox(test: &str) -> bool {
    if Path::new(BUSYBOX).is_file() {
        return true;
    }
    missing_feature(
        test,
        "needs /usr/bin/busybox (apt-get install busybox-static)",
    );
    false
}

pub const BUSYBOX: &str = "/usr/bin/busybox";

/// A tiny busybox rootfs in a temporary directory (removed on drop):
/// bin/busybox with its applet links, and empty etc, proc, sys, dev, tmp,
/// root directories.
pub struct BusyboxRootfs {
    pub dir: tempfile::TempDir,
}

impl BusyboxRootfs {
    pub fn new() -> Self {
        let dir = tempfile::Builder::new()
            .prefix("enclos-ns-test")
            .tempdir()
            .unwrap();
        let root = dir.path().join("rootfs");
        for d in ["bin", "etc", "proc", "sys", "dev", "root", "mnt"] {
            std::fs::create_dir_all(root.join(d)).unwrap();
        }
        std::fs::copy(BUSYBOX, root.join("bin/busybox")).unwrap();
        let list = std::process::Command::new(BUSYBOX)
            .arg("--list")
            .output()
            .unwrap();
        for applet in String::from_utf8_lossy(&list.stdout).lines() {
            let applet = applet.trim();
            if applet.is_empty() || applet == "busybox" || applet.contains('/') {
                continue;
            }
            let _ = symlink("busybox", root.join("bin").join(applet));
        }
        std::fs::write(root.join("etc/passwd"), "root:x:0:0:root:/root:/bin/sh\n").unwrap();
        std::fs::write(root.join("etc/group"), "root:x:0:\ntty:x:5:\n").unwrap();
        Self { dir }
    }

    pub fn path(&self) -> PathBuf {
        self.dir.path().join("rootfs")
    }
}

/// Kills (SIGKILL) and reaps a child on drop, unless it was reaped.
pub struct ChildGuard {
    pub pid: Pid,
    reaped: bool,
}

impl ChildGuard {
    pub fn new(pid: Pid) -> Self {
        Self { pid, reaped: false }
    }

    /// Waits up to `timeout` for the child to exit; kills it past that.
    pub fn wait(&mut self, timeout: Duration) -> WaitStatus {
        let deadline = Instant::now() + timeout;
        loop {
            match waitpid(self.pid, Some(nix::sys::wait::WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::StillAlive) => {
                    if Instant::now() >= deadline {
                        let _ = kill(self.pid, Signal::SIGKILL);
                        let status = waitpid(self.pid, None).unwrap();
                        self.reaped = true;
                        panic!(
                            "child {} did not exit within {timeout:?} (killed: {status:?})",
                            self.pid
                        );
                    }
                    std::thread::sleep(Duration::from_millis(10));
                }
                Ok(status) => {
                    self.reaped = true;
                    return status;
                }
                Err(Errno::EINTR) => {}
                Err(e) => panic!("waitpid {}: {e}", self.pid),
            }
        }
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        if !self.reaped {
            let _ = kill(self.pid, Signal::SIGKILL);
            let _ = waitpid(self.pid, None);
        }
    }
}

/// Reads `fd` until EOF, at most `timeout` in all.
pub fn read_to_eof(fd: &OwnedFd, timeout: Duration) -> String {
    let deadline = Instant::now() + timeout;
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            panic!(
                "no EOF within {timeout:?}; read so far:\n{}",
                String::from_utf8_lossy(&out)
            );
        }
        let ms = i32::try_from(left.as_millis()).unwrap_or(i32::MAX).max(1);
        let mut fds = [PollFd::new(fd.as_fd(), PollFlags::POLLIN)];
        match poll(&mut fds, PollTimeout::try_from(ms).unwrap()) {
            Ok(0) | Err(Errno::EINTR) => continue,
            Ok(_) => {}
            Err(e) => panic!("poll: {e}"),
        }
        match nix::unistd::read(fd, &mut buf) {
            Ok(0) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(Errno::EINTR | Errno::EAGAIN) => {}
            // A pty master whose slave side is gone.
            Err(Errno::EIO) => break,
            Err(e) => panic!("read: {e}"),
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The value of `key=` in `key=value` lines.
pub fn fact<'a>(output: &'a str, key: &str) -> Option<&'a str> {
    output
        .lines()
        .find_map(|l| l.strip_prefix(key).and_then(|rest| rest.strip_prefix('=')))
}

/// Host mount points under `dir` (from /proc/self/mountinfo): must be none
/// after a test, since everything happens in the child's mount namespace.
pub fn host_mounts_under(dir: &Path) -> Vec<String> {
    let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let dir = dir.to_string_lossy().into_owned();
    enclos_mounts::MountInfo::parse_all(&info)
        .map(|m| m.mount_point.to_string_lossy().into_owned())
        .filter(|mp| mp.starts_with(&dir))
        .collect()
}
