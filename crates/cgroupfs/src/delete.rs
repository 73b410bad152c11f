//! Deleting groups: children first, processes refused, moved to the
//! parent or killed.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use crate::cgroup::{Cgroup, DeleteOptions, Member, Populated};
use crate::error::{Error, Result};
use crate::files::{ignore_esrch, read_pids, vanished, write_file};
use crate::wait::Backoff;

impl Cgroup {
    /// Deletes the group (see [`DeleteOptions`]). Nothing is removed unless
    /// every check passes first.
    pub fn delete(&self, opts: DeleteOptions) -> Result<()> {
        if self.path.is_empty() {
            return Err(Error::InvalidPath {
                path: "/".into(),
                reason: "the root group of a hierarchy cannot be deleted",
            });
        }
        if !opts.ignore_missing {
            self.check_exists()?;
        }
        // What is left once the groups that one rmdir removes are gone: a
        // recursive delete that empties groups anyway may take them one
        // hierarchy at a time (the kernel refuses the rmdir of a group
        // with processes or children, which then take the long way).
        // Otherwise every group is checked before any goes.
        let left: Vec<&Member> = if opts.recursive && opts.populated != Populated::Refuse {
            self.members
                .iter()
                .filter(|m| !removed_at_once(&m.dir))
                .collect()
        } else {
            self.members.iter().filter(|m| m.dir.is_dir()).collect()
        };
        // Every directory to remove, children before parents.
        let mut plan: Vec<(&Member, Vec<PathBuf>)> = Vec::new();
        for m in left {
            let mut dirs = Vec::new();
            collect_subtree(&m.dir, &mut dirs)?;
            if !opts.recursive && dirs.len() > 1 {
                let children: Vec<String> = dirs[..dirs.len() - 1]
                    .iter()
                    .filter_map(|d| d.strip_prefix(&m.dir).ok())
                    .map(|p| p.display().to_string())
                    .collect();
                return Err(Error::HasChildren {
                    group: format!("{}:/{}", m.controllers.join(","), self.path),
                    children: children.join(", "),
                });
            }
            plan.push((m, dirs));
        }
        if opts.populated == Populated::Refuse {
            let mut pids = Vec::new();
            for (_, dirs) in &plan {
                for d in dirs {
                    pids.extend(read_pids(&d.join("cgroup.procs"))?);
                }
            }
            pids.sort_unstable();
            pids.dedup();
            if !pids.is_empty() {
                let shown: Vec<String> = pids.iter().take(10).map(|p| p.to_string()).collect();
                let more = if pids.len() > 10 { ", ..." } else { "" };
                return Err(Error::Populated {
                    group: self.name(),
                    count: pids.len(),
                    pids: format!("{}{more}", shown.join(", ")),
                });
            }
        }
        for (m, dirs) in &plan {
            let parent = m.dir.parent().map(Path::to_path_buf);
            for d in dirs {
                match opts.populated {
                    Populated::Refuse => {}
                    Populated::MoveToParent => {
                        if let Some(parent) = &parent {
                            for pid in read_pids(&d.join("cgroup.procs"))? {
                                write_file(&parent.join("cgroup.procs"), &pid.to_string())
                                    .or_else(ignore_esrch)?;
                            }
                        }
                    }
                    Populated::Kill => kill_all(d, m.is_v2(), &self.name())?,
                }
                remove_dir(d, m.is_v2())?;
            }
        }
        Ok(())
    }
}

impl Cgroup {
    /// Removes the group, with one rmdir per hierarchy, where it is empty
    /// and has no children; a group already gone counts as removed, one
    /// with processes or children stays as it is. Returns whether it is
    /// gone from every hierarchy. For a process's own group that it has
    /// just left (a monitor's): nothing to check first, nothing to kill.
    pub fn remove_if_empty(&self) -> bool {
        if self.path.is_empty() {
            return false;
        }
        let mut all = true;
        for m in &self.members {
            all &= removed_at_once(&m.dir);
        }
        all
    }
}

