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

    /// In a child: a fresh mount namespace whose tmpfs stays in it, and a
    /// root mount that is a slave (mountinfo's `master:` tag) when it had
    /// a peer group.
    #[test]
    fn unshared_namespace_keeps_its_mounts() {
        let _serial = crate::serial();
        if !crate::require_root("unshared_namespace_keeps_its_mounts") {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().to_path_buf();
        let host_ns = std::fs::read_link("/proc/self/ns/mnt").unwrap();
        let (_, pidfd) = crate::spawn_pidfd(&[], || {
            if unshare_mount_namespace().is_err() {
                return 2;
            }
            if std::fs::read_link("/proc/self/ns/mnt").ok() == Some(host_ns.clone()) {
                return 3;
            }
            let mounted = mount(
                Some("tmpfs"),
                &target,
                Some("tmpfs"),
                MsFlags::empty(),
                None::<&str>,
            );
            if mounted.is_err() {
                return 4;
            }
            let shared = std::fs::read_to_string("/proc/self/mountinfo")
                .unwrap_or_default()
                .lines()
                .any(|l| l.split(" - ").next().unwrap_or("").contains(" shared:"));
            if shared {
                return 5;
            }
            0
        })
        .unwrap();
        let status = crate::wait_child(&pidfd, std::time::Duration::from_secs(30));
        assert!(
            matches!(status, nix::sys::wait::WaitStatus::Exited(_, 0)),
            "{status:?}"
        );
        let host_mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
        assert!(
            !host_mounts.contains(&*target.to_string_lossy()),
            "the child's tmpfs on {} reached the host",
            target.display()
        );
    }
}
