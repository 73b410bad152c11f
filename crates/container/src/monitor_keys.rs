//! The monitor's own keys: `lxc.monitor.unshare`.

use enclos_config::Config;
use nix::mount::{mount, MsFlags};
use nix::sched::{unshare, CloneFlags};

use crate::error::{Error, Result};

/// With `lxc.monitor.unshare = 1`, the monitor moves to a mount namespace
/// of its own (mounts from the host still reach it; its own do not reach
/// the host) before it sets the container up.
pub(crate) fn apply(cfg: &Config, name: &str) -> Result<()> {
    if !cfg.monitor_unshare() {
        return Ok(());
    }
    let sys = |what: &'static str| {
        move |source| Error::Sys {
            what,
            name: name.to_string(),
            source,
        }
    };
    unshare(CloneFlags::CLONE_NEWNS).map_err(sys(
        "unshare the monitor's mount namespace (lxc.monitor.unshare)",
    ))?;
    mount(
        None::<&str>,
        "/",
        None::<&str>,
        MsFlags::MS_REC | MsFlags::MS_SLAVE,
        None::<&str>,
    )
    .map_err(sys("make the monitor's mounts slaves of the host's"))
}
