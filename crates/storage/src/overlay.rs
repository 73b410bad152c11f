//! The `overlay` backend: the rootfs is an upper layer, `DIR/delta0`,
//! over one or more lower layers, mounted with overlayfs (work directory
//! `DIR/olwork`, as LXC names it).
//!
//! A snapshot of a `dir` rootfs is an upper layer over it. A snapshot of
//! an overlay rootfs stacks: its lower layers are the parent's upper
//! followed by the parent's lowers, so nothing is copied however deep the
//! chain (LXC copies the parent's whole upper layer instead). The chain is
//! written in `lxc.rootfs.path` as the kernel's `lowerdir=` takes it,
//! topmost first, the upper last: `overlay:/c1/delta0:/base/rootfs:/c2/delta0`,
//! which LXC also mounts. The clone is recorded in its parent's
//! `lxc_snapshots` ([`deps`]) so the parent cannot be
//! destroyed under it.
//!
//! A container's upper layer can also be frozen ([`freeze_upper`]): it
//! stays where it is, read-only from then on, and becomes the topmost
//! lower layer under a new empty upper `deltaN` beside it (the next free
//! N). Nothing is copied, so it costs the same whatever the layer holds;
//! the snapshots of `enclos-snapshot` are made so. The layers of a
//! container are the `deltaN` of its directory; the kernel mounts at most
//! 500 lower layers in a page of mount options ([`mountable`]).

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use nix::mount::MsFlags;

use crate::backend::{Backend, Driver};
use crate::dir::{existing, make_dir, Dir};
use crate::error::{io_err, Error, Result};
use crate::options::{CreateOptions, Dest, Usage};
use crate::spec::Rootfs;
use crate::{copy, deps, mount, remove};

/// The `overlay` driver.
#[derive(Debug)]
pub(crate) struct Overlay;

/// The upper layer's name in the container's directory.
const UPPER: &str = "delta0";
/// The work directory's name, beside the upper layer.
const WORK: &str = "olwork";

/// The work directory of an upper layer: beside it, on its filesystem.
fn workdir(upper: &Path) -> PathBuf {
    upper.with_file_name(WORK)
}

/// Makes the upper layer `upper` with the owner, mode and times of the
/// root of the layer below (the merged root takes the upper's).
fn make_upper(upper: &Path, like: &Path) -> Result<()> {
    make_dir(upper)?;
    let meta = fs::metadata(like).map_err(io_err("read", like))?;
    std::os::unix::fs::lchown(upper, Some(meta.uid()), Some(meta.gid()))
        .map_err(io_err("set the owner of", upper))?;
    fs::set_permissions(
        upper,
        std::os::unix::fs::PermissionsExt::from_mode(meta.mode() & 0o7777),
    )
    .map_err(io_err("set the mode of", upper))
}

/// The prefix of a layer's name: `delta0` (LXC's upper layer), `delta1`...
const LAYER: &str = "delta";

/// The most lower layers the kernel stacks (overlayfs's OVL_MAX_STACK).
const MAX_LOWERS: usize = 500;

/// The most bytes of mount options the kernel takes (a page, its NUL
/// included).
const MAX_MOUNT_DATA: usize = 4095;

/// The options of the overlay mount of `upper` over `lowers`.
fn mount_data(lowers: &[PathBuf], upper: &Path) -> String {
    let lowers: Vec<String> = lowers.iter().map(|l| l.display().to_string()).collect();
    format!(
        "lowerdir={},upperdir={},workdir={}",
        lowers.join(":"),
        upper.display(),
        workdir(upper).display()
    )
}

/// Whether the kernel mounts `upper` over `lowers`: at most 500 lower
/// layers, whose paths fit in a page of mount options.
pub fn mountable(lowers: &[PathBuf], upper: &Path) -> bool {
    lowers.len() <= MAX_LOWERS && mount_data(lowers, upper).len() <= MAX_MOUNT_DATA
}

