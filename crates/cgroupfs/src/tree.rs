//! Walking a hierarchy into a tree of groups and processes.

use std::fs;
use std::io;
use std::path::Path;

use serde::Serialize;

use crate::cgroup::Cgroup;
use crate::error::{Error, Result};
use crate::files::read_pids;
use crate::layout::{normalize_path, Hierarchy};

/// A group of a hierarchy with its processes and children, for trees and
/// listings.
#[derive(Debug, Clone, Serialize)]
pub struct Node {
    /// Path relative to the hierarchy root (`""` for the root).
    pub path: String,
    pub pids: Vec<i32>,
    pub children: Vec<Node>,
}

impl Node {
    /// Every path of the subtree, parents first.
    pub fn paths(&self) -> Vec<&str> {
        let mut out = vec![self.path.as_str()];
        for c in &self.children {
            out.extend(c.paths());
        }
        out
    }
}

/// Walks the groups of `h` below `rel`. `with_pids` reads each group's
/// `cgroup.procs`.
pub fn walk(h: &Hierarchy, rel: &str, with_pids: bool) -> Result<Node> {
    let rel = normalize_path(rel)?;
    let dir = h.dir(&rel);
    if !dir.is_dir() {
        return Err(Error::NotFound {
            group: format!("{}:/{rel}", h.label()),
            dir,
        });
    }
    walk_dir(&dir, rel, with_pids)
}

impl Cgroup {
    /// The group's subtree on each of its hierarchies, in the handle's
    /// order (`lscgroup`, `cgtree`); `with_pids` reads each group's
    /// `cgroup.procs`.
    pub fn trees(&self, with_pids: bool) -> Result<Vec<(&Hierarchy, Node)>> {
        self.members()
            .iter()
            .map(|m| Ok((&m.hierarchy, walk(&m.hierarchy, self.path(), with_pids)?)))
            .collect()
    }

    /// The paths of the group and of every group below it on its
    /// hierarchies, parents first, each once (`cgset -R`).
    pub fn subtree_paths(&self) -> Result<Vec<String>> {
        let mut out: Vec<String> = Vec::new();
        for (_, node) in self.trees(false)? {
            for p in node.paths() {
                if !out.iter().any(|o| o == p) {
                    out.push(p.to_string());
                }
            }
        }
        Ok(out)
    }
}

fn walk_dir(dir: &Path, rel: String, with_pids: bool) -> Result<Node> {
    let pids = if with_pids {
        read_pids(&dir.join("cgroup.procs"))?
    } else {
        Vec::new()
    };
    let mut names = Vec::new();
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        // Removed while we walked: an empty leaf.
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Ok(Node {
                path: rel,
                pids,
                children: Vec::new(),
            })
        }
        Err(source) => {
            return Err(Error::Read {
                path: dir.to_path_buf(),
                source,
            })
        }
    };
    for entry in entries.flatten() {
        if entry.file_type().map(|t| t.is_dir()).unwrap_or(false) {
            names.push(entry.file_name().to_string_lossy().into_owned());
        }
    }
    names.sort();
    let mut children = Vec::with_capacity(names.len());
    for n in names {
        let child_rel = if rel.is_empty() {
            n.clone()
        } else {
            format!("{rel}/{n}")
        };
        children.push(walk_dir(&dir.join(&n), child_rel, with_pids)?);
    }
    Ok(Node {
        path: rel,
        pids,
        children,
    })
}

/// The command line of a process for display: its arguments joined by
/// spaces, or its name in brackets for a kernel thread, or `?` once gone.
pub fn process_cmdline(pid: i32) -> String {
    match fs::read(format!("/proc/{pid}/cmdline")) {
        Ok(raw) if !raw.is_empty() => {
            let parts: Vec<String> = raw
                .split(|b| *b == 0)
                .filter(|p| !p.is_empty())
                .map(|p| String::from_utf8_lossy(p).into_owned())
                .collect();
            parts.join(" ")
        }
        _ => match fs::read_to_string(format!("/proc/{pid}/comm")) {
            Ok(c) => format!("[{}]", c.trim_end()),
            Err(_) => "?".to_string(),
        },
    }
}
