//! The `btrfs` backend: the rootfs is a subvolume, `DIR/rootfs`, made,
//! snapshotted and deleted through the kernel's ioctls (not btrfs-progs).
//! A snapshot is writable and independent of its source: the source can
//! be destroyed after it, so a btrfs copy is a snapshot too. Subvolumes
//! nested in a rootfs are deleted first, deepest first, when it is
//! destroyed (a snapshot does not take them: they show as empty
//! directories in it).

use std::fs;
use std::path::{Path, PathBuf};

use crate::backend::{Backend, Driver};
use crate::dir::{existing, Dir};
use crate::error::{io_err, Error, Result};
use crate::fsinfo::is_btrfs;
use crate::options::{CreateOptions, Dest, Usage};
use crate::remove;
use crate::spec::Rootfs;
use crate::subvol::{delete_subvolume, is_subvolume, snap_create, snap_destroy, subvol_create};

/// The `btrfs` driver.
#[derive(Debug)]
pub(crate) struct Btrfs;

/// Refuses a directory that is not on btrfs, with what to do.
fn on_btrfs(dir: &Path) -> Result<()> {
    if is_btrfs(dir) {
        return Ok(());
    }
    Err(Error::Unsupported {
        backend: "btrfs",
        what: format!("make a subvolume in {}: it is not on btrfs", dir.display()),
        hint: "; use -B dir or -B overlay, or an lxcpath on btrfs",
    })
}

impl Driver for Btrfs {
    fn backend(&self) -> Backend {
        Backend::Btrfs
    }

    fn create(&self, dest: &Dest, _opts: &CreateOptions) -> Result<Rootfs> {
        on_btrfs(&dest.dir)?;
        let path = dest.dir.join("rootfs");
        subvol_create(&path)?;
        let mode = std::os::unix::fs::PermissionsExt::from_mode(0o755);
        if let Err(e) = fs::set_permissions(&path, mode) {
            let _ = snap_destroy(&path);
            return Err(io_err("set the mode of", &path)(e));
        }
        Ok(Rootfs::new(Backend::Btrfs, path))
    }

    fn snapshot(&self, src: &Rootfs, dest: &Dest, _opts: &CreateOptions) -> Result<Rootfs> {
        existing(&src.path)?;
        on_btrfs(&dest.dir)?;
        if !is_subvolume(&src.path) {
            return Err(Error::Unsupported {
                backend: "btrfs",
                what: format!("snapshot {}: it is not a subvolume", src.path.display()),
                hint: "; make a full copy instead (without -s)",
            });
        }
        let path = dest.dir.join("rootfs");
        snap_create(&src.path, &path)?;
        Ok(Rootfs::new(Backend::Btrfs, path))
    }

    /// A snapshot: as independent of its source as a copy, and free.
    fn copy(&self, src: &Rootfs, dest: &Dest, opts: &CreateOptions) -> Result<Rootfs> {
        self.snapshot(src, dest, opts)
    }

    fn destroy(&self, rootfs: &Rootfs) -> Result<()> {
        if is_subvolume(&rootfs.path) {
            delete_subvolume(&rootfs.path)
        } else {
            // A plain directory (a rootfs copied in from elsewhere).
            remove::remove_tree(&rootfs.path)
        }
    }

    /// A subvolume is a directory: as `dir`.
    fn mount(&self, rootfs: &Rootfs, target: &Path) -> Result<PathBuf> {
        Dir.mount(rootfs, target)
    }

    fn unmount(&self, rootfs: &Rootfs, target: &Path) -> Result<()> {
        Dir.unmount(rootfs, target)
    }

