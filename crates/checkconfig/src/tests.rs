//! The checks against fake /proc, /sys, /dev and /boot trees.

use std::path::Path;

use super::*;

/// A fake host in a temporary directory: a kernel config in /boot, and
/// what /proc, /sys and /dev show.
struct Fake {
    dir: tempfile::TempDir,
    host: Host,
}

const V2_MOUNTINFO: &str =
    "30 23 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate\n";

impl Fake {
    fn new(config: Option<&str>) -> Fake {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path();
        for d in [
            "boot",
            "proc/self/ns",
            "proc/sys/user",
            "proc/sys/kernel",
            "sys/module",
            "dev",
        ] {
            std::fs::create_dir_all(p.join(d)).unwrap();
        }
        if let Some(c) = config {
            std::fs::write(p.join("boot/config-6.1.0-fake"), c).unwrap();
        }
        let host = Host {
            proc_config: p.join("proc/config.gz"),
            boot_dir: p.join("boot"),
            release: Some("6.1.0-fake".into()),
            proc: p.join("proc"),
            sys: p.join("sys"),
            dev: p.join("dev"),
            idmap_probe: None,
        };
        let fake = Fake { dir, host };
        fake.write("proc/self/mountinfo", V2_MOUNTINFO);
        fake
    }

    fn write(&self, rel: &str, text: &str) {
        let path = self.dir.path().join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }
}

fn find<'a>(findings: &'a [Finding], feature: &str) -> &'a Finding {
    findings
        .iter()
        .find(|f| f.feature == feature)
        .unwrap_or_else(|| panic!("no finding {feature} in {findings:#?}"))
}

#[test]
fn config_says_what_probes_cannot() {
    let fake = Fake::new(Some(
        "CONFIG_OVERLAY_FS=m\n# CONFIG_BTRFS_FS is not set\nCONFIG_VETH=m\n# CONFIG_MACVLAN is not set\nCONFIG_TIME_NS=y\n",
    ));
    let f = check(&fake.host);
    let kernel = find(&f, "kernel config");
    assert_eq!(kernel.status, Status::Enabled);
    assert!(kernel.detail.contains("config-6.1.0-fake"), "{kernel:?}");
    // A module not loaded yet is enabled: it loads on demand.
    assert_eq!(find(&f, "overlay").status, Status::Enabled);
    assert_eq!(find(&f, "overlay").detail, "CONFIG_OVERLAY_FS=m");
    assert_eq!(find(&f, "veth").status, Status::Enabled);
    let btrfs = find(&f, "btrfs");
    assert_eq!(btrfs.status, Status::Missing);
    assert_eq!(btrfs.detail, "CONFIG_BTRFS_FS not set");
    assert!(btrfs.fix.as_deref().unwrap().contains("modprobe btrfs"));
    assert_eq!(find(&f, "macvlan").status, Status::Missing);
    // Namespaces are probed: the config says time, /proc/self/ns does not
    // list it, so the kernel running is not the one configured.
    assert_eq!(find(&f, "time namespace").status, Status::Enabled);
    assert_eq!(find(&f, "pid namespace").status, Status::Missing);
    assert!(has_missing_required(&f));
}

#[test]
fn probes_alone_without_a_config() {
    let fake = Fake::new(None);
    for ns in ["uts", "ipc", "pid", "mnt", "net", "user", "cgroup"] {
        fake.write(&format!("proc/self/ns/{ns}"), "");
    }
    fake.write("proc/filesystems", "nodev\tsysfs\nnodev\toverlay\n\text4\n");
    fake.write("sys/module/veth/refcnt", "0\n");
    fake.write("proc/sys/user/max_user_namespaces", "0\n");
    fake.write("proc/sys/kernel/unprivileged_userns_clone", "1\n");
    let f = check(&fake.host);
    assert_eq!(find(&f, "kernel config").status, Status::Unknown);
    assert_eq!(find(&f, "uts namespace").status, Status::Enabled);
    let time = find(&f, "time namespace");
    assert_eq!(time.status, Status::Missing);
    assert!(time.fix.as_deref().unwrap().contains("CONFIG_TIME_NS"));
    assert_eq!(find(&f, "overlay").status, Status::Enabled);
    assert_eq!(find(&f, "btrfs").status, Status::Unknown);
    assert_eq!(find(&f, "veth").status, Status::Enabled);
    assert_eq!(find(&f, "bridge").status, Status::Unknown);
    let max = find(&f, "user.max_user_namespaces");
    assert_eq!(max.status, Status::Missing);
    assert!(max.fix.as_deref().unwrap().contains("sysctl -w"));
    assert_eq!(
        find(&f, "kernel.unprivileged_userns_clone").status,
        Status::Enabled
    );
    assert_eq!(find(&f, "idmapped mounts").status, Status::Unknown);
    assert!(!has_missing_required(&f), "{f:#?}");
}

