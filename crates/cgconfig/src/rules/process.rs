//! What `/proc` says of a process, as far as rules need it.

use std::path::{Path, PathBuf};

use super::matcher::Ids;

/// A process as the rules see it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProcessInfo {
    pub pid: i32,
    pub ids: Ids,
    /// The kernel's name of the command (`comm`, at most 15 bytes).
    pub name: String,
    /// The executable's path, when it can be read.
    pub exe: Option<PathBuf>,
}

impl ProcessInfo {
    /// Reads process `pid` from the proc file system mounted at `proc`;
    /// `None` when it has gone (or never was).
    pub fn read(proc: &Path, pid: i32) -> Option<ProcessInfo> {
        let dir = proc.join(pid.to_string());
        let status = std::fs::read_to_string(dir.join("status")).ok()?;
        let mut info = ProcessInfo {
            pid,
            exe: std::fs::read_link(dir.join("exe")).ok(),
            ..ProcessInfo::default()
        };
        for line in status.lines() {
            let Some((key, value)) = line.split_once(':') else {
                continue;
            };
            let mut nums = value
                .split_whitespace()
                .filter_map(|n| n.parse::<u32>().ok());
            match key {
                "Name" => info.name = value.trim().to_string(),
                // Real, effective, saved, fs: the effective id decides.
                "Uid" => info.ids.uid = nums.nth(1)?,
                "Gid" => info.ids.gid = nums.nth(1)?,
                "Groups" => info.ids.groups = nums.collect(),
                _ => {}
            }
        }
        Some(info)
    }

    /// The command's name for `%p`: the executable's file name, else
    /// `comm`.
    pub fn command_name(&self) -> &str {
        self.exe
            .as_deref()
            .and_then(Path::file_name)
            .and_then(|n| n.to_str())
            .unwrap_or(&self.name)
    }
}

/// Field `n` of `/proc/PID/stat`, counted from 1 as proc(5) does (4 is
/// the parent, 22 the start time).
pub(crate) fn stat_field(proc: &Path, pid: i32, n: usize) -> Option<String> {
    let stat = std::fs::read_to_string(proc.join(pid.to_string()).join("stat")).ok()?;
    // The command name, in parentheses, may hold spaces: fields after it
    // start at field 3.
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace()
        .nth(n.checked_sub(3)?)
        .map(str::to_string)
}

/// The parent of `pid`, from `/proc/PID/stat`.
pub fn parent_of(proc: &Path, pid: i32) -> Option<i32> {
    stat_field(proc, pid, 4)?.parse().ok()
}
