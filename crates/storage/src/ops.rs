//! The operations on a rootfs: each checks what the backend can do, then
//! hands over to the backend's driver. A failed create or clone leaves
//! nothing behind.

use std::fs;
use std::path::{Path, PathBuf};

use crate::backend::{Backend, Driver};
use crate::error::{io_err, Error, Result};
use crate::options::{CloneKind, CreateOptions, Dest, Usage};
use crate::spec::Rootfs;
use crate::tool::System;
use crate::{btrfs, copy, deps, dir, lvm, overlay, r#loop, rbd, zfs};

/// The driver of a backend.
fn driver(backend: Backend) -> &'static dyn Driver {
    match backend {
        Backend::Dir => &dir::Dir,
        Backend::Overlay => &overlay::Overlay,
        Backend::Btrfs => &btrfs::Btrfs,
        Backend::Loop => &r#loop::Loop,
        Backend::Lvm => &lvm::Lvm(System),
        Backend::Zfs => &zfs::Zfs(System),
        Backend::Rbd => &rbd::Rbd(System),
    }
}

impl Rootfs {
    /// Creates an empty rootfs of `backend` for a new container whose
    /// directory is `container_dir` (`<lxcpath>/<name>`), with LXC's
    /// defaults for the backend's options.
    pub fn create(backend: Backend, container_dir: &Path) -> Result<Rootfs> {
        Rootfs::create_with(
            backend,
            &Dest::new(container_dir),
            &CreateOptions::default(),
        )
    }

    /// Creates an empty rootfs of `backend` for `dest`, with lxc-create's
    /// `-B` options.
    pub fn create_with(backend: Backend, dest: &Dest, opts: &CreateOptions) -> Result<Rootfs> {
        driver(backend).create(dest, opts)
    }

    /// The backend a clone of this rootfs will have, or why it cannot be
    /// made: `requested` (`-B`), else the source's own backend, except
    /// that a snapshot of a `dir` rootfs is an overlay over it (as in
    /// LXC). Call it before anything starts; [`Rootfs::clone_to`] calls it
    /// too.
    pub fn clone_backend(&self, kind: CloneKind, requested: Option<Backend>) -> Result<Backend> {
        let target = requested.unwrap_or(match (kind, self.backend) {
            (CloneKind::Snapshot, Backend::Dir) => Backend::Overlay,
            (_, b) => b,
        });
        if kind == CloneKind::Copy {
            return Ok(target);
        }
        // An overlay stacks on any rootfs that is a directory.
        let stacks = target == Backend::Overlay && self.own_dir().is_some();
        if !target.capabilities().can_snapshot || (target != self.backend && !stacks) {
            return Err(Error::Unsupported {
                backend: target.name(),
                what: format!("snapshot a {} rootfs", self.backend),
                hint:
                    "; make a full copy instead (without -s), or snapshot into overlay (-B overlay)",
            });
        }
        Ok(target)
    }

    /// Clones this rootfs for `dest`: a snapshot (copy-on-write) or a full
    /// copy, into `backend` (default: see [`Rootfs::clone_backend`]). A
    /// copy uses the backend's own means when the source and the target
    /// have the same backend and it has them; otherwise both are mounted
    /// and the files copied as [`copy_tree`](crate::copy_tree) does. On
    /// failure, the half-made clone is removed.
    pub fn clone_to(
        &self,
        dest: &Dest,
        kind: CloneKind,
        backend: Option<Backend>,
        opts: &CreateOptions,
    ) -> Result<Rootfs> {
        let target = self.clone_backend(kind, backend)?;
        let d = driver(target);
        match kind {
            CloneKind::Snapshot => d.snapshot(self, dest, opts),
            CloneKind::Copy if target == self.backend && target.capabilities().native_clone => {
                d.copy(self, dest, opts)
            }
            CloneKind::Copy => self.copy_across(target, dest, opts),
        }
    }

