//! `lxc.idmap`: an unprivileged container started by root. Its processes
//! and the files they make belong to the mapped ids on the host, its root
//! is powerless over host files, and the rest of the life cycle (attach,
//! console, execute, freeze, stop, info) works as for any container.
//!
//! The containers are made as the course's unprivileged user would get
//! them: a busybox create, its rootfs shifted onto the map (or left to
//! host root for the idmapped mount), the container's directory given to
//! the mapped root as LXC does, and the maps added to its configuration.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use enclos_tests::idmap::{rootfs, unprivileged, Rootfs, MAPS, ROOT};
use enclos_tests::lab::*;
use enclos_tests::{missing_feature, require_root};

use crate::{append, inside, Case};

pub const CASES: &[Case] = &[Case {
    pattern: "lxc.idmap",
    test: idmap_runs_the_container_as_the_mapped_ids,
}];

fn owner(path: &Path) -> (u32, u32) {
    let m = std::fs::metadata(path).unwrap_or_else(|e| panic!("stat {}: {e}", path.display()));
    (m.uid(), m.gid())
}

/// The real, effective, saved and filesystem ids of a `Uid:` or `Gid:`
/// line of /proc/PID/status.
fn ids(pid: i32, field: &str) -> Vec<u32> {
    proc_status(pid, field)
        .unwrap_or_else(|| panic!("no {field} line for {pid}"))
        .split_whitespace()
        .map(|v| v.parse().expect("an id"))
        .collect()
}

