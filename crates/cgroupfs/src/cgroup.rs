//! A handle on one group path across the hierarchies that serve the
//! controllers asked for.

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use serde::Serialize;

use crate::error::{Error, Result};
use crate::files::{read_file, read_pids, write_file};
use crate::layout::{normalize_path, v2_name, Hierarchy, Layout, Version};

/// Core files of a v2 group that have no controller prefix of their own.
const V2_CORE: &[&str] = &[
    "cgroup.controllers",
    "cgroup.subtree_control",
    "cgroup.events",
    "cgroup.freeze",
    "cgroup.kill",
    "cgroup.max.depth",
    "cgroup.max.descendants",
    "cgroup.stat",
    "cgroup.threads",
    "cgroup.type",
    "cgroup.pressure",
];

/// One hierarchy's directory of a [`Cgroup`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub hierarchy: Hierarchy,
    /// The controllers asked for on this hierarchy, in their v2 names on v2
    /// (`cpuacct` is `cpu`). `freezer` and `unified` need no enabling.
    pub controllers: Vec<String>,
    pub dir: PathBuf,
}

impl Member {
    pub(crate) fn is_v2(&self) -> bool {
        self.hierarchy.version == Version::V2
    }
}

/// Ownership and modes for a group's files, as libcgroup's `perm` section
/// and `cgcreate -t/-a/-d/-f/-s` set them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Permissions {
    /// Owner of the files that place tasks (`tasks`, `cgroup.procs`,
    /// `cgroup.threads`).
    pub task_uid: Option<u32>,
    pub task_gid: Option<u32>,
    /// Owner of the directory and every other file.
    pub admin_uid: Option<u32>,
    pub admin_gid: Option<u32>,
    /// Mode of the directory.
    pub dir_mode: Option<u32>,
    /// Mode of the files other than the task files.
    pub file_mode: Option<u32>,
    /// Mode of the task files.
    pub task_mode: Option<u32>,
}

impl Permissions {
    pub fn is_empty(&self) -> bool {
        *self == Permissions::default()
    }
}

/// What to do with the processes of a group being deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Populated {
    /// Refuse, saying how many processes are in it (the default).
    #[default]
    Refuse,
    /// Move them into the parent of the group deleted (libcgroup's way).
    MoveToParent,
    /// Kill them with SIGKILL and wait until they are gone.
    Kill,
}

/// Options of [`Cgroup::delete`].
#[derive(Debug, Clone, Copy, Default)]
pub struct DeleteOptions {
    /// Remove child groups too (`cgdelete -r`).
    pub recursive: bool,
    pub populated: Populated,
    /// Succeed when the group does not exist.
    pub ignore_missing: bool,
}

/// One group across hierarchies.
#[derive(Debug, Clone)]
pub struct Cgroup {
    pub(crate) layout: Arc<Layout>,
    pub(crate) path: String,
    pub(crate) members: Vec<Member>,
}

impl Cgroup {
    /// The group at `path` on the hierarchies serving `controllers`. `*`
    /// stands for every mounted hierarchy.
    pub fn new<S: AsRef<str>>(
        layout: Arc<Layout>,
        controllers: &[S],
        path: &str,
    ) -> Result<Cgroup> {
        let path = normalize_path(path)?;
        let mut members: Vec<Member> = Vec::new();
        for c in controllers {
            let c = c.as_ref();
            if c == "*" {
                for h in &layout.hierarchies {
                    add_member(&mut members, h, &h.controllers, &path);
                }
                continue;
            }
            let h = layout.resolve(c)?;
            let name = match h.version {
                Version::V1 => c.to_string(),
                Version::V2 => v2_name(c).to_string(),
            };
            add_member(&mut members, h, &[name], &path);
        }
        Ok(Cgroup {
            layout,
            path,
            members,
        })
    }