    /// A full copy into another backend (or one without a copy of its
    /// own): the target is created of the source's size unless `opts`
    /// gives one, both are mounted, and the files copied.
    fn copy_across(&self, target: Backend, dest: &Dest, opts: &CreateOptions) -> Result<Rootfs> {
        let mut opts = if target == self.backend {
            driver(target).place_like(self, opts)?
        } else {
            opts.clone()
        };
        if opts.fssize.is_none() && target.capabilities().has_size {
            opts.fssize = self.usage()?.size;
        }
        let new = driver(target).create(dest, &opts)?;
        let copied = (|| {
            let src_mnt = MountPoint::make(&dest.dir, ".enclos-copy-src")?;
            let dst_mnt = MountPoint::make(&dest.dir, ".enclos-copy-dst")?;
            let src = self.mount(&src_mnt.0)?;
            let dst = new.mount(&dst_mnt.0)?;
            copy::copy_tree(src.root(), dst.root())?;
            dst.unmount()?;
            src.unmount()
        })();
        match copied {
            Ok(()) => Ok(new),
            Err(e) => {
                let _ = new.destroy_force();
                Err(e)
            }
        }
    }

    /// Removes the rootfs, refusing while clones depend on it (see
    /// [`Rootfs::dependents`], and the snapshots and clones the backend
    /// records: an LVM volume's, a ZFS dataset's); a clone's record in its
    /// parent is removed with it.
    pub fn destroy(&self) -> Result<()> {
        let mut clones: Vec<String> = self
            .dependents()?
            .iter()
            .map(|c| c.dir().display().to_string())
            .collect();
        clones.extend(driver(self.backend).clones(self)?);
        if !clones.is_empty() {
            return Err(Error::HasClones {
                path: self.path.clone(),
                clones,
            });
        }
        self.destroy_force()
    }

    /// Removes the rootfs even when clones depend on it (they are left
    /// without their lower layer).
    pub fn destroy_force(&self) -> Result<()> {
        driver(self.backend).destroy(self)?;
        if let Some(dir) = self.container_dir() {
            deps::forget_parent(dir)?;
        }
        Ok(())
    }

    /// What the backend itself records as stacking on this rootfs (a ZFS
    /// snapshot's clones, an LVM volume's snapshots, an RBD snapshot's
    /// children), by the backend's names for them.
    pub fn clones(&self) -> Result<Vec<String>> {
        driver(self.backend).clones(self)
    }

    /// Whether a snapshot of this rootfs stands on its own once
    /// [`Rootfs::replace`] has put it in place of another: its origin can
    /// then be replaced or removed under it (a thin LVM volume's; a ZFS
    /// clone's, which the replace promotes; an RBD clone's, which it
    /// flattens). Where it does, a restore need not copy the files.
    pub fn snapshots_stand_alone(&self) -> Result<bool> {
        driver(self.backend).snapshots_stand_alone(self)
    }

    /// A name of the backend's own beside this rootfs, tagged `tag`, that
    /// no container has (`/dev/VG/LV+TAG`, `POOL/DATASET:TAG`, an RBD
    /// image's `NAME:TAG`): the name to give [`Dest`], and the rootfs
    /// that has it (to remove what a command cut short left there).
    pub fn own_sibling(&self, tag: &str) -> (String, Rootfs) {
        let base = self
            .path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let name = driver(self.backend).own_name(&base, tag);
        let mut sibling = self.clone();
        sibling.path = self.path.with_file_name(&name);
        (name, sibling)
    }

    /// Puts `new` (of the same backend, made beside this rootfs) in place
    /// of this rootfs, under its name, so that whatever names this rootfs
    /// now finds `new`'s data. This rootfs's own data is renamed aside and
    /// returned: pass it to [`Rootfs::release`] once the change is
    /// committed, or undo with [`Rootfs::undo_replace`]. A failure undoes
    /// what was done. LVM, ZFS and RBD only: a ZFS clone is promoted
    /// (it no longer hangs on the snapshot it was cloned from), an RBD
    /// clone flattened.
    pub fn replace(&self, new: &Rootfs) -> Result<Rootfs> {
        if new.backend != self.backend {
            return Err(Error::Unsupported {
                backend: self.backend.name(),
                what: format!("replace its rootfs with a {} one", new.backend),
                hint: "",
            });
        }
        driver(self.backend).replace(self, new)
    }

