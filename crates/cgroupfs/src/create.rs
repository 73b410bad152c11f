//! Creating groups: directories down the path, controllers enabled on
//! cgroup v2, cpuset inherited on v1, owners and modes; undone on failure.

use std::fs;
use std::io;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::cgroup::{Cgroup, DeleteOptions, Permissions};
use crate::error::{Error, Result};
use crate::files::{read_file, write_file};
use crate::layout::Version;

impl Cgroup {
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
}

/// Creates `groups` one after the other, as `cgcreate -g A -g B` does. If
/// one fails, the groups this call made before it are deleted again, so
/// that nothing is half-created; the error names the group that failed.
pub fn create_all(groups: &[Cgroup], perms: &Permissions) -> Result<()> {
    let mut made: Vec<&Cgroup> = Vec::new();
    for cg in groups {
        let existed = cg.exists();
        if let Err(e) = cg.create(perms) {
            for done in made.iter().rev() {
                let _ = done.delete(DeleteOptions {
                    ignore_missing: true,
                    ..Default::default()
                });
            }
            return Err(Error::CreateGroup {
                group: cg.name(),
                source: Box::new(e),
            });
        }
        if !existed {
            made.push(cg);
        }
    }
    Ok(())
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
