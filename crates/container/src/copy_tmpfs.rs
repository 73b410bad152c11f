//! `lxc-copy -e -t`: an ephemeral overlay copy whose upper layer lives on
//! a tmpfs made for its run, gone with it.
//!
//! LXC mounts a tmpfs over the copy's whole directory from a pre-mount
//! hook. Here the copy's upper layer is `DIR/tmpfs/delta0` (its
//! `lxc.rootfs.path` says so), and the monitor, in its mount namespace of
//! its own, mounts a tmpfs over `DIR/tmpfs` before it mounts the overlay:
//! the upper layer and the overlay's work directory (`DIR/tmpfs/olwork`)
//! must share one mount. What the copy got on disk when it was made (its
//! `/etc/hostname`) is copied onto the tmpfs first. The tmpfs is seen by
//! the monitor and the container only, never in the host's mount table,
//! and goes with the monitor's mount namespace.

use std::fs;
use std::path::{Path, PathBuf};

use enclos_storage::{Backend, Rootfs};
use nix::mount::{mount, umount2, MntFlags, MsFlags};

use crate::container::Container;
use crate::error::{io_err, Error, Result};

/// The directory of a copy's upper layer and work directory, on a tmpfs
/// while it runs.
const TMPFS_DIR: &str = "tmpfs";

/// Refuses `-t` unless the copy is an overlay one, in LXC's words.
pub(crate) fn check(backend: Backend, keep_data: bool) -> Result<()> {
    if backend != Backend::Overlay || keep_data {
        return Err(Error::Unsupported(
            "A container can only be placed on a tmpfs when the overlay storage driver is used \
             (-e with -B overlay, the default, and without -D)"
                .into(),
        ));
    }
    Ok(())
}

/// Moves the upper layer of the overlay copy `new`, just made in the
/// staging directory `staged`, to `staged/tmpfs/`; returns the copy's
/// rootfs there.
pub(crate) fn move_upper(new: &Rootfs, staged: &Path) -> Result<Rootfs> {
    let dir = staged.join(TMPFS_DIR);
    fs::create_dir(&dir).map_err(io_err("create", &dir))?;
    let name = new.path.file_name().unwrap_or_default();
    let upper = dir.join(name);
    fs::rename(&new.path, &upper).map_err(io_err("move the upper layer", &new.path))?;
    Ok(Rootfs::overlay(new.lowers.clone(), upper))
}

/// Whether `storage` is a copy's upper layer on a tmpfs.
pub(crate) fn on_tmpfs(c: &Container, storage: &Rootfs) -> bool {
    tmpfs_dir(c, storage).is_some()
}

/// Where the tmpfs of `c` goes, when `storage` is a copy's upper layer
/// on a tmpfs (see the module's doc).
fn tmpfs_dir(c: &Container, storage: &Rootfs) -> Option<PathBuf> {
    let dir = c.dir().join(TMPFS_DIR);
    (storage.backend == Backend::Overlay && storage.path.parent() == Some(&dir)).then_some(dir)
}

/// In the monitor's own mount namespace, before the overlay is mounted:
/// a tmpfs over `DIR/tmpfs` with what the directory holds on disk.
/// Nothing for any other rootfs.
pub(crate) fn mount_upper(c: &Container, storage: &Rootfs) -> Result<()> {
    let Some(dir) = tmpfs_dir(c, storage) else {
        return Ok(());
    };
    let stage = c.run_file("tmpfs");
    fs::create_dir_all(&stage).map_err(io_err("create", &stage))?;
    let sys = |what: &'static str| {
        let name = c.name().to_string();
        move |source| Error::Sys { what, name, source }
    };
    mount(
        Some("tmpfs"),
        &stage,
        Some("tmpfs"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
        Some("mode=0755"),
    )
    .map_err(sys("mount a tmpfs for the upper layer"))?;
    let filled = enclos_storage::copy_tree(&dir, &stage)
        .map_err(Error::from)
        .and_then(|()| {
            mount(
                Some(&stage),
                &dir,
                None::<&str>,
                MsFlags::MS_MOVE,
                None::<&str>,
            )
            .map_err(sys("move the tmpfs over the upper layer's directory"))
        });
    if filled.is_err() {
        let _ = umount2(&stage, MntFlags::MNT_DETACH);
    }
    let _ = fs::remove_dir(&stage);
    filled
}

/// Unmounts the tmpfs of `c` after its overlay, in the monitor's mount
/// namespace, so that the copy's directory can be removed.
pub(crate) fn unmount_upper(c: &Container, storage: &Rootfs) {
    if let Some(dir) = tmpfs_dir(c, storage) {
        let _ = umount2(&dir, MntFlags::MNT_DETACH);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_an_overlay_upper_in_the_tmpfs_dir_is_on_a_tmpfs() {
        let tmp = tempfile::tempdir().unwrap();
        let c = Container::new(tmp.path(), "c1").unwrap();
        let lower = vec![tmp.path().join("orig/rootfs")];
        let on = Rootfs::overlay(lower.clone(), c.dir().join("tmpfs/delta0"));
        assert!(on_tmpfs(&c, &on));
        assert!(!on_tmpfs(
            &c,
            &Rootfs::overlay(lower, c.dir().join("delta0"))
        ));
        assert!(!on_tmpfs(&c, &Rootfs::dir(c.dir().join("tmpfs/delta0"))));
        assert!(check(Backend::Overlay, false).is_ok());
        let err = check(Backend::Dir, false).unwrap_err().to_string();
        assert!(err.contains("overlay storage driver"), "{err}");
        assert!(check(Backend::Overlay, true).is_err());

        fs::create_dir_all(tmp.path().join("stage/delta0/etc")).unwrap();
        let moved = move_upper(
            &Rootfs::overlay(vec![], tmp.path().join("stage/delta0")),
            &tmp.path().join("stage"),
        )
        .unwrap();
        assert_eq!(moved.path, tmp.path().join("stage/tmpfs/delta0"));
        assert!(moved.path.join("etc").is_dir());
    }
}
