//! A handle on one group path across the hierarchies that serve the
//! controllers asked for.

use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use serde::Serialize;

use crate::error::{write_hint, Error, Result};
use crate::layout::{normalize_path, v2_name, Hierarchy, Layout, Version};
use crate::wait::Backoff;

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
    fn is_v2(&self) -> bool {
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
    layout: Arc<Layout>,
    path: String,
    members: Vec<Member>,
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
        let (ctrls, path) = spec.split_once(':').ok_or_else(|| Error::InvalidSpec {
            spec: spec.to_string(),
        })?;
        let ctrls: Vec<&str> = if ctrls.is_empty() {
            vec!["unified"]
        } else {
            ctrls.split(',').collect()
        };
        if ctrls.iter().any(|c| c.is_empty()) {
            return Err(Error::InvalidSpec {
                spec: spec.to_string(),
            });
        }
        Cgroup::new(layout, &ctrls, path)
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

    fn check_exists(&self) -> Result<()> {
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

    /// Creates the group (and its missing parents) on every hierarchy. On
    /// v2 the controllers are enabled in `cgroup.subtree_control` down the
    /// path. An existing group is left as it is (only `perms` are applied).
    /// On failure, whatever this call made is undone.
    pub fn create(&self, perms: &Permissions) -> Result<()> {
        let mut undo = Undo::default();
        match self.create_inner(perms, &mut undo) {
            Ok(()) => Ok(()),
            Err(e) => {
                undo.rollback();
                Err(e)
            }
        }
    }

    fn create_inner(&self, perms: &Permissions, undo: &mut Undo) -> Result<()> {
        for m in &self.members {
            let levels: Vec<&str> = if self.path.is_empty() {
                Vec::new()
            } else {
                self.path.split('/').collect()
            };
            let mut dir = m.hierarchy.mount_point.clone();
            for level in levels {
                if m.is_v2() {
                    enable_controllers(&dir, &m.controllers, undo)?;
                }
                let parent = dir.clone();
                dir.push(level);
                match fs::create_dir(&dir) {
                    Ok(()) => {
                        undo.dirs.push(dir.clone());
                        if m.hierarchy.version == Version::V1 && m.hierarchy.has("cpuset") {
                            inherit_cpuset(&parent, &dir)?;
                        }
                    }
                    Err(e) if e.kind() == io::ErrorKind::AlreadyExists && dir.is_dir() => {}
                    Err(source) => return Err(Error::Create { dir, source }),
                }
            }
            if !perms.is_empty() {
                apply_permissions(&m.dir, perms)?;
            }
        }
        Ok(())
    }

    /// Deletes the group (see [`DeleteOptions`]). Nothing is removed unless
    /// every check passes first.
    pub fn delete(&self, opts: DeleteOptions) -> Result<()> {
        if opts.ignore_missing && !self.members.iter().any(|m| m.dir.is_dir()) {
            return Ok(());
        }
        if !opts.ignore_missing {
            self.check_exists()?;
        }
        if self.path.is_empty() {
            return Err(Error::InvalidPath {
                path: "/".into(),
                reason: "the root group of a hierarchy cannot be deleted",
            });
        }
        // Every directory to remove, children before parents.
        let mut plan: Vec<(&Member, Vec<PathBuf>)> = Vec::new();
        for m in self.members.iter().filter(|m| m.dir.is_dir()) {
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
        if !file.exists() {
            let dir = file.parent().unwrap_or(Path::new("/")).to_path_buf();
            if !dir.is_dir() {
                return Err(Error::NotFound {
                    group: self.name(),
                    dir,
                });
            }
        }
        read_file(&file)
    }

    /// Writes the raw `value` to `key`.
    pub fn set(&self, key: &str, value: &str) -> Result<()> {
        let file = self.file(key)?;
        let dir = file.parent().unwrap_or(Path::new("/")).to_path_buf();
        if !dir.is_dir() {
            return Err(Error::NotFound {
                group: self.name(),
                dir,
            });
        }
        write_file(&file, value)
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

/// What a failed create must undo.
#[derive(Default)]
struct Undo {
    dirs: Vec<PathBuf>,
    enabled: Vec<(PathBuf, String)>,
}

impl Undo {
    fn rollback(self) {
        for d in self.dirs.iter().rev() {
            let _ = fs::remove_dir(d);
        }
        for (dir, c) in self.enabled.iter().rev() {
            let _ = write_file(&dir.join("cgroup.subtree_control"), &format!("-{c}"));
        }
    }
}

fn enable_controllers(dir: &Path, controllers: &[String], undo: &mut Undo) -> Result<()> {
    let wanted: Vec<&String> = controllers
        .iter()
        .filter(|c| !matches!(c.as_str(), "freezer" | "unified" | "perf_event"))
        .collect();
    if wanted.is_empty() {
        return Ok(());
    }
    let file = dir.join("cgroup.subtree_control");
    let current = read_file(&file)?;
    for c in wanted {
        if current.split_whitespace().any(|e| e == c) {
            continue;
        }
        write_file(&file, &format!("+{c}")).map_err(|e| match e {
            Error::Write { source, .. } => Error::EnableController {
                controller: c.clone(),
                dir: dir.to_path_buf(),
                hint: match source.raw_os_error() {
                    Some(libc::EBUSY) => ": the group holds processes itself, and on cgroup v2 only leaf groups may; move them to a child group",
                    Some(libc::ENOENT) => ": the parent does not offer it; enable it higher up first",
                    _ => "",
                },
                source,
            },
            other => other,
        })?;
        undo.enabled.push((dir.to_path_buf(), c.clone()));
    }
    Ok(())
}

/// A new v1 cpuset group starts with no CPUs and no memory nodes, and no
/// task can join it: give it its parent's, as LXC and libcgroup do.
fn inherit_cpuset(parent: &Path, dir: &Path) -> Result<()> {
    for key in ["cpuset.cpus", "cpuset.mems"] {
        let file = dir.join(key);
        if !file.exists() {
            continue;
        }
        if read_file(&file)?.is_empty() {
            let value = read_file(&parent.join(key))?;
            write_file(&file, &value)?;
        }
    }
    Ok(())
}

fn apply_permissions(dir: &Path, p: &Permissions) -> Result<()> {
    let chown = |path: &Path, uid: Option<u32>, gid: Option<u32>| -> Result<()> {
        if uid.is_none() && gid.is_none() {
            return Ok(());
        }
        std::os::unix::fs::chown(path, uid, gid).map_err(|source| Error::Chown {
            path: path.to_path_buf(),
            source,
        })
    };
    let chmod = |path: &Path, mode: Option<u32>| -> Result<()> {
        match mode {
            None => Ok(()),
            Some(m) => fs::set_permissions(path, fs::Permissions::from_mode(m)).map_err(|source| {
                Error::Chown {
                    path: path.to_path_buf(),
                    source,
                }
            }),
        }
    };
    chown(dir, p.admin_uid, p.admin_gid)?;
    chmod(dir, p.dir_mode)?;
    let entries = fs::read_dir(dir).map_err(|source| Error::Read {
        path: dir.to_path_buf(),
        source,
    })?;
    for entry in entries {
        let entry = entry.map_err(|source| Error::Read {
            path: dir.to_path_buf(),
            source,
        })?;
        let path = entry.path();
        let meta = entry.metadata().map_err(|source| Error::Read {
            path: path.clone(),
            source,
        })?;
        if meta.is_dir() {
            continue;
        }
        let name = entry.file_name();
        let is_task_file = matches!(
            name.to_str(),
            Some("tasks" | "cgroup.procs" | "cgroup.threads")
        );
        if is_task_file {
            chown(&path, p.task_uid, p.task_gid)?;
            chmod(&path, p.task_mode)?;
        } else {
            chown(&path, p.admin_uid, p.admin_gid)?;
            // Only widen what the kernel made writable: a read-only stat file
            // stays read-only whatever fperm says, as in libcgroup.
            if let Some(m) = p.file_mode {
                let mask = meta.mode() & 0o777;
                let m = if mask & 0o222 == 0 { m & !0o222 } else { m };
                chmod(&path, Some(m))?;
            }
        }
    }
    Ok(())
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

/// A group directory or file that another process removed meanwhile
/// (ENOENT, or ENODEV for an open file of a removed group).
fn vanished(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::ENOENT) | Some(libc::ENODEV))
}

fn ignore_esrch(e: Error) -> Result<()> {
    match &e {
        Error::Write { source, .. } if source.raw_os_error() == Some(libc::ESRCH) => Ok(()),
        _ => Err(e),
    }
}

/// Reads a cgroup file, without its trailing newline.
pub fn read_file(path: &Path) -> Result<String> {
    let mut s = fs::read_to_string(path).map_err(|source| Error::Read {
        path: path.to_path_buf(),
        source,
    })?;
    while s.ends_with('\n') {
        s.pop();
    }
    Ok(s)
}

/// Writes `value` to a cgroup file in one write(2), as the kernel wants.
pub fn write_file(path: &Path, value: &str) -> Result<()> {
    let mut f = fs::OpenOptions::new()
        .write(true)
        .open(path)
        .map_err(|source| Error::Write {
            hint: write_hint(path, &source),
            file: path.to_path_buf(),
            value: value.to_string(),
            source,
        })?;
    f.write_all(value.as_bytes())
        .map_err(|source| Error::Write {
            hint: write_hint(path, &source),
            file: path.to_path_buf(),
            value: value.to_string(),
            source,
        })
}

/// Reads a list of pids (`cgroup.procs`, `tasks`).
pub fn read_pids(path: &Path) -> Result<Vec<i32>> {
    let text = match fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if vanished(&e) => return Ok(Vec::new()),
        Err(source) => {
            return Err(Error::Read {
                path: path.to_path_buf(),
                source,
            })
        }
    };
    text.split_whitespace()
        .map(|s| {
            s.parse::<i32>().map_err(|_| Error::Parse {
                file: path.to_path_buf(),
                reason: format!("'{s}' is not a process id"),
            })
        })
        .collect()
}

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

/// Waits until `dir`'s v2 `cgroup.events` says `key value`, or the
/// deadline passes. Returns whether it did.
pub(crate) fn wait_v2_event(dir: &Path, key: &str, value: &str, deadline: Instant) -> Result<bool> {
    crate::wait::wait_events(&dir.join("cgroup.events"), key, value, deadline)
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
