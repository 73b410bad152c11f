//! An unprivileged container (`lxc.idmap`), from the monitor's side: the
//! container's root as the host sees it, how its rootfs gets the right
//! owners (already owned by the map, or an idmapped mount of a rootfs
//! that host root owns), and init's uid and gid maps written. Its console
//! and ttys are ptys of its own devpts (`launch::own_ptys`).

use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use enclos_config::{IdKind, IdMaps};
use nix::unistd::Pid;

use crate::error::{chain, Error, Result};
use crate::mapped_root::RootfsIdmap;

/// What a start with `lxc.idmap` needs: the maps, the container's root on
/// the host, and how the rootfs is mapped.
#[derive(Debug, Clone)]
pub(crate) struct Userns {
    pub maps: IdMaps,
    pub root: MappedRoot,
    pub rootfs: RootfsIdmap,
}

impl Userns {
    /// For container `name` with `maps` (none without) and the rootfs at
    /// `rootfs`.
    pub fn plan(name: &str, maps: IdMaps, rootfs: &Path) -> Result<Option<Userns>> {
        if maps.is_empty() {
            return Ok(None);
        }
        let root = MappedRoot::of(name, &maps)?;
        check_reachable(name, rootfs, &maps, root)?;
        let rootfs = rootfs_idmap(name, rootfs, root)?;
        Ok(Some(Userns { maps, root, rootfs }))
    }
}

/// The container's root as the host sees it: the host uid and gid of
/// uid 0 and gid 0 in the container.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct MappedRoot {
    pub uid: u32,
    pub gid: u32,
}

impl MappedRoot {
    /// From the maps, which must map uid 0 and gid 0.
    pub fn of(name: &str, maps: &IdMaps) -> Result<MappedRoot> {
        let root = |kind: IdKind| {
            maps.host_id(kind, 0).ok_or_else(|| Error::StartFailed {
                name: name.to_string(),
                reason: format!(
                    "lxc.idmap maps no {0} 0, so the container has no root; add a line such as lxc.idmap = {1} 0 165536 65536",
                    if kind == IdKind::Uid { "uid" } else { "gid" },
                    kind.letter()
                ),
            })
        };
        Ok(MappedRoot {
            uid: root(IdKind::Uid)?,
            gid: root(IdKind::Gid)?,
        })
    }
}

/// How the rootfs at `rootfs` gets the container's owners: it is used as
/// it is when the container's root owns it; a rootfs of host root (a
/// privileged create) is mounted idmapped. Any other owner is an error:
/// enclos never chowns a rootfs behind the user's back.
pub(crate) fn rootfs_idmap(name: &str, rootfs: &Path, root: MappedRoot) -> Result<RootfsIdmap> {
    let meta = std::fs::metadata(rootfs).map_err(crate::error::io_err("inspect", rootfs))?;
    match meta.uid() {
        uid if uid == root.uid => Ok(RootfsIdmap::OwnedByMap),
        0 => Ok(RootfsIdmap::IdmappedMount),
        other => Err(Error::StartFailed {
            name: name.to_string(),
            reason: format!(
                "its rootfs {} belongs to uid {other}, which is neither the container's root through lxc.idmap (uid {}) nor host root; {}",
                rootfs.display(),
                root.uid,
                remedy(root)
            ),
        }),
    }
}

/// Init sets up the rootfs as the container's root, which must be able to
/// reach it: every directory above it needs execute permission for that
/// uid (a home directory of mode 0700 or 0750 is the usual culprit), by
/// its mode or its ACL, unless its owner and group are mapped by `maps`.
fn check_reachable(name: &str, rootfs: &Path, maps: &IdMaps, root: MappedRoot) -> Result<()> {
    let full = std::fs::canonicalize(rootfs).map_err(crate::error::io_err("resolve", rootfs))?;
    for dir in full.ancestors().skip(1) {
        let meta = std::fs::metadata(dir).map_err(crate::error::io_err("inspect", dir))?;
        if !enclos_idmap::root_may_search(dir, &meta, maps, root.uid, root.gid) {
            return Err(Error::StartFailed {
                name: name.to_string(),
                reason: format!(
                    "the container's root (uid {}) cannot reach its rootfs {}: {} (owner {}:{}, mode {:o}) gives it no execute permission; run `chmod o+x {}`, or give that directory to uid {} (as LXC does with the container's directory)",
                    root.uid,
                    rootfs.display(),
                    dir.display(),
                    meta.uid(),
                    meta.gid(),
                    meta.mode() & 0o7777,
                    dir.display(),
                    root.uid
                ),
            });
        }
    }
    Ok(())
}

