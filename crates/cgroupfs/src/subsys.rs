//! The controllers a kernel knows (`/proc/cgroups`) and where their
//! hierarchies are mounted (`/proc/self/mountinfo`), as `lssubsys` lists
//! them, on v1, v2 and hybrid hosts. Both paths are parameters.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::error::{Error, Result};
use crate::layout::{v2_name, Version, V1_CONTROLLERS};

/// Default path of the kernel's table of controllers.
pub const PROC_CGROUPS: &str = "/proc/cgroups";

/// One line of `/proc/cgroups`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Subsystem {
    pub name: String,
    /// The v1 hierarchy it is bound to; 0 when it is on no v1 hierarchy
    /// (free for cgroup v2, or not mounted at all).
    pub hierarchy: u32,
    pub num_cgroups: u64,
    pub enabled: bool,
}

/// Parses the text of `/proc/cgroups`; `origin` names it in errors.
pub fn parse_proc_cgroups(text: &str, origin: &Path) -> Result<Vec<Subsystem>> {
    let mut out = Vec::new();
    for (idx, line) in text.lines().enumerate() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let bad = || Error::Parse {
            file: origin.to_path_buf(),
            reason: format!(
                "line {}: expected 'name hierarchy num_cgroups enabled', found '{line}'",
                idx + 1
            ),
        };
        let f: Vec<&str> = line.split_whitespace().collect();
        let [name, hierarchy, num, enabled] = f[..] else {
            return Err(bad());
        };
        out.push(Subsystem {
            name: name.to_string(),
            hierarchy: hierarchy.parse().map_err(|_| bad())?,
            num_cgroups: num.parse().map_err(|_| bad())?,
            enabled: enabled == "1",
        });
    }
    Ok(out)
}

/// A mounted hierarchy with every place it is mounted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Mounted {
    pub version: Version,
    /// v1: the controllers (and `name=...`) of its mount options; v2: the
    /// root's `cgroup.controllers`.
    pub controllers: Vec<String>,
    /// Its mount points, in mount table order.
    pub mount_points: Vec<PathBuf>,
}

/// How `lssubsys` shows mount points.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MountPoints {
    /// None (no `-m`).
    #[default]
    None,
    /// The first one (`-m`).
    First,
    /// Every one, a line each (`-M`).
    All,
}

/// What `lssubsys` shows.
#[derive(Debug, Clone, Default)]
pub struct SubsysOptions {
    /// Controllers on no hierarchy too (`-a`).
    pub all: bool,
    pub mount_points: MountPoints,
    /// Hierarchy ids (`-i`): with mount points, only for hierarchies that
    /// are not mounted here.
    pub ids: bool,
}

/// The controllers of a host and their hierarchies.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Subsystems {
    pub controllers: Vec<Subsystem>,
    pub mounted: Vec<Mounted>,
}

/// One hierarchy or controller to show.
struct Entry {
    name: String,
    id: Option<u32>,
    mount_points: Vec<PathBuf>,
}

impl Subsystems {
    /// Reads `proc_cgroups` and the mount table at `mountinfo`; the
    /// controllers of a v2 mount come from its root's `cgroup.controllers`.
    pub fn read(proc_cgroups: &Path, mountinfo: &Path) -> Result<Subsystems> {
        let read = |p: &Path| {
            std::fs::read_to_string(p).map_err(|source| Error::Read {
                path: p.to_path_buf(),
                source,
            })
        };
        let controllers = parse_proc_cgroups(&read(proc_cgroups)?, proc_cgroups)?;
        let mut mounted = parse_mounts(&read(mountinfo)?);
        for m in mounted.iter_mut().filter(|m| m.version == Version::V2) {
            if let Some(text) = m
                .mount_points
                .iter()
                .find_map(|p| std::fs::read_to_string(p.join("cgroup.controllers")).ok())
            {
                m.controllers = text.split_whitespace().map(str::to_string).collect();
            }
        }
        Ok(Subsystems {
            controllers,
            mounted,
        })
    }

    /// The v1 hierarchy that binds `controller`.
    fn v1_of(&self, controller: &str) -> Option<&Mounted> {
        self.mounted
            .iter()
            .find(|m| m.version == Version::V1 && m.controllers.iter().any(|c| c == controller))
    }

    /// The v2 hierarchy, when it offers `controller` (by its v1 or v2 name).
    fn v2_of(&self, controller: &str) -> Option<&Mounted> {
        self.mounted.iter().find(|m| {
            m.version == Version::V2 && m.controllers.iter().any(|c| c == v2_name(controller))
        })
    }

    /// Whether this host knows `controller` at all (`name=...` hierarchies
    /// included).
    pub fn knows(&self, controller: &str) -> bool {
        self.controllers.iter().any(|c| c.name == controller)
            || self.v1_of(controller).is_some()
            || self.v2_of(controller).is_some()
    }

