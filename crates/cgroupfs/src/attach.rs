//! Placing processes and threads in groups.

use std::fs::File;
use std::io::Write;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use crate::cgroup::Cgroup;
use crate::error::{write_hint, Error, Result};
use crate::files::write_file;

impl Cgroup {
    /// Places a whole process (all its threads) in the group, on every
    /// hierarchy. If one hierarchy refuses, the process goes back to where
    /// it was on those already changed.
    pub fn attach(&self, pid: i32) -> Result<()> {
        self.place(pid, "cgroup.procs")
    }

    /// Places one thread in the group (`tasks` on v1, `cgroup.threads` on
    /// v2, which needs a threaded subtree).
    pub fn attach_thread(&self, tid: i32) -> Result<()> {
        for m in &self.members {
            let file = if m.is_v2() { "cgroup.threads" } else { "tasks" };
            write_file(&m.dir.join(file), &tid.to_string())?;
        }
        Ok(())
    }

    /// Places the calling process in the group, on every hierarchy, the
    /// cheap way where the kernel has one.
    ///
    /// A write of a pid to `cgroup.procs` takes the kernel's global
    /// threadgroup lock for writing, which waits for an RCU grace period
    /// when no move happened lately: 8 to 25 ms on an idle host, the
    /// largest part of a container's start. Moving a single thread, the
    /// caller itself (`0` written to a v1 `tasks` file), skips that lock.
    /// So a single-threaded caller moves by its thread on v1; on v2, where
    /// a thread cannot leave its domain, it writes `cgroup.procs` unless
    /// `v2_done` says it is there already (cloned into it, see
    /// [`ChildPlacement`]). A caller with threads moves by `cgroup.procs`
    /// everywhere, its whole thread group.
    pub fn enter(&self, v2_done: bool) -> Result<()> {
        if !single_threaded() {
            return self.attach(0);
        }
        self.enter_alone(v2_done)
    }

    /// [`Cgroup::enter`] by the caller's own thread on v1, for a caller
    /// whose other threads have all been joined: a joined thread is still
    /// counted in `/proc/self/status` for a moment after its join returns,
    /// which would send [`Cgroup::enter`] the slow way. A thread still
    /// running would stay behind on v1.
    pub fn enter_alone(&self, v2_done: bool) -> Result<()> {
        self.check_exists()?;
        for m in &self.members {
            match (m.is_v2(), v2_done) {
                (true, true) => {}
                (true, false) => write_file(&m.dir.join("cgroup.procs"), "0")?,
                (false, _) => write_file(&m.dir.join("tasks"), "0")?,
            }
        }
        Ok(())
    }

    /// Opens what a child about to be cloned needs to start in the group
    /// without the global lock [`Cgroup::enter`] speaks of: the v2
    /// directory, for clone3's `CLONE_INTO_CGROUP`, and the v1 `tasks`
    /// files, which the child writes itself ([`ChildPlacement::enter_v1`]).
    /// The files are opened here, by the caller, whose rights the kernel
    /// checks on a write (the child may have entered a user namespace).
    pub fn open_for_child(&self) -> Result<ChildPlacement> {
        self.check_exists()?;
        let mut tasks = Vec::new();
        for m in self.members.iter().filter(|m| !m.is_v2()) {
            let path = m.dir.join("tasks");
            let f = File::options()
                .write(true)
                .custom_flags(libc::O_CLOEXEC)
                .open(&path)
                .map_err(|source| Error::Write {
                    hint: write_hint(&path, &source),
                    file: path.clone(),
                    value: "0".to_string(),
                    source,
                })?;
            tasks.push((path, f));
        }
        Ok(ChildPlacement {
            v2: self.open_v2_dir()?,
            tasks,
        })
    }

    /// The group's v2 directory, opened for clone3's `CLONE_INTO_CGROUP`
    /// (see [`ChildPlacement::v2_dir`]); `None` without a v2 member.
    pub fn open_v2_dir(&self) -> Result<Option<OwnedFd>> {
        let Some(m) = self.members.iter().find(|m| m.is_v2()) else {
            return Ok(None);
        };
        let dir = File::options()
            .read(true)
            .custom_flags(libc::O_DIRECTORY | libc::O_CLOEXEC)
            .open(&m.dir)
            .map_err(|source| Error::Read {
                path: m.dir.clone(),
                source,
            })?;
        Ok(Some(OwnedFd::from(dir)))
    }

    fn place(&self, pid: i32, file: &str) -> Result<()> {
        self.check_exists()?;
        let before = if self.members.len() > 1 {
            let proc = if pid == 0 {
                PathBuf::from("/proc/self/cgroup")
            } else {
                PathBuf::from(format!("/proc/{pid}/cgroup"))
            };
            crate::layout::read_membership(&proc).ok()
        } else {
            None
        };
        for (i, m) in self.members.iter().enumerate() {
            if let Err(e) = write_file(&m.dir.join(file), &pid.to_string()) {
                if let Some(before) = &before {
                    for done in &self.members[..i] {
                        if let Some(old) = self.layout.group_of(&done.hierarchy, before) {
                            let _ =
                                write_file(&done.hierarchy.dir(old).join(file), &pid.to_string());
                        }
                    }
                }
                return Err(e);
            }
        }
        Ok(())
    }
}

/// A group opened for a child that is about to be cloned
/// ([`Cgroup::open_for_child`]).
#[derive(Debug)]
pub struct ChildPlacement {
    v2: Option<OwnedFd>,
    tasks: Vec<(PathBuf, File)>,
}

impl ChildPlacement {
    /// The group's v2 directory, for clone3's `cgroup` field with
    /// `CLONE_INTO_CGROUP`: the child then starts there, and the kernel
    /// takes its threadgroup lock only for reading.
    pub fn v2_dir(&self) -> Option<BorrowedFd<'_>> {
        self.v2.as_ref().map(|fd| fd.as_fd())
    }

    /// In the child, single-threaded as a fresh clone is: moves it into
    /// the group on every v1 hierarchy by its own thread (see
    /// [`Cgroup::enter`]). Call it before the child closes the
    /// descriptors it inherited.
    pub fn enter_v1(&self) -> Result<()> {
        for (path, f) in &self.tasks {
            let mut f: &File = f;
            f.write_all(b"0").map_err(|source| Error::Write {
                hint: write_hint(path, &source),
                file: path.clone(),
                value: "0".to_string(),
                source,
            })?;
        }
        Ok(())
    }
}

/// Whether the calling process has a single thread (`Threads:` of
/// /proc/self/status); when /proc cannot tell, assume it has more.
fn single_threaded() -> bool {
    std::fs::read_to_string("/proc/self/status").is_ok_and(|s| {
        s.lines()
            .find_map(|l| l.strip_prefix("Threads:"))
            .is_some_and(|n| n.trim() == "1")
    })
}

/// Moves every process of `pids` into every group of `groups`, as
/// `cgclassify -g A -g B PID...` does. Every pid must name a running
/// process (a directory in `proc`, normally `/proc`) before any is moved;
/// the error names the process and the group that refused.
pub fn attach_all(groups: &[Cgroup], pids: &[i32], proc: &Path) -> Result<()> {
    for &pid in pids {
        if pid <= 0 || !proc.join(pid.to_string()).exists() {
            return Err(Error::NoProcess { pid });
        }
    }
    for cg in groups {
        for &pid in pids {
            cg.attach(pid).map_err(|e| Error::AttachProcess {
                pid,
                group: cg.name(),
                source: Box::new(e),
            })?;
        }
    }
    Ok(())
}

/// Where the kernel shows its processes.
pub const PROC: &str = "/proc";
