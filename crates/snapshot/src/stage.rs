//! A directory made under a temporary name next to where it belongs, and
//! renamed into place only when complete: a snapshot, an import or a
//! restore that fails or is killed leaves no half of itself under the
//! final name.
//!
//! The temporary directory is `.<name>.partial` beside the target and is
//! held by an exclusive `flock` for as long as its [`Staged`] lives. The
//! kernel drops the lock when the process dies, so a later call tells a
//! dead attempt's leftovers (unlocked) from a live one (locked) and
//! removes the former ([`clean_dead`]).

use std::fs;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use nix::fcntl::{Flock, FlockArg};

use crate::error::{io_err, Error, Result};

/// The suffix of staged directories.
pub const PARTIAL_SUFFIX: &str = ".partial";
/// The suffix of a directory renamed away to be removed (a stopped
/// ephemeral container's), held by the same kind of lock while its
/// removal runs.
pub const REMOVING_SUFFIX: &str = ".removing";

/// A directory being filled, renamed to its target by [`Staged::commit`]
/// and removed (rootfs and all) when dropped before that.
#[derive(Debug)]
pub struct Staged {
    dir: PathBuf,
    target: PathBuf,
    lock: Option<Flock<fs::File>>,
}

/// The staging name of `target`: `.<name>.partial` beside it.
pub fn partial_path(target: &Path) -> PathBuf {
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    target.with_file_name(format!(".{name}{PARTIAL_SUFFIX}"))
}

