//! What a killed copy, import, snapshot or restore left behind: its
//! staging directory (`.<name>.partial`, see [`enclos_snapshot::stage`]),
//! with whatever it had mounted there. Nobody holds the lock of a dead
//! attempt's directory, so the commands that list containers or
//! snapshots remove such directories as they go; a live attempt's is left
//! alone. A failure to clean is a warning, never the command's failure.

use std::path::Path;

use crate::container::Container;

/// Removes the dead staging directories of `lxcpath` (half copies and
/// imports).
pub(crate) fn clean_lxcpath(lxcpath: &Path) {
    clean(lxcpath);
}

/// Removes the dead staging directories of container `c`: half
/// snapshots in its snapshots directory, half restores in its directory.
pub(crate) fn clean_container(c: &Container) {
    clean(c.dir());
    clean(&enclos_snapshot::snaps_dir(c.dir()));
}

fn clean(dir: &Path) {
    match enclos_snapshot::stage::clean_dead(dir) {
        Ok(removed) => {
            for path in removed {
                tracing::info!(path = %path.display(), "removed: a killed attempt's leftovers");
            }
        }
        Err(e) => tracing::warn!(
            "cannot remove a killed attempt's leftovers in {}: {}",
            dir.display(),
            crate::error::chain(&e)
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    #[test]
    fn dead_staging_directories_go_and_live_ones_stay() {
        let tmp = tempfile::tempdir().unwrap();
        let lxc = tmp.path();
        fs::create_dir_all(lxc.join("c1/rootfs")).unwrap();
        fs::write(lxc.join("c1/config"), "lxc.uts.name = c1\n").unwrap();
        let dead = [
            lxc.join(".c2.partial/rootfs/etc"),
            lxc.join("c1/snaps/.snap0.partial/rootfs"),
            lxc.join("c1/.restore.partial/rootfs"),
        ];
        for d in &dead {
            fs::create_dir_all(d).unwrap();
        }
        let live = enclos_snapshot::stage::Staged::begin(&lxc.join("c3"), "copy", 0o755).unwrap();
        clean_lxcpath(lxc);
        clean_container(&Container::new(lxc, "c1").unwrap());
        for d in &dead {
            assert!(!d.parent().unwrap().exists(), "{} removed", d.display());
        }
        assert!(live.dir().is_dir(), "a live attempt is left alone");
        assert!(lxc.join("c1/rootfs").is_dir());
    }
}