#[test]
fn cgroup_controllers_on_v2_hybrid_and_v1() {
    let fake = Fake::new(Some(
        "CONFIG_MEMCG=y\nCONFIG_CGROUP_BPF=y\nCONFIG_BLK_CGROUP=y\n# CONFIG_CPUSETS is not set\n",
    ));
    fake.write("sys/fs/cgroup/cgroup.controllers", "cpu memory pids\n");
    let mountinfo = V2_MOUNTINFO.replace(
        "/sys/fs/cgroup",
        &fake.path().join("sys/fs/cgroup").display().to_string(),
    );
    fake.write("proc/self/mountinfo", &mountinfo);
    let f = check(&fake.host);
    let layout = find(&f, "cgroup layout");
    assert!(layout.detail.starts_with("unified"), "{layout:?}");
    assert!(find(&f, "cgroup memory").detail.starts_with("v2 hierarchy"));
    assert_eq!(find(&f, "cgroup devices").status, Status::Enabled);
    let cpuset = find(&f, "cgroup cpuset");
    assert_eq!(
        (cpuset.status, cpuset.detail.as_str()),
        (Status::Missing, "CONFIG_CPUSETS not set")
    );
    let io = find(&f, "cgroup io");
    assert_eq!(io.status, Status::Missing);
    assert!(
        io.fix
            .as_deref()
            .unwrap()
            .contains("cgroup.subtree_control"),
        "{io:?}"
    );

    // Hybrid: memory on v1, disabled blkio in /proc/cgroups.
    let v1 = fake.path().join("sys/fs/cgroup/memory");
    std::fs::create_dir_all(&v1).unwrap();
    let hybrid = format!(
        "{mountinfo}31 23 0:27 / {} rw,relatime shared:5 - cgroup cgroup rw,memory\n",
        v1.display()
    );
    fake.write("proc/self/mountinfo", &hybrid);
    fake.write(
        "proc/cgroups",
        "#subsys_name\thierarchy\tnum_cgroups\tenabled\nmemory\t3\t1\t1\nblkio\t0\t1\t0\n",
    );
    let f = check(&fake.host);
    assert!(find(&f, "cgroup layout").detail.starts_with("hybrid"));
    assert!(find(&f, "cgroup memory").detail.starts_with("v1 hierarchy"));
    let io = find(&f, "cgroup io");
    assert!(
        io.fix.as_deref().unwrap().contains("cgroup_enable=blkio"),
        "{io:?}"
    );

    fake.write("proc/self/mountinfo", "");
    let f = check(&fake.host);
    assert_eq!(find(&f, "cgroup layout").status, Status::Missing);
    assert!(has_missing_required(&f));
}

#[test]
fn proc_cgroups_enabled_column() {
    let text = "#subsys_name\thierarchy\tnum_cgroups\tenabled\ncpu\t0\t80\t1\nmemory\t0\t80\t0\n";
    assert_eq!(
        crate::cgroups::proc_cgroups_enabled(text, "cpu"),
        Some(true)
    );
    assert_eq!(
        crate::cgroups::proc_cgroups_enabled(text, "memory"),
        Some(false)
    );
    assert_eq!(crate::cgroups::proc_cgroups_enabled(text, "pids"), None);
}