impl Staged {
    /// Starts `target`: refuses if it exists, removes a dead attempt's
    /// leftovers, creates and locks `.<name>.partial` (mode `mode`).
    pub fn begin(target: &Path, what: &'static str, mode: u32) -> Result<Staged> {
        if target.symlink_metadata().is_ok() {
            return Err(Error::Exists {
                path: target.to_path_buf(),
            });
        }
        let dir = partial_path(target);
        let busy = || Error::Busy {
            what,
            path: target.to_path_buf(),
        };
        // Between our mkdir and our lock, a cleaner ([`clean_dead`]) may
        // take the new directory for a dead attempt's and remove it: then
        // we start again.
        for _ in 0..RACES {
            remove_if_dead(&dir, what, target)?;
            let mut builder = fs::DirBuilder::new();
            std::os::unix::fs::DirBuilderExt::mode(&mut builder, mode);
            match builder.create(&dir) {
                Ok(()) => {}
                Err(e) if e.kind() == ErrorKind::AlreadyExists => return Err(busy()),
                Err(e) => return Err(io_err("create", &dir)(e)),
            }
            match try_lock(&dir) {
                Ok(Some(lock)) if is_same_dir(&lock, &dir) => {
                    return Ok(Staged {
                        dir,
                        target: target.to_path_buf(),
                        lock: Some(lock),
                    })
                }
                // Taken: it is being removed; our directory was empty.
                Ok(_) => wait_gone(&dir),
                Err(Error::Io { source, .. }) if source.kind() == ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
        Err(busy())
    }

    /// The temporary directory to fill.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Where it goes.
    pub fn target(&self) -> &Path {
        &self.target
    }

    /// Renames the directory to its target; refuses if the target appeared
    /// meanwhile (the staged directory is then removed).
    pub fn commit(mut self) -> Result<PathBuf> {
        if self.target.symlink_metadata().is_ok() {
            return Err(Error::Exists {
                path: self.target.clone(),
            });
        }
        // The rename is what makes it whole or absent; nothing of the
        // staged tree is synced (LXC syncs nothing either), so a sync of
        // the parent would only cost a device flush per snapshot or copy.
        fs::rename(&self.dir, &self.target).map_err(io_err("rename into place", &self.target))?;
        self.lock.take();
        // A clone that stacks on another container (an overlay snapshot)
        // was recorded there under the staging name.
        enclos_storage::deps::moved(&self.dir, &self.target)?;
        Ok(self.target.clone())
    }
}

impl Drop for Staged {
    fn drop(&mut self) {
        if self.lock.is_some() {
            if let Err(e) = remove_staged(&self.dir) {
                let _ = std::io::Write::write_fmt(
                    &mut std::io::stderr(),
                    format_args!("warning: {e}\n"),
                );
            }
        }
    }
}

/// How many times [`Staged::begin`] starts again when a cleaner removed
/// its directory before it could lock it.
const RACES: usize = 20;

/// Waits a little for a cleaner to remove `dir`.
fn wait_gone(dir: &Path) {
    for _ in 0..200 {
        if dir.symlink_metadata().is_err() {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}

/// Whether the locked directory is still the one at `dir` (a cleaner
/// may have removed it between our open and our lock).
fn is_same_dir(lock: &Flock<fs::File>, dir: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (lock.metadata(), dir.symlink_metadata()) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

/// An exclusive non-blocking lock on the directory, or `None` when a live
/// process holds it.
fn try_lock(dir: &Path) -> Result<Option<Flock<fs::File>>> {
    let file = fs::File::open(dir).map_err(io_err("open", dir))?;
    match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
        Ok(lock) => Ok(Some(lock)),
        Err((_, nix::errno::Errno::EWOULDBLOCK)) => Ok(None),
        Err((_, errno)) => Err(io_err("lock", dir)(errno.into())),
    }
}

/// Removes `dir` if it is a dead attempt's; `Busy` if a live one holds it.
fn remove_if_dead(dir: &Path, what: &'static str, target: &Path) -> Result<()> {
    if dir.symlink_metadata().is_err() {
        return Ok(());
    }
    match try_lock(dir)? {
        Some(_lock) => remove_staged(dir),
        None => Err(Error::Busy {
            what,
            path: target.to_path_buf(),
        }),
    }
}

/// Removes every dead `.*.partial` or `.*.removing` directory in
/// `parent` (a live attempt's or removal's is left alone); returns the
/// paths removed.
pub fn clean_dead(parent: &Path) -> Result<Vec<PathBuf>> {
    let entries = match fs::read_dir(parent) {
        Ok(e) => e,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io_err("list", parent)(e)),
    };
    let mut removed = Vec::new();
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if !(name.starts_with('.')
            && (name.ends_with(PARTIAL_SUFFIX) || name.ends_with(REMOVING_SUFFIX)))
        {
            continue;
        }
        let path = entry.path();
        if !path.is_dir() {
            continue;
        }
        if let Some(_lock) = try_lock(&path)? {
            remove_staged(&path)?;
            removed.push(path);
        }
    }
    Ok(removed)
}

/// Removes a staged directory: what a killed attempt left mounted in it
/// first (a loop image being filled: its device goes with its mount),
/// then a rootfs outside it that its config names (lvm, zfs, rbd)
/// through its backend, then the tree (btrfs subvolumes too; a mount
/// that would not go is refused, never deleted through).
fn remove_staged(dir: &Path) -> Result<()> {
    let path = Path::new(enclos_mounts::MOUNTINFO);
    let info = fs::read_to_string(path).map_err(io_err("read", path))?;
    for m in mounts_below(&info, dir) {
        match nix::mount::umount2(&m, nix::mount::MntFlags::MNT_DETACH) {
            Ok(()) | Err(nix::errno::Errno::EINVAL | nix::errno::Errno::ENOENT) => {}
            Err(e) => return Err(io_err("unmount", &m)(e.into())),
        }
    }
    if let Ok(text) = fs::read_to_string(dir.join("config")) {
        if let Some(rootfs) = crate::rewrite::rootfs_of(&text) {
            if let Ok(rootfs) = enclos_storage::Rootfs::parse(&rootfs) {
                if rootfs.own_dir().is_none() && rootfs.container_dir().is_none() {
                    rootfs.destroy_force()?;
                }
            }
        }
    }
    enclos_storage::deps::forget_parent(dir)?;
    enclos_storage::remove_tree(dir)?;
    Ok(())
}

/// The mount points strictly below `dir` in the mount table `mountinfo`,
/// the deepest (the last mounted) first.
fn mounts_below(mountinfo: &str, dir: &Path) -> Vec<PathBuf> {
    let mut below: Vec<PathBuf> = enclos_mounts::MountInfo::parse_all(mountinfo)
        .map(|m| m.mount_point)
        .filter(|p| p != dir && p.starts_with(dir))
        .collect();
    below.reverse();
    below
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commit_renames_and_drop_removes() {
        let tmp = tempfile::tempdir().unwrap();
        let target = tmp.path().join("c1");
        let staged = Staged::begin(&target, "import", 0o755).unwrap();
        assert_eq!(staged.dir(), tmp.path().join(".c1.partial"));
        fs::write(staged.dir().join("config"), "x").unwrap();
        drop(staged);
        assert!(!tmp.path().join(".c1.partial").exists());
        assert!(!target.exists());

        let staged = Staged::begin(&target, "import", 0o755).unwrap();
        fs::write(staged.dir().join("config"), "x").unwrap();
        staged.commit().unwrap();
        assert_eq!(fs::read_to_string(target.join("config")).unwrap(), "x");
        assert!(!tmp.path().join(".c1.partial").exists());
        assert!(matches!(
            Staged::begin(&target, "import", 0o755),
            Err(Error::Exists { .. })
        ));
    }

    #[test]
    fn mounts_below_a_staged_directory_deepest_first() {
        let info = "\
22 1 8:1 / / rw - ext4 /dev/sda1 rw
40 22 7:0 / /l/.c2.partial rw - ext4 /dev/loop0 rw
41 40 7:1 / /l/.c2.partial/.enclos-copy-src rw - ext4 /dev/loop1 rw
42 40 7:2 / /l/.c2.partial/.enclos-copy-dst rw - ext4 /dev/loop2 rw
43 22 7:3 / /l/.c2.partial2 rw - ext4 /dev/loop3 rw
";
        assert_eq!(
            mounts_below(info, Path::new("/l/.c2.partial")),
            [
                PathBuf::from("/l/.c2.partial/.enclos-copy-dst"),
                PathBuf::from("/l/.c2.partial/.enclos-copy-src")
            ]
        );
    }

    #[test]
    fn a_live_attempt_is_busy_and_a_dead_one_is_cleaned() {
        let tmp = tempfile::tempdir().unwrap();
        let target = tmp.path().join("c1");
        let live = Staged::begin(&target, "import", 0o755).unwrap();
        let err = Staged::begin(&target, "import", 0o755).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "Another import of {} is in progress; wait for it to end",
                target.display()
            )
        );
        assert!(clean_dead(tmp.path()).unwrap().is_empty());
        // A dead attempt: the directory is there, nobody holds its lock.
        let dead = partial_path(&tmp.path().join("c2"));
        fs::create_dir_all(dead.join("rootfs/etc")).unwrap();
        assert_eq!(clean_dead(tmp.path()).unwrap(), vec![dead.clone()]);
        assert!(!dead.exists());
        let again = Staged::begin(&tmp.path().join("c2"), "import", 0o755).unwrap();
        assert!(again.dir().is_dir());
        assert!(live.dir().is_dir(), "a live attempt is left alone");
    }
}
