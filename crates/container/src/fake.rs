//! Fake hosts for unit tests, no root needed: an lxcpath in a temp dir,
//! a cgroup v2 tree of plain files, and the layout read from a mount
//! table that points at it.

use std::fs::{self, File, OpenOptions};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use enclos_cgroupfs::Layout;
use nix::fcntl::{Flock, FlockArg};

use crate::container::{Container, SharedLayout, CGROUP_PREFIX};

pub(crate) struct FakeHost {
    _dir: tempfile::TempDir,
    pub lxcpath: PathBuf,
    /// The mount point of the fake cgroup v2 hierarchy.
    pub cgroot: PathBuf,
    pub layout: SharedLayout,
}

impl FakeHost {
    pub fn new() -> FakeHost {
        let dir = tempfile::tempdir().unwrap();
        let lxcpath = dir.path().join("lxc");
        let cgroot = dir.path().join("cgroup");
        fs::create_dir_all(&lxcpath).unwrap();
        fs::create_dir_all(&cgroot).unwrap();
        fs::write(cgroot.join("cgroup.controllers"), "cpu io memory pids\n").unwrap();
        let mountinfo = dir.path().join("mountinfo");
        fs::write(
            &mountinfo,
            format!(
                "24 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw\n\
                 35 24 0:30 / {} rw,nosuid,nodev,noexec,relatime shared:9 - cgroup2 cgroup2 rw\n",
                cgroot.display()
            ),
        )
        .unwrap();
        let layout = Layout::from_mountinfo(&mountinfo).unwrap();
        FakeHost {
            _dir: dir,
            lxcpath,
            cgroot,
            layout: SharedLayout::from(Arc::new(layout)),
        }
    }

    /// A container with this configuration (its rootfs a directory of its
    /// own), on the fake layout.
    pub fn container(&self, name: &str, config: &str) -> Container {
        let dir = self.lxcpath.join(name);
        fs::create_dir_all(dir.join("rootfs")).unwrap();
        let text = format!(
            "lxc.rootfs.path = dir:{}\nlxc.uts.name = {name}\n{config}",
            dir.join("rootfs").display()
        );
        fs::write(dir.join("config"), text).unwrap();
        Container::open(&self.lxcpath, name)
            .unwrap()
            .with_layout(&self.layout)
    }

    /// The container's group in the fake tree, holding `pids`.
    pub fn cgroup(&self, c: &Container, pids: &[u32]) -> PathBuf {
        let dir = self.cgroot.join(format!("{CGROUP_PREFIX}{}", c.name()));
        fs::create_dir_all(&dir).unwrap();
        let procs: String = pids.iter().map(|p| format!("{p}\n")).collect();
        fs::write(dir.join("cgroup.procs"), procs).unwrap();
        dir
    }

    /// Run files as a monitor writes them (`state`, `init.pid`); the
    /// monitor lock is held until the guard drops.
    pub fn running(&self, c: &Container, state: &str, init: u32) -> Flock<File> {
        write_run_files(c, state, init);
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(c.run_dir().join("monitor.lock"))
            .unwrap();
        Flock::lock(lock, FlockArg::LockExclusiveNonblock).unwrap()
    }
}

/// The run files a monitor leaves (killed, they stay).
pub(crate) fn write_run_files(c: &Container, state: &str, init: u32) {
    let run = c.run_dir();
    fs::create_dir_all(&run).unwrap();
    fs::write(run.join("state"), state).unwrap();
    fs::write(run.join("init.pid"), init.to_string()).unwrap();
    fs::write(run.join("monitor.pid"), std::process::id().to_string()).unwrap();
}

/// The text of `path`.
pub(crate) fn read(path: &Path) -> String {
    fs::read_to_string(path).unwrap()
}
