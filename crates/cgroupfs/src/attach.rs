//! Placing processes and threads in groups.

use std::path::{Path, PathBuf};

use crate::cgroup::Cgroup;
use crate::error::{Error, Result};
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
