//! enclos-namespaces: the kernel side of a system container, with no
//! knowledge of containers, LXC config or cgroups.
//!
//! - [`Namespace`]: the kinds, their clone flags and names.
//! - [`spawn`] / [`spawn_pidfd`]: a fork into new namespaces (clone3).
//! - [`sync_pair`]: parent/child steps and failure reports over a
//!   `SOCK_SEQPACKET` pair, with timeouts.
//! - [`PidFd`] and [`join`]: signals, exit waits and setns through pidfds.
//! - [`unshare_mount_namespace`]: a mount namespace of the caller's own
//!   whose mounts are slaves of the host's (`lxc.monitor.unshare`).
//! - [`setup_rootfs`]: proc, sys, cgroup, /dev, ptys, fstab entries and
//!   pivot_root, with every target resolved inside the rootfs.
//!   [`setup_rootfs_with`] also runs the caller's steps (a container's
//!   hooks) at the [`RootfsStage`]s: before the rootfs mount, after the
//!   mounts, after autodev. With [`OwnPtys`], the console and ttys are
//!   ptys of the container's own devpts instance, whose masters it
//!   returns (an unprivileged container's, as LXC does).
//! - [`Pty`] and [`RawTerminal`]: consoles and their clients; [`PtyPair`],
//!   [`send_fd`] and [`recv_fd`]: a pty opened in a container's devpts and
//!   its master handed to a process outside.
//! - [`drop_capabilities`] / [`keep_only`]: `lxc.cap.drop` and `lxc.cap.keep`.
//! - [`spawn_userns`]: a child in a new user namespace, root there once the
//!   caller's callback has written its maps.
//!
//! ```no_run
//! use std::time::Duration;
//! use enclos_namespaces::*;
//!
//! let spec = RootfsSpec {
//!     hostname: Some("c1".into()),
//!     proc: Some(ProcMode::Mixed),
//!     sys: Some(SysMode::Ro),
//!     autodev: true,
//!     devpts: Some(DevPts { max: 16 }),
//!     mounts: vec![MountSpec::parse_fstab("tmpfs tmp tmpfs defaults,create=dir 0 0")?],
//!     ..RootfsSpec::new("/var/lib/enclos/c1/rootfs")
//! };
//! let (parent, child) = sync_pair()?;
//! let p = &parent;
//! let ns = [Namespace::Mount, Namespace::Pid, Namespace::Uts, Namespace::Ipc];
//! let pid = spawn(&ns, move || {
//!     let _ = p.close_in_child();
//!     if let Err(e) = setup_rootfs(&spec) {
//!         let _ = child.fail(&e.to_string());
//!         return 1;
//!     }
//!     let _ = child.send(1);
//!     // ... exec the container's init
//!     0
//! })?;
//! parent.expect(1, Duration::from_secs(30))?; // the child's error text, if any
//! # let _ = pid;
//! # Ok::<(), enclos_namespaces::Error>(())
//! ```

// The README's example is compiled and run as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeExample;

mod capabilities;
mod error;
mod mount_ns;
mod namespace;
mod pidfd;
mod pty;
mod rootfs;
mod spawn;
mod sync;
mod userns;

pub use capabilities::{drop_capabilities, drop_set, keep_only, Capability};
pub use error::{Error, Result};
pub use mount_ns::unshare_mount_namespace;
pub use namespace::{Namespace, PROC_SELF_NS};
pub use pidfd::{join, join_pidfd, PidFd};
pub use pty::{
    open_peer, recv_fd, send_fd, set_controlling_terminal, set_window_size, window_size, Pty,
    PtyPair, RawTerminal,
};
pub use rootfs::{
    parse_mount_options, setup_rootfs, setup_rootfs_with, CgroupHierarchy, CgroupMode, CgroupMount,
    CreateKind, DevPts, MountOptions, MountSpec, OwnPtys, ProcMode, RootfsSpec, RootfsStage,
    SysMode, AUTODEV_LINKS, AUTODEV_NODES,
};
pub use spawn::{
    exit_child, multi_threaded, spawn, spawn_pidfd, spawn_pidfd_into, started_in_cgroup,
    PANIC_EXIT_CODE,
};
pub use sync::{sync_pair, SyncChild, SyncParent};
pub use userns::{spawn_userns, switch_ids, MapsError, UsernsChild, UsernsError, UsernsOptions};

#[cfg(test)]
pub(crate) use enclos_testkit::require_root;

/// Reaps a spawned child, killing it first if it has not exited within
/// `timeout` (a test must never hang on a stuck child).
#[cfg(test)]
pub(crate) fn wait_child(
    pidfd: &PidFd,
    timeout: std::time::Duration,
) -> nix::sys::wait::WaitStatus {
    if !pidfd.wait_exit(Some(timeout)).unwrap() {
        let _ = pidfd.send_signal(nix::sys::signal::Signal::SIGKILL);
        let status = pidfd.reap().unwrap();
        panic!(
            "child {} still running after {timeout:?}, killed ({status:?})",
            pidfd.pid()
        );
    }
    pidfd.reap().unwrap()
}

/// [`wait_child`] for a child known by pid.
#[cfg(test)]
pub(crate) fn wait_pid(
    pid: nix::unistd::Pid,
    timeout: std::time::Duration,
) -> nix::sys::wait::WaitStatus {
    wait_child(&PidFd::open(pid).unwrap(), timeout)
}

/// Runs `f` in a child spawned into new `namespaces` (none: the caller's);
/// the child must exit 0.
#[cfg(test)]
pub(crate) fn assert_child_ok(namespaces: &[Namespace], f: impl FnOnce() -> i32) {
    let (_, pidfd) = spawn_pidfd(namespaces, f).unwrap();
    let status = wait_child(&pidfd, std::time::Duration::from_secs(30));
    assert!(
        matches!(status, nix::sys::wait::WaitStatus::Exited(_, 0)),
        "{status:?}"
    );
}

/// Serializes the tests that clone: a test thread cloning while another is
/// inside a lock (the allocator's, a lazy static's) or holds a fresh pipe
/// end would hand the child a stuck lock or a stray fd.
#[cfg(test)]
pub(crate) fn serial() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}
