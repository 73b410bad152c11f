//! The `zfs` backend: a dataset `ROOT/NAME` (`lxc.rootfs.path =
//! zfs:ROOT/NAME`, as LXC writes it), made, snapshotted, cloned, measured
//! and destroyed through the zfs command, mounted with mount(2) when the
//! container starts.
//!
//! - The root is `--zfsroot` (default `lxc.bdev.zfs.root`, else `lxc`):
//!   a pool or a dataset, which must exist.
//! - Datasets have `mountpoint=legacy`: ZFS never mounts them itself; the
//!   container's start does, in its own mount namespace.
//! - A snapshot clone is `zfs snapshot SRC@NAME` then `zfs clone`, beside
//!   the source (or under `--zfsroot`); destroying the clone destroys that
//!   snapshot too. A dataset whose snapshots have clones is not destroyed
//!   unless forced (and zfs refuses even then).
//! - A full copy mounts both and copies the files (no `zfs send`).

use std::path::{Path, PathBuf};

use nix::mount::MsFlags;

use crate::backend::{Backend, Driver};
use crate::error::{errno, Error, Result};
use crate::options::{CreateOptions, Dest, Usage};
use crate::spec::Rootfs;
use crate::tool::{args, command_line, with_hint, Runner};

/// The `zfs` driver, running the zfs command through its runner.
#[derive(Debug)]
pub(crate) struct Zfs<R>(pub(crate) R);

/// The root when neither `--zfsroot` nor `lxc.bdev.zfs.root` names one,
/// as in LXC.
const DEFAULT_ROOT: &str = "lxc";

/// What to do when the root is missing.
const NO_ROOT: &str = "; create the pool (zpool create POOL DEVICE) or the dataset (zfs create POOL/DATASET), or name another root with --zfsroot or lxc.bdev.zfs.root";

/// The dataset of a rootfs.
fn dataset(rootfs: &Rootfs) -> String {
    rootfs.path.to_string_lossy().into_owned()
}

/// The dataset a dataset sits in (`lxc` of `lxc/c1`).
fn parent(dataset: &str) -> &str {
    dataset.rsplit_once('/').map_or(dataset, |(p, _)| p)
}

impl<R: Runner> Zfs<R> {
    /// `zfs ARGS`, its output.
    fn zfs(&self, argv: &[&str]) -> Result<String> {
        self.0.run("zfs", &args(argv))
    }

