//! The monitor's own keys: `lxc.monitor.unshare`.

use enclos_config::Config;

use crate::error::{chain, Error, Result};

/// With `lxc.monitor.unshare = 1`, the monitor moves to a mount namespace
/// of its own (mounts from the host still reach it; its own do not reach
/// the host) before it sets the container up.
pub(crate) fn apply(cfg: &Config, name: &str) -> Result<()> {
    if !cfg.monitor_unshare() {
        return Ok(());
    }
    enclos_namespaces::unshare_mount_namespace().map_err(|e| Error::StartFailed {
        name: name.to_string(),
        reason: format!(
            "cannot give the monitor a mount namespace of its own (lxc.monitor.unshare): {}",
            chain(&e)
        ),
    })
}
