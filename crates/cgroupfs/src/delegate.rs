//! Cgroup subtrees a user owns, made once by root, as pam_cgfs makes them
//! at login: `user/NAME/0` on every hierarchy (or those of the controllers
//! asked for), the leaf owned by the user.
//!
//! That is the layout LXC's pam_cgfs leaves (`user/$USER/0` for a user's
//! first session), and what an unprivileged LXC (or enclos) start looks
//! for: a cgroup of the caller's that it may write, under which it makes
//! the container's. The leaf directory and the files that move processes
//! and enable controllers (`cgroup.procs`, `tasks`, `cgroup.threads`,
//! `cgroup.subtree_control`) go to the user; `user` and `user/NAME` stay
//! root's, so the limits root sets there bind everything below. On v1
//! cpuset, `cpuset.cpus` and `cpuset.mems` are copied down (a cpuset
//! without them takes no process) and `cgroup.clone_children` is set in
//! the leaf, so the user's groups get them too. On v2, the controllers
//! asked for are enabled down to `user/NAME`, so the leaf has them.
//!
//! Both directions are idempotent: delegating again re-applies owners and
//! copies, removing what is not there is no error.
//!
//! On cgroup v2 a process may move between two groups only when the
//! mover may write `cgroup.procs` of their common ancestor: a user whose
//! login sits outside the subtree (in root's group) cannot move anything
//! into it. The login must be placed there by root, as pam_cgfs does at
//! each login (`user/NAME/N`) or as [`place`] does for a given process;
//! then a start finds the subtree from the process's own group
//! ([`delegated_root`]) and, since on v2 only leaves hold processes when
//! controllers are enabled, moves the login's processes into a leaf of
//! it ([`LOGIN_LEAF`], [`vacate`]) before enabling them for the
//! container's group.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::layout::{Hierarchy, Layout, Version};

/// The directory under each hierarchy's root that holds the users'.
pub const USERS_DIR: &str = "user";
/// The leaf of a delegation: the first session, as pam_cgfs names it.
pub const SESSION: &str = "0";

/// The leaf of a delegated v2 group where its processes go when the
/// group's controllers are enabled for its children (on v2, a group that
/// gives controllers to children holds no process itself).
pub const LOGIN_LEAF: &str = "login";

/// The files of a delegated group that go to the user, where they exist.
pub const DELEGATED_FILES: &[&str] = &[
    "cgroup.procs",
    "tasks",
    "cgroup.threads",
    "cgroup.subtree_control",
];

/// What went wrong delegating.
#[derive(Debug, thiserror::Error)]
pub enum DelegateError {
    #[error("Cannot {action} {path}")]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },

    #[error("Unknown controller '{controller}': this host offers {available}")]
    UnknownController {
        controller: String,
        available: String,
    },

    #[error("Invalid user name '{user}': {reason}")]
    BadUser { user: String, reason: &'static str },

    #[error("No user '{user}' in {passwd}; create it first (useradd -m {user})")]
    UnknownUser { user: String, passwd: PathBuf },

    #[error("Cannot remove {path}: processes are still in it or below; stop them (or move them out) first")]
    Busy { path: PathBuf },

    #[error("No process {pid} (no {path}); give the pid of {user}'s login shell (echo $$ in it)")]
    NoProcess {
        pid: u32,
        user: String,
        path: PathBuf,
    },

    #[error("Process {pid} belongs to uid {owner}, not to user '{user}' (uid {uid}); only the user's own processes go into its cgroups")]
    NotTheUsers {
        pid: u32,
        owner: u32,
        user: String,
        uid: u32,
    },

    #[error("Cannot move the processes out of {path}: new ones keep appearing")]
    Restless { path: PathBuf },
}

type Result<T, E = DelegateError> = std::result::Result<T, E>;

fn io_err<'p>(
    action: &'static str,
    path: &'p Path,
) -> impl FnOnce(io::Error) -> DelegateError + 'p {
    move |source| DelegateError::Io {
        action,
        path: path.to_path_buf(),
        source,
    }
}

/// Who gets a subtree, and of which controllers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delegation {
    /// The login name: the directory under `user/`.
    pub user: String,
    pub uid: u32,
    pub gid: u32,
    /// The controllers (`cpu`, `memory`, ...); empty: every hierarchy.
    pub controllers: Vec<String>,
}

