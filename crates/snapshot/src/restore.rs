//! `lxc-snapshot -r snapN [-N NEWNAME]`: a container made from a
//! snapshot, in steps the caller runs with the storage backend between
//! them:
//!
//! 1. [`Restore::begin`]: the snapshot, the new container's directory
//!    staged (`.<name>.partial`) next to its final place;
//! 2. the caller clones [`Restore::source_rootfs`] into
//!    [`Restore::staging_dir`] (`Rootfs::clone_to`, a copy or a snapshot
//!    as the backend allows);
//! 3. [`Restore::finish`] with the new rootfs: the config rewritten
//!    ([`crate::rewrite_config`]), hook scripts copied, the directory
//!    renamed into place.
//!
//! Dropped before `finish`, the staged container is removed, rootfs and
//! all. Restoring over the container itself (no `-N`) is the caller's:
//! restore under a temporary name, then swap.

use std::fs;
use std::path::{Path, PathBuf};

use enclos_storage::Rootfs;

use crate::error::{io_err, Error, Result};
use crate::layout::{self, Snapshot};
use crate::rewrite::{rewrite_config, Rename};
use crate::stage::Staged;

/// A restore in progress.
#[derive(Debug)]
pub struct Restore {
    snapshot: Snapshot,
    container_dir: PathBuf,
    config_text: String,
    source: Rootfs,
    staged: Staged,
}

impl Restore {
    /// Starts restoring snapshot `snap` of the container in
    /// `container_dir` as a new container in `target_dir`.
    pub fn begin(container_dir: &Path, snap: &str, target_dir: &Path) -> Result<Restore> {
        let snapshot = layout::find(container_dir, snap)?;
        let config = snapshot.config_path();
        let config_text = fs::read_to_string(&config).map_err(io_err("read", &config))?;
        let spec = crate::rewrite::rootfs_of(&config_text).ok_or_else(|| Error::Io {
            what: "find lxc.rootfs.path in",
            path: config.clone(),
            source: std::io::ErrorKind::NotFound.into(),
        })?;
        let source = Rootfs::parse(&spec)?;
        let staged = Staged::begin(target_dir, "restore", 0o755)?;
        Ok(Restore {
            snapshot,
            container_dir: container_dir.to_path_buf(),
            config_text,
            source,
            staged,
        })
    }

    /// The snapshot's rootfs, to clone.
    pub fn source_rootfs(&self) -> &Rootfs {
        &self.source
    }

    /// Where to clone it (a `Dest` for this directory, named as the new
    /// container).
    pub fn staging_dir(&self) -> &Path {
        self.staged.dir()
    }

    /// The new container's name.
    pub fn name(&self) -> String {
        self.staged
            .target()
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    }

    /// Writes the new config for `rootfs` (the clone, made in the staging
    /// directory), copies the hook scripts it names and renames the
    /// container into place. Returns its directory.
    pub fn finish(self, rootfs: &Rootfs) -> Result<PathBuf> {
        let target = self.staged.target().to_path_buf();
        let rootfs = moved_rootfs(rootfs, self.staged.dir(), &target);
        let rename = Rename {
            from: vec![self.snapshot.dir.clone(), self.container_dir.clone()],
            to: target.clone(),
            uts_name: Some(self.name()),
            rootfs: Some(rootfs.spec()),
        };
        let out = rewrite_config(&self.config_text, &self.snapshot.config_path(), &rename)?;
        for (from, to) in &out.files {
            let to = self
                .staged
                .dir()
                .join(to.strip_prefix(&target).unwrap_or(to));
            if let Some(parent) = to.parent() {
                fs::create_dir_all(parent).map_err(io_err("create", parent))?;
            }
            fs::copy(from, &to).map_err(io_err("copy", from))?;
        }
        let config = self.staged.dir().join("config");
        fs::write(&config, &out.text).map_err(io_err("write", &config))?;
        self.staged.commit()
    }
}

/// `rootfs` with its paths inside `staging` moved to `target`.
pub fn moved_rootfs(rootfs: &Rootfs, staging: &Path, target: &Path) -> Rootfs {
    let mv = |p: &Path| match p.strip_prefix(staging) {
        Ok(rest) => target.join(rest),
        Err(_) => p.to_path_buf(),
    };
    Rootfs {
        backend: rootfs.backend,
        path: mv(&rootfs.path),
        lowers: rootfs.lowers.iter().map(|l| mv(l)).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layout::NewSnapshot;
    use enclos_storage::{CloneKind, CreateOptions, Dest};

    #[test]
    fn restore_a_dir_snapshot_under_a_new_name() {
        let tmp = tempfile::tempdir().unwrap();
        let c1 = tmp.path().join("c1");
        fs::create_dir_all(&c1).unwrap();
        let snap = NewSnapshot::begin(&c1).unwrap();
        let rootfs = snap.final_dir().join("rootfs");
        snap.write_config(&format!(
            "lxc.uts.name = c1\nlxc.rootfs.path = dir:{}\n",
            rootfs.display()
        ))
        .unwrap();
        fs::create_dir_all(snap.dir().join("rootfs/etc")).unwrap();
        fs::write(snap.dir().join("rootfs/etc/hostname"), "c1\n").unwrap();
        snap.commit().unwrap();

        let target = tmp.path().join("c1-snap0");
        let r = Restore::begin(&c1, "snap0", &target).unwrap();
        let dest = Dest::named(r.staging_dir(), &r.name());
        let new = r
            .source_rootfs()
            .clone_to(&dest, CloneKind::Copy, None, &CreateOptions::default())
            .unwrap();
        let dir = r.finish(&new).unwrap();
        assert_eq!(dir, target);
        assert_eq!(
            fs::read_to_string(target.join("config")).unwrap(),
            format!(
                "lxc.uts.name = c1-snap0\nlxc.rootfs.path = dir:{}/rootfs\n",
                target.display()
            )
        );
        assert_eq!(
            fs::read_to_string(target.join("rootfs/etc/hostname")).unwrap(),
            "c1\n"
        );
        assert!(matches!(
            Restore::begin(&c1, "snap0", &target),
            Err(Error::Exists { .. })
        ));
    }
}
