//! A mount namespace whose mounts are slaves of the ones they were copied
//! from: mounts made in the parent namespace still arrive, mounts made in
//! this one never leave it.

use std::path::Path;

use nix::mount::{mount, MsFlags};
use nix::sched::unshare;

use crate::error::{Error, Result};
use crate::namespace::Namespace;

/// Makes the mount at `path` and every mount below it slaves
/// (`MS_SLAVE | MS_REC`).
pub(crate) fn make_rslave(path: &Path) -> nix::Result<()> {
    mount(
        None::<&str>,
        path,
        None::<&str>,
        MsFlags::MS_REC | MsFlags::MS_SLAVE,
        None::<&str>,
    )
}

/// Makes every mount of the calling process's mount namespace a slave, so
/// that nothing mounted or unmounted from now on propagates out of it. The
/// namespace must be the caller's own (cloned or unshared): in the host's,
/// this would cut the host's mounts from their peers.
pub(crate) fn make_mounts_rslave() -> Result<()> {
    make_rslave(Path::new("/")).map_err(|source| Error::Mount {
        device: "none".to_owned(),
        target: "/".into(),
        fstype: "none".to_owned(),
        options: "rslave".to_owned(),
        source,
    })
}

/// Moves the calling process into a new mount namespace (unshare(2)
/// `CLONE_NEWNS`) and makes every mount in it a slave: mounts from the
/// host still reach the process, its own do not reach the host
/// (`lxc.monitor.unshare`). Affects the calling thread only when others
/// exist, so call it while single-threaded.
pub fn unshare_mount_namespace() -> Result<()> {
    unshare(Namespace::Mount.clone_flag()).map_err(|source| Error::Unshare {
        namespaces: Namespace::Mount.to_string(),
        source,
    })?;
    make_mounts_rslave()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The propagation tags of the mount on `target` in this process's
    /// mountinfo: "shared:N master:M" ...
    fn tags_of(target: &Path) -> Option<String> {
        let info = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
        let line = info
            .lines()
            .rfind(|l| l.split(' ').nth(4) == Some(&*target.to_string_lossy()))?;
        let fields = line.split(" - ").next()?;
        Some(fields.split(' ').skip(6).collect::<Vec<_>>().join(" "))
    }

    /// In a child with a mount namespace of its own, a shared tmpfs: after
    /// unshare_mount_namespace the child is in yet another namespace, where
    /// the tmpfs is a slave of the one it was copied from, not a peer.
    #[test]
    fn unshared_namespace_is_a_slave() {
        let _serial = crate::serial();
        if !crate::require_root("unshared_namespace_is_a_slave") {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().to_path_buf();
        crate::assert_child_ok(&[Namespace::Mount], || {
            // Nothing this child mounts may reach the host.
            if make_mounts_rslave().is_err() {
                return 2;
            }
            let tmpfs = mount(
                Some("tmpfs"),
                &target,
                Some("tmpfs"),
                MsFlags::empty(),
                None::<&str>,
            );
            let shared = mount(
                None::<&str>,
                &target,
                None::<&str>,
                MsFlags::MS_SHARED,
                None::<&str>,
            );
            if tmpfs.is_err() || shared.is_err() {
                return 3;
            }
            if !tags_of(&target).is_some_and(|t| t.contains("shared:")) {
                return 4;
            }
            let before = std::fs::read_link("/proc/self/ns/mnt").ok();
            // Keeps the namespace, and the tmpfs's peer there, alive: a
            // slave of a group with no other member is private.
            let Ok(_old_ns) = std::fs::File::open("/proc/self/ns/mnt") else {
                return 8;
            };
            if unshare_mount_namespace().is_err() {
                return 5;
            }
            if std::fs::read_link("/proc/self/ns/mnt").ok() == before {
                return 6;
            }
            match tags_of(&target) {
                Some(t) if t.contains("master:") && !t.contains("shared:") => 0,
                _ => 7,
            }
        });
        assert_eq!(tags_of(&target), None, "the child's tmpfs reached the host");
    }
}
