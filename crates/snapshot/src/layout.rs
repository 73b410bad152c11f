//! LXC's snapshot layout: `<container>/snaps/snapN/{config, rootfs, ts,
//! comment}`.
//!
//! - Numbering is LXC's: a new snapshot takes the lowest N with no
//!   `snapN` yet (snap0, snap1 ...; a destroyed snap0 is reused).
//! - `ts` holds the creation time as `YYYY:MM:DD HH:MM:SS`, local time, no
//!   newline ([`crate::format_ts`]); `comment` is a copy of the comment
//!   file given (`lxc-snapshot -c FILE`).
//! - A snapshot is made in `snaps/.snapN.partial` and renamed to `snapN`
//!   when complete ([`NewSnapshot::commit`]); a failed or killed one
//!   leaves no `snapN`, and the next call removes its leftovers.
//! - LXC's older layout, `<lxcpath>snaps/<name>/snapN` (used when the
//!   directory `<lxcpath>snaps` exists), is read as LXC reads it
//!   ([`snaps_dir`]).

use std::fs;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use serde::Serialize;

use crate::error::{io_err, Error, Result};
use crate::stage::{self, Staged};
use crate::ts::format_ts;

/// The directory under a container's that holds its snapshots.
pub const SNAPS_DIR: &str = "snaps";

/// The snapshots directory of the container in `container_dir`
/// (`<lxcpath>/<name>`): `<lxcpath>snaps/<name>` when LXC's old
/// `<lxcpath>snaps` directory exists, else `<lxcpath>/<name>/snaps`.
pub fn snaps_dir(container_dir: &Path) -> PathBuf {
    if let (Some(lxcpath), Some(name)) = (container_dir.parent(), container_dir.file_name()) {
        let mut old = lxcpath.as_os_str().to_owned();
        old.push("snaps");
        let old = PathBuf::from(old);
        if lxcpath.parent().is_some() && old.is_dir() {
            return old.join(name);
        }
    }
    container_dir.join(SNAPS_DIR)
}

/// A snapshot as `lxc-snapshot -L` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Snapshot {
    /// `snapN`.
    pub name: String,
    /// Its directory.
    pub dir: PathBuf,
    /// The content of `ts`, when there is one.
    pub timestamp: Option<String>,
    /// The content of `comment`, when there is one.
    pub comment: Option<String>,
}

impl Snapshot {
    /// N in `snapN`.
    pub fn index(&self) -> Option<u32> {
        snap_index(&self.name)
    }

    /// Its `config`.
    pub fn config_path(&self) -> PathBuf {
        self.dir.join("config")
    }
}

/// N of a name `snapN`.
pub fn snap_index(name: &str) -> Option<u32> {
    let digits = name.strip_prefix("snap")?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// The lowest N with no `snapN` in `snaps` (as LXC's get_next_index).
pub fn next_index(snaps: &Path) -> u32 {
    (0..)
        .find(|i| fs::symlink_metadata(snaps.join(format!("snap{i}"))).is_err())
        .unwrap_or(0)
}

/// The snapshots of the container in `container_dir`, by number: the
/// entries of its snapshots directory that have a `config` (as LXC
/// lists them). Staged (`.snapN.partial`) ones are not listed.
pub fn list(container_dir: &Path) -> Result<Vec<Snapshot>> {
    let snaps = snaps_dir(container_dir);
    let entries = match fs::read_dir(&snaps) {
        Ok(e) => e,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io_err("list", &snaps)(e)),
    };
    let mut all = Vec::new();
    for entry in entries {
        let entry = entry.map_err(io_err("list", &snaps))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') || !entry.path().join("config").is_file() {
            continue;
        }
        all.push(read_snapshot(&entry.path(), name)?);
    }
    all.sort_by_key(|s| (s.index().unwrap_or(u32::MAX), s.name.clone()));
    Ok(all)
}

/// The snapshot `name` (`snapN`) of the container in `container_dir`.
pub fn find(container_dir: &Path, name: &str) -> Result<Snapshot> {
    if name.is_empty() || name.contains('/') || name.starts_with('.') {
        return Err(Error::BadName {
            name: name.to_string(),
        });
    }
    let dir = snaps_dir(container_dir).join(name);
    if !dir.join("config").is_file() {
        return Err(Error::NoSnapshot {
            name: name.to_string(),
            dir: container_dir.to_path_buf(),
        });
    }
    read_snapshot(&dir, name.to_string())
}

fn read_snapshot(dir: &Path, name: String) -> Result<Snapshot> {
    let read = |file: &str| -> Result<Option<String>> {
        let path = dir.join(file);
        match fs::read_to_string(&path) {
            Ok(t) => Ok(Some(t)),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io_err("read", &path)(e)),
        }
    };
    Ok(Snapshot {
        name,
        dir: dir.to_path_buf(),
        timestamp: read("ts")?.map(|t| t.trim_end().to_string()),
        comment: read("comment")?,
    })
}