    /// Undoes [`Rootfs::replace`]: this rootfs's name holds `aside`'s data
    /// again, and `new`'s name its own.
    pub fn undo_replace(&self, new: &Rootfs, aside: &Rootfs) -> Result<()> {
        driver(self.backend).undo_replace(self, new, aside)
    }

    /// Removes a rootfs that [`Rootfs::replace`] set aside, unless
    /// snapshots still need it (LVM's snapshots of a plain volume, the
    /// clones of a ZFS dataset's or RBD image's snapshots): then
    /// it is kept under a name of its own, and removed with the last of
    /// them.
    pub fn release(&self) -> Result<()> {
        driver(self.backend).release(self)
    }

    /// The containers whose rootfs stacks on this one, as recorded in
    /// `lxc_snapshots` of the container's directory (entries whose
    /// directory is gone are left out).
    pub fn dependents(&self) -> Result<Vec<deps::Dependent>> {
        match self.container_dir() {
            Some(dir) => deps::dependents(dir),
            None => Ok(Vec::new()),
        }
    }

    /// The directory of the container that owns this rootfs, for the
    /// backends whose rootfs lives in it (`<dir>/rootfs`, `<dir>/delta0`).
    pub fn container_dir(&self) -> Option<&Path> {
        self.own_dir().and_then(Path::parent)
    }

    /// Makes the rootfs usable as a directory: mounted on `target` (an
    /// existing empty directory) when the backend needs a mount. The
    /// guard unmounts it when dropped, unless [`Mounted::keep`] is called
    /// (in a mount namespace that goes away with the container).
    pub fn mount(&self, target: &Path) -> Result<Mounted> {
        let root = driver(self.backend).mount(self, target)?;
        Ok(Mounted {
            rootfs: self.clone(),
            target: target.to_path_buf(),
            root,
            active: true,
        })
    }

    /// [`Rootfs::mount`] for a rootfs whose changes go with the container
    /// when it stops (an ephemeral copy): an overlay is mounted
    /// `volatile`, so that neither its writes nor its unmount wait for
    /// the disk. Its upper layer must not be mounted again afterwards
    /// (the kernel refuses a volatile upper until its work directory is
    /// emptied). Other backends mount as usual.
    pub fn mount_discardable(&self, target: &Path) -> Result<Mounted> {
        if self.backend != Backend::Overlay {
            return self.mount(target);
        }
        let root = crate::overlay::mount_overlay(self, target, true)?;
        Ok(Mounted {
            rootfs: self.clone(),
            target: target.to_path_buf(),
            root,
            active: true,
        })
    }

    /// The directory to use as the container's root for a backend that
    /// needs no mount (dir, btrfs): the rootfs's own directory, checked to
    /// exist. For the others, [`Error::NeedsMount`]: use
    /// [`Rootfs::mount`].
    pub fn prepare(&self) -> Result<PathBuf> {
        if self.backend.capabilities().needs_mount {
            return Err(Error::NeedsMount {
                spec: self.spec(),
                backend: self.backend.name(),
            });
        }
        if !self.path.is_dir() {
            return Err(Error::Missing {
                path: self.path.clone(),
            });
        }
        Ok(self.path.clone())
    }

    /// The rootfs's size (where the backend has one) and bytes in use.
    pub fn usage(&self) -> Result<Usage> {
        driver(self.backend).usage(self)
    }
}

/// A mounted rootfs; unmounted when dropped.
#[derive(Debug)]
pub struct Mounted {
    rootfs: Rootfs,
    target: PathBuf,
    root: PathBuf,
    active: bool,
}

impl Mounted {
    /// The directory to use as the root.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Unmounts now, reporting a failure.
    pub fn unmount(mut self) -> Result<()> {
        self.active = false;
        driver(self.rootfs.backend).unmount(&self.rootfs, &self.target)
    }

    /// The same mount once a directory above its mount point was renamed
    /// from `from` to `to` (paths outside `from` stay as they are).
    pub fn moved(mut self, from: &Path, to: &Path) -> Mounted {
        for p in [&mut self.target, &mut self.root] {
            if let Ok(rest) = p.strip_prefix(from) {
                *p = to.join(rest);
            }
        }
        self
    }

