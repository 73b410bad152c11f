//! The `rbd` backend: a Ceph RBD image `POOL/NAME` with a filesystem
//! (`lxc.rootfs.path = rbd:/dev/rbd/POOL/NAME`, as LXC writes it), made,
//! snapshotted, cloned, measured and removed through the rbd command,
//! mapped and mounted when the container starts, unmapped when it stops.
//!
//! - The pool is `--rbdpool` (default `lxc.bdev.rbd.pool`, else `lxc`).
//! - A snapshot clone is `rbd snap create`, `rbd snap protect` (a clone
//!   needs its snapshot protected), then `rbd clone`; removing the clone
//!   unprotects and removes that snapshot when no other clone uses it.
//! - An image is replaced in place ([`Driver::replace`], a restore): the
//!   new one (a clone of the snapshot restored) is flattened (`rbd
//!   flatten`: Ceph copies its parent's data into it, and it no longer
//!   hangs on that snapshot, which is removed), then renamed: the old
//!   image to `NAME:replaced`, the new one to `NAME`. The old one is then
//!   removed, or, while clones of its snapshots need it (the container's
//!   other snapshots; they find it by its id, whatever its name), kept as
//!   `NAME:retiredN`, and removed with the last of them. `:` is in no
//!   container's name, so these names are the backend's own.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::aside::{not_put_back, Aside};
use crate::backend::{Backend, Driver};
use crate::error::{Error, Result};
use crate::options::{CreateOptions, Dest, Usage, DEFAULT_FSSIZE};
use crate::spec::Rootfs;
use crate::tool::{args, command_line, mkfs, with_hint, Runner, DEFAULT_FSTYPE};

/// The `rbd` driver, running the rbd command through its runner.
#[derive(Debug)]
pub(crate) struct Rbd<R>(pub(crate) R);

/// The pool when neither `--rbdpool` nor `lxc.bdev.rbd.pool` names one,
/// as in LXC.
const DEFAULT_POOL: &str = "lxc";

/// What to do when a command on the pool fails.
const POOL_HINT: &str = "; check that the Ceph cluster answers (ceph -s) and that the pool exists (ceph osd pool create POOL), or name another with --rbdpool or lxc.bdev.rbd.pool";

/// The names of the images set aside: `NAME:replaced`, `NAME:retiredN`.
const ASIDE: Aside = crate::aside::COLON;
/// What the errors call an image, and the commands that rename and
/// remove one.
const KIND: &str = "RBD image";
const RENAME: &str = "rbd rename";
const REMOVE: &str = "rbd rm";

/// The pool of `POOL/NAME`.
fn pool(img: &str) -> &str {
    img.split_once('/').map_or("", |(p, _)| p)
}

/// `POOL/IMAGE` of a rootfs (`/dev/rbd/POOL/IMAGE` or `POOL/IMAGE`).
fn image(rootfs: &Rootfs) -> String {
    let p = rootfs.path.to_string_lossy();
    p.strip_prefix("/dev/rbd/").unwrap_or(&p).to_string()
}

/// The rootfs of image `POOL/IMAGE`, named as LXC names it.
fn rootfs_of(image: &str) -> Rootfs {
    Rootfs::new(Backend::Rbd, Path::new("/dev/rbd").join(image))
}

/// What `rbd info --format json` says of an image.
#[derive(Debug, Deserialize)]
struct Info {
    size: u64,
    #[serde(default)]
    parent: Option<Parent>,
}

/// The snapshot a clone was made of.
#[derive(Debug, Deserialize)]
struct Parent {
    pool: String,
    image: String,
    snapshot: String,
}

/// One snapshot of `rbd snap ls --format json`.
#[derive(Debug, Deserialize)]
struct Snap {
    name: String,
}

impl<R: Runner> Rbd<R> {
    /// `rbd ARGS`, its output.
    fn rbd(&self, argv: &[&str]) -> Result<String> {
        self.0.run("rbd", &args(argv))
    }