    /// The lines `lssubsys` prints: with `opts.all`, first the controllers
    /// on no v1 hierarchy (those cgroup v2 offers with its mount point or
    /// id 0, the others bare), then every v1 hierarchy (its controllers
    /// joined by commas, in the kernel's order). Without `all`, the v1
    /// hierarchies of `wanted` (all of them when empty), and the
    /// controllers of `wanted` that only cgroup v2 or a named hierarchy
    /// serve.
    pub fn lines(&self, opts: &SubsysOptions, wanted: &[String]) -> Vec<String> {
        let mut entries = Vec::new();
        if opts.all {
            entries.extend(self.unbound());
        }
        let mut ids: Vec<u32> = Vec::new();
        for c in &self.controllers {
            let asked = opts.all || wanted.is_empty() || wanted.contains(&c.name);
            if c.hierarchy != 0 && asked && !ids.contains(&c.hierarchy) {
                ids.push(c.hierarchy);
            }
        }
        for id in ids {
            entries.push(self.v1_entry(id));
        }
        if !opts.all {
            for w in wanted {
                if let Some(e) = self.only_v2_or_named(w) {
                    entries.push(e);
                }
            }
        }
        entries.iter().flat_map(|e| render(e, opts)).collect()
    }

    /// Controllers on no v1 hierarchy, in the kernel's order, then those
    /// that only cgroup v2's root lists.
    fn unbound(&self) -> Vec<Entry> {
        let mut out = Vec::new();
        for c in self.controllers.iter().filter(|c| c.hierarchy == 0) {
            let v2 = self.v2_of(&c.name);
            out.push(Entry {
                name: c.name.clone(),
                id: v2.map(|_| 0),
                mount_points: v2.map(|m| m.mount_points.clone()).unwrap_or_default(),
            });
        }
        for m in self.mounted.iter().filter(|m| m.version == Version::V2) {
            for c in &m.controllers {
                let listed = self
                    .controllers
                    .iter()
                    .any(|k| k.name == *c || v2_name(&k.name) == c);
                if !listed {
                    out.push(Entry {
                        name: c.clone(),
                        id: Some(0),
                        mount_points: m.mount_points.clone(),
                    });
                }
            }
        }
        out
    }

    fn v1_entry(&self, id: u32) -> Entry {
        let names: Vec<&str> = self
            .controllers
            .iter()
            .filter(|c| c.hierarchy == id)
            .map(|c| c.name.as_str())
            .collect();
        let mount_points = names
            .first()
            .and_then(|n| self.v1_of(n))
            .map(|m| m.mount_points.clone())
            .unwrap_or_default();
        Entry {
            name: names.join(","),
            id: Some(id),
            mount_points,
        }
    }

    /// A controller asked for by name that no v1 hierarchy binds: cgroup
    /// v2's (id 0), or a named v1 hierarchy (`name=systemd`).
    fn only_v2_or_named(&self, wanted: &str) -> Option<Entry> {
        let bound = self
            .controllers
            .iter()
            .any(|c| c.name == wanted && c.hierarchy != 0);
        if bound {
            return None;
        }
        if let Some(m) = self.v1_of(wanted) {
            return Some(Entry {
                name: m.controllers.join(","),
                id: None,
                mount_points: m.mount_points.clone(),
            });
        }
        self.v2_of(wanted).map(|m| Entry {
            name: wanted.to_string(),
            id: Some(0),
            mount_points: m.mount_points.clone(),
        })
    }
}

/// The lines of one entry, as `lssubsys` prints them.
fn render(e: &Entry, opts: &SubsysOptions) -> Vec<String> {
    let with_id = || match (opts.ids, e.id) {
        (true, Some(id)) => format!("{} {id}", e.name),
        _ => e.name.clone(),
    };
    match opts.mount_points {
        MountPoints::None => vec![with_id()],
        _ if e.mount_points.is_empty() => vec![with_id()],
        MountPoints::First => vec![format!("{} {}", e.name, e.mount_points[0].display())],
        MountPoints::All => e
            .mount_points
            .iter()
            .map(|p| format!("{} {}", e.name, p.display()))
            .collect(),
    }
}

/// The cgroup mounts of a mount table, a hierarchy each (mounts of the
/// same superblock are one hierarchy), v2 ones without controllers yet.
pub fn parse_mounts(mountinfo: &str) -> Vec<Mounted> {
    let mut out: Vec<(String, Mounted)> = Vec::new();
    for m in enclos_mounts::MountInfo::parse_all(mountinfo) {
        let version = match m.fstype.as_str() {
            "cgroup" => Version::V1,
            "cgroup2" => Version::V2,
            _ => continue,
        };
        if let Some((_, h)) = out.iter_mut().find(|(d, _)| *d == m.devno) {
            h.mount_points.push(m.mount_point.clone());
            continue;
        }
        let controllers = match version {
            Version::V1 => m
                .super_options()
                .filter(|o| V1_CONTROLLERS.contains(o) || o.starts_with("name="))
                .map(str::to_string)
                .collect(),
            Version::V2 => Vec::new(),
        };
        out.push((
            m.devno.clone(),
            Mounted {
                version,
                controllers,
                mount_points: vec![m.mount_point.clone()],
            },
        ));
    }
    out.into_iter().map(|(_, m)| m).collect()
}

#[cfg(test)]
mod tests;