    /// The group at `path` on the hierarchy that holds the file `key`
    /// (`memory.limit_in_bytes` → the memory hierarchy).
    pub fn for_key(layout: Arc<Layout>, key: &str, path: &str) -> Result<Cgroup> {
        if let Some(controller) = key_controller(key)? {
            return Cgroup::new(layout, &[controller], path);
        }
        // A core file (cgroup.procs, tasks): the hierarchy where the group
        // exists, v2 first; else the first one (whose absence is reported).
        let rel = normalize_path(path)?;
        let h = layout
            .hierarchies
            .iter()
            .filter(|h| h.dir(&rel).is_dir())
            .min_by_key(|h| h.version != Version::V2)
            .or_else(|| layout.hierarchies.first())
            .cloned();
        let mut members = Vec::new();
        if let Some(h) = h {
            add_member(&mut members, &h, &h.controllers, &rel);
        }
        Ok(Cgroup {
            layout,
            path: rel,
            members,
        })
    }

    /// A group named the libcgroup way, `controllers:path`
    /// (`memory,cpu:helloworld`, `*:/`, `:path` for the v2 hierarchy).
    pub fn from_spec(layout: Arc<Layout>, spec: &str) -> Result<Cgroup> {
        let invalid = || Error::InvalidSpec {
            spec: spec.to_string(),
        };
        let (ctrls, path) = split_spec(spec).ok_or_else(invalid)?;
        let ctrls: Vec<&str> = if ctrls.is_empty() {
            vec!["unified"]
        } else {
            ctrls
        };
        if ctrls.iter().any(|c| c.is_empty()) {
            return Err(invalid());
        }
        Cgroup::new(layout, &ctrls, path)
    }

    /// Every readable parameter of `controller` (of every hierarchy of the
    /// handle with `None`) with its value, as `cgget -g`/`-a` print them;
    /// write-only or unreadable files are left out, as cgget does.
    pub fn values(&self, controller: Option<&str>) -> Result<Vec<(String, String)>> {
        Ok(self
            .keys(controller)?
            .into_iter()
            .filter_map(|key| self.get(&key).ok().map(|value| (key, value)))
            .collect())
    }

    /// The readable interface files of `controller` in this group
    /// (`memory.*`), sorted; with `None`, every readable file of every
    /// hierarchy of the handle.
    pub fn keys(&self, controller: Option<&str>) -> Result<Vec<String>> {
        self.check_exists()?;
        let dirs: Vec<&Member> = match controller {
            Some(c) => self.member_for(c).into_iter().collect(),
            None => self.members.iter().collect(),
        };
        let mut keys = Vec::new();
        for m in dirs {
            let entries = fs::read_dir(&m.dir).map_err(|source| Error::Read {
                path: m.dir.clone(),
                source,
            })?;
            for e in entries.flatten() {
                let Ok(meta) = e.metadata() else { continue };
                if !meta.is_file() || meta.mode() & 0o444 == 0 {
                    continue;
                }
                let name = e.file_name().to_string_lossy().into_owned();
                let wanted = match controller {
                    Some(c) => {
                        let prefix = if m.is_v2() { v2_name(c) } else { c };
                        name.strip_prefix(prefix)
                            .is_some_and(|r| r.starts_with('.'))
                    }
                    None => true,
                };
                if wanted {
                    keys.push(name);
                }
            }
        }
        keys.sort();
        keys.dedup();
        Ok(keys)
    }