    /// `rbd ARGS --format json`, parsed.
    fn json<T: serde::de::DeserializeOwned>(&self, argv: &[&str]) -> Result<T> {
        let mut all = argv.to_vec();
        all.extend(["--format", "json"]);
        let out = self.rbd(&all)?;
        serde_json::from_str(&out).map_err(|e| Error::BadOutput {
            command: command_line("rbd", &args(&all)),
            reason: e.to_string(),
        })
    }

    /// What `rbd info` says of the image, `None` when it does not exist.
    fn info(&self, img: &str) -> Result<Option<Info>> {
        match self.json(&["info", img]) {
            Err(Error::Command { stderr, .. }) if stderr.contains("No such file") => Ok(None),
            r => r.map(Some),
        }
    }

    /// `rbd rename FROM TO`.
    fn rename(&self, from: &str, to: &str) -> Result<()> {
        self.rbd(&["rename", from, to]).map(|_| ())
    }

    /// Unprotects and removes `parent`, the snapshot a removed or
    /// flattened image was cloned from, unless another clone keeps it;
    /// then the retired image it belongs to once it has no snapshot
    /// left, and so on up its own parents.
    fn release_parent(&self, mut parent: Option<Parent>) -> Result<()> {
        while let Some(p) = parent.take() {
            let img = format!("{}/{}", p.pool, p.image);
            let snap = format!("{img}@{}", p.snapshot);
            // Another clone of it keeps it protected: that is fine.
            if self.rbd(&["snap", "unprotect", &snap]).is_err() {
                break;
            }
            self.rbd(&["snap", "rm", &snap])?;
            if !ASIDE.is_retired(&img) {
                break;
            }
            let Some(info) = self.info(&img)? else {
                break;
            };
            let snaps: Vec<Snap> = self.json(&["snap", "ls", &img])?;
            if !snaps.is_empty() {
                break;
            }
            self.rbd(&["rm", &img])?;
            parent = info.parent;
        }
        Ok(())
    }

    /// Maps the image; its device.
    fn map(&self, img: &str) -> Result<String> {
        let out = self.rbd(&["map", img])?;
        let dev = out.trim().to_string();
        if dev.is_empty() {
            return Err(Error::BadOutput {
                command: format!("rbd map {img}"),
                reason: "it printed no device".to_string(),
            });
        }
        Ok(dev)
    }

    /// Unmaps the image (one not mapped is fine: Ceph 16's rbd says
    /// "not a mapped image or snapshot").
    fn unmap(&self, img: &str) -> Result<()> {
        match self.rbd(&["unmap", img]) {
            Err(Error::Command { stderr, .. })
                if stderr.contains("not mapped") || stderr.contains("not a mapped image") =>
            {
                Ok(())
            }
            r => r.map(|_| ()),
        }
    }

    /// Maps the image, makes the filesystem, unmaps it.
    fn format(&self, img: &str, fstype: &str) -> Result<()> {
        let dev = self.map(img)?;
        let made = mkfs(&self.0, Path::new(&dev), fstype);
        let unmapped = self.unmap(img);
        made.and(unmapped)
    }
}

impl<R: Runner> Driver for Rbd<R> {
    fn backend(&self) -> Backend {
        Backend::Rbd
    }

    /// `rbd create` of `--fssize` (1 GiB) in `--rbdpool`, then mkfs of
    /// `--fstype` (ext4) on the mapped device.
    fn create(&self, dest: &Dest, opts: &CreateOptions) -> Result<Rootfs> {
        let pool = opts.rbdpool.as_deref().unwrap_or(DEFAULT_POOL);
        let img = format!("{pool}/{}", dest.name);
        let mib = opts.fssize.unwrap_or(DEFAULT_FSSIZE).div_ceil(1 << 20);
        self.rbd(&["create", &img, "--size", &format!("{mib}M")])
            .map_err(with_hint(POOL_HINT))?;
        let fstype = opts.fstype.as_deref().unwrap_or(DEFAULT_FSTYPE);
        if let Err(e) = self.format(&img, fstype) {
            let _ = self.rbd(&["rm", &img]);
            return Err(e);
        }
        Ok(rootfs_of(&img))
    }