    /// Whether dataset (or snapshot) `name` exists.
    fn exists(&self, name: &str) -> Result<bool> {
        match self.zfs(&["list", "-H", "-o", "name", name]) {
            Ok(_) => Ok(true),
            Err(Error::Command { stderr, .. }) if stderr.contains("does not exist") => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Refuses a root that does not exist, saying what to do.
    fn check_root(&self, root: &str) -> Result<()> {
        self.zfs(&["list", "-H", "-o", "name", root])
            .map_err(with_hint(NO_ROOT))?;
        Ok(())
    }

    /// The `origin` of a clone (`lxc/c1@c2`), `None` for a dataset that is
    /// not one.
    fn origin(&self, ds: &str) -> Result<Option<String>> {
        let out = self.zfs(&["get", "-H", "-o", "value", "origin", ds])?;
        let origin = out.trim();
        Ok((!origin.is_empty() && origin != "-").then(|| origin.to_string()))
    }
}

impl<R: Runner> Driver for Zfs<R> {
    fn backend(&self) -> Backend {
        Backend::Zfs
    }

    /// `zfs create -o mountpoint=legacy ROOT/NAME`.
    fn create(&self, dest: &Dest, opts: &CreateOptions) -> Result<Rootfs> {
        let root = opts.zfsroot.as_deref().unwrap_or(DEFAULT_ROOT);
        self.check_root(root)?;
        let ds = format!("{root}/{}", dest.name);
        self.zfs(&["create", "-o", "mountpoint=legacy", &ds])?;
        Ok(Rootfs::new(Backend::Zfs, ds))
    }

    /// `zfs snapshot SRC@NAME`, then `zfs clone` of it as `ROOT/NAME`
    /// (the source's parent, or `--zfsroot`).
    fn snapshot(&self, src: &Rootfs, dest: &Dest, opts: &CreateOptions) -> Result<Rootfs> {
        let from = dataset(src);
        let root = opts.zfsroot.as_deref().unwrap_or_else(|| parent(&from));
        let ds = format!("{root}/{}", dest.name);
        let snap = format!("{from}@{}", dest.name);
        self.zfs(&["snapshot", &snap])?;
        if let Err(e) = self.zfs(&["clone", "-o", "mountpoint=legacy", &snap, &ds]) {
            let _ = self.zfs(&["destroy", &snap]);
            return Err(e);
        }
        Ok(Rootfs::new(Backend::Zfs, ds))
    }

    /// Under the source's parent dataset.
    fn place_like(&self, src: &Rootfs, opts: &CreateOptions) -> Result<CreateOptions> {
        let mut opts = opts.clone();
        if opts.zfsroot.is_none() {
            opts.zfsroot = Some(parent(&dataset(src)).to_string());
        }
        Ok(opts)
    }

    /// `zfs destroy -r` (the dataset and its snapshots), then the
    /// snapshot it was cloned from; a dataset already gone is fine.
    fn destroy(&self, rootfs: &Rootfs) -> Result<()> {
        let ds = dataset(rootfs);
        if !self.exists(&ds)? {
            return Ok(());
        }
        let origin = self.origin(&ds)?;
        self.zfs(&["destroy", "-r", &ds])?;
        if let Some(o) = origin {
            // Other clones of it keep it: zfs refuses, and that is fine.
            let _ = self.zfs(&["destroy", &o]);
        }
        Ok(())
    }

    /// The clones of the dataset's snapshots.
    fn clones(&self, rootfs: &Rootfs) -> Result<Vec<String>> {
        let ds = dataset(rootfs);
        if !self.exists(&ds)? {
            return Ok(Vec::new());
        }
        let out = self.zfs(&[
            "list",
            "-H",
            "-t",
            "snapshot",
            "-o",
            "name,clones",
            "-d",
            "1",
            &ds,
        ])?;
        let mut clones = Vec::new();
        for line in out.lines() {
            let (_, list) = line.split_once('\t').ok_or_else(|| Error::BadOutput {
                command: command_line("zfs", &args(&["list", "-t", "snapshot", &ds])),
                reason: format!("'{line}' is not NAME<tab>CLONES"),
            })?;
            clones.extend(
                list.split(',')
                    .map(str::trim)
                    .filter(|c| !c.is_empty() && *c != "-")
                    .map(str::to_string),
            );
        }
        Ok(clones)
    }

    fn mount(&self, rootfs: &Rootfs, target: &Path) -> Result<PathBuf> {
        let ds = dataset(rootfs);
        nix::mount::mount(
            Some(ds.as_str()),
            target,
            Some("zfs"),
            MsFlags::empty(),
            None::<&str>,
        )
        .map_err(|e| Error::Mount {
            what: format!("zfs dataset {ds}"),
            target: target.to_path_buf(),
            source: errno(e),
        })?;
        Ok(target.to_path_buf())
    }

    fn unmount(&self, _rootfs: &Rootfs, target: &Path) -> Result<()> {
        crate::mount::unmount(target)
    }

    /// `used`, and the `quota` as the size when one is set.
    fn usage(&self, rootfs: &Rootfs) -> Result<Usage> {
        let ds = dataset(rootfs);
        let out = self.zfs(&["list", "-H", "-p", "-o", "used,quota", &ds])?;
        let bad = || Error::BadOutput {
            command: command_line("zfs", &args(&["list", "-H", "-p", "-o", "used,quota", &ds])),
            reason: format!("'{}' is not USED<tab>QUOTA in bytes", out.trim()),
        };
        let (used, quota) = out.trim().split_once('\t').ok_or_else(bad)?;
        let used = used.parse().map_err(|_| bad())?;
        let quota: u64 = quota.parse().unwrap_or(0);
        Ok(Usage {
            size: (quota > 0).then_some(quota),
            used,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tool::fake::Fake;

    fn zfs(f: Fake) -> Zfs<Fake> {
        Zfs(f)
    }

    #[test]
    fn create_makes_a_legacy_dataset_under_the_root() {
        let z = zfs(Fake::new().answer("zfs list", "tank/lxc\n"));
        let opts = CreateOptions {
            zfsroot: Some("tank/lxc".into()),
            ..Default::default()
        };
        let r = z
            .create(&Dest::named(Path::new("/var/lib/enclos/c1"), "c1"), &opts)
            .unwrap();
        assert_eq!(r.spec(), "zfs:tank/lxc/c1");
        assert_eq!(
            z.0.calls(),
            [
                "zfs list -H -o name tank/lxc",
                "zfs create -o mountpoint=legacy tank/lxc/c1"
            ]
        );
    }

    #[test]
    fn a_missing_root_says_what_to_do() {
        let z = zfs(Fake::new().fail("zfs list", "cannot open 'lxc': dataset does not exist"));
        let err = z
            .create(
                &Dest::named(Path::new("/x/c1"), "c1"),
                &CreateOptions::default(),
            )
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("`zfs list -H -o name lxc` failed (exit status: 5): cannot open 'lxc': dataset does not exist; create the pool"), "{err}");
        assert!(err.contains("--zfsroot"), "{err}");
        assert_eq!(z.0.calls().len(), 1, "nothing created");
    }

    #[test]
    fn a_snapshot_clone_sits_beside_its_source() {
        let z = zfs(Fake::new());
        let src = Rootfs::parse("zfs:lxc/c1").unwrap();
        let r = z
            .snapshot(
                &src,
                &Dest::named(Path::new("/x/c2"), "c2"),
                &CreateOptions::default(),
            )
            .unwrap();
        assert_eq!(r.spec(), "zfs:lxc/c2");
        assert_eq!(
            z.0.calls(),
            [
                "zfs snapshot lxc/c1@c2",
                "zfs clone -o mountpoint=legacy lxc/c1@c2 lxc/c2"
            ]
        );
    }

    #[test]
    fn a_failed_clone_takes_its_snapshot_back() {
        let z = zfs(Fake::new().fail("zfs clone", "out of space"));
        let src = Rootfs::parse("zfs:lxc/c1").unwrap();
        assert!(z
            .snapshot(
                &src,
                &Dest::named(Path::new("/x/c2"), "c2"),
                &CreateOptions::default()
            )
            .is_err());
        assert_eq!(z.0.calls().last().unwrap(), "zfs destroy lxc/c1@c2");
    }

    #[test]
    fn destroying_a_clone_destroys_its_origin_snapshot() {
        let z = zfs(Fake::new().answer("zfs get", "lxc/c1@c2\n"));
        z.destroy(&Rootfs::parse("zfs:lxc/c2").unwrap()).unwrap();
        assert_eq!(
            z.0.calls(),
            [
                "zfs list -H -o name lxc/c2",
                "zfs get -H -o value origin lxc/c2",
                "zfs destroy -r lxc/c2",
                "zfs destroy lxc/c1@c2"
            ]
        );
        // Gone already: nothing to do.
        let z = zfs(Fake::new().fail("zfs list", "cannot open 'lxc/c2': dataset does not exist"));
        z.destroy(&Rootfs::parse("zfs:lxc/c2").unwrap()).unwrap();
        assert_eq!(z.0.calls().len(), 1);
    }

    #[test]
    fn clones_of_its_snapshots_are_listed() {
        let z = zfs(Fake::new()
            .answer("zfs list -H -o name", "lxc/c1\n")
            .answer(
                "zfs list -H -t snapshot",
                "lxc/c1@c2\tlxc/c2\nlxc/c1@c3\tlxc/c3,lxc/c4\nlxc/c1@old\t-\n",
            ));
        let clones = z.clones(&Rootfs::parse("zfs:lxc/c1").unwrap()).unwrap();
        assert_eq!(clones, ["lxc/c2", "lxc/c3", "lxc/c4"]);
        assert_eq!(
            z.0.calls()[1],
            "zfs list -H -t snapshot -o name,clones -d 1 lxc/c1"
        );
    }

    #[test]
    fn usage_reads_used_and_quota() {
        let z = zfs(Fake::new().answer("zfs list", "12345\t1073741824\n"));
        let u = z.usage(&Rootfs::parse("zfs:lxc/c1").unwrap()).unwrap();
        assert_eq!((u.size, u.used), (Some(1 << 30), 12345));
        let z = zfs(Fake::new().answer("zfs list", "4096\t0\n"));
        let u = z.usage(&Rootfs::parse("zfs:lxc/c1").unwrap()).unwrap();
        assert_eq!((u.size, u.used), (None, 4096));
        let z = zfs(Fake::new().answer("zfs list", "garbage\n"));
        let err = z.usage(&Rootfs::parse("zfs:lxc/c1").unwrap()).unwrap_err();
        assert!(err.to_string().contains("USED<tab>QUOTA"), "{err}");
    }
}