/// What to do about a rootfs the container's root cannot use.
fn remedy(root: MappedRoot) -> String {
    format!(
        "recreate the container as the unprivileged user (its rootfs then belongs to uid {0}), or shift the rootfs's ids onto the map (each file's owner and group + {0})",
        root.uid
    )
}

/// Writes init's uid and gid maps (the monitor, between clone and
/// ATTACHED).
pub(crate) fn write_maps(name: &str, pid: Pid, maps: &IdMaps) -> Result<()> {
    enclos_idmap::write_maps(pid.as_raw(), maps).map_err(|e| Error::StartFailed {
        name: name.to_string(),
        reason: format!("cannot write the id maps of its init: {}", chain(&e)),
    })?;
    tracing::debug!(container = name, pid = pid.as_raw(), "id maps written");
    Ok(())
}

/// A detached idmapped mount of `rootfs` for init's user namespace (init
/// is `pid`), which init mounts over its rootfs. A kernel or filesystem
/// without idmapped mounts is an error that says what to do instead.
pub(crate) fn idmapped_rootfs(
    name: &str,
    rootfs: &Path,
    pid: Pid,
    root: MappedRoot,
) -> Result<OwnedFd> {
    let ns = format!("/proc/{pid}/ns/user");
    let userns = std::fs::File::open(&ns).map_err(crate::error::io_err("open", &ns))?;
    enclos_idmap::idmapped_mount(rootfs, userns.as_fd()).map_err(|e| {
        let why = match &e {
            enclos_idmap::Error::IdmappedMountUnsupported { hint, source, .. } => {
                format!("{hint} ({source})")
            }
            other => chain(other),
        };
        Error::StartFailed {
            name: name.to_string(),
            reason: format!(
                "its rootfs {} belongs to host root and cannot be mounted idmapped: {why}; {}",
                rootfs.display(),
                remedy(root)
            ),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use enclos_config::IdMap;

    fn maps(lines: &[&str]) -> IdMaps {
        IdMaps::new(lines.iter().map(|l| IdMap::parse(l).unwrap()).collect())
    }

    #[test]
    fn the_mapped_root() {
        let m = maps(&["u 0 165536 65536", "g 0 165536 65536"]);
        let root = MappedRoot::of("c1", &m).unwrap();
        assert_eq!(
            root,
            MappedRoot {
                uid: 165536,
                gid: 165536,
            }
        );
        let m = maps(&["u 0 165536 1", "g 0 200000 1"]);
        assert_eq!(MappedRoot::of("c1", &m).unwrap().gid, 200000);
        let e = MappedRoot::of("c1", &maps(&["u 1 165536 10", "g 0 1 1"])).unwrap_err();
        assert!(
            e.to_string().contains("maps no uid 0") && e.to_string().contains("lxc.idmap = u 0"),
            "{e}"
        );
    }

    #[test]
    fn an_unreachable_rootfs_names_the_directory_and_the_fix() {
        let dir = tempfile::tempdir().unwrap();
        let shut = dir.path().join("c1");
        std::fs::create_dir_all(shut.join("rootfs")).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&shut, std::fs::Permissions::from_mode(0o750)).unwrap();
        let m = maps(&["u 0 165536 65536", "g 0 165536 65536"]);
        let root = MappedRoot::of("c1", &m).unwrap();
        let e = check_reachable("c1", &shut.join("rootfs"), &m, root).unwrap_err();
        let msg = e.to_string();
        assert!(
            msg.contains(&format!("{} (owner", shut.display()))
                && msg.contains("mode 750")
                && msg.contains(&format!("chmod o+x {}", shut.display())),
            "{msg}"
        );
        for d in [dir.path(), shut.as_path()] {
            std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o751)).unwrap();
        }
        check_reachable("c1", &shut.join("rootfs"), &m, root).unwrap();
    }

    #[test]
    fn the_rootfs_owner_decides() {
        let dir = tempfile::tempdir().unwrap();
        let me = nix::unistd::geteuid().as_raw();
        let root = |uid| MappedRoot { uid, gid: uid };
        assert_eq!(
            rootfs_idmap("c1", dir.path(), root(me)).unwrap(),
            RootfsIdmap::OwnedByMap
        );
        if me == 0 {
            assert_eq!(
                rootfs_idmap("c1", dir.path(), root(165536)).unwrap(),
                RootfsIdmap::IdmappedMount
            );
        } else {
            let e = rootfs_idmap("c1", dir.path(), root(165536)).unwrap_err();
            let msg = e.to_string();
            assert!(
                msg.contains(&format!("belongs to uid {me}")) && msg.contains("shift"),
                "{msg}"
            );
        }
    }
}