#[test]
pub fn idmap_runs_the_container_as_the_mapped_ids() {
    if !require_root("idmap_runs_the_container_as_the_mapped_ids") {
        return;
    }
    let lab = Lab::new();
    // A file of real root, bound into the container.
    let host_file = lab.path().join("host-owned");
    std::fs::write(&host_file, "host\n").unwrap();
    std::fs::set_permissions(&host_file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let entry = format!(
        "lxc.mount.entry = {} mnt/host-owned none bind,create=file 0 0\n",
        host_file.display()
    );
    let n = unprivileged(&lab, "idmap", Rootfs::Shifted, &entry);
    lab.start(&n);
    let init = lab.init_pid(&n);
    assert_eq!(ids(init, "Uid"), [ROOT; 4], "init's uids on the host");
    assert_eq!(ids(init, "Gid"), [ROOT; 4], "init's gids on the host");
    // Every process of the container, as `ps` on the host shows them.
    let procs = poll(SETTLE, || {
        let p = cgroup_procs(&n);
        (p.len() > 1).then_some(p)
    })
    .expect("init's children");
    for pid in procs {
        if let Some(uid) = proc_status(pid, "Uid") {
            let real = uid.split_whitespace().next();
            assert_eq!(real, Some(ROOT.to_string().as_str()), "{pid}: Uid {uid}");
        }
    }
    assert_eq!(inside(&lab, &n, "id -u; id -g"), "0\n0");
    inside(&lab, &n, "touch /root/made-inside");
    assert_eq!(
        owner(&rootfs(&lab, &n).join("root/made-inside")),
        (ROOT, ROOT)
    );
    // Root inside is nobody to the host's files.
    let out = lab.attach(
        &n,
        &["sh", "-c", "echo from-the-container >> /mnt/host-owned"],
    );
    assert!(
        !out.ok(),
        "the container's root wrote a host file: {out:#?}"
    );
    assert!(out.stderr.contains("Permission denied"), "{out:#?}");
    assert_eq!(std::fs::read_to_string(&host_file).unwrap(), "host\n");
    let info = lab.enclos("info", &["-n", &n]).success();
    assert_eq!(
        fields(&info.stdout).get("Rootfs idmap").map(String::as_str),
        Some("owned by the map"),
        "{info:#?}"
    );
}

#[test]
fn idmap_mounts_a_rootfs_of_host_root_idmapped() {
    if !require_root("idmap_mounts_a_rootfs_of_host_root_idmapped") {
        return;
    }
    let lab = Lab::new();
    let n = unprivileged(&lab, "idmnt", Rootfs::HostRoot, "");
    if let Err(e) = enclos_idmap::probe_idmapped_mount(&rootfs(&lab, &n)) {
        missing_feature(
            "idmap_mounts_a_rootfs_of_host_root_idmapped",
            &e.to_string(),
        );
        return;
    }
    lab.start(&n);
    assert_eq!(ids(lab.init_pid(&n), "Uid"), [ROOT; 4]);
    // Host root's files are the container root's, inside; what it makes
    // is host root's on disk.
    assert_eq!(inside(&lab, &n, "stat -c %u:%g /bin/busybox"), "0:0");
    inside(&lab, &n, "touch /root/made-inside");
    assert_eq!(owner(&rootfs(&lab, &n).join("root/made-inside")), (0, 0));
    let json = lab
        .enclos("info", &["-n", &n, "--format", "json"])
        .success();
    let v: serde_json::Value = serde_json::from_str(&json.stdout).expect("json");
    assert_eq!(v["rootfs_idmap"], "idmapped_mount", "{json:#?}");
}

#[test]
fn idmap_container_goes_through_its_life_cycle() {
    if !require_root("idmap_container_goes_through_its_life_cycle") {
        return;
    }
    let lab = Lab::new();
    let log = lab.path().join("console.log");
    let n = unprivileged(
        &lab,
        "idlife",
        Rootfs::Shifted,
        &format!("lxc.console.logfile = {}\n", log.display()),
    );
    let out = lab
        .enclos(
            "execute",
            &["-n", &n, "--", "sh", "-c", "id -u; cat /proc/self/uid_map"],
        )
        .success();
    let words: Vec<&str> = out.stdout.split_whitespace().collect();
    assert_eq!(words, ["0", "0", "165536", "65536"], "{out:#?}");
    lab.start(&n);
    let init = lab.init_pid(&n);
    // getty opened the console, a pty slave given to the container's root.
    let prompt = poll(SETTLE, || {
        std::fs::read_to_string(&log)
            .ok()
            .filter(|t| t.contains("login:"))
    });
    assert!(prompt.is_some(), "no login prompt on the console log");
    // The container's root manages its own cgroup subtree.
    let moved = inside(
        &lab,
        &n,
        "d=/sys/fs/cgroup/pids; [ -d $d ] || d=/sys/fs/cgroup; \
         mkdir $d/sub && echo $$ > $d/sub/cgroup.procs && grep -c :/sub /proc/self/cgroup",
    );
    assert_eq!(moved, "1");
    lab.enclos("freeze", &["-n", &n]).success();
    assert_eq!(lab.state(&n), "FROZEN");
    lab.enclos("unfreeze", &["-n", &n]).success();
    assert_eq!(lab.state(&n), "RUNNING");
    lab.enclos("stop", &["-n", &n]).success();
    lab.assert_stopped_and_clean(&n, Some(init));
}

#[test]
fn idmap_refusals_say_what_to_do_and_leave_nothing() {
    if !require_root("idmap_refusals_say_what_to_do_and_leave_nothing") {
        return;
    }
    let lab = Lab::new();
    // The mapped root cannot reach its rootfs.
    let n = unprivileged(&lab, "idshut", Rootfs::Shifted, "");
    std::os::unix::fs::chown(lab.path().join(&n), Some(0), None).unwrap();
    std::fs::set_permissions(lab.path().join(&n), std::fs::Permissions::from_mode(0o750)).unwrap();
    let out = lab.enclos("start", &["-n", &n]);
    assert_one_error_line(
        &out,
        &format!("chmod o+x {}", lab.path().join(&n).display()),
    );
    assert!(out.stderr.contains("cannot reach its rootfs"), "{out:#?}");
    assert_eq!(cgroup_dirs(&n), Vec::<PathBuf>::new());
    // A rootfs of some other user.
    let n = unprivileged(&lab, "idother", Rootfs::HostRoot, "");
    std::os::unix::fs::chown(rootfs(&lab, &n), Some(4242), None).unwrap();
    let out = lab.enclos("start", &["-n", &n]);
    assert_one_error_line(&out, "belongs to uid 4242");
    assert_eq!(cgroup_dirs(&n), Vec::<PathBuf>::new());
    // Maps without a root.
    let n = lab.name("idnoroot");
    lab.create_with(&n, "");
    append(
        &lab,
        &n,
        "lxc.idmap = u 1 165536 10\nlxc.idmap = g 0 165536 65536\n",
    );
    let out = lab.enclos("start", &["-n", &n]);
    assert_one_error_line(&out, "lxc.idmap maps no uid 0");
    assert_eq!(lab.state(&n), "STOPPED");
}

/// Unmounts a mount point of the test when dropped.
struct Unmount(PathBuf);

impl Drop for Unmount {
    fn drop(&mut self) {
        let _ = nix::mount::umount2(&self.0, nix::mount::MntFlags::MNT_DETACH);
    }
}

#[test]
fn idmap_rootfs_of_host_root_without_idmapped_mounts_is_refused() {
    if !require_root("idmap_rootfs_of_host_root_without_idmapped_mounts_is_refused") {
        return;
    }
    let lab = Lab::new();
    let n = unprivileged(&lab, "idramfs", Rootfs::HostRoot, "");
    // ramfs has no idmapped mounts.
    let ram = lab.path().join("ram");
    std::fs::create_dir(&ram).unwrap();
    nix::mount::mount(
        Some("ramfs"),
        &ram,
        Some("ramfs"),
        nix::mount::MsFlags::empty(),
        Some("mode=755"),
    )
    .expect("mount a ramfs");
    let _ram = Unmount(ram.clone());
    let copy = std::process::Command::new("cp")
        .arg("-a")
        .arg(rootfs(&lab, &n))
        .arg(&ram)
        .status()
        .expect("run cp");
    assert!(copy.success(), "copy the rootfs to the ramfs");
    if enclos_idmap::probe_idmapped_mount(&ram.join("rootfs")).is_ok() {
        eprintln!("note: this kernel mounts ramfs idmapped; nothing to refuse");
        return;
    }
    append(
        &lab,
        &n,
        &format!("lxc.rootfs.path = dir:{}/rootfs", ram.display()),
    );
    let out = lab.enclos("start", &["-n", &n]);
    assert_one_error_line(&out, "belongs to host root and cannot be mounted idmapped");
    assert!(
        out.stderr
            .contains("recreate the container as the unprivileged user")
            && out.stderr.contains("shift the rootfs's ids onto the map"),
        "{out:#?}"
    );
    assert_eq!(cgroup_dirs(&n), Vec::<PathBuf>::new());
    // Back to its own rootfs, for the clean-up.
    append(
        &lab,
        &n,
        &format!("lxc.rootfs.path = dir:{}", rootfs(&lab, &n).display()),
    );
}

#[test]
fn idmap_container_created_with_its_maps_starts_as_they_say() {
    if !require_root("idmap_container_created_with_its_maps_starts_as_they_say") {
        return;
    }
    let lab = Lab::new();
    std::fs::set_permissions(lab.path(), std::fs::Permissions::from_mode(0o711)).unwrap();
    // create runs the template as the container's root: the rootfs is the
    // map's, as after lxc-create with lxc.idmap.
    let n = lab.name("idcreate");
    lab.create_with(&n, MAPS);
    assert_eq!(owner(&rootfs(&lab, &n)), (ROOT, ROOT));
    lab.start(&n);
    assert_eq!(ids(lab.init_pid(&n), "Uid"), [ROOT; 4]);
    assert_eq!(inside(&lab, &n, "stat -c %u:%g /etc/passwd"), "0:0");
    let info = lab.enclos("info", &["-n", &n]).success();
    assert_eq!(
        fields(&info.stdout).get("Rootfs idmap").map(String::as_str),
        Some("owned by the map")
    );
}