/// N of a layer `DIR/deltaN`.
pub fn layer_index(layer: &Path) -> Option<u32> {
    let digits = layer.file_name()?.to_str()?.strip_prefix(LAYER)?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// The layers (`deltaN`) in the directory `dir`, by N.
pub fn layers_in(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut found: Vec<(u32, PathBuf)> = fs::read_dir(dir)
        .map_err(io_err("list", dir))?
        .flatten()
        .filter_map(|e| Some((layer_index(&e.path())?, e.path())))
        .collect();
    found.sort();
    Ok(found.into_iter().map(|(_, p)| p).collect())
}

/// Makes a new empty layer in `dir`, the next free `deltaN`, with the
/// owner and mode of the root of `like`.
pub fn new_layer(dir: &Path, like: &Path) -> Result<PathBuf> {
    let next = layers_in(dir)?
        .last()
        .and_then(|l| layer_index(l))
        .map_or(0, |n| n + 1);
    let layer = dir.join(format!("{LAYER}{next}"));
    make_upper(&layer, like)?;
    Ok(layer)
}

/// Freezes the upper layer of `rootfs`: a new empty upper is made beside
/// it ([`new_layer`]) and the rootfs the container is to have from now on
/// returned: the new upper over the old one, over the old lowers. Nothing
/// else changes: the caller writes that rootfs into the container's
/// config (the step that commits), or removes the new layer. `None` when
/// the upper layer is no `deltaN`, or when one more lower layer would not
/// mount ([`mountable`]): make a copy instead.
pub fn freeze_upper(rootfs: &Rootfs) -> Result<Option<Rootfs>> {
    let (Backend::Overlay, Some(dir), Some(_)) = (
        rootfs.backend,
        rootfs.path.parent(),
        layer_index(&rootfs.path),
    ) else {
        return Ok(None);
    };
    existing(&rootfs.path)?;
    for l in &rootfs.lowers {
        existing(l)?;
    }
    let mut lowers = vec![rootfs.path.clone()];
    lowers.extend(rootfs.lowers.iter().cloned());
    // The new layer's name is as long as the longest one there could be.
    let longest = dir.join(format!("{LAYER}{}", u32::MAX));
    if !mountable(&lowers, &longest) {
        return Ok(None);
    }
    let upper = new_layer(dir, &rootfs.path)?;
    Ok(Some(Rootfs::overlay(lowers, upper)))
}

/// An empty upper layer `upper` over `lowers` (topmost first, checked to
/// exist), with the owner and mode of the topmost's root: a view of them
/// that writes nowhere else. Nothing is recorded.
pub fn stack(lowers: Vec<PathBuf>, upper: &Path) -> Result<Rootfs> {
    for l in &lowers {
        existing(l)?;
    }
    let like = lowers.first().ok_or_else(|| Error::InvalidSpec {
        spec: upper.display().to_string(),
        reason: "an overlay needs a lower layer",
    })?;
    make_upper(upper, like)?;
    Ok(Rootfs::overlay(lowers, upper))
}

/// The lower layers of a clone stacked on `src`: its own layer on top of
/// its lowers.
fn stacked_lowers(src: &Rootfs) -> Result<Vec<PathBuf>> {
    match src.backend {
        Backend::Dir | Backend::Btrfs => Ok(vec![src.path.clone()]),
        Backend::Overlay => {
            let mut l = vec![src.path.clone()];
            l.extend(src.lowers.iter().cloned());
            Ok(l)
        }
        other => Err(Error::Unsupported {
            backend: "overlay",
            what: format!("stack on a {other} rootfs"),
            hint: "; make a full copy instead (without -s)",
        }),
    }
}

/// Builds the clone `new` for `dest` and records it in the container
/// that owns `parent_layer`; on failure removes what it made.
fn finish(
    new: Rootfs,
    dest: &Dest,
    parent_layer: &Path,
    fill: impl FnOnce(&Path) -> Result<()>,
) -> Result<Rootfs> {
    let done = fill(&new.path).and_then(|()| match parent_layer.parent() {
        Some(parent_dir) => deps::record(parent_dir, &dest.dir),
        None => Ok(()),
    });
    match done {
        Ok(()) => Ok(new),
        Err(e) => {
            let _ = remove::remove_tree(&new.path);
            let _ = deps::forget_parent(&dest.dir);
            Err(e)
        }
    }
}

impl Driver for Overlay {
    fn backend(&self) -> Backend {
        Backend::Overlay
    }

    /// An empty lower layer `DIR/rootfs` and an upper `DIR/delta0`, as
    /// lxc-create -B overlay makes them.
    fn create(&self, dest: &Dest, _opts: &CreateOptions) -> Result<Rootfs> {
        let lower = dest.dir.join("rootfs");
        let upper = dest.dir.join(UPPER);
        make_dir(&lower)?;
        if let Err(e) = make_dir(&upper) {
            let _ = fs::remove_dir(&lower);
            return Err(e);
        }
        Ok(Rootfs::overlay(vec![lower], upper))
    }

    fn snapshot(&self, src: &Rootfs, dest: &Dest, _opts: &CreateOptions) -> Result<Rootfs> {
        let lowers = stacked_lowers(src)?;
        for l in &lowers {
            existing(l)?;
        }
        let new = Rootfs::overlay(lowers, dest.dir.join(UPPER));
        make_upper(&new.path, &src.path)?;
        finish(new, dest, &src.path, |_| Ok(()))
    }

    /// A copy of the upper layer over the same lower layers.
    fn copy(&self, src: &Rootfs, dest: &Dest, _opts: &CreateOptions) -> Result<Rootfs> {
        existing(&src.path)?;
        let new = Rootfs::overlay(src.lowers.clone(), dest.dir.join(UPPER));
        make_dir(&new.path)?;
        let parent_layer = src.lowers.first().cloned().unwrap_or_default();
        finish(new, dest, &parent_layer, |upper| {
            copy::copy_tree(&src.path, upper)
        })
    }

    /// Removes the upper layer, its work directory, and a lower layer
    /// that belongs to the same container (made by create).
    fn destroy(&self, rootfs: &Rootfs) -> Result<()> {
        remove::remove_tree(&rootfs.path)?;
        remove::remove_tree(&workdir(&rootfs.path))?;
        let own = rootfs.path.parent();
        for l in &rootfs.lowers {
            if l.parent() == own {
                remove::remove_tree(l)?;
            }
        }
        Ok(())
    }

    fn mount(&self, rootfs: &Rootfs, target: &Path) -> Result<PathBuf> {
        mount_overlay(rootfs, target, false)
    }

    fn unmount(&self, _rootfs: &Rootfs, target: &Path) -> Result<()> {
        mount::unmount(target)
    }

    /// The upper layer's use: what the clone added or changed.
    fn usage(&self, rootfs: &Rootfs) -> Result<Usage> {
        Dir.usage(rootfs)
    }
}

/// Mounts the overlay `rootfs` on `target`; with `volatile` (Linux 5.10)
/// the kernel never syncs the upper layer, neither on the way nor at the
/// unmount, whose sync otherwise takes the longest part of a stop: for an
/// upper layer thrown away with the container. A kernel without the
/// option gets the plain mount.
pub(crate) fn mount_overlay(rootfs: &Rootfs, target: &Path, volatile: bool) -> Result<PathBuf> {
    existing(&rootfs.path)?;
    for l in &rootfs.lowers {
        existing(l)?;
    }
    let work = workdir(&rootfs.path);
    match fs::create_dir(&work) {
        Err(e) if e.kind() != std::io::ErrorKind::AlreadyExists => {
            return Err(io_err("create the overlay work directory", &work)(e));
        }
        _ => {}
    }
    let data = mount_data(&rootfs.lowers, &rootfs.path);
    if data.matches(',').count() != 2 {
        return Err(Error::InvalidSpec {
            spec: rootfs.spec(),
            reason: "overlay layer paths cannot contain ','",
        });
    }
    if volatile
        && mount::mount_fs(
            "overlay",
            target,
            "overlay",
            MsFlags::empty(),
            &format!("{data},volatile"),
        )
        .is_ok()
    {
        return Ok(target.to_path_buf());
    }
    mount::mount_fs("overlay", target, "overlay", MsFlags::empty(), &data)?;
    Ok(target.to_path_buf())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::CloneKind;

    /// `base` (a dir rootfs with /etc/hostname), `c1` a snapshot of it,
    /// `c2` a snapshot of `c1`, in a temporary lxcpath.
    fn two_levels() -> (tempfile::TempDir, Rootfs, Rootfs, Rootfs) {
        let tmp = tempfile::tempdir().unwrap();
        let dir = |n: &str| {
            let d = tmp.path().join(n);
            fs::create_dir(&d).unwrap();
            Dest::new(&d)
        };
        let base = Rootfs::create(Backend::Dir, &dir("base").dir).unwrap();
        fs::create_dir(base.path.join("etc")).unwrap();
        fs::write(base.path.join("etc/hostname"), "base\n").unwrap();
        let opts = CreateOptions::default();
        let c1 = base
            .clone_to(&dir("c1"), CloneKind::Snapshot, None, &opts)
            .unwrap();
        let c2 = c1
            .clone_to(&dir("c2"), CloneKind::Snapshot, None, &opts)
            .unwrap();
        (tmp, base, c1, c2)
    }

    #[test]
    fn a_clone_of_a_clone_stacks_the_layers() {
        let (tmp, base, c1, c2) = two_levels();
        let p = |s: &str| tmp.path().join(s);
        assert_eq!(
            c1.spec(),
            format!(
                "overlay:{}:{}",
                p("base/rootfs").display(),
                p("c1/delta0").display()
            )
        );
        assert_eq!(
            c2.spec(),
            format!(
                "overlay:{}:{}:{}",
                p("c1/delta0").display(),
                p("base/rootfs").display(),
                p("c2/delta0").display()
            )
        );
        // Nothing was copied: the new upper layers are empty.
        assert_eq!(fs::read_dir(&c2.path).unwrap().count(), 0);
        // Each parent knows its clone, in LXC's format.
        let lxcpath = tmp.path().display();
        assert_eq!(
            fs::read_to_string(p("base/lxc_snapshots")).unwrap(),
            format!("{lxcpath}\nc1\n")
        );
        assert_eq!(
            fs::read_to_string(p("c1/lxc_snapshots")).unwrap(),
            format!("{lxcpath}\nc2\n")
        );
        assert_eq!(
            fs::read_to_string(p("c2/lxc_rdepends")).unwrap(),
            format!("{lxcpath}\nc1\n")
        );
        drop(base);
    }

    #[test]
    fn freezing_an_upper_layer_stacks_a_new_one_on_it() {
        let (tmp, base, c1, _c2) = two_levels();
        fs::write(c1.path.join("mine"), "c1\n").unwrap();
        let next = freeze_upper(&c1).unwrap().unwrap();
        let dir = tmp.path().join("c1");
        assert_eq!(next.path, dir.join("delta1"));
        assert_eq!(next.lowers, [c1.path.clone(), base.path.clone()]);
        assert_eq!(fs::read_dir(&next.path).unwrap().count(), 0);
        assert_eq!(fs::read_to_string(c1.path.join("mine")).unwrap(), "c1\n");
        assert_eq!(
            layers_in(&dir).unwrap(),
            [dir.join("delta0"), dir.join("delta1")]
        );
        let again = freeze_upper(&next).unwrap().unwrap();
        assert_eq!(again.path, dir.join("delta2"));
        assert_eq!(again.lowers.len(), 3);
        // An upper layer that is no deltaN is not frozen.
        let other = Rootfs::overlay(vec![base.path.clone()], tmp.path().join("c1/upper"));
        assert!(freeze_upper(&other).unwrap().is_none());
        // As deep as the kernel mounts, and no deeper.
        let deep: Vec<PathBuf> = (0..MAX_LOWERS)
            .map(|i| PathBuf::from(format!("/{i}")))
            .collect();
        assert!(mountable(&deep, Path::new("/u")));
        let deeper: Vec<PathBuf> = (0..=MAX_LOWERS)
            .map(|i| PathBuf::from(format!("/{i}")))
            .collect();
        assert!(!mountable(&deeper, Path::new("/u")));
        let long = vec![PathBuf::from(format!("/{}", "x".repeat(4096)))];
        assert!(!mountable(&long, Path::new("/u")));
    }

    #[test]
    fn a_parent_with_clones_is_not_destroyed() {
        let (tmp, base, c1, c2) = two_levels();
        let err = base.destroy().unwrap_err();
        assert!(matches!(err, Error::HasClones { .. }), "{err:?}");
        assert!(
            err.to_string()
                .contains(&tmp.path().join("c1").display().to_string()),
            "{err}"
        );
        assert!(base.path.join("etc/hostname").exists());
        let err = c1.destroy().unwrap_err().to_string();
        assert!(err.contains("/c2"), "{err}");
        c2.destroy().unwrap();
        assert!(!c2.path.exists() && !tmp.path().join("c2/lxc_rdepends").exists());
        assert!(!tmp.path().join("c1/lxc_snapshots").exists());
        c1.destroy().unwrap();
        base.destroy().unwrap();
        assert!(!base.path.exists());
    }

    #[test]
    fn a_snapshot_into_a_backend_that_cannot_is_refused_first() {
        let tmp = tempfile::tempdir().unwrap();
        let base = Rootfs::create(Backend::Dir, tmp.path()).unwrap();
        let err = base
            .clone_backend(CloneKind::Snapshot, Some(Backend::Loop))
            .unwrap_err();
        assert_eq!(err.to_string(), "The loop backend cannot snapshot a dir rootfs; make a full copy instead (without -s), or snapshot into overlay (-B overlay)");
        let err = base
            .clone_backend(CloneKind::Snapshot, Some(Backend::Btrfs))
            .unwrap_err();
        assert!(
            err.to_string()
                .starts_with("The btrfs backend cannot snapshot a dir rootfs"),
            "{err}"
        );
        let sub = Rootfs::parse("btrfs:/var/lib/enclos/b1/rootfs").unwrap();
        assert_eq!(
            sub.clone_backend(CloneKind::Snapshot, Some(Backend::Overlay))
                .unwrap(),
            Backend::Overlay
        );
        let lv = Rootfs::parse("lvm:/dev/lxc/l1").unwrap();
        assert!(lv
            .clone_backend(CloneKind::Snapshot, Some(Backend::Overlay))
            .is_err());
        assert_eq!(
            base.clone_backend(CloneKind::Copy, Some(Backend::Loop))
                .unwrap(),
            Backend::Loop
        );
    }

    #[test]
    fn a_two_level_clone_mounts_with_writes_in_its_own_layer() {
        if !enclos_testkit::require_root("a_two_level_clone_mounts_with_writes_in_its_own_layer") {
            return;
        }
        let (tmp, base, c1, c2) = two_levels();
        fs::write(c1.path.join("from-c1"), "c1\n").unwrap();
        let target = tmp.path().join("mnt");
        fs::create_dir(&target).unwrap();
        let (rootfs, inside) = (c2.clone(), target.clone());
        // A thread of its own unshares the mount namespace, so the mount
        // never reaches the host's; it ends with the thread.
        let seen = enclos_testkit::in_own_mount_namespace(move || {
            let m = rootfs.mount(&inside).unwrap();
            let hostname = fs::read_to_string(m.root().join("etc/hostname")).unwrap();
            let from_c1 = fs::read_to_string(m.root().join("from-c1")).unwrap();
            fs::write(m.root().join("etc/written"), "c2\n").unwrap();
            fs::write(m.root().join("etc/hostname"), "c2\n").unwrap();
            m.unmount().unwrap();
            (hostname, from_c1)
        });
        assert_eq!(seen, ("base\n".to_string(), "c1\n".to_string()));
        assert!(
            fs::read_dir(&target).unwrap().next().is_none(),
            "the mount leaked into the host"
        );
        // The writes landed in c2's layer only.
        assert_eq!(
            fs::read_to_string(c2.path.join("etc/written")).unwrap(),
            "c2\n"
        );
        assert_eq!(
            fs::read_to_string(c2.path.join("etc/hostname")).unwrap(),
            "c2\n"
        );
        assert_eq!(
            fs::read_to_string(base.path.join("etc/hostname")).unwrap(),
            "base\n"
        );
        assert!(!c1.path.join("etc").exists());
        assert!(!base.path.join("etc/written").exists());
        assert!(c2.usage().unwrap().used > 0);
        c2.destroy().unwrap();
        assert!(!tmp.path().join("c2/olwork").exists());
    }

    #[test]
    fn a_discardable_mount_is_volatile_and_writes_its_upper_layer() {
        if !enclos_testkit::require_root(
            "a_discardable_mount_is_volatile_and_writes_its_upper_layer",
        ) {
            return;
        }
        let (tmp, _base, c1, _c2) = two_levels();
        let target = tmp.path().join("mnt");
        fs::create_dir(&target).unwrap();
        let (rootfs, inside) = (c1.clone(), target.clone());
        let options = enclos_testkit::in_own_mount_namespace(move || {
            let m = rootfs.mount_discardable(&inside).unwrap();
            fs::write(m.root().join("written"), "eph\n").unwrap();
            // The mount's super options, as the kernel shows them.
            let info = fs::read_to_string("/proc/thread-self/mountinfo").unwrap();
            let line = info
                .lines()
                .find(|l| l.split(' ').nth(4) == inside.to_str())
                .map(str::to_string);
            m.unmount().unwrap();
            line
        })
        .expect("the overlay in mountinfo");
        // Newer kernels show it as fsync=volatile.
        assert!(
            line_has_option(&options, "volatile") || line_has_option(&options, "fsync=volatile"),
            "not mounted volatile: {options}"
        );
        assert_eq!(
            fs::read_to_string(c1.path.join("written")).unwrap(),
            "eph\n"
        );
    }

    fn line_has_option(mountinfo_line: &str, option: &str) -> bool {
        mountinfo_line
            .rsplit(' ')
            .next()
            .is_some_and(|o| o.split(',').any(|x| x == option))
    }

    #[test]
    fn an_overlay_copied_into_dir_is_flattened() {
        if !enclos_testkit::require_root("an_overlay_copied_into_dir_is_flattened") {
            return;
        }
        let (tmp, _base, c1, c2) = two_levels();
        fs::write(c1.path.join("from-c1"), "c1\n").unwrap();
        let d = tmp.path().join("flat");
        fs::create_dir(&d).unwrap();
        let (src, dest) = (c2.clone(), Dest::new(&d));
        let flat = enclos_testkit::in_own_mount_namespace(move || {
            src.clone_to(
                &dest,
                CloneKind::Copy,
                Some(Backend::Dir),
                &CreateOptions::default(),
            )
            .unwrap()
        });
        assert_eq!(flat.backend, Backend::Dir);
        assert_eq!(
            fs::read_to_string(flat.path.join("etc/hostname")).unwrap(),
            "base\n"
        );
        assert_eq!(
            fs::read_to_string(flat.path.join("from-c1")).unwrap(),
            "c1\n"
        );
        // Only the rootfs is left in the new directory: no mount point,
        // and no record of a parent (a flat copy depends on nothing).
        let names: Vec<_> = fs::read_dir(&d)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["rootfs"]);
    }

    #[test]
    fn an_overlay_copy_copies_the_upper_layer_only() {
        let (tmp, base, c1, _c2) = two_levels();
        fs::write(c1.path.join("mine"), "c1\n").unwrap();
        let d = tmp.path().join("c3");
        fs::create_dir(&d).unwrap();
        let c3 = c1
            .clone_to(
                &Dest::new(&d),
                CloneKind::Copy,
                None,
                &CreateOptions::default(),
            )
            .unwrap();
        assert_eq!(c3.lowers, vec![base.path.clone()]);
        assert_eq!(fs::read_to_string(c3.path.join("mine")).unwrap(), "c1\n");
        assert!(base.dependents().unwrap().iter().any(|d| d.name == "c3"));
    }
}