impl Delegation {
    /// A delegation to `user`, whose uid and primary gid are read from the
    /// passwd-shaped file `passwd` ([`crate::owner::PASSWD`] on a host).
    pub fn for_user(user: &str, passwd: &Path, controllers: Vec<String>) -> Result<Delegation> {
        check_user(user)?;
        let entry =
            crate::owner::db_entry(passwd, |f| f[0] == user).map_err(io_err("read", passwd))?;
        let ids = entry.and_then(|f| Some((f[2].parse().ok()?, f.get(3)?.parse().ok()?)));
        let Some((uid, gid)) = ids else {
            return Err(DelegateError::UnknownUser {
                user: user.to_string(),
                passwd: passwd.to_path_buf(),
            });
        };
        Ok(Delegation {
            user: user.to_string(),
            uid,
            gid,
            controllers,
        })
    }
}

/// One delegated subtree.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Delegated {
    /// The hierarchy, as libcgroup names it (`cpu`, `name=systemd`,
    /// `unified`).
    pub hierarchy: String,
    /// The leaf the user owns.
    pub dir: PathBuf,
}

/// The leaf of `user`'s subtree on `h`: `<mount>/user/NAME/0`.
pub fn delegated_dir(h: &Hierarchy, user: &str) -> PathBuf {
    h.dir(&format!("{USERS_DIR}/{user}/{SESSION}"))
}

fn check_user(user: &str) -> Result<()> {
    let bad = |reason| {
        Err(DelegateError::BadUser {
            user: user.to_string(),
            reason,
        })
    };
    if user.is_empty() || user == "." || user == ".." {
        return bad("it is empty or a dot");
    }
    if user.contains('/') || user.contains('\n') {
        return bad("it holds '/' or a newline");
    }
    Ok(())
}

/// The hierarchies serving `controllers` (all of them when empty); the v2
/// hierarchy always, as processes live there on a hybrid host too.
fn selected<'l>(layout: &'l Layout, controllers: &[String]) -> Result<Vec<&'l Hierarchy>> {
    for c in controllers {
        if !layout.hierarchies.iter().any(|h| h.has(c)) {
            return Err(DelegateError::UnknownController {
                controller: c.clone(),
                available: layout.available().join(", "),
            });
        }
    }
    Ok(layout
        .hierarchies
        .iter()
        .filter(|h| {
            controllers.is_empty()
                || h.version == Version::V2
                || controllers.iter().any(|c| h.has(c))
        })
        .collect())
}

/// Makes (or re-applies) `d.user`'s subtree on each hierarchy asked for
/// and returns the leaves.
pub fn delegate(layout: &Layout, d: &Delegation) -> Result<Vec<Delegated>> {
    check_user(&d.user)?;
    let mut done = Vec::new();
    for h in selected(layout, &d.controllers)? {
        let leaf = delegate_one(h, d)?;
        done.push(Delegated {
            hierarchy: h.label(),
            dir: leaf,
        });
    }
    Ok(done)
}

fn delegate_one(h: &Hierarchy, d: &Delegation) -> Result<PathBuf> {
    let cpuset = h.version == Version::V1 && h.has("cpuset");
    let mut dir = h.dir("");
    for part in [USERS_DIR, &d.user, SESSION] {
        if h.version == Version::V2 {
            enable_v2(&dir, &d.controllers)?;
        }
        let parent = dir.clone();
        dir = dir.join(part);
        match fs::create_dir(&dir) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(io_err("create cgroup", &dir)(e)),
        }
        if cpuset {
            for file in ["cpuset.cpus", "cpuset.mems"] {
                copy_if_empty(&parent.join(file), &dir.join(file))?;
            }
        }
    }
    if cpuset {
        let file = dir.join("cgroup.clone_children");
        if file.exists() {
            fs::write(&file, "1").map_err(io_err("write", &file))?;
        }
    }
    let chown = |path: &Path| {
        std::os::unix::fs::chown(path, Some(d.uid), Some(d.gid)).map_err(io_err("chown", path))
    };
    chown(&dir)?;
    for file in DELEGATED_FILES {
        let path = dir.join(file);
        if path.exists() {
            chown(&path)?;
        }
    }
    Ok(dir)
}