/// Deletes `groups`, as `cgdelete A B` does: every group must exist
/// before any is removed; the error names the group that failed.
pub fn delete_all(groups: &[Cgroup], opts: DeleteOptions) -> Result<()> {
    let wrap = |cg: &Cgroup, e: Error| Error::DeleteGroup {
        group: cg.name(),
        source: Box::new(e),
    };
    if !opts.ignore_missing {
        for cg in groups {
            cg.check_exists().map_err(|e| wrap(cg, e))?;
        }
    }
    for cg in groups {
        cg.delete(opts).map_err(|e| wrap(cg, e))?;
    }
    Ok(())
}

/// Whether `dir` is gone after one rmdir (or was already).
fn removed_at_once(dir: &Path) -> bool {
    match fs::remove_dir(dir) {
        Ok(()) => true,
        Err(e) => vanished(&e),
    }
}

/// Directories of the subtree at `dir`, children before parents.
fn collect_subtree(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        // Removed meanwhile (by another process cleaning up): nothing to do.
        Err(e) if vanished(&e) => return Ok(()),
        Err(source) => {
            return Err(Error::Read {
                path: dir.to_path_buf(),
                source,
            })
        }
    };
    let mut children: Vec<PathBuf> = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|source| Error::Read {
            path: dir.to_path_buf(),
            source,
        })?;
        if entry.file_type().map(|t| t.is_dir()).unwrap_or(false) {
            children.push(entry.path());
        }
    }
    children.sort();
    for c in children {
        collect_subtree(&c, out)?;
    }
    out.push(dir.to_path_buf());
    Ok(())
}

fn kill_all(dir: &Path, v2: bool, group: &str) -> Result<()> {
    let kill_file = dir.join("cgroup.kill");
    if v2 && kill_file.exists() {
        match write_file(&kill_file, "1") {
            Ok(()) => {}
            Err(Error::Write { source, .. }) if vanished(&source) => return Ok(()),
            Err(e) => return Err(e),
        }
    }
    let mut backoff = Backoff::new(Duration::from_secs(10));
    loop {
        let pids = read_pids(&dir.join("cgroup.procs"))?;
        if pids.is_empty() {
            return Ok(());
        }
        for pid in &pids {
            match kill(Pid::from_raw(*pid), Signal::SIGKILL) {
                Ok(()) | Err(nix::errno::Errno::ESRCH) => {}
                Err(source) => {
                    return Err(Error::Kill {
                        pid: *pid,
                        group: group.to_string(),
                        source,
                    })
                }
            }
        }
        if !backoff.wait() {
            return Err(Error::Timeout {
                what: "its processes to exit after SIGKILL",
                group: group.to_string(),
                waited_ms: backoff.elapsed().as_millis(),
                hint:
                    " (a process in uninterruptible sleep, state D, cannot die until its I/O ends)",
            });
        }
    }
}

/// rmdir, waiting out the short moment after the last process exits when
/// the kernel still counts it (EBUSY with an empty cgroup.procs).
fn remove_dir(dir: &Path, _v2: bool) -> Result<()> {
    let mut backoff = Backoff::new(Duration::from_secs(2));
    loop {
        match fs::remove_dir(dir) {
            Ok(()) => return Ok(()),
            Err(e) if vanished(&e) => return Ok(()),
            Err(e) if e.raw_os_error() == Some(libc::EBUSY) => {
                let empty = read_pids(&dir.join("cgroup.procs"))
                    .map(|p| p.is_empty())
                    .unwrap_or(false);
                if !empty || !backoff.wait() {
                    return Err(Error::Remove {
                        dir: dir.to_path_buf(),
                        source: e,
                    });
                }
            }
            Err(source) => {
                return Err(Error::Remove {
                    dir: dir.to_path_buf(),
                    source,
                })
            }
        }
    }
}
