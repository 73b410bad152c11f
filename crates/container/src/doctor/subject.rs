//! What the doctor examines: the calling user, and the id maps, rootfs
//! and cgroup settings of a container's configuration (or of the user's
//! default configuration, for the containers the user will create).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use enclos_config::Config;
use enclos_idmap::{IdMaps, Owner};

use super::HostPaths;
use crate::container::Container;
use crate::error::Result;
use crate::userns::current_owner;

/// A user and a configuration, as the checks see them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subject {
    /// The user who runs the containers.
    pub user: Owner,
    /// The container's name, when one was given.
    pub name: Option<String>,
    /// The configuration the maps come from.
    pub config: PathBuf,
    /// Whether that file exists (a user without one gets no maps).
    pub config_exists: bool,
    /// Its `lxc.idmap` lines.
    pub maps: IdMaps,
    /// The directories the container's root must enter: its rootfs, or
    /// the lxcpath its containers will be created in. Every directory
    /// above them counts too.
    pub paths: Vec<PathBuf>,
    /// The controllers its `lxc.cgroup.*` and `lxc.cgroup2.*` keys set.
    pub controllers: Vec<String>,
    /// The bridges of its veths (`lxc.net.N.link`).
    pub bridges: Vec<String>,
}

impl Subject {
    /// The container `c`, run by `user`. Fails when the container does not
    /// exist or its configuration is invalid.
    pub fn for_container(c: &Container, user: Owner) -> Result<Subject> {
        let cfg = c.config()?;
        let paths = match cfg.rootfs() {
            Some(r) if r.backend == "dir" => vec![PathBuf::from(&r.path)],
            // lower:upper for overlay; a device for the others, which the
            // container's root does not enter: its directory then.
            Some(r) => r
                .path
                .split(':')
                .filter(|p| p.starts_with('/') && !p.starts_with("/dev/"))
                .map(PathBuf::from)
                .chain([c.dir().to_path_buf()])
                .collect(),
            None => vec![c.dir().to_path_buf()],
        };
        Ok(Subject::from_config(
            user,
            Some(c.name().to_string()),
            &cfg,
            paths,
        ))
    }

    /// The containers `user` will create in `lxcpath` with the default
    /// configuration `config` ([`crate::default_config_path`], which
    /// falls back on the course's `~/.config/lxc/default.conf`). A missing
    /// file gives no maps; an invalid one is an error.
    pub fn for_default_config(lxcpath: &Path, config: &Path, user: Owner) -> Result<Subject> {
        let cfg = if config.is_file() {
            Config::load(config)?
        } else {
            Config::with_path(config)
        };
        let mut s = Subject::from_config(user, None, &cfg, vec![lxcpath.to_path_buf()]);
        s.config_exists = config.is_file();
        Ok(s)
    }

    /// `cfg` (whose file is `cfg.path()`) for `user`, with the
    /// directories `paths` the container's root must enter.
    pub fn from_config(
        user: Owner,
        name: Option<String>,
        cfg: &Config,
        paths: Vec<PathBuf>,
    ) -> Subject {
        let controllers: BTreeSet<String> = cfg
            .cgroup_settings()
            .iter()
            .filter_map(|s| enclos_cgroupfs::key_controller(&s.key).ok().flatten())
            .map(str::to_string)
            .collect();
        Subject {
            user,
            name,
            config: cfg.path().to_path_buf(),
            config_exists: cfg.path().is_file(),
            maps: cfg.idmaps(),
            paths,
            controllers: controllers.into_iter().collect(),
            bridges: crate::net::specs(cfg)
                .unwrap_or_default()
                .into_iter()
                .filter(|s| s.kind == enclos_net::Kind::Veth)
                .filter_map(|s| s.link)
                .collect(),
        }
    }

    /// Whether the user is root, who needs no subordinate ids, no helpers
    /// and no delegation.
    pub fn is_root(&self) -> bool {
        self.user.uid == 0
    }

    /// What the configuration is called in findings: `container 'c1'` or
    /// the default configuration's path.
    pub(crate) fn config_label(&self) -> String {
        match &self.name {
            Some(n) => format!("container '{n}' ({})", self.config.display()),
            None => self.config.display().to_string(),
        }
    }
}

/// The calling user (the real uid), named as `host.passwd` names it (read
/// as a file: the static binary's getpwuid may crash); a uid without a
/// line there is named by its number.
pub fn calling_user(host: &HostPaths) -> Owner {
    current_owner(&host.passwd).unwrap_or_else(|_| {
        let uid = nix::unistd::getuid().as_raw();
        Owner {
            name: uid.to_string(),
            uid,
            gid: nix::unistd::getgid().as_raw(),
        }
    })
}

#[cfg(test)]
mod tests {
    use std::fs;

    use super::*;

    #[test]
    fn an_unknown_caller_is_named_by_number() {
        let dir = tempfile::tempdir().unwrap();
        let host = HostPaths {
            passwd: dir.path().join("passwd"),
            ..HostPaths::default()
        };
        let me = calling_user(&host);
        assert_eq!(me.uid, nix::unistd::getuid().as_raw());
        assert_eq!(me.name, me.uid.to_string());
    }

    #[test]
    fn a_default_config_gives_maps_and_controllers() {
        let dir = tempfile::tempdir().unwrap();
        let conf = dir.path().join("default.conf");
        fs::write(
            &conf,
            "lxc.id_map = u 0 165536 65536\nlxc.idmap = g 0 165536 65536\n\
             lxc.cgroup.memory.limit_in_bytes = 40M\nlxc.cgroup2.pids.max = 10\n",
        )
        .unwrap();
        let user = Owner {
            name: "lxcnp".into(),
            uid: 1001,
            gid: 1001,
        };
        let s = Subject::for_default_config(dir.path(), &conf, user.clone()).unwrap();
        assert_eq!(
            s.maps.map_text(enclos_idmap::IdKind::Uid),
            "0 165536 65536\n"
        );
        assert_eq!(s.controllers, vec!["memory", "pids"]);
        assert!(s.config_exists);
        let none = Subject::for_default_config(dir.path(), &dir.path().join("no.conf"), user);
        let none = none.unwrap();
        assert!(!none.config_exists && none.maps.is_empty());
    }
}
