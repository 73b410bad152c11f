//! The layers of an overlay container and who uses them.
//!
//! A snapshot of a stopped overlay container copies nothing: the
//! container's upper layer (`<container>/deltaN`) is frozen where it is
//! and becomes the topmost lower layer of both the container (under a new
//! empty upper `delta<N+1>`) and the snapshot (under an empty upper of its
//! own, `snaps/snapM/delta0`, so that nothing written through the
//! snapshot reaches the layer). See
//! [`enclos_storage::overlay::freeze_upper`].
//!
//! The layers stay in the container's directory, and a layer is used by
//! whoever names it in `lxc.rootfs.path`: the container, its snapshots,
//! and the containers stacked on it (clones made with `copy -s`,
//! containers restored with `snapshot -r -N`, recorded in its
//! `lxc_snapshots`). Destroying a snapshot never removes a layer someone
//! else still uses, and is never refused for it: as with LXC, `snapshot
//! -d` always takes the snapshot out; its data goes with the last user
//! ([`remove_unused`]).

use std::collections::HashSet;
use std::fs;
use std::path::{Path, PathBuf};

use enclos_storage::{deps, overlay, Rootfs};

use crate::error::Result;
use crate::layout;
use crate::rewrite::rootfs_of;

/// The layers named by the config in `dir`; `None` when it has no config
/// to read (a container being made).
fn named_by(dir: &Path) -> Option<Vec<PathBuf>> {
    let text = fs::read_to_string(dir.join("config")).ok()?;
    let Some(spec) = rootfs_of(&text) else {
        return Some(Vec::new());
    };
    let r = Rootfs::parse(&spec).ok()?;
    let mut all = r.lowers;
    all.push(r.path);
    Some(all)
}

/// The layers (`deltaN`) of the container in `container_dir` that nobody
/// uses: neither `current` (its rootfs), nor its snapshots, nor the
/// containers stacked on it. Empty when one of those has no config yet
/// (one is being made: nothing is taken for unused then).
pub fn unused(container_dir: &Path, current: &Rootfs) -> Result<Vec<PathBuf>> {
    let mut used: HashSet<PathBuf> = current.lowers.iter().cloned().collect();
    used.insert(current.path.clone());
    let mut users: Vec<PathBuf> = layout::list(container_dir)?
        .into_iter()
        .map(|s| s.dir)
        .collect();
    users.extend(deps::dependents(container_dir)?.iter().map(|d| d.dir()));
    for dir in users {
        match named_by(&dir) {
            Some(layers) => used.extend(layers),
            None => return Ok(Vec::new()),
        }
    }
    Ok(overlay::layers_in(container_dir)?
        .into_iter()
        .filter(|l| !used.contains(l) && l.is_dir())
        .collect())
}

/// Removes the layers [`unused`] finds; returns them.
pub fn remove_unused(container_dir: &Path, current: &Rootfs) -> Result<Vec<PathBuf>> {
    let gone = unused(container_dir, current)?;
    for l in &gone {
        enclos_storage::remove_tree(l)?;
    }
    Ok(gone)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_layer_goes_with_its_last_user() {
        let tmp = tempfile::tempdir().unwrap();
        let c = tmp.path().join("c1");
        let layer = |n: u32| c.join(format!("delta{n}"));
        for n in 0..4 {
            fs::create_dir_all(layer(n)).unwrap();
        }
        let base = tmp.path().join("base/rootfs");
        fs::create_dir_all(&base).unwrap();
        // The container: delta3 over delta1, delta0; snap0 uses delta2.
        let current = Rootfs::overlay(vec![layer(1), layer(0), base.clone()], layer(3));
        let snap0 = c.join("snaps/snap0");
        fs::create_dir_all(&snap0).unwrap();
        let spec = Rootfs::overlay(vec![layer(2), base.clone()], snap0.join("delta0")).spec();
        fs::write(snap0.join("config"), format!("lxc.rootfs.path = {spec}\n")).unwrap();
        assert!(unused(&c, &current).unwrap().is_empty());
        fs::remove_dir_all(&snap0).unwrap();
        // A clone being made (no config yet) holds everything.
        let d = tmp.path().join("d");
        fs::create_dir(&d).unwrap();
        deps::record(&c, &d).unwrap();
        assert!(unused(&c, &current).unwrap().is_empty());
        let spec = Rootfs::overlay(vec![layer(0), base], d.join("delta0")).spec();
        fs::write(d.join("config"), format!("lxc.rootfs.path = {spec}\n")).unwrap();
        assert_eq!(remove_unused(&c, &current).unwrap(), [layer(2)]);
        assert!(!layer(2).exists() && layer(1).is_dir());
    }
}
