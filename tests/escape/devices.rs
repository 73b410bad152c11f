//! Device rules of the devices cgroup: a node of the host's disk made
//! with mknod inside the container cannot be opened (LXC's default
//! allow-list: any mknod, only /dev/null, zero, full, random, urandom,
//! tty, console, ptmx, pts and fuse opened), while the allowed nodes
//! keep working, and `enclos device add` opens one more. The disk is
//! only read (one sector to /dev/null), so a failed defence costs the
//! host nothing.

use enclos_tests::lab::*;

use super::{attempt, rootfs, running, Kind};

/// `major:minor` of the block device that holds the host's `/`, from
/// mountinfo (a disk the container must never read).
fn host_disk() -> (String, String) {
    let info = std::fs::read_to_string("/proc/self/mountinfo").expect("mountinfo");
    let dev = info
        .lines()
        .map(|l| l.split(' ').collect::<Vec<_>>())
        .find(|f| f.len() > 4 && f[4] == "/")
        .map(|f| f[2].to_string())
        .expect("the mount of /");
    let dev = if std::path::Path::new(&format!("/sys/dev/block/{dev}")).exists() {
        dev
    } else {
        // `/` on an overlay or a tmpfs: any disk of the host will do.
        std::fs::read_dir("/sys/block")
            .expect("/sys/block")
            .flatten()
            .filter(|e| {
                let n = e.file_name().to_string_lossy().to_string();
                !n.starts_with("loop") && !n.starts_with("ram")
            })
            .find_map(|e| std::fs::read_to_string(e.path().join("dev")).ok())
            .map(|d| d.trim().to_string())
            .expect("a disk of the host")
    };
    let (major, minor) = dev.split_once(':').expect("major:minor");
    (major.to_string(), minor.to_string())
}

pub fn host_disk_node(kind: Kind) {
    let lab = Lab::new();
    let n = running(&lab, kind, "disk", "");
    let (major, minor) = host_disk();
    let out = attempt(
        &lab,
        &n,
        &format!(
            "mknod /tmp/disk b {major} {minor} && echo MADE; \
             dd if=/tmp/disk of=/dev/null bs=512 count=1 && echo READ-OK; \
             rm -f /tmp/disk"
        ),
    );
    assert!(
        !out.stdout.contains("READ-OK"),
        "the host's disk {major}:{minor} was read from the container: {out:#?}"
    );
    if kind == Kind::Unprivileged {
        assert!(!out.stdout.contains("MADE"), "mknod went through: {out:#?}");
    }
    let node = rootfs(&lab, &n).join("tmp/disk");
    assert!(!node.exists(), "{} left behind", node.display());
    // The devices cgroup, as a user checks it, no longer allows all.
    let group = cgroup_mounts()
        .into_iter()
        .find(|m| m.fstype == "cgroup" && m.options.iter().any(|o| o == "devices"));
    if let Some(m) = group {
        let list = std::fs::read_to_string(m.path.join(format!("{CGROUP_PREFIX}{n}/devices.list")))
            .expect("devices.list");
        assert!(!list.contains("a *:* rwm"), "all devices allowed: {list}");
        assert!(list.contains("c 1:3 rwm"), "/dev/null not allowed: {list}");
    }
}

pub fn allowed_devices_work(kind: Kind) {
    let lab = Lab::new();
    let n = running(&lab, kind, "null", "");
    let out = attempt(
        &lab,
        &n,
        "echo x > /dev/null && echo NULL-OK; \
         head -c 4 /dev/zero | wc -c; head -c 4 /dev/urandom | wc -c",
    );
    assert!(out.stdout.contains("NULL-OK"), "/dev/null: {out:#?}");
    let counts: Vec<&str> = out.stdout.lines().skip(1).map(str::trim).collect();
    assert_eq!(counts, ["4", "4"], "/dev/zero, /dev/urandom: {out:#?}");
    if kind == Kind::Privileged {
        // `device add` opens a node the defaults keep closed.
        let open = "exec 3</dev/loop-control && echo OPEN-OK";
        let before = attempt(
            &lab,
            &n,
            "mknod /dev/loop-control c 10 237; exec 3</dev/loop-control && echo OPEN-OK",
        );
        assert!(!before.stdout.contains("OPEN-OK"), "{before:#?}");
        lab.attach(&n, &["rm", "-f", "/dev/loop-control"]).success();
        lab.enclos("device", &["-n", &n, "add", "/dev/loop-control"])
            .success();
        let after = attempt(&lab, &n, open);
        assert!(
            after.stdout.contains("OPEN-OK"),
            "after device add: {after:#?}"
        );
    }
}
