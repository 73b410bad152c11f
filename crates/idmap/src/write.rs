//! Writing a user namespace's `uid_map` and `gid_map`.
//!
//! The kernel lets a process write the maps of a child user namespace
//! directly when it holds CAP_SETUID/CAP_SETGID over the parent namespace
//! (root on the host), or when it maps only its own id (and, for
//! `gid_map`, after writing `deny` to `setgroups`). Everyone else goes
//! through the setuid helpers newuidmap(1) and newgidmap(1) of the
//! uidmap package, which check the maps against /etc/subuid and
//! /etc/subgid.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde::Serialize;

use crate::error::{Error, Result};
use crate::map::{IdKind, IdMaps};

/// How the maps were written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Writer {
    /// Written to /proc/PID/{uid,gid}_map by this process.
    Direct,
    /// Written by newuidmap and newgidmap.
    Helpers,
}

/// Where the helpers are looked for, in order.
pub const HELPER_DIRS: &[&str] = &["/usr/bin", "/bin", "/usr/local/bin", "/usr/sbin"];

/// The path of a helper (`newuidmap` or `newgidmap`), checked to be
/// installed and setuid root.
pub fn find_helper(tool: &'static str, dirs: &[&str]) -> Result<PathBuf> {
    let path = dirs
        .iter()
        .map(|d| Path::new(d).join(tool))
        .find(|p| p.is_file())
        .ok_or(Error::HelperMissing { tool })?;
    let meta = fs::metadata(&path).map_err(|source| Error::Io {
        action: "read the metadata of",
        path: path.clone(),
        source,
    })?;
    if meta.permissions().mode() & 0o4000 == 0 || std::os::unix::fs::MetadataExt::uid(&meta) != 0 {
        return Err(Error::HelperNotSetuid { path });
    }
    Ok(path)
}

/// Whether this process may write `maps` itself: it is root on the host,
/// or each kind maps exactly its own id and nothing else.
fn may_write_directly(maps: &IdMaps) -> bool {
    let euid = nix::unistd::geteuid().as_raw();
    if euid == 0 {
        return true;
    }
    let egid = nix::unistd::getegid().as_raw();
    let only_own = |kind: IdKind, own: u32| {
        let mut lines = maps.of(kind);
        match (lines.next(), lines.next()) {
            (Some(m), None) => m.host_id == own && m.range == 1,
            (None, None) => true,
            _ => false,
        }
    };
    only_own(IdKind::Uid, euid) && only_own(IdKind::Gid, egid)
}

fn write_proc(pid: i32, file: &str, text: &str) -> Result<()> {
    let path = PathBuf::from(format!("/proc/{pid}/{file}"));
    fs::write(&path, text).map_err(|source| Error::Io {
        action: "write",
        path,
        source,
    })
}

/// Writes the maps of process `pid`'s user namespace, directly when the
/// kernel allows it and through newuidmap/newgidmap otherwise.
pub fn write_maps(pid: i32, maps: &IdMaps) -> Result<Writer> {
    if may_write_directly(maps) {
        write_directly(pid, maps)?;
        return Ok(Writer::Direct);
    }
    write_with_helpers(pid, maps, HELPER_DIRS)?;
    Ok(Writer::Helpers)
}

/// Writes both maps to /proc/PID; an unprivileged caller mapping its own
/// gid must deny setgroups first, as the kernel requires.
pub fn write_directly(pid: i32, maps: &IdMaps) -> Result<()> {
    let uid_text = maps.map_text(IdKind::Uid);
    if !uid_text.is_empty() {
        write_proc(pid, "uid_map", &uid_text)?;
    }
    let gid_text = maps.map_text(IdKind::Gid);
    if !gid_text.is_empty() {
        if !nix::unistd::geteuid().is_root() {
            write_proc(pid, "setgroups", "deny")?;
        }
        write_proc(pid, "gid_map", &gid_text)?;
    }
    Ok(())
}

/// Runs newuidmap and newgidmap for `pid` with the maps' lines.
pub fn write_with_helpers(pid: i32, maps: &IdMaps, dirs: &[&str]) -> Result<()> {
    for (kind, tool) in [(IdKind::Uid, "newuidmap"), (IdKind::Gid, "newgidmap")] {
        let args: Vec<String> = maps
            .of(kind)
            .flat_map(|m| [m.container_id, m.host_id, m.range])
            .map(|n| n.to_string())
            .collect();
        if args.is_empty() {
            continue;
        }
        let path = find_helper(tool, dirs)?;
        let output = Command::new(&path)
            .arg(pid.to_string())
            .args(&args)
            .output()
            .map_err(|source| Error::Io {
                action: "run",
                path: path.clone(),
                source,
            })?;
        if !output.status.success() {
            let text = String::from_utf8_lossy(&output.stderr).trim().to_string();
            return Err(Error::HelperFailed {
                tool,
                pid,
                map: maps.map_text(kind).trim_end().replace('\n', ", "),
                output: if text.is_empty() {
                    output.status.to_string()
                } else {
                    text
                },
            });
        }
    }
    Ok(())
}
