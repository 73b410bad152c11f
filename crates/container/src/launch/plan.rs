//! The plan of a start: the configuration checked, the rootfs prepared,
//! the namespaces, hooks and cgroup placement worked out before the
//! monitor forks.

use std::path::PathBuf;
use std::sync::Arc;

use enclos_cgroupfs::Layout;
use enclos_config::Config;
use enclos_namespaces::Namespace;

use crate::container::Container;
use crate::error::{Error, Result};
use crate::init::Init;

/// Everything the monitor needs, prepared (and checked) before forking.
pub(crate) struct Plan {
    pub container: Container,
    pub config: Config,
    pub init: Init,
    pub layout: Arc<Layout>,
    /// The namespaces init is cloned with (`ns.clone`).
    pub namespaces: Vec<Namespace>,
    pub ns: crate::ns_plan::NsPlan,
    pub hooks: crate::hooks::Hooks,
    pub cgroups: crate::cgroup_keys::Placement,
    pub rootfs: PathBuf,
    /// An unprivileged container's maps and root (`lxc.idmap`).
    pub userns: Option<super::idmap::Userns>,
    pub foreground: bool,
}

impl Plan {
    pub(crate) fn new(c: &Container, config: Config, init: Init, foreground: bool) -> Result<Plan> {
        crate::limits::check(&config, c.name())?;
        for note in crate::security::start_notes(&config, c.name())? {
            // start's own words to the user, before the monitor detaches.
            eprintln!("{note}");
        }
        let rootfs = match config.rootfs() {
            Some(r) => crate::container::storage_rootfs(&r)?.prepare()?,
            None => {
                return Err(Error::StartFailed {
                    name: c.name().to_string(),
                    reason: format!("{} has no lxc.rootfs.path", c.config_path().display()),
                })
            }
        };
        let ns = crate::ns_plan::NsPlan::new(c, &config)?;
        let userns = super::idmap::Userns::plan(c.name(), config.idmaps(), &rootfs)?;
        let mount = config.rootfs_mount().map(PathBuf::from);
        let hooks = crate::hooks::Hooks::new(c.name(), &config, mount.as_ref().unwrap_or(&rootfs));
        let layout = c.layout()?;
        Ok(Plan {
            container: c.clone(),
            cgroups: crate::cgroup_keys::placement(&config, c, &layout)?,
            config,
            init,
            layout,
            namespaces: ns.clone.clone(),
            ns,
            hooks,
            rootfs,
            userns,
            foreground,
        })
    }
}
