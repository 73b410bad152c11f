//! `lxc.mount.auto = cgroup:...`: a tmpfs on /sys/fs/cgroup with one
//! `cgroup`/`cgroup2` mount per hierarchy, or cgroup2 on /sys/fs/cgroup
//! itself on a unified host.

use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;

use nix::errno::Errno;
use nix::mount::MsFlags;
use nix::unistd::symlinkat;

use super::root::{in_container, mount_err, mount_on, relative, remount_bind, Root};
use crate::error::Result;

/// How the cgroup hierarchies are mounted (`lxc.mount.auto = cgroup:...`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CgroupMode {
    /// Every hierarchy read-only.
    Ro,
    /// Read-write: inside its cgroup namespace the container only sees its
    /// own subtree.
    Rw,
    /// As `Rw` here (the cgroup namespace confines it).
    Mixed,
}

/// One hierarchy to mount under /sys/fs/cgroup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CgroupHierarchy {
    /// The directory under /sys/fs/cgroup: "memory", "cpu,cpuacct",
    /// "unified", "systemd". Empty for the only hierarchy of a unified
    /// (pure v2) host: it is mounted on /sys/fs/cgroup itself.
    pub dir_name: String,
    /// The mount data for a v1 hierarchy: "memory", "cpu,cpuacct",
    /// "none,name=systemd"; empty for cgroup2.
    pub fstype_options: String,
    /// A cgroup2 hierarchy.
    pub v2: bool,
}

/// The cgroup mounts: a tmpfs on /sys/fs/cgroup, one `cgroup`/`cgroup2`
/// mount per hierarchy (roots of the child's cgroup namespace), then the
/// tmpfs turned read-only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CgroupMount {
    pub mode: CgroupMode,
    pub hierarchies: Vec<CgroupHierarchy>,
}

/// Where the hierarchies go, relative to the rootfs.
const BASE: &str = "sys/fs/cgroup";

/// The size and mode of the tmpfs on /sys/fs/cgroup.
const TMPFS_DATA: &str = "size=10240k,mode=755";

/// The flags of every mount here.
const COMMON: MsFlags = MsFlags::MS_NOSUID
    .union(MsFlags::MS_NODEV)
    .union(MsFlags::MS_NOEXEC)
    .union(MsFlags::MS_RELATIME);

/// Mounts the hierarchies of `spec` under /sys/fs/cgroup.
pub(super) fn mount_cgroup(root: &Root, spec: &CgroupMount) -> Result<()> {
    let base = Path::new(BASE);
    let target = root.mkdir_all(base)?;
    if let Some(h) = unified_only(spec) {
        return mount_unified(&target, h, spec.mode);
    }
    mount_on(
        Some("cgroup_root".as_ref()),
        &target,
        Some("tmpfs"),
        COMMON,
        Some(TMPFS_DATA),
    )
    .map_err(mount_err(
        "cgroup_root",
        &in_container(base),
        "tmpfs",
        TMPFS_DATA,
    ))?;
    drop(target);
    let tmpfs = root
        .lookup_dir(base)
        .map_err(|e| root.err("resolve", base, e))?;
    for h in &spec.hierarchies {
        mount_hierarchy(root, h, spec.mode)?;
    }
    link_comounted(root, &tmpfs, &spec.hierarchies)?;
    remount_bind(&tmpfs, MsFlags::MS_RDONLY).map_err(mount_err(
        "cgroup_root",
        &in_container(base),
        "tmpfs",
        "remount,bind,ro",
    ))?;
    tracing::debug!(mode = ?spec.mode, count = spec.hierarchies.len(), "cgroup hierarchies mounted");
    Ok(())
}

/// The only hierarchy of a unified host (one v2 hierarchy, no directory
/// name): it goes on /sys/fs/cgroup itself, as on the host.
fn unified_only(spec: &CgroupMount) -> Option<&CgroupHierarchy> {
    match spec.hierarchies.as_slice() {
        [h] if h.v2 && h.dir_name.is_empty() => Some(h),
        _ => None,
    }
}

/// cgroup2 on /sys/fs/cgroup (open as `target`), read-only in
/// [`CgroupMode::Ro`].
fn mount_unified(target: &OwnedFd, h: &CgroupHierarchy, mode: CgroupMode) -> Result<()> {
    let flags = if mode == CgroupMode::Ro {
        COMMON | MsFlags::MS_RDONLY
    } else {
        COMMON
    };
    let data = h.fstype_options.as_str();
    mount_on(
        Some("cgroup2".as_ref()),
        target,
        Some("cgroup2"),
        flags,
        Some(data),
    )
    .map_err(mount_err(
        "cgroup2",
        &in_container(Path::new(BASE)),
        "cgroup2",
        data,
    ))
}

/// One hierarchy on its directory of the tmpfs, made read-only (a bind
/// remount) in [`CgroupMode::Ro`].
fn mount_hierarchy(root: &Root, h: &CgroupHierarchy, mode: CgroupMode) -> Result<()> {
    let rel = Path::new(BASE).join(&h.dir_name);
    if relative(Path::new(&h.dir_name)).components().count() != 1 {
        return Err(root.err("use cgroup directory", &rel, Errno::EINVAL));
    }
    let dir = root.mkdir_all(&rel)?;
    let fstype = if h.v2 { "cgroup2" } else { "cgroup" };
    let data = h.fstype_options.as_str();
    mount_on(
        Some(fstype.as_ref()),
        &dir,
        Some(fstype),
        COMMON,
        Some(data),
    )
    .map_err(mount_err(fstype, &in_container(&rel), fstype, data))?;
    drop(dir);
    if mode == CgroupMode::Ro {
        let top = root.resolve(&rel)?;
        remount_bind(&top, MsFlags::MS_RDONLY).map_err(mount_err(
            fstype,
            &in_container(&rel),
            fstype,
            "remount,bind,ro",
        ))?;
    }
    Ok(())
}

/// "cpu" and "cpuacct" links to "cpu,cpuacct" in the tmpfs (open as
/// `tmpfs`), as on the host; a name that is a hierarchy of its own, or
/// already there, is left alone.
fn link_comounted(root: &Root, tmpfs: &OwnedFd, hierarchies: &[CgroupHierarchy]) -> Result<()> {
    for h in hierarchies
        .iter()
        .filter(|h| !h.v2 && h.dir_name.contains(','))
    {
        for name in h
            .dir_name
            .split(',')
            .filter(|n| !n.is_empty() && !n.contains('='))
        {
            if hierarchies.iter().any(|o| o.dir_name == name) {
                continue;
            }
            match symlinkat(h.dir_name.as_str(), tmpfs.as_fd(), name) {
                Ok(()) | Err(Errno::EEXIST) => {}
                Err(e) => return Err(root.err("create symlink", &Path::new(BASE).join(name), e)),
            }
        }
    }
    Ok(())
}
