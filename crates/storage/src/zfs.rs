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
//! - A dataset is replaced in place ([`Driver::replace`], a restore) by
//!   renames: the old one to `NAME:replaced`, the new one (a clone of the
//!   snapshot restored) to `NAME`, which is then promoted (`zfs
//!   promote`), so that it no longer hangs on the snapshot it was cloned
//!   from: that snapshot's dataset can go first. The old dataset is then
//!   destroyed, or, while clones of its snapshots need it (the
//!   container's other snapshots, the container itself once promoted),
//!   kept as `NAME:retiredN`, and destroyed with the last of them. `:`
//!   is in no container's name, so these names are the backend's own.
//!   With `mountpoint=legacy`, a rename mounts nothing.

use std::path::{Path, PathBuf};

use nix::mount::MsFlags;

use crate::aside::Aside;
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

/// The names of the datasets set aside: `NAME:replaced`, `NAME:retiredN`.
const ASIDE: Aside = crate::aside::COLON;
/// What the errors call a dataset, and the commands that rename and
/// remove one.
const KIND: &str = "ZFS dataset";
const RENAME: &str = "zfs rename";
const REMOVE: &str = "zfs destroy -r";

/// The dataset of a rootfs.
fn dataset(rootfs: &Rootfs) -> String {
    rootfs.path.to_string_lossy().into_owned()
}

/// The dataset a dataset sits in (`lxc` of `lxc/c1`).
fn parent(dataset: &str) -> &str {
    dataset.rsplit_once('/').map_or(dataset, |(p, _)| p)
}

