//! The root file system and what is mounted in it.

use enclos_mounts::MountInfo;
use enclos_tests::lab::*;
use enclos_tests::require_root;

use crate::{append, inside, running_with, with_keys, Case};

pub const CASES: &[Case] = &[
    Case {
        pattern: "lxc.autodev",
        test: autodev_puts_a_tmpfs_on_dev,
    },
    Case {
        pattern: "lxc.autodev.tmpfs.size",
        test: autodev_tmpfs_size_is_the_size_of_dev,
    },
    Case {
        pattern: "lxc.mount.entry",
        test: mount_entry_binds_a_host_directory,
    },
    Case {
        pattern: "lxc.mount.fstab",
        test: mount_fstab_mounts_its_lines,
    },
    Case {
        pattern: "lxc.mount.auto",
        test: mount_auto_mounts_proc_and_sys_as_asked,
    },
    Case {
        pattern: "lxc.rootfs.path",
        test: rootfs_path_is_the_root_inside,
    },
    Case {
        pattern: "lxc.rootfs.managed",
        test: rootfs_path_is_the_root_inside,
    },
    Case {
        pattern: "lxc.rootfs.options",
        test: rootfs_options_ro_makes_the_root_read_only,
    },
    Case {
        pattern: "lxc.rootfs.mount",
        test: rootfs_mount_is_where_the_rootfs_is_bound_before_the_pivot,
    },
];

/// The mount on `point` inside container `name` (the last one there).
fn mount_of(lab: &Lab, name: &str, point: &str) -> Option<MountInfo> {
    MountInfo::parse_all(&inside(lab, name, "cat /proc/self/mountinfo"))
        .filter(|m| m.mount_point == std::path::Path::new(point))
        .last()
}

#[test]
pub fn autodev_puts_a_tmpfs_on_dev() {
    if !require_root("autodev_puts_a_tmpfs_on_dev") {
        return;
    }
    let lab = Lab::new();
    let n = running_with(&lab, "adev", "lxc.autodev = 1");
    let dev = mount_of(&lab, &n, "/dev").expect("a mount on /dev");
    assert_eq!(dev.fstype, "tmpfs", "{dev:?}");
    assert_eq!(inside(&lab, &n, "stat -c %t:%T /dev/null"), "1:3");
    // Without it, /dev is the rootfs's own directory.
    let plain = running_with(&lab, "adev0", "lxc.autodev = 0");
    assert_eq!(mount_of(&lab, &plain, "/dev"), None);
}

#[test]
pub fn autodev_tmpfs_size_is_the_size_of_dev() {
    if !require_root("autodev_tmpfs_size_is_the_size_of_dev") {
        return;
    }
    let lab = Lab::new();
    // As LXC gives it to the kernel: bytes, rounded up to pages.
    let n = running_with(&lab, "adsz", "lxc.autodev.tmpfs.size = 4194304");
    assert_eq!(
        inside(&lab, &n, "df -k /dev | awk 'NR==2 {print $2}'"),
        "4096"
    );
    let plain = running_with(&lab, "adsz0", "");
    let pages = 500_000u64.div_ceil(page_size());
    assert_eq!(
        inside(&lab, &plain, "df -k /dev | awk 'NR==2 {print $2}'"),
        (pages * page_size() / 1024).to_string(),
        "LXC's default, 500000 bytes"
    );
}

#[test]
pub fn mount_entry_binds_a_host_directory() {
    if !require_root("mount_entry_binds_a_host_directory") {
        return;
    }
    let lab = Lab::new();
    let shared = lab.path().join("shared");
    std::fs::create_dir(&shared).unwrap();
    std::fs::write(shared.join("note"), "from the host\n").unwrap();
    let n = running_with(
        &lab,
        "ment",
        &format!(
            "lxc.mount.entry = {} mnt/shared none bind,create=dir 0 0",
            shared.display()
        ),
    );
    assert_eq!(inside(&lab, &n, "cat /mnt/shared/note"), "from the host");
}

#[test]
pub fn mount_fstab_mounts_its_lines() {
    if !require_root("mount_fstab_mounts_its_lines") {
        return;
    }
    let lab = Lab::new();
    let fstab = lab.conf("fstab", "tmpfs mnt/scratch tmpfs size=1m,create=dir 0 0\n");
    let n = running_with(
        &lab,
        "fstab",
        &format!("lxc.mount.fstab = {}", fstab.display()),
    );
    let m = mount_of(&lab, &n, "/mnt/scratch").expect("a mount on /mnt/scratch");
    assert_eq!(m.fstype, "tmpfs", "{m:?}");
}

