//! Shifting the ids of a tree, for filesystems without idmapped mounts:
//! every entry is chowned from the container's ids to the host's (or back),
//! as LXC's and Incus's shift code does.
//!
//! The walk does not follow symlinks and stays on the root's filesystem.
//! Setuid and setgid bits, which chown clears, are put back; file
//! capabilities, which chown drops, are written again for the mapped root
//! (a v2 capability becomes v3 with a root id); the uid and gid entries of
//! POSIX ACLs are mapped; hard links are shifted once. The tree must not be
//! in use while it is shifted (the container stopped): entries are reached
//! by path.

use std::collections::HashSet;
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::error::{Error, Result};
use crate::map::{IdKind, IdMaps};
use crate::xattr;
use crate::xattr_ids::{self, AclId, ACL_ACCESS, ACL_DEFAULT, CAPABILITY};

/// Which way ids go.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// Container ids become host ids: a rootfs made by root, for an
    /// unprivileged container.
    ToHost,
    /// Host ids become container ids: the reverse.
    ToContainer,
}

/// What a shift did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ShiftStats {
    /// Entries shifted, the root included (an entry whose ids the map
    /// leaves as they are counts too).
    pub entries: u64,
    /// Further names of a file already shifted through another hard link.
    pub hard_links: u64,
    /// File capabilities rewritten.
    pub capabilities: u64,
    /// Access and default ACLs rewritten.
    pub acls: u64,
    /// Entries on another filesystem (mount points), left alone.
    pub other_filesystems: u64,
}

struct Shifter<'a> {
    maps: &'a IdMaps,
    direction: Direction,
    device: u64,
    seen: HashSet<(u64, u64)>,
    stats: ShiftStats,
}

fn io_error<'a>(action: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> Error + 'a {
    move |source| Error::Io {
        action,
        path: path.to_path_buf(),
        source,
    }
}