    /// `rbd snap create SRC@NAME`, `rbd snap protect`, `rbd clone` as
    /// `POOL/NAME` (the source's pool, or `--rbdpool`).
    fn snapshot(&self, src: &Rootfs, dest: &Dest, opts: &CreateOptions) -> Result<Rootfs> {
        let from = image(src);
        let src_pool = from.split_once('/').map_or("", |(p, _)| p);
        let pool = opts.rbdpool.as_deref().unwrap_or(src_pool);
        let img = format!("{pool}/{}", dest.name);
        let snap = format!("{from}@{}", dest.name);
        self.rbd(&["snap", "create", &snap])?;
        let cloned = self
            .rbd(&["snap", "protect", &snap])
            .and_then(|_| self.rbd(&["clone", &snap, &img]));
        if let Err(e) = cloned {
            let _ = self.rbd(&["snap", "unprotect", &snap]);
            let _ = self.rbd(&["snap", "rm", &snap]);
            return Err(e);
        }
        Ok(rootfs_of(&img))
    }

    /// In the source's pool.
    fn place_like(&self, src: &Rootfs, opts: &CreateOptions) -> Result<CreateOptions> {
        let mut opts = opts.clone();
        if opts.rbdpool.is_none() {
            opts.rbdpool = image(src).split_once('/').map(|(p, _)| p.to_string());
        }
        Ok(opts)
    }

    /// Unmaps and removes the image, then the snapshot it was cloned
    /// from when no other clone uses it, and the retired image that was
    /// kept for it once it has no snapshot left.
    fn destroy(&self, rootfs: &Rootfs) -> Result<()> {
        let img = image(rootfs);
        let Some(info) = self.info(&img)? else {
            return Ok(());
        };
        self.unmap(&img)?;
        self.rbd(&["rm", &img])?;
        self.release_parent(info.parent)
    }

