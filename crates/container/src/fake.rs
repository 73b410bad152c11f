//! Fake hosts for unit tests, no root needed: an lxcpath in a temp dir,
//! a cgroup v2 tree of plain files (enclos-testkit's [`CgroupTree`]), and
//! the layout read from the mount table that describes it.

use std::fs::{self, File, OpenOptions};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use enclos_cgroupfs::Layout;
use enclos_testkit::CgroupTree;
use nix::fcntl::{Flock, FlockArg};

use crate::container::{Container, SharedLayout, CGROUP_PREFIX};

pub(crate) struct FakeHost {
    /// The temporary directory, holding the lxcpath and the cgroup tree.
    _tree: CgroupTree,
    pub lxcpath: PathBuf,
    /// The mount point of the fake cgroup v2 hierarchy.
    pub cgroot: PathBuf,
    pub layout: SharedLayout,
}

impl FakeHost {
    pub fn new() -> FakeHost {
        let tree = CgroupTree::new().v2(&["cpu", "io", "memory", "pids"]);
        let lxcpath = tree.dir().join("lxc");
        fs::create_dir_all(&lxcpath).unwrap();
        let layout = Layout::from_mountinfo(tree.mountinfo()).unwrap();
        FakeHost {
            lxcpath,
            cgroot: tree.root().to_path_buf(),
            layout: SharedLayout::from(Arc::new(layout)),
            _tree: tree,
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
    enclos_testkit::read(path)
}