#[test]
pub fn mount_auto_mounts_proc_and_sys_as_asked() {
    if !require_root("mount_auto_mounts_proc_and_sys_as_asked") {
        return;
    }
    let lab = Lab::new();
    // sleep as init: busybox's rcS would mount what is missing.
    // Only proc, read-write: no sys, no cgroup.
    let n = running_with(
        &lab,
        "mauto",
        "lxc.mount.auto =\nlxc.mount.auto = proc:rw\nlxc.init.cmd = /bin/sleep 4242",
    );
    let proc_ = mount_of(&lab, &n, "/proc").expect("/proc");
    assert_eq!(proc_.fstype, "proc");
    assert_eq!(mount_of(&lab, &n, "/sys"), None, "sys was not asked for");
    assert_eq!(
        mount_of(&lab, &n, "/proc/sys"),
        None,
        "proc:rw has no read-only /proc/sys"
    );
    // proc:mixed sys:ro: a read-only /proc/sys and sysfs.
    let ro = running_with(
        &lab,
        "mauto2",
        "lxc.mount.auto =\nlxc.mount.auto = proc:mixed sys:ro\nlxc.init.cmd = /bin/sleep 4242",
    );
    let sys = mount_of(&lab, &ro, "/sys").expect("/sys");
    assert_eq!(sys.fstype, "sysfs");
    assert!(sys.options.split(',').any(|o| o == "ro"), "{sys:?}");
    let proc_sys = mount_of(&lab, &ro, "/proc/sys").expect("/proc/sys");
    assert!(
        proc_sys.options.split(',').any(|o| o == "ro"),
        "{proc_sys:?}"
    );
}

#[test]
pub fn rootfs_path_is_the_root_inside() {
    if !require_root("rootfs_path_is_the_root_inside") {
        return;
    }
    let lab = Lab::new();
    // B runs on A's rootfs; A owns it (B says lxc.rootfs.managed = 0).
    let a = lab.create("rootA");
    let a_rootfs = lab.path().join(&a).join("rootfs");
    std::fs::write(a_rootfs.join("marker"), "rootfs of A\n").unwrap();
    let b = with_keys(
        &lab,
        "rootB",
        &format!(
            "lxc.rootfs.path = dir:{}\nlxc.rootfs.managed = 0",
            a_rootfs.display()
        ),
    );
    lab.start(&b);
    assert_eq!(inside(&lab, &b, "cat /marker"), "rootfs of A");
    lab.enclos("stop", &["-n", &b, "-k"]).success();
    lab.enclos("destroy", &["-n", &b]).success();
    assert!(!lab.path().join(&b).exists(), "B's directory is gone");
    assert!(
        a_rootfs.join("marker").exists(),
        "destroying B left A's rootfs alone (lxc.rootfs.managed = 0)"
    );
}

#[test]
pub fn rootfs_options_ro_makes_the_root_read_only() {
    if !require_root("rootfs_options_ro_makes_the_root_read_only") {
        return;
    }
    let lab = Lab::new();
    let n = with_keys(&lab, "rofs", "lxc.rootfs.options = ro");
    // The rootfs path line comes first in the file: options apply to it.
    append(&lab, &n, "lxc.init.cmd = /bin/sleep 4242");
    lab.start(&n);
    let root = mount_of(&lab, &n, "/").expect("/");
    assert!(root.options.split(',').any(|o| o == "ro"), "{root:?}");
    let out = lab.attach(&n, &["touch", "/written"]);
    assert_ne!(out.code, Some(0), "{out:#?}");
    assert!(!lab.path().join(&n).join("rootfs/written").exists());
    // An option enclos does not apply is an error that names it.
    let other = with_keys(&lab, "rofs2", "lxc.rootfs.options = nosuid");
    let out = lab.enclos("start", &["-n", &other]);
    assert_one_error_line(&out, "lxc.rootfs.options: option 'nosuid' is not applied");
}

/// `lxc.rootfs.mount`: the rootfs is bound there, in the container's
/// mount namespace, before the pivot; a mount hook (which runs there)
/// sees it as `LXC_ROOTFS_MOUNT` with the rootfs's files under it, and
/// the host's own mount table never shows it.
#[test]
pub fn rootfs_mount_is_where_the_rootfs_is_bound_before_the_pivot() {
    if !require_root("rootfs_mount_is_where_the_rootfs_is_bound_before_the_pivot") {
        return;
    }
    use std::os::unix::fs::PermissionsExt;
    let lab = Lab::new();
    let point = lab.path().join("rootfs-mount");
    std::fs::create_dir(&point).expect("create the mount point");
    let out = lab.path().join("mount-hook.out");
    let hook = lab.path().join("mount-hook.sh");
    std::fs::write(
        &hook,
        format!(
            "#!/bin/sh\n{{ echo \"mount=$LXC_ROOTFS_MOUNT\"; \
             grep -c \" $LXC_ROOTFS_MOUNT \" /proc/self/mountinfo; \
             test -e \"$LXC_ROOTFS_MOUNT/bin/busybox\" && echo busybox; }} > {}\n",
            out.display()
        ),
    )
    .expect("write the hook");
    std::fs::set_permissions(&hook, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let n = running_with(
        &lab,
        "rtmount",
        &format!(
            "lxc.rootfs.mount = {}\nlxc.hook.version = 1\nlxc.hook.mount = {}",
            point.display(),
            hook.display()
        ),
    );
    let seen = std::fs::read_to_string(&out).expect("the mount hook's output");
    let lines: Vec<&str> = seen.lines().collect();
    assert_eq!(
        lines.first().copied(),
        Some(format!("mount={}", point.display()).as_str()),
        "{seen}"
    );
    assert_ne!(
        lines.get(1).copied(),
        Some("0"),
        "no mount at {}: {seen}",
        point.display()
    );
    assert_eq!(lines.get(2).copied(), Some("busybox"), "{seen}");
    assert_eq!(inside(&lab, &n, "hostname"), n);
    assert_eq!(
        mounts_under(&point),
        Vec::<String>::new(),
        "the host sees the container's rootfs mount"
    );
}