/// A snapshot being made, in `snaps/.snapN.partial`. Fill it (config,
/// rootfs through the storage backend, comment), then
/// [`commit`](NewSnapshot::commit); dropped before that, it is removed.
#[derive(Debug)]
pub struct NewSnapshot {
    staged: Staged,
    name: String,
}

impl NewSnapshot {
    /// Starts the next snapshot of the container in `container_dir`: makes
    /// the snapshots directory if needed, removes the leftovers of dead
    /// attempts, picks `snapN`. Two snapshots of one container at once:
    /// the second is refused as busy.
    pub fn begin(container_dir: &Path) -> Result<NewSnapshot> {
        let snaps = snaps_dir(container_dir);
        fs::create_dir_all(&snaps).map_err(io_err("create", &snaps))?;
        stage::clean_dead(&snaps)?;
        let name = format!("snap{}", next_index(&snaps));
        // LXC makes snapshot directories 0770.
        let staged = Staged::begin(&snaps.join(&name), "snapshot", 0o770)?;
        Ok(NewSnapshot { staged, name })
    }

    /// `snapN`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The directory to fill now (`snaps/.snapN.partial`).
    pub fn dir(&self) -> &Path {
        self.staged.dir()
    }

    /// The directory it will have (`snaps/snapN`): paths written in its
    /// config name this one.
    pub fn final_dir(&self) -> &Path {
        self.staged.target()
    }

    /// Writes its config. Write it before making the rootfs, naming the
    /// rootfs, so that a rootfs outside the directory (lvm, zfs) of a
    /// killed attempt is found and removed with its leftovers.
    pub fn write_config(&self, text: &str) -> Result<()> {
        let path = self.dir().join("config");
        fs::write(&path, text).map_err(io_err("write", &path))
    }

    /// Writes the snapshot's config from its container's (`text`, read
    /// from `container_dir/config`) for `rootfs`, the clone the caller
    /// made in [`dir`](NewSnapshot::dir): `lxc.rootfs.path` names it at
    /// its final place, the name is kept, paths inside the container's
    /// directory move to the snapshot's and the hook scripts found there
    /// are copied along, as LXC's snapshot (a clone that keeps the name)
    /// does.
    pub fn write_config_for(
        &self,
        text: &str,
        container_dir: &Path,
        rootfs: &enclos_storage::Rootfs,
    ) -> Result<()> {
        let rootfs = crate::restore::moved_rootfs(rootfs, self.dir(), self.final_dir());
        let rename = crate::rewrite::Rename {
            from: vec![container_dir.to_path_buf()],
            to: self.final_dir().to_path_buf(),
            uts_name: None,
            rootfs: Some(rootfs.spec()),
        };
        let out = crate::rewrite::rewrite_config(text, &container_dir.join("config"), &rename)?;
        for (from, to) in &out.files {
            let rel = to.strip_prefix(self.final_dir()).unwrap_or(to);
            let to = self.dir().join(rel);
            if let Some(parent) = to.parent() {
                fs::create_dir_all(parent).map_err(io_err("create", parent))?;
            }
            fs::copy(from, &to).map_err(io_err("copy", from))?;
        }
        self.write_config(&out.text)
    }

    /// Copies the comment file (`-c FILE`).
    pub fn copy_comment(&self, file: &Path) -> Result<()> {
        let text = fs::read(file).map_err(io_err("read the comment file", file))?;
        self.write_comment(&text)
    }

    /// Writes the comment.
    pub fn write_comment(&self, text: &[u8]) -> Result<()> {
        let path = self.dir().join("comment");
        fs::write(&path, text).map_err(io_err("write", &path))
    }

    /// Writes `ts` (now) and renames the snapshot into place.
    pub fn commit(self) -> Result<Snapshot> {
        self.commit_at(SystemTime::now())
    }

