//! The rootfs keys that shape init's root beyond the mounts:
//! `lxc.rootfs.options` (how the rootfs itself is mounted),
//! `lxc.rootfs.mount` (where it is mounted before the pivot) and
//! `lxc.autodev.tmpfs.size`.

use enclos_config::Config;
use enclos_namespaces::RootfsSpec;

use crate::error::{Error, Result};

/// The options of `lxc.rootfs.options` that enclos applies to the rootfs
/// of a directory.
const APPLIED: &[&str] = &["ro", "rw"];

/// Adds the rootfs keys of `cfg` to `spec`; an option enclos cannot apply
/// is an error that names it.
pub(crate) fn apply(cfg: &Config, name: &str, spec: &mut RootfsSpec) -> Result<()> {
    let options = cfg.rootfs().map(|r| r.options.clone()).unwrap_or_default();
    for o in &options {
        if !APPLIED.contains(&o.as_str()) {
            return Err(Error::StartFailed {
                name: name.to_string(),
                reason: format!(
                    "lxc.rootfs.options: option '{o}' is not applied by enclos yet (it applies {}); remove it",
                    APPLIED.join(", ")
                ),
            });
        }
    }
    // The last of ro and rw wins, as in a mount's options.
    spec.rootfs_readonly = options
        .iter()
        .rev()
        .find(|o| APPLIED.contains(&o.as_str()))
        .is_some_and(|o| o == "ro");
    spec.autodev_size = cfg.autodev_tmpfs_size();
    spec.mount_at = cfg.rootfs_mount().map(std::path::PathBuf::from);
    Ok(())
}