    /// Copies every setting that can be both read and written from `src`
    /// into this group, on the hierarchies they share (`cgset
    /// --copy-from`). Returns the keys written.
    pub fn copy_from(&self, src: &Cgroup) -> Result<Vec<String>> {
        src.check_exists()?;
        self.check_exists()?;
        let mut written = Vec::new();
        for m in &self.members {
            let Some(sm) = src
                .members
                .iter()
                .find(|s| s.hierarchy.mount_point == m.hierarchy.mount_point)
            else {
                continue;
            };
            let entries = fs::read_dir(&sm.dir).map_err(|source| Error::Read {
                path: sm.dir.clone(),
                source,
            })?;
            let mut names: Vec<String> = entries
                .flatten()
                .filter(|e| {
                    e.metadata()
                        .map(|md| md.is_file() && md.mode() & 0o600 == 0o600)
                        .unwrap_or(false)
                })
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| {
                    !matches!(
                        n.as_str(),
                        "tasks" | "release_agent" | "notify_on_release" | "memory.oom_control"
                    ) && !n.starts_with("cgroup.")
                })
                .collect();
            names.sort();
            for name in names {
                let value = read_file(&sm.dir.join(&name))?;
                if value.is_empty() || read_file(&m.dir.join(&name)).ok().as_deref() == Some(&value)
                {
                    continue;
                }
                write_file(&m.dir.join(&name), &value)?;
                written.push(name);
            }
        }
        Ok(written)
    }

    /// The same group on only the hierarchies where its directory exists
    /// (as cgget and cgset --copy-from take a group named without
    /// controllers); [`Error::NotFound`] when it exists in none.
    pub fn existing(mut self) -> Result<Cgroup> {
        let Some(first) = self.members.first().cloned() else {
            return Ok(self);
        };
        self.members.retain(|m| m.dir.is_dir());
        if self.members.is_empty() {
            return Err(Error::NotFound {
                group: format!("{}:/{}", first.controllers.join(","), self.path),
                dir: first.dir,
            });
        }
        Ok(self)
    }

    pub fn layout(&self) -> &Arc<Layout> {
        &self.layout
    }

    /// The path relative to the hierarchy roots (`""` is the root group).
    pub fn path(&self) -> &str {
        &self.path
    }

    pub fn members(&self) -> &[Member] {
        &self.members
    }

    /// `controllers:/path`, as libcgroup names a group.
    pub fn name(&self) -> String {
        let ctrls: Vec<&str> = self
            .members
            .iter()
            .flat_map(|m| m.controllers.iter().map(String::as_str))
            .collect();
        format!("{}:/{}", ctrls.join(","), self.path)
    }

    /// Whether the group's directory exists on every hierarchy.
    pub fn exists(&self) -> bool {
        self.members.iter().all(|m| m.dir.is_dir())
    }

    pub(crate) fn check_exists(&self) -> Result<()> {
        for m in &self.members {
            if !m.dir.is_dir() {
                return Err(Error::NotFound {
                    group: format!("{}:/{}", m.controllers.join(","), self.path),
                    dir: m.dir.clone(),
                });
            }
        }
        Ok(())
    }

    /// The processes in the group, over all its hierarchies, sorted.
    pub fn procs(&self) -> Result<Vec<i32>> {
        self.check_exists()?;
        let mut pids = Vec::new();
        for m in &self.members {
            pids.extend(read_pids(&m.dir.join("cgroup.procs"))?);
        }
        pids.sort_unstable();
        pids.dedup();
        Ok(pids)
    }

    /// The file `key` of the group, on the hierarchy that serves its
    /// controller.
    pub fn file(&self, key: &str) -> Result<PathBuf> {
        let controller = key_controller(key)?;
        let member = match controller {
            None => {
                let v2_only = V2_CORE.contains(&key);
                self.members
                    .iter()
                    .find(|m| !v2_only || m.is_v2())
                    .or_else(|| self.members.first())
            }
            Some(c) => self
                .members
                .iter()
                .find(|m| m.hierarchy.has(c) || (m.is_v2() && m.hierarchy.has(v2_name(c)))),
        };
        if let Some(m) = member {
            return Ok(m.dir.join(key));
        }
        // Not among the handle's hierarchies: ask the layout.
        let h = match controller {
            Some(c) => self.layout.resolve(c)?,
            None => self.layout.resolve("unified")?,
        };
        Ok(h.dir(&self.path).join(key))
    }

    /// Reads the raw value of `key` (trailing newline removed).
    pub fn get(&self, key: &str) -> Result<String> {
        let file = self.file(key)?;
        read_file(&file).map_err(|e| self.missing_group(&file).unwrap_or(e))
    }

    /// Writes the raw `value` to `key`.
    pub fn set(&self, key: &str, value: &str) -> Result<()> {
        let file = self.file(key)?;
        write_file(&file, value).map_err(|e| self.missing_group(&file).unwrap_or(e))
    }

    /// After a failed read or write of `file`: the group itself missing,
    /// which says more than its file missing. Asked only then, so that a
    /// value written costs one open and one write, no stat before.
    fn missing_group(&self, file: &Path) -> Option<Error> {
        let dir = file.parent().unwrap_or(Path::new("/"));
        (!dir.is_dir()).then(|| Error::NotFound {
            group: self.name(),
            dir: dir.to_path_buf(),
        })
    }

    /// Writes `value` to `key` and returns what the kernel kept, which may
    /// differ (memory limits are rounded down to whole pages).
    pub fn set_and_read(&self, key: &str, value: &str) -> Result<String> {
        self.set(key, value)?;
        self.get(key)
    }

    /// The member on the hierarchy that serves `controller`, if any.
    pub fn member_for(&self, controller: &str) -> Option<&Member> {
        self.members
            .iter()
            .find(|m| m.hierarchy.has(controller))
            .or_else(|| {
                // On v2, freezing is built into every group, and v1 names
                // map to their v2 successors.
                self.members.iter().find(|m| {
                    m.is_v2()
                        && (m.hierarchy.has(v2_name(controller))
                            || matches!(controller, "freezer" | "unified"))
                })
            })
    }

    /// The hierarchy serving `controller` for this group: one of the
    /// handle's own, else the layout's.
    pub(crate) fn hierarchy_for(&self, controller: &str) -> Result<(Version, PathBuf)> {
        if let Some(m) = self.member_for(controller) {
            return Ok((m.hierarchy.version, m.dir.clone()));
        }
        let h = self.layout.resolve(controller)?;
        Ok((h.version, h.dir(&self.path)))
    }
}

