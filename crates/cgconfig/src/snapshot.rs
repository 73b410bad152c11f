//! The groups of a host and their settings as a [`Config`], as
//! `cgsnapshot` reads them: every group below the root of each hierarchy,
//! and for each controller the files it may write back.

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use enclos_cgroupfs::{read_file, v2_name, walk, Hierarchy, Layout, Version};

use crate::ast::{AdminPerm, TaskPerm};
use crate::ast::{Config, ControllerBlock, Group, IdSpec, MountEntry, Owner, PermSection, Setting};
use crate::error::{Error, Location};

/// Where libcgroup keeps the list of variables cgsnapshot leaves out.
pub const SNAPSHOT_BLACKLIST: &str = "/etc/cgsnapshot_blacklist.conf";

/// Variables left out when there is no blacklist file: statistics that
/// look writable (writing resets them) and files whose reading is not
/// what is written.
pub const DEFAULT_BLACKLIST: &[&str] = &[
    "cpuacct.usage",
    "memory.force_empty",
    "memory.failcnt",
    "memory.max_usage_in_bytes",
    "memory.memsw.failcnt",
    "memory.memsw.max_usage_in_bytes",
    "memory.kmem.failcnt",
    "memory.kmem.max_usage_in_bytes",
    "memory.kmem.limit_in_bytes",
    "memory.kmem.tcp.failcnt",
    "memory.kmem.tcp.max_usage_in_bytes",
    "memory.kmem.tcp.limit_in_bytes",
    "memory.oom_control",
    "memory.peak",
    "memory.reclaim",
    "memory.pressure_level",
    "devices.allow",
    "devices.deny",
];

/// What [`snapshot`] takes.
#[derive(Debug, Clone, Default)]
pub struct SnapshotOptions {
    /// Controllers whose hierarchies to read; every one when empty.
    pub controllers: Vec<String>,
    /// Variables never shown.
    pub blacklist: Vec<String>,
    /// When given, variables on neither list get a warning.
    pub whitelist: Option<Vec<String>>,
    /// With a whitelist: leave out what it does not name (`-t`).
    pub strict: bool,
}

/// What [`snapshot`] found: the configuration, and warnings about
/// variables (not whitelisted, or not writable back as read).
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    pub config: Config,
    pub warnings: Vec<String>,
}

/// Reads a blacklist or whitelist file: one variable a line, `#`
/// comments and blank lines skipped.
pub fn read_var_list(path: &Path) -> Result<Vec<String>, Error> {
    let text = fs::read_to_string(path).map_err(|source| Error::Read {
        path: path.to_path_buf(),
        source,
    })?;
    Ok(text
        .lines()
        .map(|l| l.split('#').next().unwrap_or("").trim())
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect())
}

/// The groups of `layout` (below each hierarchy's root) with their
/// settings, and a mount section naming where each controller is.
pub fn snapshot(layout: &Layout, opts: &SnapshotOptions) -> Result<Snapshot, Error> {
    let origin = Location {
        file: PathBuf::from("<snapshot>"),
        line: 0,
        column: 0,
    };
    let mut snap = Snapshot::default();
    for h in &layout.hierarchies {
        for c in controllers_of(h, opts) {
            snap.config.mounts.push(MountEntry {
                controller: c.clone(),
                path: h.mount_point.display().to_string(),
                at: origin.clone(),
            });
            let tree = walk(h, "", false)?;
            for path in tree.paths().into_iter().filter(|p| !p.is_empty()) {
                let dir = h.dir(path);
                if h.version == Version::V2 && !lists(&dir, v2_name(&c)) {
                    continue;
                }
                let settings = read_settings(&dir, &c, h.version, opts, &origin, &mut snap);
                let g = group_entry(&mut snap.config, path, &dir, &origin);
                g.controllers.push(ControllerBlock {
                    name: c.clone(),
                    settings,
                    at: origin.clone(),
                });
            }
        }
    }
    snap.config
        .groups
        .sort_by(|a, b| a.name.split('/').cmp(b.name.split('/')));
    Ok(snap)
}

