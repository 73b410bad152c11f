//! Fake cgroup hosts for unit tests: a temporary directory laid out like
//! `/sys/fs/cgroup` (a directory per v1 hierarchy, the v2 hierarchy at
//! the top or in `unified/`), and a mount table in the format of
//! `/proc/self/mountinfo` that describes it, for code that takes the mount
//! table's path as a parameter.
//!
//! A fake tree has no kernel behind it: a new group gets no interface
//! files, and a write is kept as written. A test makes the files the
//! kernel would have made where it needs them ([`CgroupTree::group`]).

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

use tempfile::TempDir;

/// The mount table's first line: the root filesystem.
const ROOT_MOUNT: &str = "24 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw\n";

/// A temporary cgroup host: `<dir>/cgroup` (the host's `/sys/fs/cgroup`)
/// and `<dir>/mountinfo`, kept up to date as hierarchies are mounted.
/// Everything goes when it is dropped.
#[derive(Debug)]
pub struct CgroupTree {
    dir: TempDir,
    root: PathBuf,
    mountinfo: PathBuf,
    /// The mount table's text.
    table: String,
    mounts: u32,
    /// The mount point of the v2 hierarchy, once mounted.
    v2: Option<PathBuf>,
}

impl CgroupTree {
    /// A host that mounts no cgroup hierarchy yet: an empty `cgroup/`, and
    /// a mount table with only the root filesystem.
    pub fn new() -> CgroupTree {
        let dir = tempfile::tempdir().expect("a temporary directory for the fake cgroup tree");
        let root = dir.path().join("cgroup");
        create_dir(&root);
        let tree = CgroupTree {
            mountinfo: dir.path().join("mountinfo"),
            dir,
            root,
            table: ROOT_MOUNT.to_string(),
            mounts: 0,
            v2: None,
        };
        tree.write_table();
        tree
    }

    /// A legacy (cgroup v1) host as the course's: `cpu,cpuacct` mounted
    /// together, and `memory`.
    pub fn legacy() -> CgroupTree {
        CgroupTree::new().v1(&["cpu", "cpuacct"]).v1(&["memory"])
    }

    /// Mounts a v1 hierarchy of `controllers` (or `name=...`) at
    /// `cgroup/<the controllers joined by commas>`.
    pub fn v1(mut self, controllers: &[&str]) -> CgroupTree {
        let point = self.root.join(controllers.join(","));
        create_dir(&point);
        self.mount(&point, "cgroup", &format!("rw,{}", controllers.join(",")));
        self
    }

    /// Mounts the v2 hierarchy at `cgroup/` itself (a unified host),
    /// offering `controllers` (its root's `cgroup.controllers`).
    pub fn v2(self, controllers: &[&str]) -> CgroupTree {
        self.v2_at("", controllers)
    }

    /// Mounts the v2 hierarchy at `cgroup/<dir>` (`unified` on a hybrid
    /// host), offering `controllers` (its root's `cgroup.controllers`).
    pub fn v2_at(mut self, dir: &str, controllers: &[&str]) -> CgroupTree {
        let point = if dir.is_empty() {
            self.root.clone()
        } else {
            self.root.join(dir)
        };
        create_dir(&point);
        write(
            &point.join("cgroup.controllers"),
            &format!("{}\n", controllers.join(" ")),
        );
        self.mount(&point, "cgroup2", "rw,nsdelegate");
        self.v2 = Some(point);
        self
    }

    /// Writes `controllers` to the v2 root's `cgroup.subtree_control`, as
    /// if they were enabled for its children.
    ///
    /// # Panics
    ///
    /// When no v2 hierarchy is mounted.
    pub fn enable(self, controllers: &[&str]) -> CgroupTree {
        let point = self
            .v2
            .as_ref()
            .expect("enable() needs a v2 hierarchy: call v2() first");
        write(
            &point.join("cgroup.subtree_control"),
            &controllers.join(" "),
        );
        self
    }

    /// The temporary directory, for other files of the fake host.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// `cgroup/`: what `/sys/fs/cgroup` is on a host.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The mount table that describes the tree.
    pub fn mountinfo(&self) -> &Path {
        &self.mountinfo
    }

    /// The group at `rel` below [`CgroupTree::root`] (`memory/g`, or `g`
    /// on a unified host), with the given files and contents, as the kernel
    /// would have made it. Returns its directory.
    pub fn group(&self, rel: &str, files: &[(&str, &str)]) -> PathBuf {
        let dir = self.root.join(rel);
        create_dir(&dir);
        for (name, content) in files {
            write(&dir.join(name), content);
        }
        dir
    }