    /// Bytes of the subvolume's own files (without nested subvolumes;
    /// extents shared with snapshots are counted in each).
    fn usage(&self, rootfs: &Rootfs) -> Result<Usage> {
        Dir.usage(rootfs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::CloneKind;
    use nix::mount::MsFlags;
    use std::fs::File;
    use std::process::Command;

    /// A btrfs made on a loop-attached image file; detached when dropped.
    struct BtrfsImage {
        dev: String,
        dir: tempfile::TempDir,
    }

    fn run(cmd: &mut Command) -> Option<String> {
        let out = cmd.output().ok()?;
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
    }

    impl BtrfsImage {
        fn make(test: &str) -> Option<BtrfsImage> {
            if !enclos_testkit::require_root(test) {
                return None;
            }
            if run(Command::new("mkfs.btrfs").arg("--version")).is_none() {
                enclos_testkit::missing_feature(test, "no mkfs.btrfs (install btrfs-progs)");
                return None;
            }
            let dir = tempfile::tempdir().unwrap();
            let image = dir.path().join("btrfs.img");
            File::create(&image).unwrap().set_len(256 << 20).unwrap();
            let Some(dev) = run(Command::new("losetup")
                .args(["--find", "--show"])
                .arg(&image))
            else {
                enclos_testkit::missing_feature(test, "cannot attach a loop device");
                return None;
            };
            let img = BtrfsImage { dev, dir };
            assert!(run(Command::new("mkfs.btrfs").args(["-q", "-f", &img.dev])).is_some());
            fs::create_dir(img.dir.path().join("mnt")).unwrap();
            Some(img)
        }

        /// Runs `body` with the filesystem mounted, in a mount namespace
        /// of its own (a thread's), so nothing reaches the host's.
        fn with_mounted<T: Send + 'static>(
            &self,
            body: impl FnOnce(&Path) -> T + Send + 'static,
        ) -> T {
            let (dev, mnt) = (self.dev.clone(), self.dir.path().join("mnt"));
            enclos_testkit::in_own_mount_namespace(move || {
                let none: Option<&str> = None;
                nix::mount::mount(
                    Some(dev.as_str()),
                    &mnt,
                    Some("btrfs"),
                    MsFlags::empty(),
                    none,
                )
                .unwrap();
                body(&mnt)
            })
        }
    }

    impl Drop for BtrfsImage {
        fn drop(&mut self) {
            let _ = Command::new("losetup").args(["-d", &self.dev]).status();
        }
    }

    fn container(lxcpath: &Path, name: &str) -> Dest {
        let d = lxcpath.join(name);
        fs::create_dir(&d).unwrap();
        Dest::new(&d)
    }

    #[test]
    fn subvolumes_are_made_snapshotted_and_destroyed_nested_ones_first() {
        let Some(img) =
            BtrfsImage::make("subvolumes_are_made_snapshotted_and_destroyed_nested_ones_first")
        else {
            return;
        };
        img.with_mounted(|lxcpath| {
            assert_eq!(Backend::best(lxcpath), Backend::Btrfs);
            assert_eq!(Backend::best(&lxcpath.join("not/yet/made")), Backend::Btrfs);
            let r1 = Rootfs::create(Backend::Btrfs, &container(lxcpath, "c1").dir).unwrap();
            assert_eq!(r1.spec(), format!("btrfs:{}/c1/rootfs", lxcpath.display()));
            assert!(is_subvolume(&r1.path));
            fs::create_dir_all(r1.path.join("etc")).unwrap();
            fs::write(r1.path.join("etc/hostname"), "c1\n").unwrap();
            // Two levels of nested subvolumes, with data.
            fs::create_dir_all(r1.path.join("var/lib")).unwrap();
            subvol_create(&r1.path.join("var/lib/machines")).unwrap();
            subvol_create(&r1.path.join("var/lib/machines/inner")).unwrap();
            fs::write(r1.path.join("var/lib/machines/inner/data"), "x").unwrap();

            let opts = CreateOptions::default();
            let r2 = r1
                .clone_to(&container(lxcpath, "c2"), CloneKind::Snapshot, None, &opts)
                .unwrap();
            assert_eq!(r2.backend, Backend::Btrfs);
            assert!(is_subvolume(&r2.path));
            assert_eq!(
                fs::read_to_string(r2.path.join("etc/hostname")).unwrap(),
                "c1\n"
            );
            fs::write(r2.path.join("etc/hostname"), "c2\n").unwrap();
            assert_eq!(
                fs::read_to_string(r1.path.join("etc/hostname")).unwrap(),
                "c1\n"
            );
            // A snapshot does not take nested subvolumes.
            assert!(!r2.path.join("var/lib/machines/inner").exists());

            r1.destroy().unwrap();
            assert!(!r1.path.exists());
            // The snapshot does not depend on its source.
            assert_eq!(
                fs::read_to_string(r2.path.join("etc/hostname")).unwrap(),
                "c2\n"
            );
            assert!(r2.usage().unwrap().used > 0);
            r2.destroy().unwrap();
            assert!(!r2.path.exists());
        });
    }

    #[test]
    fn a_copy_onto_btrfs_moves_no_data() {
        let Some(img) = BtrfsImage::make("a_copy_onto_btrfs_moves_no_data") else {
            return;
        };
        img.with_mounted(|lxcpath| {
            let src = Rootfs::create(Backend::Dir, &container(lxcpath, "d1").dir).unwrap();
            fs::write(src.path.join("big"), vec![7u8; 64 << 20]).unwrap();
            let avail = || {
                nix::unistd::sync();
                let s = nix::sys::statvfs::statvfs(lxcpath).unwrap();
                s.blocks_available() as u64 * s.fragment_size() as u64
            };
            let before = avail();
            let opts = CreateOptions::default();
            let copy = src
                .clone_to(
                    &container(lxcpath, "b1"),
                    CloneKind::Copy,
                    Some(Backend::Btrfs),
                    &opts,
                )
                .unwrap();
            assert!(is_subvolume(&copy.path));
            let after = avail();
            assert!(
                before.saturating_sub(after) < 16 << 20,
                "{before} -> {after}"
            );
            assert_eq!(
                fs::read(copy.path.join("big")).unwrap(),
                vec![7u8; 64 << 20]
            );
        });
    }

    #[test]
    fn a_directory_with_subvolumes_in_it_is_destroyed_whole() {
        let Some(img) = BtrfsImage::make("a_directory_with_subvolumes_in_it_is_destroyed_whole")
        else {
            return;
        };
        img.with_mounted(|lxcpath| {
            // A btrfs rootfs in its container's directory, and a dir rootfs
            // in which the container made a subvolume of its own.
            let c1 = container(lxcpath, "c1");
            Rootfs::create(Backend::Btrfs, &c1.dir).unwrap();
            let d1 = container(lxcpath, "d1");
            let r = Rootfs::create(Backend::Dir, &d1.dir).unwrap();
            fs::create_dir_all(r.path.join("var/lib")).unwrap();
            crate::subvol::subvol_create(&r.path.join("var/lib/machines")).unwrap();
            fs::write(r.path.join("var/lib/machines/f"), "x").unwrap();
            // What a failed create or a destroy removes: the directory.
            Rootfs::dir(&c1.dir).destroy().unwrap();
            r.destroy().unwrap();
            assert!(!c1.dir.exists() && !r.path.exists());
        });
    }

    #[test]
    fn a_subvolume_needs_btrfs() {
        let tmp = tempfile::tempdir().unwrap();
        if is_btrfs(tmp.path()) {
            return;
        }
        assert_eq!(Backend::best(tmp.path()), Backend::Dir);
        let err = Rootfs::create(Backend::Btrfs, tmp.path())
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("The btrfs backend cannot make a subvolume in"),
            "{err}"
        );
        assert!(
            err.ends_with("it is not on btrfs; use -B dir or -B overlay, or an lxcpath on btrfs"),
            "{err}"
        );
        assert!(!tmp.path().join("rootfs").exists());
    }
}
