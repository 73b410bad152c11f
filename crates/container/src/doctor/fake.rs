//! A fake system for the doctor's unit tests: /proc/sys, /etc/subuid,
//! /etc/subgid, the helpers' directory, a mount table and cgroup trees,
//! all files in a temporary directory.

use std::fs;
use std::path::{Path, PathBuf};

use enclos_idmap::{IdMap, IdMaps, Owner, SubIdPaths};

use super::{HostPaths, Subject};

pub(crate) struct Fake {
    pub dir: tempfile::TempDir,
    pub paths: HostPaths,
}

/// The course's map: `u 0 165536 65536` and `g 0 165536 65536`.
pub(crate) fn course_maps() -> IdMaps {
    IdMaps::new(vec![
        IdMap::parse("u 0 165536 65536").unwrap(),
        IdMap::parse("g 0 165536 65536").unwrap(),
    ])
}

impl Fake {
    pub fn new() -> Fake {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path();
        for d in ["proc/sys/user", "proc/sys/kernel", "etc", "bin"] {
            fs::create_dir_all(p.join(d)).unwrap();
        }
        let paths = HostPaths {
            proc_sys: p.join("proc/sys"),
            subids: SubIdPaths {
                subuid: p.join("etc/subuid"),
                subgid: p.join("etc/subgid"),
            },
            helper_dirs: vec![p.join("bin").to_str().unwrap().to_string()],
            passwd: p.join("etc/passwd"),
            mountinfo: p.join("proc/mountinfo"),
            proc_cgroup: p.join("proc/cgroup"),
            group: p.join("etc/group"),
            usernet: vec![p.join("etc/enclos-usernet"), p.join("etc/lxc-usernet")],
            user_nic: p.join("bin/enclos-user-nic"),
        };
        Fake { dir, paths }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Writes `rel` (e.g. `kernel/unprivileged_userns_clone`) under /proc/sys.
    pub fn sysctl(&self, rel: &str, value: &str) {
        fs::write(self.paths.proc_sys.join(rel), format!("{value}\n")).unwrap();
    }

    pub fn subids(&self, subuid: &str, subgid: &str) {
        fs::write(&self.paths.subids.subuid, subuid).unwrap();
        fs::write(&self.paths.subids.subgid, subgid).unwrap();
    }

    /// lxcnp (uid 1001) with the course's map and the lxcpath
    /// `<tmp>/home/lxcnp/.local/share/enclos`.
    pub fn user(&self) -> Subject {
        let lxcpath = self.path().join("home/lxcnp/.local/share/enclos");
        Subject {
            user: Owner {
                name: "lxcnp".into(),
                uid: 1001,
                gid: 1001,
            },
            name: None,
            config: self.path().join("home/lxcnp/.config/enclos/default.conf"),
            config_exists: true,
            maps: course_maps(),
            paths: vec![lxcpath],
            controllers: Vec::new(),
            bridges: Vec::new(),
        }
    }

    /// Root, without maps.
    pub fn root(&self) -> Subject {
        Subject {
            user: Owner {
                name: "root".into(),
                uid: 0,
                gid: 0,
            },
            maps: IdMaps::default(),
            config: PathBuf::from("/etc/enclos/default.conf"),
            ..self.user()
        }
    }
}