    /// Adds a mount of `fstype` at `point` to the mount table.
    fn mount(&mut self, point: &Path, fstype: &str, super_options: &str) {
        self.mounts += 1;
        let n = self.mounts;
        let _ = writeln!(
            self.table,
            "{id} 24 0:{dev} / {point} rw,nosuid,nodev,noexec,relatime shared:{shared} - \
             {fstype} {fstype} {super_options}",
            id = 30 + n,
            dev = 30 + n,
            shared = 4 + n,
            point = escape(point),
        );
        self.write_table();
    }

    fn write_table(&self) {
        write(&self.mountinfo, &self.table);
    }
}

impl Default for CgroupTree {
    fn default() -> CgroupTree {
        CgroupTree::new()
    }
}

/// The text of `path`; panics with the path when it cannot be read.
pub fn read(path: impl AsRef<Path>) -> String {
    let path = path.as_ref();
    fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A path as a mount table writes it: blanks, newlines and backslashes
/// as octal escapes.
fn escape(path: &Path) -> String {
    let mut out = String::new();
    for c in path.to_string_lossy().chars() {
        match c {
            ' ' | '\t' | '\n' | '\\' => {
                let _ = write!(out, "\\{:03o}", c as u32);
            }
            c => out.push(c),
        }
    }
    out
}

fn create_dir(dir: &Path) {
    fs::create_dir_all(dir).unwrap_or_else(|e| panic!("Cannot create {}: {e}", dir.display()));
}

fn write(path: &Path, content: &str) {
    fs::write(path, content).unwrap_or_else(|e| panic!("Cannot write {}: {e}", path.display()));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_legacy_host_mounts_a_directory_per_hierarchy() {
        let tree = CgroupTree::legacy();
        assert!(tree.root().join("cpu,cpuacct").is_dir());
        assert!(tree.root().join("memory").is_dir());
        let table = read(tree.mountinfo());
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines.len(), 3, "{table}");
        assert_eq!(lines[0], ROOT_MOUNT.trim_end());
        assert!(
            lines[1].starts_with(&format!(
                "31 24 0:31 / {} ",
                escape(&tree.root().join("cpu,cpuacct"))
            )),
            "{table}"
        );
        assert!(lines[1].ends_with(" - cgroup cgroup rw,cpu,cpuacct"));
        assert!(lines[2].starts_with("32 24 0:32 / "), "{table}");
        assert!(lines[2].ends_with(" - cgroup cgroup rw,memory"));
    }

    #[test]
    fn a_unified_host_lists_its_controllers_at_the_top() {
        let tree = CgroupTree::new().v2(&["cpu", "memory"]).enable(&["memory"]);
        assert_eq!(read(tree.root().join("cgroup.controllers")), "cpu memory\n");
        assert_eq!(read(tree.root().join("cgroup.subtree_control")), "memory");
        let table = read(tree.mountinfo());
        assert!(
            table.ends_with(&format!(
                "31 24 0:31 / {} rw,nosuid,nodev,noexec,relatime shared:5 - cgroup2 cgroup2 \
                 rw,nsdelegate\n",
                escape(tree.root())
            )),
            "{table}"
        );
    }

    #[test]
    fn a_hybrid_host_mounts_v2_in_unified() {
        let tree = CgroupTree::new().v1(&["memory"]).v2_at("unified", &[]);
        assert_eq!(read(tree.root().join("unified/cgroup.controllers")), "\n");
        let table = read(tree.mountinfo());
        assert!(table.contains(" - cgroup cgroup rw,memory\n"), "{table}");
        assert!(
            table.contains(&format!("{} ", escape(&tree.root().join("unified")))),
            "{table}"
        );
    }

    #[test]
    fn groups_hold_the_files_given() {
        let tree = CgroupTree::legacy();
        let dir = tree.group("memory/a/b", &[("cgroup.procs", "42\n"), ("tasks", "")]);
        assert_eq!(dir, tree.root().join("memory/a/b"));
        assert_eq!(read(dir.join("cgroup.procs")), "42\n");
        assert_eq!(read(dir.join("tasks")), "");
    }

    #[test]
    fn blanks_and_backslashes_are_escaped() {
        assert_eq!(
            escape(Path::new("/t/my v2\\x\n")),
            "/t/my\\040v2\\134x\\012"
        );
    }

    #[test]
    fn the_tree_goes_when_dropped() {
        let tree = CgroupTree::legacy();
        let dir = tree.dir().to_path_buf();
        drop(tree);
        assert!(!dir.exists());
    }
}
