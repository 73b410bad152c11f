//! Sticky processes: those `cgclassify --sticky` or `cgexec --sticky`
//! placed, which the rules daemon leaves where they are, children
//! included.
//!
//! libcgroup tells its daemon through the daemon's socket. enclos keeps a
//! plain file instead, [`STICKY_FILE`], one `PID STARTTIME` a line (the
//! start time from `/proc/PID/stat`, so that a pid the kernel reuses is
//! not sticky): the tools add lines, the daemon reads the file when a
//! process event comes, and lines of processes that have gone are dropped
//! on the next write.

use std::io::Write;
use std::path::{Path, PathBuf};

use super::process::{parent_of, stat_field};

/// Where the sticky processes are listed.
pub const STICKY_FILE: &str = "/run/enclos/cgrulesengd/sticky";

/// The list of sticky processes, in a file.
#[derive(Debug, Clone)]
pub struct StickyList {
    pub file: PathBuf,
    pub proc: PathBuf,
}

impl Default for StickyList {
    fn default() -> Self {
        StickyList {
            file: STICKY_FILE.into(),
            proc: "/proc".into(),
        }
    }
}

fn start_time(proc: &Path, pid: i32) -> Option<u64> {
    stat_field(proc, pid, 22)?.parse().ok()
}

impl StickyList {
    /// The live entries of the file (none when there is no file).
    fn entries(&self) -> Vec<(i32, u64)> {
        let text = std::fs::read_to_string(&self.file).unwrap_or_default();
        text.lines()
            .filter_map(|l| {
                let (p, t) = l.split_once(' ')?;
                Some((p.trim().parse().ok()?, t.trim().parse().ok()?))
            })
            .filter(|&(p, t)| start_time(&self.proc, p) == Some(t))
            .collect()
    }

    fn write(&self, entries: &[(i32, u64)]) -> std::io::Result<()> {
        if let Some(dir) = self.file.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let tmp = self.file.with_extension("new");
        let mut f = std::fs::File::create(&tmp)?;
        for (p, t) in entries {
            writeln!(f, "{p} {t}")?;
        }
        std::fs::rename(&tmp, &self.file)
    }

    /// Makes `pid` sticky, or not; a process that has gone is ignored.
    pub fn set(&self, pid: i32, sticky: bool) -> std::io::Result<()> {
        let mut entries = self.entries();
        entries.retain(|&(p, _)| p != pid);
        if sticky {
            if let Some(t) = start_time(&self.proc, pid) {
                entries.push((pid, t));
            }
        }
        self.write(&entries)
    }

    /// Whether `pid` or one of its ancestors is sticky.
    pub fn covers(&self, pid: i32) -> bool {
        let entries = self.entries();
        if entries.is_empty() {
            return false;
        }
        let mut cur = Some(pid);
        // A bounded walk: the chain of parents ends at pid 1 (or 0).
        for _ in 0..4096 {
            let Some(p) = cur.filter(|&p| p > 0) else {
                return false;
            };
            if entries.iter().any(|&(e, _)| e == p) {
                return true;
            }
            cur = parent_of(&self.proc, p);
        }
        false
    }
}
