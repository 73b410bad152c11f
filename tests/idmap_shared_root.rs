//! An unprivileged container (`lxc.idmap`) that root starts on a host
//! whose `/` is shared (mount propagation), as it is wherever systemd is
//! PID 1: it reaches RUNNING, its root is uid 0 inside and the mapped uid
//! on the host, and none of the mounts its init makes shows up in the
//! namespace it was started from. With its rootfs left to host root (an
//! idmapped mount) and shifted onto the map.
//!
//! Each test runs in a thread of its own that unshares its mount
//! namespace and makes `/` recursively shared there, so the host's mounts
//! are left as they are; every enclos command it runs inherits that
//! namespace.

use std::os::unix::fs::MetadataExt;
use std::path::Path;

use enclos_tests::idmap::{rootfs, unprivileged, Rootfs, ROOT};
use enclos_tests::lab::{proc_status, Lab};
use enclos_tests::{missing_feature, require_root};
use nix::mount::{mount, MsFlags};
use nix::sched::{unshare, CloneFlags};

/// The calling thread's mounts whose mount point lies under `dir`, with
/// their propagation tags (this thread's namespace, not the process's).
fn mounts_under(dir: &Path) -> Vec<String> {
    let info = std::fs::read_to_string("/proc/thread-self/mountinfo").expect("read mountinfo");
    let dir = dir.to_string_lossy();
    info.lines()
        .filter(|l| l.split(' ').nth(4).is_some_and(|p| p.starts_with(&*dir)))
        .map(str::to_string)
        .collect()
}

/// The propagation tags of `/` in the calling thread's namespace.
fn root_tags() -> String {
    let info = std::fs::read_to_string("/proc/thread-self/mountinfo").expect("read mountinfo");
    let line = info
        .lines()
        .rfind(|l| l.split(' ').nth(4) == Some("/"))
        .expect("a mount on /");
    let fields = line.split(" - ").next().unwrap();
    fields.split(' ').skip(6).collect::<Vec<_>>().join(" ")
}

/// Moves the calling thread into a new mount namespace whose mounts are
/// all shared (each a new peer group there: nothing reaches the host's).
fn shared_root_namespace() {
    unshare(CloneFlags::CLONE_NEWNS).expect("unshare the mount namespace");
    mount(
        None::<&str>,
        "/",
        None::<&str>,
        MsFlags::MS_REC | MsFlags::MS_SHARED,
        None::<&str>,
    )
    .expect("make / rshared in the test's namespace");
    assert!(root_tags().contains("shared:"), "/ is {}", root_tags());
}

/// Starts a root-made unprivileged container under a shared `/` and
/// checks it as a user would.
fn starts_under_a_shared_root(test: &str, how: Rootfs) {
    if !require_root(test) {
        return;
    }
    // The thread's namespace goes with the thread; the Lab (and its
    // clean-up) lives and dies inside it.
    std::thread::scope(|s| {
        s.spawn(|| {
            shared_root_namespace();
            let lab = Lab::new();
            let n = unprivileged(&lab, "idshared", how, "");
            let root = rootfs(&lab, &n);
            if how == Rootfs::HostRoot {
                if let Err(e) = enclos_idmap::probe_idmapped_mount(&root) {
                    missing_feature(test, &e.to_string());
                    return;
                }
            }
            let before = mounts_under(lab.path());
            let out = lab.enclos("start", &["-n", &n]);
            assert!(out.ok(), "start under a shared /: {out:#?}");
            assert_eq!(lab.state(&n), "RUNNING");
            let pid = lab.init_pid(&n);
            let uid = proc_status(pid, "Uid").expect("init's Uid line");
            assert_eq!(uid.split(' ').next(), Some(ROOT.to_string().as_str()));
            let id = lab.attach(&n, &["id", "-u"]).success();
            assert_eq!(id.stdout.trim(), "0");
            lab.attach(&n, &["touch", "/root/made-inside"]).success();
            let made = std::fs::metadata(root.join("root/made-inside")).expect("the file");
            // Through the idmapped mount, the container's root writes as
            // host root on disk; on a shifted rootfs, as the mapped root.
            let on_disk = if how == Rootfs::HostRoot { 0 } else { ROOT };
            assert_eq!(made.uid(), on_disk);
            // The container's proc, sys, dev... stayed in its namespace.
            assert_eq!(mounts_under(lab.path()), before, "mounts that leaked");
            lab.enclos("stop", &["-n", &n]).success();
            lab.assert_stopped_and_clean(&n, Some(pid));
            assert_eq!(mounts_under(lab.path()), before, "mounts left");
        });
    });
}

#[test]
fn an_idmapped_rootfs_starts_under_a_shared_root() {
    starts_under_a_shared_root(
        "an_idmapped_rootfs_starts_under_a_shared_root",
        Rootfs::HostRoot,
    );
}

#[test]
fn a_shifted_rootfs_starts_under_a_shared_root() {
    starts_under_a_shared_root(
        "a_shifted_rootfs_starts_under_a_shared_root",
        Rootfs::Shifted,
    );
}