/// Enables on v2 the controllers asked for (all the group offers when
/// none) for the children of `dir`; those it does not offer are skipped.
fn enable_v2(dir: &Path, wanted: &[String]) -> Result<()> {
    let offered = fs::read_to_string(dir.join("cgroup.controllers")).unwrap_or_default();
    let file = dir.join("cgroup.subtree_control");
    for c in offered.split_whitespace() {
        if !wanted.is_empty() && !wanted.iter().any(|w| crate::layout::v2_name(w) == c) {
            continue;
        }
        fs::write(&file, format!("+{c}")).map_err(io_err("enable controllers in", &file))?;
    }
    Ok(())
}

/// Copies `from` to `to` when `to` exists and is empty (cpuset's cpus and
/// mems of a new group).
fn copy_if_empty(from: &Path, to: &Path) -> Result<()> {
    let Ok(current) = fs::read_to_string(to) else {
        return Ok(());
    };
    if !current.trim().is_empty() {
        return Ok(());
    }
    let value = fs::read_to_string(from).map_err(io_err("read", from))?;
    fs::write(to, value.trim()).map_err(io_err("write", to))
}

/// Moves process `pid` (a login of `d.user`) into the user's delegated
/// leaf on every hierarchy that has one, as pam_cgfs places a login: into
/// `user/NAME/0`, or on v2 into its [`LOGIN_LEAF`] once the leaf gives
/// controllers to its children (it may then hold no process itself).
/// `proc` is `/proc`. Returns the groups the process went into.
pub fn place(layout: &Layout, d: &Delegation, pid: u32, proc: &Path) -> Result<Vec<PathBuf>> {
    check_user(&d.user)?;
    let status = proc.join(pid.to_string()).join("status");
    let Ok(text) = fs::read_to_string(&status) else {
        return Err(DelegateError::NoProcess {
            pid,
            user: d.user.clone(),
            path: status,
        });
    };
    let owner = text
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|u| u.parse::<u32>().ok());
    if let Some(owner) = owner.filter(|o| *o != d.uid) {
        return Err(DelegateError::NotTheUsers {
            pid,
            owner,
            user: d.user.clone(),
            uid: d.uid,
        });
    }
    let mut placed = Vec::new();
    for h in &layout.hierarchies {
        let mut dir = delegated_dir(h, &d.user);
        if !dir.is_dir() {
            continue;
        }
        if h.version == Version::V2 && gives_controllers(&dir) {
            dir = dir.join(LOGIN_LEAF);
            make_login_leaf(&dir, Some((d.uid, d.gid)))?;
        }
        let procs = dir.join("cgroup.procs");
        fs::write(&procs, pid.to_string()).map_err(io_err("move the process into", &procs))?;
        placed.push(dir);
    }
    Ok(placed)
}

/// Whether the v2 group `dir` enables controllers for its children.
fn gives_controllers(dir: &Path) -> bool {
    fs::read_to_string(dir.join("cgroup.subtree_control")).is_ok_and(|t| !t.trim().is_empty())
}

fn make_login_leaf(dir: &Path, owner: Option<(u32, u32)>) -> Result<()> {
    match fs::create_dir(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(io_err("create cgroup", dir)(e)),
    }
    if let Some((uid, gid)) = owner {
        for path in std::iter::once(dir.to_path_buf())
            .chain(DELEGATED_FILES.iter().map(|f| dir.join(f)))
            .filter(|p| p.exists())
        {
            std::os::unix::fs::chown(&path, Some(uid), Some(gid))
                .map_err(io_err("chown", &path))?;
        }
    }
    Ok(())
}

/// The top of the v2 subtree that holds the group `own` (a path relative
/// to the hierarchy mounted at `mount`, as `/proc/self/cgroup` gives it)
/// and that `uid` owns: `own` and each group above it whose directory
/// `uid` owns and whose `cgroup.procs` it may write, up to the first that
/// is not. None when `own` itself is not the user's (or is the root).
pub fn delegated_root(mount: &Path, own: &str, uid: u32) -> Option<String> {
    use std::os::unix::fs::MetadataExt;
    let owned = |rel: &str| {
        let dir = mount.join(rel);
        fs::metadata(&dir).is_ok_and(|m| m.is_dir() && m.uid() == uid)
            && fs::metadata(dir.join("cgroup.procs")).is_ok_and(|m| m.uid() == uid)
    };
    let own = own.trim_matches('/');
    if own.is_empty() || !owned(own) {
        return None;
    }
    let mut top = own;
    while let Some((parent, _)) = top.rsplit_once('/') {
        if !owned(parent) {
            break;
        }
        top = parent;
    }
    Some(top.to_string())
}