/// The error of a replace whose step failed with `e`, once `undone`
/// tried to put `old` back.
fn not_put_back(old: &Rootfs, aside: &str, e: Error, undone: Result<()>) -> Error {
    crate::aside::not_put_back(RENAME, old.path.clone(), aside.into(), e, undone)
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

    /// The snapshots of `ds` and the clones of each (`zfs list -t
    /// snapshot -o name,clones`).
    fn snapshot_clones(&self, ds: &str) -> Result<Vec<(String, Vec<String>)>> {
        let argv = [
            "list",
            "-H",
            "-t",
            "snapshot",
            "-o",
            "name,clones",
            "-d",
            "1",
            ds,
        ];
        let out = self.zfs(&argv)?;
        let mut snaps = Vec::new();
        for line in out.lines().filter(|l| !l.trim().is_empty()) {
            let (name, list) = line.split_once('\t').ok_or_else(|| Error::BadOutput {
                command: command_line("zfs", &args(&argv)),
                reason: format!("'{line}' is not NAME<tab>CLONES"),
            })?;
            let clones = list
                .split(',')
                .map(str::trim)
                .filter(|c| !c.is_empty() && *c != "-")
                .map(str::to_string)
                .collect();
            snaps.push((name.to_string(), clones));
        }
        Ok(snaps)
    }

    /// Whether a clone of a snapshot of `ds` needs it.
    fn has_clones(&self, ds: &str) -> Result<bool> {
        Ok(self.snapshot_clones(ds)?.iter().any(|(_, c)| !c.is_empty()))
    }

    /// `zfs rename FROM TO`.
    fn rename(&self, from: &str, to: &str) -> Result<()> {
        self.zfs(&["rename", from, to]).map(|_| ())
    }

    /// Destroys `origin`, the snapshot a destroyed dataset was cloned
    /// from, unless other clones keep it; then the retired dataset it
    /// belongs to once no clone needs it, and so on up its own origins.
    fn release_origin(&self, mut origin: Option<String>) -> Result<()> {
        while let Some(o) = origin.take() {
            // Other clones of it keep it: zfs refuses, and that is fine.
            let _ = self.zfs(&["destroy", &o]);
            let Some((ds, _)) = o.split_once('@') else {
                break;
            };
            if !ASIDE.is_retired(ds) || !self.exists(ds)? || self.has_clones(ds)? {
                break;
            }
            origin = self.origin(ds)?;
            self.zfs(&["destroy", "-r", ds])?;
        }
        Ok(())
    }

    /// Renames `o` (the new data) back to `n`, then `aside` back to `o`.
    fn swap_back(&self, o: &str, n: &str, aside: &str) -> Result<()> {
        self.rename(o, n)?;
        self.rename(aside, o)
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
    /// snapshot it was cloned from, and the retired dataset that was kept
    /// for it when nothing else needs that any more; a dataset already
    /// gone is fine.
    fn destroy(&self, rootfs: &Rootfs) -> Result<()> {
        let ds = dataset(rootfs);
        if !self.exists(&ds)? {
            return Ok(());
        }
        let origin = self.origin(&ds)?;
        self.zfs(&["destroy", "-r", &ds])?;
        self.release_origin(origin)
    }

    /// The clones of the dataset's snapshots.
    fn clones(&self, rootfs: &Rootfs) -> Result<Vec<String>> {
        let ds = dataset(rootfs);
        if !self.exists(&ds)? {
            return Ok(Vec::new());
        }
        Ok(self
            .snapshot_clones(&ds)?
            .into_iter()
            .flat_map(|(_, c)| c)
            .collect())
    }

    /// Always: [`Driver::replace`] promotes the clone.
    fn snapshots_stand_alone(&self, _rootfs: &Rootfs) -> Result<bool> {
        Ok(true)
    }

    /// `zfs rename OLD OLD:replaced`, `zfs rename NEW OLD`, then `zfs
    /// promote OLD` when the new dataset is a clone; each step undone
    /// when a later one fails. Refused before anything is renamed when
    /// either is missing or `OLD:replaced` exists.
    fn replace(&self, old: &Rootfs, new: &Rootfs) -> Result<Rootfs> {
        let (o, n) = (dataset(old), dataset(new));
        let aside = ASIDE.replaced(&o);
        if !self.exists(&o)? {
            if self.exists(&aside)? {
                return Err(Error::CutShort {
                    kind: KIND,
                    rename: RENAME,
                    path: old.path.clone(),
                    aside: aside.into(),
                });
            }
            return Err(Error::Missing {
                path: old.path.clone(),
            });
        }
        if !self.exists(&n)? {
            return Err(Error::Missing {
                path: new.path.clone(),
            });
        }
        if self.exists(&aside)? {
            return Err(Error::AsideExists {
                kind: KIND,
                remove: REMOVE,
                path: aside.into(),
            });
        }
        let promote = self.origin(&n)?.is_some();
        self.rename(&o, &aside)?;
        if let Err(e) = self.rename(&n, &o) {
            return Err(not_put_back(old, &aside, e, self.rename(&aside, &o)));
        }
        if promote {
            if let Err(e) = self.zfs(&["promote", &o]) {
                return Err(not_put_back(old, &aside, e, self.swap_back(&o, &n, &aside)));
            }
        }
        Ok(Rootfs::new(Backend::Zfs, aside))
    }

    /// The clones of the promoted dataset's snapshots promoted back (the
    /// snapshot's dataset it was cloned from), then the renames undone.
    fn undo_replace(&self, old: &Rootfs, new: &Rootfs, aside: &Rootfs) -> Result<()> {
        let o = dataset(old);
        for (_, clones) in self.snapshot_clones(&o)? {
            for c in clones {
                self.zfs(&["promote", &c])?;
            }
        }
        self.swap_back(&o, &dataset(new), &dataset(aside))
    }

    /// Destroyed (with the snapshot it was cloned from), unless clones of
    /// its snapshots need it: then renamed `NAME:retiredN` (the first
    /// free N), for the `destroy` of the last of them to remove.
    fn release(&self, aside: &Rootfs) -> Result<()> {
        let a = dataset(aside);
        if !self.exists(&a)? {
            return Ok(());
        }
        if !self.has_clones(&a)? {
            return self.destroy(aside);
        }
        let name = ASIDE.retired(&a, |n| self.exists(n))?;
        self.rename(&a, &name)
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

    const GONE: &str = "dataset does not exist";

    fn c1() -> (Rootfs, Rootfs) {
        (
            Rootfs::parse("zfs:lxc/c1").unwrap(),
            Rootfs::parse("zfs:lxc/c1:restoring").unwrap(),
        )
    }

    /// The calls of a replace up to its renames: the three datasets
    /// checked, the new one's origin read.
    const CHECKS: [&str; 4] = [
        "zfs list -H -o name lxc/c1",
        "zfs list -H -o name lxc/c1:restoring",
        "zfs list -H -o name lxc/c1:replaced",
        "zfs get -H -o value origin lxc/c1:restoring",
    ];

    /// A runner where `lxc/c1:replaced` does not exist and the new
    /// dataset is a clone of snapshot snap0's.
    fn replaceable() -> Fake {
        Fake::new()
            .fail("zfs list -H -o name lxc/c1:replaced", GONE)
            .answer("zfs get", "lxc/c1_snap0@c1:restoring\n")
    }

    #[test]
    fn replace_renames_then_promotes_the_clone() {
        let z = zfs(replaceable());
        let (old, new) = c1();
        let aside = z.replace(&old, &new).unwrap();
        assert_eq!(aside.spec(), "zfs:lxc/c1:replaced");
        let mut want = CHECKS.to_vec();
        want.extend([
            "zfs rename lxc/c1 lxc/c1:replaced",
            "zfs rename lxc/c1:restoring lxc/c1",
            "zfs promote lxc/c1",
        ]);
        assert_eq!(z.0.calls(), want);
        // A full copy (no origin) is not promoted.
        let z = zfs(Fake::new()
            .fail("zfs list -H -o name lxc/c1:replaced", GONE)
            .answer("zfs get", "-\n"));
        z.replace(&old, &new).unwrap();
        assert_eq!(
            z.0.calls().last().unwrap(),
            "zfs rename lxc/c1:restoring lxc/c1"
        );
    }

    #[test]
    fn a_failed_step_of_replace_puts_the_old_dataset_back() {
        let (old, new) = c1();
        // The second rename fails: the first is undone.
        let z = zfs(replaceable().fail("zfs rename lxc/c1:restoring", "dataset is busy"));
        let err = z.replace(&old, &new).unwrap_err().to_string();
        assert!(err.ends_with("dataset is busy"), "{err}");
        assert_eq!(
            z.0.calls()[4..],
            [
                "zfs rename lxc/c1 lxc/c1:replaced",
                "zfs rename lxc/c1:restoring lxc/c1",
                "zfs rename lxc/c1:replaced lxc/c1"
            ]
        );
        // The promote fails: both renames are undone.
        let z = zfs(replaceable().fail("zfs promote", "out of space"));
        assert!(z.replace(&old, &new).is_err());
        assert_eq!(
            z.0.calls()[6..],
            [
                "zfs promote lxc/c1",
                "zfs rename lxc/c1 lxc/c1:restoring",
                "zfs rename lxc/c1:replaced lxc/c1"
            ]
        );
        // The undo failing too says where the data is and how to put it
        // back.
        let z = zfs(replaceable()
            .fail("zfs rename lxc/c1:restoring", "dataset is busy")
            .fail("zfs rename lxc/c1:replaced", "pool is suspended"));
        let err = z.replace(&old, &new).unwrap_err().to_string();
        assert!(
            err.starts_with("Cannot put lxc/c1 back after a failed replace (`zfs rename lxc/c1:restoring lxc/c1` failed"),
            "{err}"
        );
        assert!(
            err.ends_with("its data is in lxc/c1:replaced; rename it back (zfs rename lxc/c1:replaced lxc/c1)"),
            "{err}"
        );
    }

    #[test]
    fn replace_refuses_before_renaming_anything() {
        let (old, new) = c1();
        // Cut short earlier: the data is aside, and the error says so.
        let z = zfs(Fake::new().fail("zfs list -H -o name lxc/c1", GONE));
        let err = z.replace(&old, &new).unwrap_err().to_string();
        assert_eq!(
            err,
            "ZFS dataset lxc/c1 does not exist, but lxc/c1:replaced does: the replace of lxc/c1 by a restore was cut short, and lxc/c1:replaced holds its data; put it back (zfs rename lxc/c1:replaced lxc/c1)"
        );
        // The aside name is taken.
        let z = zfs(Fake::new());
        let err = z.replace(&old, &new).unwrap_err().to_string();
        assert!(
            err.starts_with(
                "ZFS dataset lxc/c1:replaced already exists: a restore that did not finish left it"
            ),
            "{err}"
        );
        assert_eq!(z.0.calls(), CHECKS[..3]);
        // The new one is missing.
        let z = zfs(Fake::new().fail("zfs list -H -o name lxc/c1:restoring", GONE));
        let err = z.replace(&old, &new).unwrap_err().to_string();
        assert!(
            err.starts_with("Rootfs lxc/c1:restoring does not exist"),
            "{err}"
        );
        assert!(z.0.calls().iter().all(|c| !c.starts_with("zfs rename")));
    }

    #[test]
    fn undo_replace_promotes_the_snapshot_back_then_renames() {
        let (old, new) = c1();
        let z = zfs(Fake::new().answer(
            "zfs list -H -t snapshot",
            "lxc/c1@c1:restoring\tlxc/c1_snap0\n",
        ));
        let aside = Rootfs::parse("zfs:lxc/c1:replaced").unwrap();
        z.undo_replace(&old, &new, &aside).unwrap();
        assert_eq!(
            z.0.calls(),
            [
                "zfs list -H -t snapshot -o name,clones -d 1 lxc/c1",
                "zfs promote lxc/c1_snap0",
                "zfs rename lxc/c1 lxc/c1:restoring",
                "zfs rename lxc/c1:replaced lxc/c1"
            ]
        );
    }

    #[test]
    fn release_retires_a_dataset_clones_need_else_destroys_it() {
        let aside = Rootfs::parse("zfs:lxc/c1:replaced").unwrap();
        // The container's other snapshots are clones of its snapshots.
        let z = zfs(Fake::new()
            .answer(
                "zfs list -H -t snapshot",
                "lxc/c1:replaced@c1_snap0\tlxc/c1\nlxc/c1:replaced@c1_snap1\tlxc/c1_snap1\n",
            )
            .fail("zfs list -H -o name lxc/c1:retired1", GONE));
        z.release(&aside).unwrap();
        assert_eq!(
            z.0.calls(),
            [
                "zfs list -H -o name lxc/c1:replaced",
                "zfs list -H -t snapshot -o name,clones -d 1 lxc/c1:replaced",
                "zfs list -H -o name lxc/c1:retired0",
                "zfs list -H -o name lxc/c1:retired1",
                "zfs rename lxc/c1:replaced lxc/c1:retired1"
            ]
        );
        // No clone needs it: destroyed, with the snapshot it was cloned
        // from.
        let z = zfs(Fake::new()
            .answer("zfs list -H -t snapshot", "lxc/c1:replaced@old\t-\n")
            .answer("zfs get", "lxc/base@c1\n"));
        z.release(&aside).unwrap();
        assert_eq!(
            z.0.calls()[2..],
            [
                "zfs list -H -o name lxc/c1:replaced",
                "zfs get -H -o value origin lxc/c1:replaced",
                "zfs destroy -r lxc/c1:replaced",
                "zfs destroy lxc/base@c1"
            ]
        );
    }

    #[test]
    fn the_last_clone_destroyed_takes_the_retired_datasets_with_it() {
        // The container, restored twice: its origin is a retired
        // dataset, itself a clone of an older retired one.
        let z = zfs(Fake::new()
            .answer("zfs get -H -o value origin lxc/c1", "lxc/c1:retired1@r\n")
            .answer(
                "zfs get -H -o value origin lxc/c1:retired1",
                "lxc/c1:retired0@c1_snap0\n",
            )
            .answer("zfs get -H -o value origin lxc/c1:retired0", "-\n"));
        z.destroy(&Rootfs::parse("zfs:lxc/c1").unwrap()).unwrap();
        assert_eq!(
            z.0.calls(),
            [
                "zfs list -H -o name lxc/c1",
                "zfs get -H -o value origin lxc/c1",
                "zfs destroy -r lxc/c1",
                "zfs destroy lxc/c1:retired1@r",
                "zfs list -H -o name lxc/c1:retired1",
                "zfs list -H -t snapshot -o name,clones -d 1 lxc/c1:retired1",
                "zfs get -H -o value origin lxc/c1:retired1",
                "zfs destroy -r lxc/c1:retired1",
                "zfs destroy lxc/c1:retired0@c1_snap0",
                "zfs list -H -o name lxc/c1:retired0",
                "zfs list -H -t snapshot -o name,clones -d 1 lxc/c1:retired0",
                "zfs get -H -o value origin lxc/c1:retired0",
                "zfs destroy -r lxc/c1:retired0"
            ]
        );
        // A snapshot's dataset whose retired origin other clones still
        // need: the origin's snapshot goes, the retired dataset stays.
        let z = zfs(Fake::new()
            .answer("zfs get", "lxc/c1:retired0@c1_snap1\n")
            .answer(
                "zfs list -H -t snapshot",
                "lxc/c1:retired0@c1_snap0\tlxc/c1\n",
            ));
        z.destroy(&Rootfs::parse("zfs:lxc/c1_snap1").unwrap())
            .unwrap();
        assert_eq!(
            z.0.calls()[2..],
            [
                "zfs destroy -r lxc/c1_snap1",
                "zfs destroy lxc/c1:retired0@c1_snap1",
                "zfs list -H -o name lxc/c1:retired0",
                "zfs list -H -t snapshot -o name,clones -d 1 lxc/c1:retired0"
            ]
        );
        // The origin of a dataset that is not retired is left alone.
        let z = zfs(Fake::new().answer("zfs get", "lxc/c1@c1:restoring\n"));
        z.destroy(&Rootfs::parse("zfs:lxc/c1_snap0").unwrap())
            .unwrap();
        assert_eq!(
            z.0.calls().last().unwrap(),
            "zfs destroy lxc/c1@c1:restoring"
        );
    }

    #[test]
    fn only_the_backends_own_names_are_retired_datasets() {
        assert!(ASIDE.is_retired("lxc/c1:retired0"));
        assert!(ASIDE.is_retired("tank/lxc/c1:retired12"));
        assert!(!ASIDE.is_retired("lxc/c1:retired"));
        assert!(!ASIDE.is_retired("lxc/:retired0"));
        assert!(!ASIDE.is_retired("lxc/c1_retired0"));
        assert!(!ASIDE.is_retired("lxc/c1:replaced"));
    }
}