    /// Leaves it mounted and returns the root.
    pub fn keep(mut self) -> PathBuf {
        self.active = false;
        std::mem::take(&mut self.root)
    }
}

impl Drop for Mounted {
    fn drop(&mut self) {
        if self.active {
            let _ = driver(self.rootfs.backend).unmount(&self.rootfs, &self.target);
        }
    }
}

/// A temporary mount point in a directory, removed when dropped.
struct MountPoint(PathBuf);

impl MountPoint {
    fn make(dir: &Path, name: &str) -> Result<MountPoint> {
        let p = dir.join(name);
        fs::create_dir(&p).map_err(io_err("create the mount point", &p))?;
        Ok(MountPoint(p))
    }
}

impl Drop for MountPoint {
    fn drop(&mut self) {
        let _ = fs::remove_dir(&self.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mount_follows_the_rename_of_a_directory_above_it() {
        let m = Mounted {
            rootfs: Rootfs::dir(PathBuf::from("/x/c1/rootfs")),
            target: PathBuf::from("/x/c1/rootfs"),
            root: PathBuf::from("/x/c1/rootfs/sub"),
            active: false,
        };
        let m = m.moved(Path::new("/x/c1"), Path::new("/x/.c1.9.removing"));
        assert_eq!(m.target, Path::new("/x/.c1.9.removing/rootfs"));
        assert_eq!(m.root(), Path::new("/x/.c1.9.removing/rootfs/sub"));
        // A mount point elsewhere stays where it is.
        let m = m.moved(Path::new("/y"), Path::new("/z"));
        assert_eq!(m.target, Path::new("/x/.c1.9.removing/rootfs"));
    }

    #[test]
    fn create_prepare_destroy_dir() {
        let tmp = tempfile::tempdir().unwrap();
        let r = Rootfs::create(Backend::Dir, tmp.path()).unwrap();
        assert_eq!(r.spec(), format!("dir:{}/rootfs", tmp.path().display()));
        fs::create_dir_all(r.path.join("etc/init.d")).unwrap();
        fs::write(r.path.join("etc/hostname"), "c1\n").unwrap();
        // A symlink out of the rootfs must not be followed on destroy.
        let outside = tmp.path().join("outside");
        fs::create_dir(&outside).unwrap();
        fs::write(outside.join("keep"), "x").unwrap();
        std::os::unix::fs::symlink(&outside, r.path.join("link")).unwrap();
        assert_eq!(r.prepare().unwrap(), r.path);
        let m = r.mount(&tmp.path().join("unused")).unwrap();
        assert_eq!(m.root(), r.path);
        m.unmount().unwrap();
        assert!(r.usage().unwrap().used > 0);
        r.destroy().unwrap();
        assert!(!r.path.exists());
        assert!(outside.join("keep").exists());
        assert!(matches!(r.prepare(), Err(Error::Missing { .. })));
        r.destroy().unwrap();
    }

    #[test]
    fn a_backend_that_needs_a_mount_is_not_prepared() {
        let r = Rootfs::parse("overlay:/a/rootfs:/b/delta0").unwrap();
        assert_eq!(
            r.prepare().unwrap_err().to_string(),
            "Rootfs overlay:/a/rootfs:/b/delta0 must be mounted to be used: the overlay backend needs a mount"
        );
    }

    #[test]
    fn a_failed_copy_leaves_nothing() {
        let tmp = tempfile::tempdir().unwrap();
        let src = Rootfs::dir(tmp.path().join("missing"));
        let dest = tmp.path().join("c2");
        fs::create_dir(&dest).unwrap();
        let opts = CreateOptions::default();
        assert!(src
            .clone_to(&Dest::new(&dest), CloneKind::Copy, None, &opts)
            .is_err());
        assert_eq!(fs::read_dir(&dest).unwrap().count(), 0);
        // Across backends too (dir into overlay: create, mount, copy).
        let err = src
            .clone_to(
                &Dest::new(&dest),
                CloneKind::Copy,
                Some(Backend::Overlay),
                &opts,
            )
            .unwrap_err();
        assert!(err.to_string().contains("missing"), "{err}");
        assert_eq!(fs::read_dir(&dest).unwrap().count(), 0);
    }
}
