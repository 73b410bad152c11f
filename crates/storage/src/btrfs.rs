//! The `btrfs` backend: the rootfs is a subvolume, `DIR/rootfs`, made,
//! snapshotted and deleted through the kernel's ioctls (not btrfs-progs).
//! A snapshot is writable and independent of its source: the source can
//! be destroyed after it, so a btrfs copy is a snapshot too. Subvolumes
//! nested in a rootfs are deleted first, deepest first, when it is
//! destroyed (a snapshot does not take them: they show as empty
//! directories in it).

use std::ffi::OsStr;
use std::fs::{self, File};
use std::os::fd::AsRawFd;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use crate::backend::{Backend, Driver};
use crate::dir::existing;
use crate::error::{errno, io_err, Error, Result};
use crate::fsinfo::{is_btrfs, is_mount_root};
use crate::options::{CreateOptions, Dest, Usage};
use crate::spec::Rootfs;
use crate::{du, remove};

/// The `btrfs` driver.
#[derive(Debug)]
pub(crate) struct Btrfs;

/// The inode number of a subvolume's root directory
/// (BTRFS_FIRST_FREE_OBJECTID).
const SUBVOL_ROOT_INO: u64 = 256;
const PATH_NAME_MAX: usize = 4087;
const SUBVOL_NAME_MAX: usize = 4039;

/// struct btrfs_ioctl_vol_args.
#[repr(C)]
struct VolArgs {
    fd: i64,
    name: [u8; PATH_NAME_MAX + 1],
}

/// struct btrfs_ioctl_vol_args_v2, with its unions as their largest
/// member (`unused[4]`, `name`).
#[repr(C)]
struct VolArgsV2 {
    fd: i64,
    transid: u64,
    flags: u64,
    unused: [u64; 4],
    name: [u8; SUBVOL_NAME_MAX + 1],
}

// The kernel's structs are 4096 bytes; the ioctl numbers encode the size.
const _: () = assert!(std::mem::size_of::<VolArgs>() == 4096);
const _: () = assert!(std::mem::size_of::<VolArgsV2>() == 4096);

nix::ioctl_write_ptr!(ioc_subvol_create, 0x94, 14, VolArgs);
nix::ioctl_write_ptr!(ioc_snap_destroy, 0x94, 15, VolArgs);
nix::ioctl_write_ptr!(ioc_snap_create_v2, 0x94, 23, VolArgsV2);

/// `name` as the NUL-terminated array of a vol_args struct: one path
/// component, shorter than the array.
fn fill_name<const N: usize>(name: &OsStr, path: &Path) -> Result<[u8; N]> {
    let b = name.as_bytes();
    if b.is_empty() || b.len() >= N || b.contains(&b'/') || b.contains(&0) {
        return Err(Error::InvalidSpec {
            spec: path.display().to_string(),
            reason: "a btrfs subvolume name must be one path component of less than 4040 bytes",
        });
    }
    let mut out = [0u8; N];
    out[..b.len()].copy_from_slice(b);
    Ok(out)
}

/// The directory that holds `path` and `path`'s last component.
fn split(path: &Path) -> Result<(&Path, &OsStr)> {
    match (path.parent(), path.file_name()) {
        (Some(p), Some(n)) => Ok((p, n)),
        _ => Err(Error::Unsafe {
            path: path.to_path_buf(),
            reason: "it has no parent directory",
        }),
    }
}

fn open_dir(path: &Path) -> Result<File> {
    File::open(path).map_err(io_err("open", path))
}

/// Creates the subvolume `path` (its parent exists, on btrfs).
pub(crate) fn subvol_create(path: &Path) -> Result<()> {
    let (parent, name) = split(path)?;
    let args = VolArgs {
        fd: 0,
        name: fill_name(name, path)?,
    };
    let dir = open_dir(parent)?;
    // SAFETY: `dir` is an open directory for the whole call and `args` is
    // a valid, NUL-terminated btrfs_ioctl_vol_args the kernel only reads.
    unsafe { ioc_subvol_create(dir.as_raw_fd(), &args) }
        .map_err(|e| io_err("create the btrfs subvolume", path)(errno(e)))?;
    Ok(())
}

