//! The cgroup mounts of the host, the memory hierarchy the `cgroups`
//! measure works in, and the removal of the groups a run leaves.

use std::fs;
use std::path::{Path, PathBuf};
use std::process;
use std::time::Duration;

use anyhow::{bail, Context, Result};

use super::PREFIX;

// ----------------------------------------------------------------- mounts

/// A cgroup mount from `/proc/self/mountinfo`.
#[derive(Debug, Clone)]
pub(crate) struct Mount {
    pub(crate) point: PathBuf,
    /// `cgroup` (v1) or `cgroup2`.
    fstype: String,
    /// Super-block options: the controllers of a v1 mount.
    options: Vec<String>,
}

pub(crate) fn cgroup_mounts() -> Result<Vec<Mount>> {
    let path = "/proc/self/mountinfo";
    let text = fs::read_to_string(path).with_context(|| format!("Cannot read {path}"))?;
    Ok(parse_cgroup_mounts(&text))
}

fn parse_cgroup_mounts(text: &str) -> Vec<Mount> {
    enclos_mounts::MountInfo::parse_all(text)
        .filter(|m| m.fstype == "cgroup" || m.fstype == "cgroup2")
        .map(|m| Mount {
            options: m.super_options.split(',').map(str::to_string).collect(),
            point: m.mount_point,
            fstype: m.fstype,
        })
        .collect()
}

/// The mount point serving the memory controller: the v1 `memory` mount,
/// or the v2 mount when memory is enabled in its root's subtree_control.
pub(super) fn memory_hierarchy(mounts: &[Mount]) -> Result<(PathBuf, &'static str)> {
    if let Some(m) = mounts
        .iter()
        .find(|m| m.fstype == "cgroup" && m.options.iter().any(|o| o == "memory"))
    {
        return Ok((m.point.clone(), "v1"));
    }
    let Some(v2) = mounts.iter().find(|m| m.fstype == "cgroup2") else {
        bail!("No cgroup hierarchy serves the memory controller on this host (no v1 memory mount, no cgroup2 mount in /proc/self/mountinfo)");
    };
    let control = v2.point.join("cgroup.subtree_control");
    let enabled = fs::read_to_string(&control)
        .with_context(|| format!("Cannot read {}", control.display()))?;
    if !enabled.split_whitespace().any(|c| c == "memory") {
        bail!(
            "The memory controller is not enabled in {}; enable it with: echo +memory > {}",
            control.display(),
            control.display()
        );
    }
    Ok((v2.point.clone(), "v2"))
}

// ---------------------------------------------------------------- cleanup

/// Removes the `enclos-bench-<pid>-*` groups left at the top of every
/// cgroup mount by this process or by a process that no longer exists
/// (an interrupted earlier run), when created and again when dropped.
#[derive(Debug)]
pub(super) struct Leftovers {
    mounts: Vec<PathBuf>,
}

impl Leftovers {
    pub(super) fn new(mounts: Vec<PathBuf>) -> Leftovers {
        let guard = Leftovers { mounts };
        guard.sweep();
        guard
    }

    fn sweep(&self) {
        let me = process::id();
        let mut removed = 0;
        for mount in &self.mounts {
            let Ok(entries) = fs::read_dir(mount) else {
                continue;
            };
            for entry in entries.flatten() {
                let name = entry.file_name();
                let Some(pid) = name
                    .to_str()
                    .and_then(|n| n.strip_prefix(PREFIX))
                    .and_then(|rest| rest.split('-').next())
                    .and_then(|p| p.parse::<u32>().ok())
                else {
                    continue;
                };
                let dead = !Path::new("/proc").join(pid.to_string()).exists();
                if pid != me && !dead {
                    continue;
                }
                match remove_group(mount, &entry.path()) {
                    Ok(()) => removed += 1,
                    Err(e) => eprintln!("warning: cannot remove {}: {e}", entry.path().display()),
                }
            }
        }
        if removed > 0 {
            println!("Removed {removed} leftover {PREFIX}* cgroup(s)");
        }
    }
}

impl Drop for Leftovers {
    fn drop(&mut self) {
        self.sweep();
    }
}

/// Removes the group `dir` and its children, moving any process left in
/// them to the root group of `mount` first.
pub(super) fn remove_group(mount: &Path, dir: &Path) -> std::io::Result<()> {
    for entry in fs::read_dir(dir)?.flatten() {
        if entry.file_type().map(|t| t.is_dir()).unwrap_or(false) {
            remove_group(mount, &entry.path())?;
        }
    }
    if let Ok(pids) = fs::read_to_string(dir.join("cgroup.procs")) {
        for pid in pids.split_whitespace() {
            let _ = fs::write(mount.join("cgroup.procs"), pid);
        }
    }
    // A group whose last process has just exited may stay busy briefly.
    let mut tries = 0;
    loop {
        match fs::remove_dir(dir) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(_) if tries < 20 => {
                tries += 1;
                std::thread::sleep(Duration::from_millis(10));
            }
            Err(e) => return Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_cgroup_mounts() {
        let text = "\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime shared:5 - cgroup cgroup rw,memory
36 31 0:33 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct
41 31 0:38 / /sys/fs/cgroup/my\\040v2 rw,relatime - cgroup2 cgroup2 rw
";
        let mounts = parse_cgroup_mounts(text);
        assert_eq!(mounts.len(), 3);
        assert_eq!(mounts[0].point, Path::new("/sys/fs/cgroup/memory"));
        assert!(mounts[0].options.iter().any(|o| o == "memory"));
        assert_eq!(mounts[2].point, Path::new("/sys/fs/cgroup/my v2"));
        assert_eq!(mounts[2].fstype, "cgroup2");
        let (mem, v) = memory_hierarchy(&mounts).unwrap();
        assert_eq!(
            (mem.as_path(), v),
            (Path::new("/sys/fs/cgroup/memory"), "v1")
        );
    }
}