/// Makes the v2 group `dir` able to give its controllers (those in its
/// `cgroup.controllers`) to children: when some are not enabled yet and
/// the group holds processes, they move into its [`LOGIN_LEAF`] (made by
/// the caller, so its own). Returns the processes moved.
pub fn vacate(dir: &Path) -> Result<Vec<u32>> {
    let offered = fs::read_to_string(dir.join("cgroup.controllers")).unwrap_or_default();
    let enabled = fs::read_to_string(dir.join("cgroup.subtree_control")).unwrap_or_default();
    if offered
        .split_whitespace()
        .all(|c| enabled.split_whitespace().any(|e| e == c))
    {
        return Ok(Vec::new());
    }
    let procs = dir.join("cgroup.procs");
    let leaf = dir.join(LOGIN_LEAF);
    let mut moved = Vec::new();
    // A process may fork while the others move: a few rounds.
    for _ in 0..16 {
        let text = fs::read_to_string(&procs).map_err(io_err("read", &procs))?;
        let pids: Vec<u32> = text
            .split_whitespace()
            .filter_map(|p| p.parse().ok())
            .collect();
        if pids.is_empty() {
            return Ok(moved);
        }
        make_login_leaf(&leaf, None)?;
        let target = leaf.join("cgroup.procs");
        for pid in pids {
            match fs::write(&target, pid.to_string()) {
                Ok(()) => moved.push(pid),
                // Gone meanwhile.
                Err(e) if e.raw_os_error() == Some(nix::errno::Errno::ESRCH as i32) => {}
                Err(e) => return Err(io_err("move the processes into", &target)(e)),
            }
        }
    }
    Err(DelegateError::Restless {
        path: dir.to_path_buf(),
    })
}

/// Enables for the children of the v2 group `dir` each controller it
/// offers, one by one, and returns those enabled. A controller the
/// kernel refuses to its owner (cpuset, on some kernels, to a user) is
/// left out rather than failing the others.
pub fn enable_offered(dir: &Path) -> Vec<String> {
    let offered = fs::read_to_string(dir.join("cgroup.controllers")).unwrap_or_default();
    let file = dir.join("cgroup.subtree_control");
    offered
        .split_whitespace()
        .filter(|c| {
            let on = fs::read_to_string(&file).is_ok_and(|t| t.split_whitespace().any(|e| e == *c));
            on || fs::write(&file, format!("+{c}")).is_ok()
        })
        .map(str::to_string)
        .collect()
}

/// Removes `user`'s subtrees (the leaf and any groups the user made in
/// it, then `user/NAME`, then `user` if nothing else is left in it), on
/// the hierarchies of `controllers` (all when empty). Returns the leaves
/// that were there.
pub fn undelegate(layout: &Layout, user: &str, controllers: &[String]) -> Result<Vec<PathBuf>> {
    check_user(user)?;
    let mut removed = Vec::new();
    for h in selected(layout, controllers)? {
        let users = h.dir(USERS_DIR);
        let mine = users.join(user);
        if mine.is_dir() {
            if delegated_dir(h, user).is_dir() {
                removed.push(delegated_dir(h, user));
            }
            remove_groups(&mine)?;
        }
        // Another user's subtree keeps `user`: not an error.
        let _ = fs::remove_dir(&users);
    }
    Ok(removed)
}