fn add_member(members: &mut Vec<Member>, h: &Hierarchy, controllers: &[String], path: &str) {
    match members
        .iter_mut()
        .find(|m| m.hierarchy.mount_point == h.mount_point)
    {
        Some(m) => {
            for c in controllers {
                if !m.controllers.contains(c) {
                    m.controllers.push(c.clone());
                }
            }
        }
        None => members.push(Member {
            hierarchy: h.clone(),
            controllers: controllers.to_vec(),
            dir: h.dir(path),
        }),
    }
}

/// Splits libcgroup's `controllers:path` (`memory,cpu:helloworld`) into
/// the controllers as written (none for `:path`) and the path; `None`
/// without a colon.
pub fn split_spec(spec: &str) -> Option<(Vec<&str>, &str)> {
    let (ctrls, path) = spec.split_once(':')?;
    let ctrls = if ctrls.is_empty() {
        Vec::new()
    } else {
        ctrls.split(',').collect()
    };
    Some((ctrls, path))
}

/// Whether the kernel kept another value than the one written, worth a
/// note to the user (`memory.limit_in_bytes = 40000` is kept as `36864`
/// with 4 KiB pages). Whitespace around either does not count, and a
/// read-back of several lines (`io.weight` lists every device after
/// `8:0 100` is written) is not a single kept value to compare.
pub fn kernel_kept_other(asked: &str, kept: &str) -> bool {
    kept.trim() != asked.trim() && kept.lines().count() == 1
}

/// The controller a key belongs to: `memory.limit_in_bytes` → `memory`;
/// core files (`cgroup.procs`, `tasks`, `notify_on_release`) → `None`.
pub fn key_controller(key: &str) -> Result<Option<&str>> {
    if key.is_empty() || key.contains('/') || key.contains('\0') || key.starts_with('.') {
        return Err(Error::InvalidKey {
            key: key.to_string(),
        });
    }
    match key.split_once('.') {
        None => Ok(None),
        Some(("cgroup", _)) => Ok(None),
        Some((c, rest)) if !rest.is_empty() => Ok(Some(c)),
        Some(_) => Err(Error::InvalidKey {
            key: key.to_string(),
        }),
    }
}

/// Waits until `dir`'s v2 `cgroup.events` says `key value`, or the
/// deadline passes. Returns whether it did.
pub(crate) fn wait_v2_event(dir: &Path, key: &str, value: &str, deadline: Instant) -> Result<bool> {
    crate::wait::wait_events(&dir.join("cgroup.events"), key, value, deadline)
}

#[cfg(test)]
mod tests;