/// Makes `path` a writable snapshot of the subvolume `src` (same btrfs).
fn snap_create(src: &Path, path: &Path) -> Result<()> {
    let (parent, name) = split(path)?;
    let source = open_dir(src)?;
    let args = VolArgsV2 {
        fd: i64::from(source.as_raw_fd()),
        transid: 0,
        flags: 0,
        unused: [0; 4],
        name: fill_name(name, path)?,
    };
    let dir = open_dir(parent)?;
    // SAFETY: `dir` and `source` are open directories for the whole call
    // and `args` is a valid, NUL-terminated btrfs_ioctl_vol_args_v2 the
    // kernel only reads.
    unsafe { ioc_snap_create_v2(dir.as_raw_fd(), &args) }
        .map_err(|e| io_err("snapshot the btrfs subvolume into", path)(errno(e)))?;
    Ok(())
}

/// Deletes the subvolume `path`, which holds no other subvolume.
fn snap_destroy(path: &Path) -> Result<()> {
    let (parent, name) = split(path)?;
    let args = VolArgs {
        fd: 0,
        name: fill_name(name, path)?,
    };
    let dir = open_dir(parent)?;
    // SAFETY: `dir` is an open directory for the whole call and `args` is
    // a valid, NUL-terminated btrfs_ioctl_vol_args the kernel only reads.
    unsafe { ioc_snap_destroy(dir.as_raw_fd(), &args) }.map_err(|e| Error::Destroy {
        path: path.to_path_buf(),
        source: errno(e),
    })?;
    Ok(())
}

/// Whether `path` is the root of a btrfs subvolume (and not a mount).
pub(crate) fn is_subvolume(path: &Path) -> bool {
    fs::symlink_metadata(path).is_ok_and(|m| m.is_dir() && m.ino() == SUBVOL_ROOT_INO)
        && is_btrfs(path)
        && !is_mount_root(path).unwrap_or(true)
}

/// Deletes the subvolume `path` and the subvolumes nested in it, deepest
/// first. A mount below it is an error, not something to delete.
fn delete_subvolume(path: &Path) -> Result<()> {
    let dev = fs::symlink_metadata(path)
        .map_err(io_err("read", path))?
        .dev();
    delete_nested(path, dev)?;
    snap_destroy(path)
}

fn delete_nested(dir: &Path, dev: u64) -> Result<()> {
    for e in fs::read_dir(dir).map_err(io_err("list", dir))? {
        let p = e.map_err(io_err("list", dir))?.path();
        let meta = fs::symlink_metadata(&p).map_err(io_err("read", &p))?;
        if !meta.is_dir() {
            continue;
        }
        if meta.dev() == dev {
            delete_nested(&p, dev)?;
        } else if is_mount_root(&p).unwrap_or(true) {
            return Err(Error::Unsafe {
                path: p,
                reason: "another filesystem is mounted there; unmount it first",
            });
        } else if meta.ino() == SUBVOL_ROOT_INO {
            delete_subvolume(&p)?;
        }
        // Otherwise the empty stand-in a snapshot has for a subvolume
        // nested in its source: it goes with the snapshot.
    }
    Ok(())
}

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

    fn mount(&self, rootfs: &Rootfs, _target: &Path) -> Result<PathBuf> {
        existing(&rootfs.path)?;
        Ok(rootfs.path.clone())
    }

    fn unmount(&self, _rootfs: &Rootfs, _target: &Path) -> Result<()> {
        Ok(())
    }

    /// Bytes of the subvolume's own files (without nested subvolumes;
    /// extents shared with snapshots are counted in each).
    fn usage(&self, rootfs: &Rootfs) -> Result<Usage> {
        existing(&rootfs.path)?;
        Ok(Usage {
            size: None,
            used: du::used_bytes(&rootfs.path)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::CloneKind;
    use nix::mount::MsFlags;
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
            std::thread::spawn(move || {
                nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNS).unwrap();
                let none: Option<&str> = None;
                nix::mount::mount(none, "/", none, MsFlags::MS_REC | MsFlags::MS_SLAVE, none)
                    .unwrap();
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
            .join()
            .unwrap()
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