/// The controllers of `h` to read: those asked for (all but named
/// hierarchies when none is).
fn controllers_of(h: &Hierarchy, opts: &SnapshotOptions) -> Vec<String> {
    h.controllers
        .iter()
        .filter(|c| !c.starts_with("name="))
        .filter(|c| {
            opts.controllers.is_empty()
                || opts
                    .controllers
                    .iter()
                    .any(|w| w == *c || (h.version == Version::V2 && v2_name(w) == c.as_str()))
        })
        .cloned()
        .collect()
}

/// Whether the v2 group at `dir` has `controller` (its
/// `cgroup.controllers` lists it).
fn lists(dir: &Path, controller: &str) -> bool {
    read_file(&dir.join("cgroup.controllers"))
        .map(|t| t.split_whitespace().any(|c| c == controller))
        .unwrap_or(false)
}

/// The group of `path` in the configuration, added (with its owners) if
/// it is not there yet.
fn group_entry<'c>(config: &'c mut Config, path: &str, dir: &Path, at: &Location) -> &'c mut Group {
    if let Some(i) = config.groups.iter().position(|g| g.name == path) {
        return &mut config.groups[i];
    }
    config.groups.push(Group {
        name: path.to_string(),
        perm: owners(dir, at),
        controllers: Vec::new(),
        at: at.clone(),
    });
    config.groups.last_mut().expect("just pushed")
}

/// A perm section when the group's directory or task file belongs to
/// someone other than root.
fn owners(dir: &Path, at: &Location) -> Option<PermSection> {
    let id = |n: u32| {
        Some(Owner {
            id: IdSpec::Id(n),
            at: at.clone(),
        })
    };
    let d = fs::metadata(dir).ok()?;
    let t = fs::metadata(dir.join("cgroup.procs")).ok()?;
    if d.uid() == 0 && d.gid() == 0 && t.uid() == 0 && t.gid() == 0 {
        return None;
    }
    Some(PermSection {
        task: Some(TaskPerm {
            uid: id(t.uid()),
            gid: id(t.gid()),
            fperm: None,
        }),
        admin: Some(AdminPerm {
            uid: id(d.uid()),
            gid: id(d.gid()),
            dperm: None,
            fperm: None,
        }),
        at: at.clone(),
    })
}

/// The writable `controller.*` files of the group at `dir`, sorted, with
/// the lists applied; unreadable and multi-line values are left out with
/// a warning.
fn read_settings(
    dir: &Path,
    controller: &str,
    version: Version,
    opts: &SnapshotOptions,
    at: &Location,
    snap: &mut Snapshot,
) -> Vec<Setting> {
    let prefix = match version {
        Version::V1 => format!("{controller}."),
        Version::V2 => format!("{}.", v2_name(controller)),
    };
    let mut names: Vec<String> = fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| {
            e.metadata()
                .is_ok_and(|m| m.is_file() && m.mode() & 0o200 != 0)
        })
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(&prefix) && !opts.blacklist.contains(n))
        .collect();
    names.sort();
    let mut out = Vec::new();
    for key in names {
        if let Some(w) = &opts.whitelist {
            if !w.contains(&key) {
                if opts.strict {
                    continue;
                }
                let warning = format!("variable {key} is neither blacklisted nor whitelisted");
                if !snap.warnings.contains(&warning) {
                    snap.warnings.push(warning);
                }
            }
        }
        match read_file(&dir.join(&key)) {
            Ok(value) if value.contains('\n') => snap.warnings.push(format!(
                "{}: {key} is left out: its value spans several lines, which cgconfig.conf cannot hold",
                dir.display()
            )),
            Ok(value) => out.push(Setting {
                key,
                value,
                at: at.clone(),
            }),
            // Write-only files have nothing to show.
            Err(_) => {}
        }
    }
    out
}

#[cfg(test)]
mod tests;
