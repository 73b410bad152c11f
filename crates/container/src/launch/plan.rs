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

/// Where a rootfs that needs a mount is mounted, in the container's run
/// directory, in the monitor's own mount namespace: the host never sees
/// it, and it goes with the last process of the container.
const MOUNT_POINT: &str = "rootfs";

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
    /// A rootfs whose backend needs a mount (overlay, loop): the monitor
    /// mounts it on `rootfs` ([`Plan::mount_rootfs`]).
    pub storage: Option<enclos_storage::Rootfs>,
    /// An unprivileged container's maps and root (`lxc.idmap`).
    pub userns: Option<super::idmap::Userns>,
    pub foreground: bool,
    /// A name for `/etc/hostname` of the mounted rootfs
    /// ([`crate::start::StartOptions::hostname`]).
    pub hostname: Option<String>,
    /// Capabilities, no_new_privs and the compiled seccomp filter.
    pub confine: crate::confine::Confinement,
    /// The AppArmor profile the container runs under.
    pub apparmor: crate::apparmor::Profile,
    /// The sealed trampoline (the small program, or the enclos binary)
    /// init execs the container's init through, when the start runs from
    /// the host's binary ([`crate::init_exec`]).
    pub init_exec: Option<std::os::fd::OwnedFd>,
}

impl Plan {
    pub(crate) fn new(c: &Container, config: Config, init: Init, foreground: bool) -> Result<Plan> {
        crate::limits::check(&config, c.name())?;
        for note in crate::security::start_notes(&config, c.name())? {
            // start's own words to the user, before the monitor detaches.
            eprintln!("{note}");
        }
        // A container restored by hand from a tar of config and rootfs.
        for note in crate::create::restore_template_files(c, &config)? {
            eprintln!("Warning: {note}");
        }
        let storage = match config.rootfs() {
            Some(r) => crate::container::storage_rootfs(&r)?,
            None => {
                return Err(Error::StartFailed {
                    name: c.name().to_string(),
                    reason: format!("{} has no lxc.rootfs.path", c.config_path().display()),
                })
            }
        };
        let (rootfs, storage) = if storage.backend.capabilities().needs_mount {
            let target = c.run_file(MOUNT_POINT);
            std::fs::create_dir_all(&target).map_err(crate::error::io_err(
                "create the rootfs mount point",
                &target,
            ))?;
            (target, Some(storage))
        } else {
            (storage.prepare()?, None)
        };
        let ns = crate::ns_plan::NsPlan::new(c, &config)?;
        let confine = crate::confine::Confinement::from_config(&config, c.name())?;
        let host = crate::apparmor::Host::probe();
        let apparmor =
            crate::apparmor::decide(&config, c.name(), c.lxcpath(), &host).map_err(|reason| {
                Error::StartFailed {
                    name: c.name().to_string(),
                    reason,
                }
            })?;
        // A rootfs to mount is judged by the directory of its own files.
        let owned = storage
            .as_ref()
            .and_then(|s| s.own_dir())
            .unwrap_or(&rootfs);
        let userns = super::idmap::Userns::plan(c.name(), config.idmaps(), owned)?;
        let mount = config.rootfs_mount().map(PathBuf::from);
        let hooks = crate::hooks::Hooks::new(c.name(), &config, mount.as_ref().unwrap_or(&rootfs));
        let mut layout = c.layout()?;
        let mut cgroups = crate::cgroup_keys::placement(&config, c, &layout, !foreground)?;
        if !nix::unistd::geteuid().is_root() {
            let own = super::cgroup::user_placement(c.name(), &layout);
            layout = own.layout;
            if let Some(p) = own.prefix {
                cgroups = cgroups.under(&p);
                if own.leave_root {
                    cgroups = super::cgroup::leave_scope_root(c.name(), &p, cgroups, &layout)?;
                }
            }
        }
        Ok(Plan {
            container: c.clone(),
            cgroups,
            config,
            init,
            layout,
            namespaces: ns.clone.clone(),
            ns,
            hooks,
            rootfs,
            storage,
            userns,
            foreground,
            hostname: None,
            confine,
            apparmor,
            init_exec: None,
        })
    }
}

impl Plan {
    /// Mounts a rootfs whose backend needs a mount (overlay, loop) on
    /// [`Plan::rootfs`], in a mount namespace of the monitor's own (which
    /// init's copies): nothing of it reaches the host, and if the monitor
    /// is killed the mount (and a loop device, set to clear itself) goes
    /// with init. The guard unmounts it at the end of the container.
    pub(crate) fn mount_rootfs(&self) -> Result<Option<enclos_storage::Mounted>> {
        let Some(storage) = &self.storage else {
            return Ok(None);
        };
        let fail = |reason: String| Error::StartFailed {
            name: self.container.name().to_string(),
            reason,
        };
        enclos_namespaces::unshare_mount_namespace().map_err(|e| {
            fail(format!(
                "cannot give the monitor a mount namespace for the {} rootfs: {}",
                storage.backend,
                crate::error::chain(&e)
            ))
        })?;
        crate::copy_tmpfs::mount_upper(&self.container, storage).map_err(|e| {
            fail(format!(
                "cannot put its upper layer on a tmpfs: {}",
                crate::error::chain(&e)
            ))
        })?;
        // An ephemeral container's changes go with it: nothing to sync.
        let mounted = match self.config.ephemeral() {
            true => storage.mount_discardable(&self.rootfs),
            false => storage.mount(&self.rootfs),
        };
        let mounted = mounted.map_err(|e| {
            fail(format!(
                "cannot mount its rootfs {}: {}",
                storage.spec(),
                crate::error::chain(&e)
            ))
        })?;
        Ok(Some(mounted))
    }
}