    /// The clones of the image's snapshots (`rbd children`).
    fn clones(&self, rootfs: &Rootfs) -> Result<Vec<String>> {
        let img = image(rootfs);
        let snaps: Vec<Snap> = self.json(&["snap", "ls", &img])?;
        let mut clones = Vec::new();
        for s in snaps {
            let out = self.rbd(&["children", &format!("{img}@{}", s.name)])?;
            clones.extend(
                out.lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty())
                    .map(str::to_string),
            );
        }
        Ok(clones)
    }

    /// Always: [`Driver::replace`] flattens the clone.
    fn snapshots_stand_alone(&self, _rootfs: &Rootfs) -> Result<bool> {
        Ok(true)
    }

    /// `rbd flatten NEW` when it is a clone (and its parent snapshot
    /// released), then `rbd rename OLD OLD:replaced` and `rbd rename NEW
    /// OLD`, the first undone when the second fails. Refused before
    /// anything is done when either is missing, they are in two pools,
    /// or `OLD:replaced` exists.
    fn replace(&self, old: &Rootfs, new: &Rootfs) -> Result<Rootfs> {
        let (o, n) = (image(old), image(new));
        if pool(&o) != pool(&n) {
            return Err(Error::Unsupported {
                backend: "rbd",
                what: format!(
                    "replace an image of pool {} with one of {}",
                    pool(&o),
                    pool(&n)
                ),
                hint: "; an image is renamed within its pool only",
            });
        }
        let aside = ASIDE.replaced(&o);
        if self.info(&o)?.is_none() {
            if self.info(&aside)?.is_some() {
                return Err(Error::CutShort {
                    kind: KIND,
                    rename: RENAME,
                    path: o.into(),
                    aside: aside.into(),
                });
            }
            return Err(Error::Missing { path: o.into() });
        }
        let Some(info) = self.info(&n)? else {
            return Err(Error::Missing { path: n.into() });
        };
        if self.info(&aside)?.is_some() {
            return Err(Error::AsideExists {
                kind: KIND,
                remove: REMOVE,
                path: aside.into(),
            });
        }
        if info.parent.is_some() {
            self.rbd(&["flatten", &n])?;
            self.release_parent(info.parent)?;
        }
        self.rename(&o, &aside)?;
        if let Err(e) = self.rename(&n, &o) {
            let undone = self.rename(&aside, &o);
            return Err(not_put_back(RENAME, o.into(), aside.into(), e, undone));
        }
        Ok(rootfs_of(&aside))
    }

    fn undo_replace(&self, old: &Rootfs, new: &Rootfs, aside: &Rootfs) -> Result<()> {
        let o = image(old);
        self.rename(&o, &image(new))?;
        self.rename(&image(aside), &o)
    }

    /// Removed (with the snapshot it was cloned from), unless clones of
    /// its snapshots need it: then renamed `NAME:retiredN` (the first
    /// free N), for the `destroy` of the last of them to remove.
    fn release(&self, aside: &Rootfs) -> Result<()> {
        let a = image(aside);
        if self.info(&a)?.is_none() {
            return Ok(());
        }
        if self.clones(aside)?.is_empty() {
            return self.destroy(aside);
        }
        let name = ASIDE.retired(&a, |n| Ok(self.info(n)?.is_some()))?;
        self.rename(&a, &name)
    }

    /// `rbd map`, then the device mounted; unmapped again on failure.
    fn mount(&self, rootfs: &Rootfs, target: &Path) -> Result<PathBuf> {
        let img = image(rootfs);
        let dev = self.map(&img)?;
        if let Err(e) = crate::mount::mount_block(&dev, target, &format!("rbd image {img} ({dev})"))
        {
            let _ = self.unmap(&img);
            return Err(e);
        }
        Ok(target.to_path_buf())
    }

    /// Unmounts, then `rbd unmap`.
    fn unmount(&self, rootfs: &Rootfs, target: &Path) -> Result<()> {
        crate::mount::unmount(target)?;
        self.unmap(&image(rootfs))
    }

    /// The image's size (`rbd info`) and the space it takes (`rbd du`).
    fn usage(&self, rootfs: &Rootfs) -> Result<Usage> {
        #[derive(Deserialize)]
        struct Du {
            images: Vec<DuImage>,
        }
        #[derive(Deserialize)]
        struct DuImage {
            used_size: u64,
        }
        let img = image(rootfs);
        let info: Info = self.json(&["info", &img])?;
        let du: Du = self.json(&["du", &img])?;
        Ok(Usage {
            size: Some(info.size),
            used: du.images.iter().map(|i| i.used_size).sum(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tool::fake::Fake;

    fn dest(name: &str) -> Dest {
        Dest::named(Path::new("/var/lib/enclos").join(name).as_path(), name)
    }

    #[test]
    fn create_makes_maps_formats_and_unmaps_the_image() {
        let r = Rbd(Fake::new().answer("rbd map", "/dev/rbd0\n"));
        let opts = CreateOptions {
            fssize: Some(512 << 20),
            fstype: Some("xfs".into()),
            rbdpool: Some("rbd".into()),
            ..Default::default()
        };
        let rootfs = r.create(&dest("c1"), &opts).unwrap();
        assert_eq!(rootfs.spec(), "rbd:/dev/rbd/rbd/c1");
        assert_eq!(
            r.0.calls(),
            [
                "rbd create rbd/c1 --size 512M",
                "rbd map rbd/c1",
                "mkfs.xfs -q -f /dev/rbd0",
                "rbd unmap rbd/c1"
            ]
        );
    }

    #[test]
    fn a_failed_mkfs_removes_the_image() {
        let r = Rbd(Fake::new()
            .answer("rbd map", "/dev/rbd0\n")
            .fail("mkfs.ext4", "bad"));
        assert!(r.create(&dest("c1"), &CreateOptions::default()).is_err());
        assert_eq!(
            r.0.calls(),
            [
                "rbd create lxc/c1 --size 1024M",
                "rbd map lxc/c1",
                "mkfs.ext4 -q -F /dev/rbd0",
                "rbd unmap lxc/c1",
                "rbd rm lxc/c1"
            ]
        );
    }

    #[test]
    fn a_missing_pool_says_what_to_do() {
        let r = Rbd(Fake::new().fail(
            "rbd create",
            "error opening pool 'lxc': (2) No such file or directory",
        ));
        let err = r
            .create(&dest("c1"), &CreateOptions::default())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("error opening pool 'lxc'") && err.contains("--rbdpool"),
            "{err}"
        );
    }

    #[test]
    fn a_snapshot_clone_protects_its_snapshot() {
        let r = Rbd(Fake::new());
        let src = Rootfs::parse("rbd:/dev/rbd/lxc/c1").unwrap();
        let c = r
            .snapshot(&src, &dest("c2"), &CreateOptions::default())
            .unwrap();
        assert_eq!(c.spec(), "rbd:/dev/rbd/lxc/c2");
        assert_eq!(
            r.0.calls(),
            [
                "rbd snap create lxc/c1@c2",
                "rbd snap protect lxc/c1@c2",
                "rbd clone lxc/c1@c2 lxc/c2"
            ]
        );
    }

    #[test]
    fn destroying_a_clone_releases_its_snapshot() {
        let info = r#"{"name":"c2","size":1073741824,"parent":{"pool":"lxc","image":"c1","snapshot":"c2"}}"#;
        let r = Rbd(Fake::new()
            .answer("rbd info", info)
            .fail("rbd unmap", "rbd: lxc/c2: not mapped"));
        r.destroy(&Rootfs::parse("rbd:lxc/c2").unwrap()).unwrap();
        assert_eq!(
            r.0.calls(),
            [
                "rbd info lxc/c2 --format json",
                "rbd unmap lxc/c2",
                "rbd rm lxc/c2",
                "rbd snap unprotect lxc/c1@c2",
                "rbd snap rm lxc/c1@c2"
            ]
        );
    }

    #[test]
    fn an_image_that_is_not_mapped_is_removed_all_the_same() {
        // What Debian 12's rbd (Ceph 16.2) says.
        let r = Rbd(Fake::new()
            .answer("rbd info", r#"{"size":1073741824}"#)
            .fail(
            "rbd unmap",
            "rbd: lxc/c2: not a mapped image or snapshot\nrbd: unmap failed: (22) Invalid argument",
        ));
        r.destroy(&Rootfs::parse("rbd:lxc/c2").unwrap()).unwrap();
        assert_eq!(r.0.calls().last().unwrap(), "rbd rm lxc/c2");
    }

    #[test]
    fn clones_and_usage_are_read() {
        let r = Rbd(Fake::new()
            .answer("rbd snap ls", r#"[{"id":4,"name":"c2","size":1073741824}]"#)
            .answer("rbd children lxc/c1@c2", "lxc/c2\n"));
        let c1 = Rootfs::parse("rbd:/dev/rbd/lxc/c1").unwrap();
        assert_eq!(r.clones(&c1).unwrap(), ["lxc/c2"]);
        let r = Rbd(Fake::new()
            .answer("rbd info", r#"{"size":1073741824}"#)
            .answer(
                "rbd du",
                r#"{"images":[{"name":"c1","provisioned_size":1073741824,"used_size":41943040}]}"#,
            ));
        let u = r.usage(&c1).unwrap();
        assert_eq!((u.size, u.used), (Some(1 << 30), 40 << 20));
    }

    const NOENT: &str = "rbd: error opening image: (2) No such file or directory";
    const PLAIN: &str = r#"{"size":268435456}"#;
    const CLONE: &str = r#"{"size":268435456,"parent":{"pool":"lxc","image":"c1_snap0","snapshot":"c1:restoring"}}"#;

    fn c1() -> (Rootfs, Rootfs) {
        (
            Rootfs::parse("rbd:/dev/rbd/lxc/c1").unwrap(),
            Rootfs::parse("rbd:/dev/rbd/lxc/c1:restoring").unwrap(),
        )
    }

    /// A runner where the container's image exists, the new one is a
    /// clone of snapshot snap0's image, and `lxc/c1:replaced` is free.
    fn replaceable() -> Fake {
        Fake::new()
            .answer("rbd info lxc/c1 --format", PLAIN)
            .answer("rbd info lxc/c1:restoring --format", CLONE)
            .fail("rbd info lxc/c1:replaced --format", NOENT)
    }

    /// The calls of a replace before its renames.
    const CHECKS: [&str; 6] = [
        "rbd info lxc/c1 --format json",
        "rbd info lxc/c1:restoring --format json",
        "rbd info lxc/c1:replaced --format json",
        "rbd flatten lxc/c1:restoring",
        "rbd snap unprotect lxc/c1_snap0@c1:restoring",
        "rbd snap rm lxc/c1_snap0@c1:restoring",
    ];

    #[test]
    fn replace_flattens_the_clone_then_renames() {
        let r = Rbd(replaceable());
        let (old, new) = c1();
        let aside = r.replace(&old, &new).unwrap();
        assert_eq!(aside.spec(), "rbd:/dev/rbd/lxc/c1:replaced");
        let mut want = CHECKS.to_vec();
        want.extend([
            "rbd rename lxc/c1 lxc/c1:replaced",
            "rbd rename lxc/c1:restoring lxc/c1",
        ]);
        assert_eq!(r.0.calls(), want);
        r.undo_replace(&old, &new, &aside).unwrap();
        assert_eq!(
            r.0.calls()[8..],
            [
                "rbd rename lxc/c1 lxc/c1:restoring",
                "rbd rename lxc/c1:replaced lxc/c1"
            ]
        );
    }

    #[test]
    fn a_failed_rename_puts_the_old_image_back() {
        let (old, new) = c1();
        let r = Rbd(replaceable().fail("rbd rename lxc/c1:restoring", "rbd: rename error"));
        let err = r.replace(&old, &new).unwrap_err().to_string();
        assert!(err.ends_with("rbd: rename error"), "{err}");
        assert_eq!(
            r.0.calls().last().unwrap(),
            "rbd rename lxc/c1:replaced lxc/c1"
        );
        // The undo failing too says where the data is.
        let r = Rbd(replaceable()
            .fail("rbd rename lxc/c1:restoring", "rbd: rename error")
            .fail("rbd rename lxc/c1:replaced", "timed out"));
        let err = r.replace(&old, &new).unwrap_err().to_string();
        assert!(
            err.ends_with("its data is in lxc/c1:replaced; rename it back (rbd rename lxc/c1:replaced lxc/c1)"),
            "{err}"
        );
        // A failed flatten renames nothing.
        let r = Rbd(replaceable().fail("rbd flatten", "no space"));
        assert!(r.replace(&old, &new).is_err());
        assert_eq!(r.0.calls(), CHECKS[..4]);
    }

    #[test]
    fn replace_refuses_before_doing_anything() {
        let (old, new) = c1();
        let r = Rbd(Fake::new()
            .fail("rbd info lxc/c1 --format", NOENT)
            .answer("rbd info lxc/c1:replaced --format", PLAIN));
        let err = r.replace(&old, &new).unwrap_err().to_string();
        assert_eq!(
            err,
            "RBD image lxc/c1 does not exist, but lxc/c1:replaced does: the replace of lxc/c1 by a restore was cut short, and lxc/c1:replaced holds its data; put it back (rbd rename lxc/c1:replaced lxc/c1)"
        );
        let r = Rbd(Fake::new()
            .answer("rbd info lxc/c1 --format", PLAIN)
            .answer("rbd info lxc/c1:restoring --format", CLONE)
            .answer("rbd info lxc/c1:replaced --format", PLAIN));
        let err = r.replace(&old, &new).unwrap_err().to_string();
        assert!(
            err.starts_with("RBD image lxc/c1:replaced already exists"),
            "{err}"
        );
        assert_eq!(r.0.calls(), CHECKS[..3]);
        let other = Rootfs::parse("rbd:/dev/rbd/fast/c1:restoring").unwrap();
        let r = Rbd(Fake::new());
        let err = r.replace(&old, &other).unwrap_err().to_string();
        assert!(err.contains("pool lxc with one of fast"), "{err}");
        assert!(r.0.calls().is_empty());
    }

    #[test]
    fn release_retires_an_image_clones_need_else_removes_it() {
        let aside = Rootfs::parse("rbd:lxc/c1:replaced").unwrap();
        let r = Rbd(Fake::new()
            .answer("rbd info lxc/c1:replaced --format", PLAIN)
            .answer("rbd snap ls", r#"[{"id":4,"name":"c1_snap1","size":1}]"#)
            .answer("rbd children", "lxc/c1_snap1\n")
            .answer("rbd info lxc/c1:retired0 --format", PLAIN)
            .fail("rbd info lxc/c1:retired1 --format", NOENT));
        r.release(&aside).unwrap();
        assert_eq!(
            r.0.calls()[1..],
            [
                "rbd snap ls lxc/c1:replaced --format json",
                "rbd children lxc/c1:replaced@c1_snap1",
                "rbd info lxc/c1:retired0 --format json",
                "rbd info lxc/c1:retired1 --format json",
                "rbd rename lxc/c1:replaced lxc/c1:retired1"
            ]
        );
        // No clone needs it: removed.
        let r = Rbd(Fake::new()
            .answer("rbd info", PLAIN)
            .answer("rbd snap ls", "[]")
            .answer("rbd info", PLAIN)
            .fail("rbd unmap", "rbd: lxc/c1:replaced: not mapped"));
        r.release(&aside).unwrap();
        assert_eq!(r.0.calls().last().unwrap(), "rbd rm lxc/c1:replaced");
    }

    #[test]
    fn the_last_clone_removed_takes_the_retired_image_with_it() {
        let info =
            r#"{"size":1,"parent":{"pool":"lxc","image":"c1:retired0","snapshot":"c1_snap1"}}"#;
        let r = Rbd(Fake::new()
            .answer("rbd info lxc/c1_snap1 --format", info)
            .fail("rbd unmap", "rbd: lxc/c1_snap1: not mapped")
            .answer("rbd info lxc/c1:retired0 --format", PLAIN)
            .answer("rbd snap ls", "[]"));
        r.destroy(&Rootfs::parse("rbd:lxc/c1_snap1").unwrap())
            .unwrap();
        assert_eq!(
            r.0.calls()[2..],
            [
                "rbd rm lxc/c1_snap1",
                "rbd snap unprotect lxc/c1:retired0@c1_snap1",
                "rbd snap rm lxc/c1:retired0@c1_snap1",
                "rbd info lxc/c1:retired0 --format json",
                "rbd snap ls lxc/c1:retired0 --format json",
                "rbd rm lxc/c1:retired0"
            ]
        );
        // Other snapshots left on it: it stays.
        let r = Rbd(Fake::new()
            .answer("rbd info lxc/c1_snap1 --format", info)
            .fail("rbd unmap", "rbd: lxc/c1_snap1: not mapped")
            .answer("rbd info lxc/c1:retired0 --format", PLAIN)
            .answer("rbd snap ls", r#"[{"id":3,"name":"c1_snap2","size":1}]"#));
        r.destroy(&Rootfs::parse("rbd:lxc/c1_snap1").unwrap())
            .unwrap();
        assert_eq!(
            r.0.calls().last().unwrap(),
            "rbd snap ls lxc/c1:retired0 --format json"
        );
    }

    #[test]
    fn only_the_backends_own_names_are_retired_images() {
        assert!(ASIDE.is_retired("lxc/c1:retired0"));
        assert!(!ASIDE.is_retired("lxc/c1:retired"));
        assert!(!ASIDE.is_retired("lxc/c1_snap0"));
        assert!(!ASIDE.is_retired("lxc/c1:replaced"));
    }
}
