//! Mount targets through symlinks of the rootfs that point at the host's
//! /etc and /proc: they resolve inside the rootfs (openat2 with
//! RESOLVE_IN_ROOT), so the mounts land in the container's /etc and
//! /proc and the host's are untouched.

use std::path::PathBuf;

use enclos_tests::lab::*;

use super::{attempt, container, rootfs, Kind};

/// Removes the host directory the redirect would have made, should the
/// defence fail.
struct Gone(PathBuf);

impl Drop for Gone {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir(&self.0);
    }
}

pub fn symlinked_mount_targets(kind: Kind) {
    let lab = Lab::new();
    let tag = format!("enclos-escape-{}-{kind:?}", std::process::id());
    let host_dir = Gone(PathBuf::from("/etc").join(&tag));
    let core_pattern = std::fs::read_to_string("/proc/sys/kernel/core_pattern").unwrap();
    let keys = format!(
        "lxc.mount.entry = tmpfs mnt/host-etc/{tag} tmpfs create=dir 0 0\n\
         lxc.mount.entry = /dev/null mnt/host-proc/sys/kernel/core_pattern none bind 0 0\n"
    );
    let n = container(&lab, kind, "mnt", &keys);
    let mnt = rootfs(&lab, &n).join("mnt");
    std::fs::create_dir_all(&mnt).unwrap();
    std::os::unix::fs::symlink("/etc", mnt.join("host-etc")).unwrap();
    std::os::unix::fs::symlink("/proc", mnt.join("host-proc")).unwrap();
    lab.start(&n);
    let out = attempt(
        &lab,
        &n,
        &format!("grep ' /etc/{tag} ' /proc/mounts; echo core:; cat /proc/sys/kernel/core_pattern"),
    );
    assert!(out.ok(), "{out:#?}");
    let (mounts, core) = out.stdout.split_once("core:").unwrap();
    assert!(
        mounts.contains(&format!(" /etc/{tag} tmpfs ")),
        "the tmpfs is in the container's /etc: {out:#?}"
    );
    assert_eq!(
        core.trim(),
        "",
        "/dev/null is on the container's core_pattern: {out:#?}"
    );
    assert!(
        !host_dir.0.exists(),
        "the host's /etc got {}",
        host_dir.0.display()
    );
    assert!(
        rootfs(&lab, &n).join("etc").join(&tag).is_dir(),
        "made in the rootfs's /etc"
    );
    assert_eq!(
        std::fs::read_to_string("/proc/sys/kernel/core_pattern").unwrap(),
        core_pattern
    );
    let host_mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(
        !host_mounts.contains(&tag),
        "a mount of the container on the host: {host_mounts}"
    );
    assert!(
        !host_mounts.contains(" /proc/sys/kernel/core_pattern "),
        "{host_mounts}"
    );
}
