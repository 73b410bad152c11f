//! What holds a container back from being destroyed: its snapshots, and
//! the clones that stack on it. The clone records are LXC's files
//! (`lxc_snapshots` in the parent, `lxc_rdepends` in the clone), kept by
//! [`enclos_storage::deps`], which this module reads; LXC's own tools read
//! and write the same files.

use std::path::Path;

use serde::Serialize;

pub use enclos_storage::deps::{self as clones, Dependent};

use crate::error::{Error, Result};
use crate::layout;

/// The snapshots and clones of a container.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Holders {
    /// Its snapshots (`snapN`).
    pub snapshots: Vec<String>,
    /// The containers that stack on it, as `lxcpath/name`.
    pub clones: Vec<Dependent>,
    /// Clones counted but not named: LXC's older `lxc_snapshots` held a
    /// bare count, and LXC still refuses to destroy while it is not 0.
    pub unnamed_clones: u32,
}

impl Holders {
    /// Whether nothing holds the container.
    pub fn is_empty(&self) -> bool {
        self.snapshots.is_empty() && self.clones.is_empty() && self.unnamed_clones == 0
    }

    /// One line per holder: `snapshot snap0`, `clone /var/lib/enclos/c2`.
    pub fn describe(&self) -> Vec<String> {
        let snaps = self.snapshots.iter().map(|s| format!("snapshot {s}"));
        let clones = self
            .clones
            .iter()
            .map(|c| format!("clone {}", c.dir().display()));
        let unnamed = (self.unnamed_clones > 0)
            .then(|| format!("{} clones recorded by LXC", self.unnamed_clones));
        snaps.chain(clones).chain(unnamed).collect()
    }
}

/// The snapshots and live clones of the container in `container_dir`.
pub fn holders(container_dir: &Path) -> Result<Holders> {
    Ok(Holders {
        snapshots: layout::list(container_dir)?
            .into_iter()
            .map(|s| s.name)
            .collect(),
        // A snapshot that stacks on its container (overlay) is recorded
        // as a clone too, as LXC records it; it counts as a snapshot.
        clones: clones::dependents(container_dir)?
            .into_iter()
            .filter(|d| !d.dir().starts_with(layout::snaps_dir(container_dir)))
            .collect(),
        unnamed_clones: old_count(container_dir),
    })
}

/// The count of LXC's older `lxc_snapshots` format (a lone number).
fn old_count(container_dir: &Path) -> u32 {
    std::fs::read_to_string(container_dir.join(clones::SNAPSHOTS_FILE))
        .ok()
        .and_then(|t| t.trim().parse().ok())
        .unwrap_or(0)
}

/// Refuses (naming them) when snapshots or clones hold the container:
/// what `destroy` without `-s` checks. With `with_snapshots` (`-s`) only
/// clones hold it.
pub fn check_destroy(container_dir: &Path, with_snapshots: bool) -> Result<()> {
    let mut held = holders(container_dir)?;
    if with_snapshots {
        held.snapshots.clear();
    }
    if held.is_empty() {
        return Ok(());
    }
    Err(Error::Held {
        dir: container_dir.to_path_buf(),
        held: held.describe(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    #[test]
    fn snapshots_and_clones_hold_a_container() {
        let tmp = tempfile::tempdir().unwrap();
        let (base, c2) = (tmp.path().join("base"), tmp.path().join("c2"));
        fs::create_dir(&base).unwrap();
        fs::create_dir(&c2).unwrap();
        check_destroy(&base, false).unwrap();
        clones::record(&base, &c2).unwrap();
        // LXC's format: lxcpath and name on lines of their own.
        assert_eq!(
            fs::read_to_string(base.join("lxc_snapshots")).unwrap(),
            format!("{}\nc2\n", tmp.path().display())
        );
        fs::create_dir_all(base.join("snaps/snap0")).unwrap();
        fs::write(base.join("snaps/snap0/config"), "").unwrap();
        let err = check_destroy(&base, false).unwrap_err().to_string();
        assert_eq!(
            err,
            format!(
                "Container {} cannot be destroyed: it has snapshot snap0, clone {}; destroy them first, or use -s for the snapshots",
                base.display(),
                c2.display()
            )
        );
        assert!(
            check_destroy(&base, true).is_err(),
            "-s does not take clones"
        );
        clones::forget_parent(&c2).unwrap();
        check_destroy(&base, true).unwrap();
        assert!(!base.join("lxc_snapshots").exists());
        // LXC's older format: a count.
        fs::write(base.join("lxc_snapshots"), "2\n").unwrap();
        let err = check_destroy(&base, true).unwrap_err().to_string();
        assert!(err.contains("it has 2 clones recorded by LXC;"), "{err}");
    }
}