    /// As [`commit`](NewSnapshot::commit), with the time to record.
    pub fn commit_at(self, when: SystemTime) -> Result<Snapshot> {
        let ts = self.dir().join("ts");
        fs::write(&ts, format_ts(when)).map_err(io_err("write", &ts))?;
        let dir = self.staged.commit()?;
        read_snapshot(&dir, self.name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn container() -> (tempfile::TempDir, PathBuf) {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("lxc").join("c1");
        fs::create_dir_all(&dir).unwrap();
        (tmp, dir)
    }

    #[test]
    fn snapshots_number_from_snap0_and_list_with_ts_and_comment() {
        let (_tmp, c1) = container();
        assert!(list(&c1).unwrap().is_empty());
        let s = NewSnapshot::begin(&c1).unwrap();
        assert_eq!(s.name(), "snap0");
        assert_eq!(s.final_dir(), c1.join("snaps/snap0"));
        s.write_config("lxc.uts.name = c1\n").unwrap();
        s.write_comment(b"before upgrade\n").unwrap();
        let snap0 = s.commit().unwrap();
        let ts = fs::read_to_string(c1.join("snaps/snap0/ts")).unwrap();
        assert!(crate::ts::is_ts(&ts), "{ts}");
        assert_eq!(snap0.comment.as_deref(), Some("before upgrade\n"));
        let s = NewSnapshot::begin(&c1).unwrap();
        assert_eq!(s.name(), "snap1");
        s.write_config("x").unwrap();
        s.commit().unwrap();
        let names: Vec<_> = list(&c1).unwrap().into_iter().map(|s| s.name).collect();
        assert_eq!(names, ["snap0", "snap1"]);
        assert_eq!(find(&c1, "snap1").unwrap().comment, None);
        assert!(matches!(find(&c1, "snap7"), Err(Error::NoSnapshot { .. })));
        assert!(matches!(find(&c1, "../x"), Err(Error::BadName { .. })));
        // A gap is reused, as LXC does.
        fs::remove_dir_all(c1.join("snaps/snap0")).unwrap();
        assert_eq!(NewSnapshot::begin(&c1).unwrap().name(), "snap0");
    }

    #[test]
    fn a_dir_snapshot_made_with_storage() {
        use enclos_storage::{CloneKind, CreateOptions, Dest, Rootfs};
        let (_tmp, c1) = container();
        fs::create_dir_all(c1.join("rootfs/etc")).unwrap();
        fs::write(c1.join("rootfs/etc/hostname"), "c1\n").unwrap();
        fs::write(c1.join("hook.sh"), "#!/bin/sh\n").unwrap();
        let text = format!(
            "lxc.uts.name = c1\nlxc.rootfs.path = dir:{c}/rootfs\nlxc.hook.pre-start = {c}/hook.sh\n",
            c = c1.display()
        );
        let s = NewSnapshot::begin(&c1).unwrap();
        let dest = Dest::named(s.dir(), "c1_snap0");
        let rootfs = Rootfs::dir(c1.join("rootfs"))
            .clone_to(&dest, CloneKind::Copy, None, &CreateOptions::default())
            .unwrap();
        s.write_config_for(&text, &c1, &rootfs).unwrap();
        s.commit().unwrap();
        let snap0 = c1.join("snaps/snap0");
        assert_eq!(
            fs::read_to_string(snap0.join("config")).unwrap(),
            format!(
                "lxc.uts.name = c1\nlxc.rootfs.path = dir:{s}/rootfs\nlxc.hook.pre-start = {s}/hook.sh\n",
                s = snap0.display()
            )
        );
        assert_eq!(
            fs::read_to_string(snap0.join("rootfs/etc/hostname")).unwrap(),
            "c1\n"
        );
        assert!(snap0.join("hook.sh").is_file());
    }

    #[test]
    fn a_failed_snapshot_leaves_no_snapn() {
        let (_tmp, c1) = container();
        {
            let s = NewSnapshot::begin(&c1).unwrap();
            s.write_config("x").unwrap();
            fs::create_dir(s.dir().join("rootfs")).unwrap();
            // Dropped without commit: the caller's rootfs copy failed.
        }
        assert!(list(&c1).unwrap().is_empty());
        assert_eq!(fs::read_dir(c1.join("snaps")).unwrap().count(), 0);
    }

    #[test]
    fn ts_is_exactly_what_lxc_writes() {
        let (_tmp, c1) = container();
        let s = NewSnapshot::begin(&c1).unwrap();
        s.write_config("x").unwrap();
        let when = SystemTime::now();
        let snap = s.commit_at(when).unwrap();
        assert_eq!(snap.timestamp.unwrap(), format_ts(when));
        assert_eq!(fs::read(c1.join("snaps/snap0/ts")).unwrap().len(), 19);
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(c1.join("snaps/snap0"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o770 & !umask());
    }

    fn umask() -> u32 {
        let old = nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0o022));
        nix::sys::stat::umask(old);
        old.bits()
    }

    #[test]
    fn lxcs_old_snapshot_path_is_used_when_it_exists() {
        let (tmp, c1) = container();
        assert_eq!(snaps_dir(&c1), c1.join("snaps"));
        fs::create_dir(tmp.path().join("lxcsnaps")).unwrap();
        assert_eq!(snaps_dir(&c1), tmp.path().join("lxcsnaps/c1"));
    }
}