impl Shifter<'_> {
    /// The new id of `id`, or an error naming the path and what holds it.
    fn map(&self, kind: IdKind, id: u32, path: &Path, holder: &'static str) -> Result<u32> {
        let mapped = match self.direction {
            Direction::ToHost => self.maps.host_id(kind, id),
            Direction::ToContainer => self.maps.container_id(kind, id),
        };
        mapped.ok_or_else(|| Error::Unmapped {
            path: path.to_path_buf(),
            holder,
            id_name: match kind {
                IdKind::Uid => "uid",
                IdKind::Gid => "gid",
            },
            id,
            side: match self.direction {
                Direction::ToHost => "container",
                Direction::ToContainer => "host",
            },
        })
    }

    fn get(&self, path: &Path, name: &str) -> Result<Option<Vec<u8>>> {
        xattr::get(path, name).map_err(|source| Error::Xattr {
            action: "read",
            name: name.to_string(),
            path: path.to_path_buf(),
            source,
        })
    }

    fn set(&self, path: &Path, name: &str, value: &[u8]) -> Result<()> {
        xattr::set(path, name, value).map_err(|source| Error::Xattr {
            action: "write",
            name: name.to_string(),
            path: path.to_path_buf(),
            source,
        })
    }

    fn bad_xattr(path: &Path, name: &str) -> impl FnOnce(String) -> Error {
        let (path, name) = (path.to_path_buf(), name.to_string());
        move |reason| Error::BadXattr { path, name, reason }
    }

    /// The capability of `path` for the mapped root, if it has one.
    fn shifted_capability(&self, path: &Path) -> Result<Option<Vec<u8>>> {
        let Some(value) = self.get(path, CAPABILITY)? else {
            return Ok(None);
        };
        let bad = || Self::bad_xattr(path, CAPABILITY);
        let root = xattr_ids::capability_rootid(&value).map_err(bad())?;
        let holder = "The root of the file capability";
        let new_root = match self.direction {
            Direction::ToHost => Some(self.map(IdKind::Uid, root.unwrap_or(0), path, holder)?),
            Direction::ToContainer => match root {
                None => None,
                Some(r) => Some(self.map(IdKind::Uid, r, path, holder)?).filter(|&id| id != 0),
            },
        };
        xattr_ids::capability_for_root(&value, new_root)
            .map(Some)
            .map_err(bad())
    }

    /// The ACL `name` of `path` with mapped ids, if it has one.
    fn shifted_acl(&self, path: &Path, name: &str) -> Result<Option<Vec<u8>>> {
        let Some(value) = self.get(path, name)? else {
            return Ok(None);
        };
        let mapped = xattr_ids::map_acl(&value, |entry| match entry {
            AclId::User(id) => self.map(IdKind::Uid, id, path, "An ACL entry"),
            AclId::Group(id) => self.map(IdKind::Gid, id, path, "An ACL entry"),
        })
        .map_err(Self::bad_xattr(path, name))?;
        mapped.map(Some)
    }

    /// Shifts one entry; returns whether it is a directory to walk into.
    fn entry(&mut self, path: &Path) -> Result<bool> {
        let meta = fs::symlink_metadata(path).map_err(io_error("read the metadata of", path))?;
        if meta.dev() != self.device {
            self.stats.other_filesystems += 1;
            return Ok(false);
        }
        let file_type = meta.file_type();
        if !file_type.is_dir() && meta.nlink() > 1 && !self.seen.insert((meta.dev(), meta.ino())) {
            self.stats.hard_links += 1;
            return Ok(false);
        }
        let uid = self.map(IdKind::Uid, meta.uid(), path, "The owner")?;
        let gid = self.map(IdKind::Gid, meta.gid(), path, "The group")?;
        // Capabilities live on regular files, default ACLs on directories;
        // device nodes, fifos, sockets and symlinks are only chowned.
        let (capability, acl_names): (_, &[&str]) = if file_type.is_file() {
            (self.shifted_capability(path)?, &[ACL_ACCESS])
        } else if file_type.is_dir() {
            (None, &[ACL_ACCESS, ACL_DEFAULT])
        } else {
            (None, &[])
        };
        let mut acls = Vec::new();
        for name in acl_names {
            if let Some(value) = self.shifted_acl(path, name)? {
                acls.push((*name, value));
            }
        }
        if (uid, gid) != (meta.uid(), meta.gid()) {
            std::os::unix::fs::lchown(path, Some(uid), Some(gid))
                .map_err(io_error("change the owner of", path))?;
        }
        let mode = meta.permissions().mode();
        if !file_type.is_symlink() && mode & 0o6000 != 0 {
            fs::set_permissions(path, fs::Permissions::from_mode(mode & 0o7777))
                .map_err(io_error("restore the setuid and setgid bits of", path))?;
        }
        for (name, value) in &acls {
            self.set(path, name, value)?;
        }
        self.stats.acls += acls.len() as u64;
        if let Some(value) = capability {
            self.set(path, CAPABILITY, &value)?;
            self.stats.capabilities += 1;
        }
        self.stats.entries += 1;
        Ok(file_type.is_dir())
    }
}

/// Shifts the owner, group, file capability and ACLs of `root` and of
/// everything under it by `maps`, in `direction`. An id the map does not
/// cover stops the shift with an error naming the path and the id (the
/// entries before it stay shifted: shifting back undoes them).
pub fn shift_tree(root: &Path, maps: &IdMaps, direction: Direction) -> Result<ShiftStats> {
    let meta = fs::symlink_metadata(root).map_err(io_error("read the metadata of", root))?;
    let mut shifter = Shifter {
        maps,
        direction,
        device: meta.dev(),
        seen: HashSet::new(),
        stats: ShiftStats::default(),
    };
    let mut dirs: Vec<PathBuf> = Vec::new();
    if shifter.entry(root)? {
        dirs.push(root.to_path_buf());
    }
    while let Some(dir) = dirs.pop() {
        let entries = fs::read_dir(&dir).map_err(io_error("list", &dir))?;
        for entry in entries {
            let path = entry.map_err(io_error("list", &dir))?.path();
            if shifter.entry(&path)? {
                dirs.push(path);
            }
        }
    }
    Ok(shifter.stats)
}

#[cfg(test)]
mod tests;