/// Removes the group `dir` and its children, deepest first. A cgroup
/// directory holds only the kernel's files, which go with it, so only
/// directories are removed.
fn remove_groups(dir: &Path) -> Result<()> {
    for entry in fs::read_dir(dir).map_err(io_err("list", dir))? {
        let entry = entry.map_err(io_err("list", dir))?;
        if entry.file_type().map_err(io_err("list", dir))?.is_dir() {
            remove_groups(&entry.path())?;
        }
    }
    match fs::remove_dir(dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) if e.raw_os_error() == Some(nix::errno::Errno::EBUSY as i32) => {
            Err(DelegateError::Busy {
                path: dir.to_path_buf(),
            })
        }
        Err(e) => Err(io_err("remove cgroup", dir)(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    /// A hybrid host of plain files: cpuset and memory on v1, a v2 mount.
    fn fake() -> (tempfile::TempDir, Layout) {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        for h in ["cpuset", "memory", "unified"] {
            fs::create_dir_all(root.join(h)).unwrap();
        }
        fs::write(root.join("cpuset/cpuset.cpus"), "0-1\n").unwrap();
        fs::write(root.join("cpuset/cpuset.mems"), "0\n").unwrap();
        let mountinfo = format!(
            "30 1 0:30 / {r}/cpuset rw - cgroup cgroup rw,cpuset\n\
             31 1 0:31 / {r}/memory rw - cgroup cgroup rw,memory\n\
             32 1 0:32 / {r}/unified rw - cgroup2 cgroup2 rw\n",
            r = root.display()
        );
        let layout = Layout::parse_mountinfo(&mountinfo, Path::new("mountinfo")).unwrap();
        (dir, layout)
    }

    fn alice(controllers: &[&str]) -> Delegation {
        Delegation {
            user: "alice".into(),
            uid: nix::unistd::geteuid().as_raw(),
            gid: nix::unistd::getegid().as_raw(),
            controllers: controllers.iter().map(|c| c.to_string()).collect(),
        }
    }

    #[test]
    fn delegate_makes_the_pam_cgfs_layout_and_undoes_it() {
        let (dir, layout) = fake();
        let root = dir.path();
        let done = delegate(&layout, &alice(&[])).unwrap();
        let leaves: Vec<_> = done.iter().map(|d| d.dir.clone()).collect();
        assert_eq!(
            leaves,
            [
                root.join("cpuset/user/alice/0"),
                root.join("memory/user/alice/0"),
                root.join("unified/user/alice/0")
            ]
        );
        // Twice is the same.
        assert_eq!(delegate(&layout, &alice(&[])).unwrap(), done);
        let owner = fs::metadata(&leaves[1]).unwrap();
        assert_eq!(owner.uid(), nix::unistd::geteuid().as_raw());
        // What the user made below goes too.
        fs::create_dir(leaves[1].join("c1")).unwrap();
        let gone = undelegate(&layout, "alice", &[]).unwrap();
        assert_eq!(gone, leaves);
        for h in ["cpuset", "memory", "unified"] {
            assert!(!root.join(h).join("user").exists(), "{h}");
        }
        assert!(undelegate(&layout, "alice", &[]).unwrap().is_empty());
    }

    #[test]
    fn users_come_from_the_passwd_file() {
        let dir = tempfile::tempdir().unwrap();
        let passwd = dir.path().join("passwd");
        fs::write(
            &passwd,
            "root:x:0:0::/root:/bin/sh\nlxcnp:x:1001:1002::/home/lxcnp:/bin/bash\n",
        )
        .unwrap();
        let d = Delegation::for_user("lxcnp", &passwd, vec![]).unwrap();
        assert_eq!((d.uid, d.gid), (1001, 1002));
        let err = Delegation::for_user("bob", &passwd, vec![]).unwrap_err();
        assert!(err.to_string().starts_with("No user 'bob' in "), "{err}");
    }

    #[test]
    fn cpuset_values_are_copied_down_and_controllers_chosen() {
        let (dir, layout) = fake();
        let root = dir.path();
        // The kernel makes these files empty in a new cpuset group; here
        // they are made by hand.
        for d in ["user", "user/alice", "user/alice/0"] {
            let d = root.join("cpuset").join(d);
            fs::create_dir_all(&d).unwrap();
            fs::write(d.join("cpuset.cpus"), "").unwrap();
            fs::write(d.join("cpuset.mems"), "").unwrap();
        }
        let done = delegate(&layout, &alice(&["cpuset"])).unwrap();
        let labels: Vec<_> = done.iter().map(|d| d.hierarchy.as_str()).collect();
        assert_eq!(labels, ["cpuset", "unified"]);
        let leaf = root.join("cpuset/user/alice/0");
        assert_eq!(fs::read_to_string(leaf.join("cpuset.cpus")).unwrap(), "0-1");
        assert_eq!(fs::read_to_string(leaf.join("cpuset.mems")).unwrap(), "0");
        assert!(!root.join("memory/user").exists());
        let err = delegate(&layout, &alice(&["nosuch"])).unwrap_err();
        assert!(
            err.to_string().starts_with("Unknown controller 'nosuch'"),
            "{err}"
        );
        let mut bad = alice(&[]);
        bad.user = "../x".into();
        assert!(delegate(&layout, &bad).is_err());
    }

    #[test]
    fn a_login_is_placed_in_the_leaf_or_its_login_group() {
        let (dir, layout) = fake();
        let root = dir.path();
        let me = alice(&[]);
        delegate(&layout, &me).unwrap();
        let proc = root.join("proc");
        fs::create_dir_all(proc.join("42")).unwrap();
        fs::write(
            proc.join("42/status"),
            format!("Name:\tsh\nUid:\t{u}\t{u}\t{u}\t{u}\n", u = me.uid),
        )
        .unwrap();
        let placed = place(&layout, &me, 42, &proc).unwrap();
        assert_eq!(placed.len(), 3);
        let v2 = root.join("unified/user/alice/0");
        assert_eq!(fs::read_to_string(v2.join("cgroup.procs")).unwrap(), "42");
        // Once the v2 leaf gives controllers, its login group takes it.
        fs::write(v2.join("cgroup.subtree_control"), "pids\n").unwrap();
        let placed = place(&layout, &me, 42, &proc).unwrap();
        assert_eq!(placed[2], v2.join(LOGIN_LEAF));
        assert_eq!(
            fs::read_to_string(v2.join("login/cgroup.procs")).unwrap(),
            "42"
        );
        let err = place(&layout, &me, 43, &proc).unwrap_err();
        assert!(err.to_string().starts_with("No process 43 "), "{err}");
        let mut other = me.clone();
        other.uid += 1;
        let err = place(&layout, &other, 42, &proc).unwrap_err();
        assert!(
            err.to_string().starts_with(&format!(
                "Process 42 belongs to uid {}, not to user 'alice'",
                me.uid
            )),
            "{err}"
        );
    }

    #[test]
    fn the_delegated_root_is_the_top_of_what_the_user_owns() {
        let dir = tempfile::tempdir().unwrap();
        let mount = dir.path();
        let uid = nix::unistd::geteuid().as_raw();
        for g in ["user/alice/0/login", "user/alice/0"] {
            fs::create_dir_all(mount.join(g)).unwrap();
            fs::write(mount.join(g).join("cgroup.procs"), "").unwrap();
        }
        // `user/alice` has no cgroup.procs of the user's here: not owned.
        assert_eq!(
            delegated_root(mount, "/user/alice/0/login", uid).as_deref(),
            Some("user/alice/0")
        );
        assert_eq!(
            delegated_root(mount, "user/alice/0", uid).as_deref(),
            Some("user/alice/0")
        );
        assert_eq!(delegated_root(mount, "/user/alice", uid), None);
        assert_eq!(delegated_root(mount, "/", uid), None);
        assert_eq!(delegated_root(mount, "/user/alice/0", uid + 1), None);
    }

    #[test]
    fn vacate_moves_the_processes_only_when_controllers_wait() {
        let dir = tempfile::tempdir().unwrap();
        let g = dir.path();
        fs::write(g.join("cgroup.controllers"), "pids\n").unwrap();
        fs::write(g.join("cgroup.subtree_control"), "pids\n").unwrap();
        fs::write(g.join("cgroup.procs"), "7\n").unwrap();
        assert!(vacate(g).unwrap().is_empty());
        assert!(!g.join(LOGIN_LEAF).exists());
        fs::write(g.join("cgroup.subtree_control"), "").unwrap();
        // A plain file does not empty itself as the kernel's does.
        let err = vacate(g).unwrap_err();
        assert!(matches!(err, DelegateError::Restless { .. }), "{err}");
        assert_eq!(
            fs::read_to_string(g.join("login/cgroup.procs")).unwrap(),
            "7"
        );
    }
}
