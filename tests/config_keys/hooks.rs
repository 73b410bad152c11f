//! `lxc.hook.*`: each hook runs where and when LXC runs it, with LXC's
//! arguments and environment, and a failing start hook aborts the start
//! with the hook's own output.

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use enclos_tests::lab::{cgroup_dirs, cgroup_mounts, mounts_under, Lab, CGROUP_PREFIX};
use enclos_tests::require_root;

pub const CASES: &[crate::Case] = &[
    crate::Case {
        pattern: "lxc.hook.pre-start",
        test: pre_start_hook_runs_on_the_host_with_lxcs_environment,
    },
    crate::Case {
        pattern: "lxc.hook.pre-mount",
        test: pre_mount_hook_mounts_in_the_containers_namespace_before_the_rootfs,
    },
    crate::Case {
        pattern: "lxc.hook.mount",
        test: mount_hook_runs_after_the_mounts_and_its_failure_aborts_the_start,
    },
    crate::Case {
        pattern: "lxc.hook.autodev",
        test: autodev_hook_populates_the_containers_dev,
    },
    crate::Case {
        pattern: "lxc.hook.start-host",
        test: start_host_hook_runs_on_the_host_once_init_exists,
    },
    crate::Case {
        pattern: "lxc.hook.start",
        test: start_hook_runs_inside_the_container_before_init,
    },
    crate::Case {
        pattern: "lxc.hook.stop",
        test: stop_hook_gets_references_to_the_containers_namespaces,
    },
    crate::Case {
        pattern: "lxc.hook.post-stop",
        test: post_stop_hook_runs_after_the_stop_and_its_failure_does_not_block_it,
    },
    crate::Case {
        pattern: "lxc.hook.destroy",
        test: destroy_hook_runs_before_the_container_goes,
    },
    crate::Case {
        pattern: "lxc.hook",
        test: lxc_hook_clears_the_hooks_before_it,
    },
    crate::Case {
        pattern: "lxc.hook.clone",
        test: clone_hook_runs_at_a_copy_not_at_start,
    },
    crate::Case {
        pattern: "lxc.hook.version",
        test: hook_version_1_passes_everything_in_the_environment,
    },
];

/// Writes an executable shell script `name` into the lab's directory.
fn script(lab: &Lab, name: &str, body: &str) -> PathBuf {
    write_script(&lab.path().join(name), body)
}

fn write_script(path: &Path, body: &str) -> PathBuf {
    std::fs::write(path, format!("#!/bin/sh\n{body}\n")).expect("write hook script");
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).expect("chmod hook");
    path.to_path_buf()
}

/// Adds `lines` to the end of container `name`'s configuration.
fn add_config(lab: &Lab, name: &str, lines: &str) {
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(lab.path().join(name).join("config"))
        .expect("open config");
    f.write_all(lines.as_bytes()).expect("append to config");
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

fn ns_of(pid: &str, ns: &str) -> String {
    std::fs::read_link(format!("/proc/{pid}/ns/{ns}"))
        .unwrap_or_else(|e| panic!("readlink /proc/{pid}/ns/{ns}: {e}"))
        .to_string_lossy()
        .into_owned()
}

/// A failed start as a user sees it: exit code 1, the hook's output in the
/// error, the container STOPPED with no cgroup and no mount left.
fn assert_start_aborted(lab: &Lab, name: &str, expected: &[&str]) {
    let out = lab.enclos("start", &["-n", name]);
    assert_eq!(out.code, Some(1), "start should fail: {out:#?}");
    for e in expected {
        assert!(out.stderr.contains(e), "error lacks {e:?}: {}", out.stderr);
    }
    assert_eq!(lab.state(name), "STOPPED");
    assert_eq!(cgroup_dirs(name), Vec::<PathBuf>::new(), "cgroups left");
    assert_eq!(
        mounts_under(&lab.path().join(name)),
        Vec::<String>::new(),
        "mounts left"
    );
}

#[test]
pub fn pre_start_hook_runs_on_the_host_with_lxcs_environment() {
    if !require_root("pre_start_hook_runs_on_the_host_with_lxcs_environment") {
        return;
    }
    let lab = Lab::new();
    let name = lab.name("hk-prestart");
    let out = lab.path().join("pre-start.out");
    let cgroups: Vec<String> = cgroup_mounts()
        .iter()
        .map(|m| {
            m.path
                .join(format!("{CGROUP_PREFIX}{name}"))
                .display()
                .to_string()
        })
        .collect();
    let hook = script(
        &lab,
        "pre-start.sh",
        &format!(
            "{{ echo \"args=$*\"; env | grep '^LXC_' | sort; echo \"mnt=$(readlink /proc/self/ns/mnt)\"\n\
             for d in {}; do test -d \"$d\" && echo \"cgroup exists: $d\"; done; }} > {}\nexit 0",
            cgroups.join(" "),
            out.display()
        ),
    );
    lab.create_with(&name, &format!("lxc.hook.pre-start = {}\n", hook.display()));
    lab.start(&name);
    let text = read(&out);
    let dir = lab.path().join(&name);
    for line in [
        format!("args={name} lxc pre-start"),
        format!("LXC_NAME={name}"),
        format!("LXC_CONFIG_FILE={}", dir.join("config").display()),
        format!("LXC_ROOTFS_MOUNT={}", dir.join("rootfs").display()),
        format!("LXC_ROOTFS_PATH=dir:{}", dir.join("rootfs").display()),
        "LXC_HOOK_VERSION=0".to_string(),
        "LXC_CGNS_AWARE=1".to_string(),
        "LXC_LOG_LEVEL=ERROR".to_string(),
        format!("mnt={}", ns_of("self", "mnt")),
    ] {
        assert!(
            text.lines().any(|l| l == line),
            "no line {line:?} in:\n{text}"
        );
    }
    assert!(
        !text.contains("LXC_HOOK_TYPE"),
        "version 0 has no LXC_HOOK_TYPE:\n{text}"
    );
    assert!(
        !text.contains("cgroup exists"),
        "ran after the cgroup was made:\n{text}"
    );
}

#[test]
pub fn failing_pre_start_hook_aborts_the_start_with_its_output() {
    if !require_root("failing_pre_start_hook_aborts_the_start_with_its_output") {
        return;
    }
    let lab = Lab::new();
    let name = lab.name("hk-prefail");
    let hook = script(
        &lab,
        "fail.sh",
        "echo 'disk not ready' >&2\necho 'giving up'\nexit 3",
    );
    lab.create_with(&name, &format!("lxc.hook.pre-start = {}\n", hook.display()));
    assert_start_aborted(
        &lab,
        &name,
        &[
            "lxc.hook.pre-start",
            "exit status 3",
            "disk not ready giving up",
        ],
    );
}

#[test]
pub fn pre_mount_hook_mounts_in_the_containers_namespace_before_the_rootfs() {
    if !require_root("pre_mount_hook_mounts_in_the_containers_namespace_before_the_rootfs") {
        return;
    }
    let lab = Lab::new();
    let name = lab.name("hk-premount");
    let hook = script(
        &lab,
        "pre-mount.sh",
        "mkdir -p \"$LXC_ROOTFS_MOUNT/srv/pm\" && mount -t tmpfs premount \"$LXC_ROOTFS_MOUNT/srv/pm\" \
         && echo \"mounted by pre-mount in $(readlink /proc/self/ns/mnt)\" > \"$LXC_ROOTFS_MOUNT/srv/pm/marker\"",
    );
    lab.create_with(&name, &format!("lxc.hook.pre-mount = {}\n", hook.display()));
    lab.start(&name);
    let inside = lab.attach(&name, &["cat", "/srv/pm/marker"]).success();
    let mnt = lab
        .attach(&name, &["readlink", "/proc/self/ns/mnt"])
        .success();
    assert_eq!(
        inside.stdout.trim(),
        format!("mounted by pre-mount in {}", mnt.stdout.trim())
    );
    let on_host = lab.path().join(&name).join("rootfs/srv/pm/marker");
    assert!(!on_host.exists(), "the hook's mount reached the host");
}

#[test]
pub fn mount_hook_runs_after_the_mounts_and_its_failure_aborts_the_start() {
    if !require_root("mount_hook_runs_after_the_mounts_and_its_failure_aborts_the_start") {
        return;
    }
    let lab = Lab::new();
    let name = lab.name("hk-mount");
    let hook = script(
        &lab,
        "mount.sh",
        "{ test -r \"$LXC_ROOTFS_MOUNT/proc/1/status\" && echo proc-mounted\n\
         echo \"mnt=$(readlink /proc/self/ns/mnt)\"; } > \"$LXC_ROOTFS_MOUNT/mount-hook.out\"",
    );
    lab.create_with(&name, &format!("lxc.hook.mount = {}\n", hook.display()));
    lab.start(&name);
    let inside = lab.attach(&name, &["cat", "/mount-hook.out"]).success();
    let mnt = lab
        .attach(&name, &["readlink", "/proc/self/ns/mnt"])
        .success();
    assert_eq!(
        inside.stdout,
        format!("proc-mounted\nmnt={}\n", mnt.stdout.trim())
    );

    let failing = lab.name("hk-mountfail");
    let hook = script(
        &lab,
        "mount-fail.sh",
        "echo 'cannot mount the data volume'\nexit 7",
    );
    lab.create_with(&failing, &format!("lxc.hook.mount = {}\n", hook.display()));
    assert_start_aborted(
        &lab,
        &failing,
        &[
            "lxc.hook.mount",
            "exit status 7",
            "cannot mount the data volume",
        ],
    );
}

#[test]
pub fn autodev_hook_populates_the_containers_dev() {
    if !require_root("autodev_hook_populates_the_containers_dev") {
        return;
    }
    let lab = Lab::new();
    let name = lab.name("hk-autodev");
    let hook = script(
        &lab,
        "autodev.sh",
        "mknod \"$LXC_ROOTFS_MOUNT/dev/hooked\" c 1 3",
    );
    lab.create_with(
        &name,
        &format!("lxc.autodev = 1\nlxc.hook.autodev = {}\n", hook.display()),
    );
    lab.start(&name);
    let ls = lab.attach(&name, &["ls", "-l", "/dev/hooked"]).success();
    assert!(
        ls.stdout.starts_with('c'),
        "not a character device: {}",
        ls.stdout
    );
    assert!(
        ls.stdout.contains("1,   3") || ls.stdout.contains("1, 3"),
        "{}",
        ls.stdout
    );
    // On the container's /dev tmpfs, not in the rootfs.
    assert!(!lab.path().join(&name).join("rootfs/dev/hooked").exists());
}

#[test]
pub fn start_host_hook_runs_on_the_host_once_init_exists() {
    if !require_root("start_host_hook_runs_on_the_host_once_init_exists") {
        return;
    }
    let lab = Lab::new();
    let name = lab.name("hk-starthost");
    let out = lab.path().join("start-host.out");
    let hook = script(
        &lab,
        "start-host.sh",
        &format!(
            "{{ echo \"pid=$LXC_PID\"; echo \"net=$(readlink /proc/$LXC_PID/ns/net)\"; \
             echo \"mnt=$(readlink /proc/self/ns/mnt)\"; echo \"args=$*\"; }} > {}",
            out.display()
        ),
    );
    lab.create_with(
        &name,
        &format!("lxc.hook.start-host = {}\n", hook.display()),
    );
    lab.start(&name);
    let init = lab.init_pid(&name).to_string();
    assert_eq!(
        read(&out),
        format!(
            "pid={init}\nnet={}\nmnt={}\nargs={name} lxc start-host\n",
            ns_of(&init, "net"),
            ns_of("self", "mnt")
        )
    );
}

#[test]
pub fn start_hook_runs_inside_the_container_before_init() {
    if !require_root("start_hook_runs_inside_the_container_before_init") {
        return;
    }
    let lab = Lab::new();
    let name = lab.name("hk-start");
    lab.create_with(&name, "lxc.hook.start = /start-hook.sh\n");
    // A path inside the container: the hook runs after pivot_root.
    write_script(
        &lab.path().join(&name).join("rootfs/start-hook.sh"),
        "{ echo \"args=$*\"; echo \"mnt=$(readlink /proc/self/ns/mnt)\"; } > /start-hook.out",
    );
    lab.start(&name);
    let inside = lab.attach(&name, &["cat", "/start-hook.out"]).success();
    let mnt = lab
        .attach(&name, &["readlink", "/proc/self/ns/mnt"])
        .success();
    assert_eq!(
        inside.stdout,
        format!("args={name} lxc start\nmnt={}\n", mnt.stdout.trim())
    );
}

#[test]
pub fn stop_hook_gets_references_to_the_containers_namespaces() {
    if !require_root("stop_hook_gets_references_to_the_containers_namespaces") {
        return;
    }
    let lab = Lab::new();
    let name = lab.name("hk-stop");
    let out = lab.path().join("stop.out");
    let hook = script(
        &lab,
        "stop.sh",
        &format!(
            "{{ echo \"args=$1 $2 $3\"; shift 3; for a in \"$@\"; do echo \"$a -> $(readlink ${{a#*:}})\"; done\n\
             echo \"target=$LXC_TARGET\"; }} > {}",
            out.display()
        ),
    );
    lab.create_with(&name, &format!("lxc.hook.stop = {}\n", hook.display()));
    lab.start(&name);
    let init = lab.init_pid(&name);
    let (net, mnt) = (
        ns_of(&init.to_string(), "net"),
        ns_of(&init.to_string(), "mnt"),
    );
    lab.enclos("stop", &["-n", &name, "-k"]).success();
    lab.assert_stopped_and_clean(&name, Some(init));
    let text = read(&out);
    assert!(
        text.starts_with(&format!("args={name} lxc stop\n")),
        "{text}"
    );
    for (kind, inode) in [("net", &net), ("mnt", &mnt)] {
        assert!(
            text.lines()
                .any(|l| l.starts_with(&format!("{kind}:/proc/"))
                    && l.ends_with(&format!(" -> {inode}"))),
            "no reference to init's {kind} namespace {inode}:\n{text}"
        );
    }
    assert!(text.ends_with("target=stop\n"), "{text}");
}

#[test]
pub fn post_stop_hook_runs_after_the_stop_and_its_failure_does_not_block_it() {
    if !require_root("post_stop_hook_runs_after_the_stop_and_its_failure_does_not_block_it") {
        return;
    }
    let lab = Lab::new();
    let name = lab.name("hk-poststop");
    let out = lab.path().join("post-stop.out");
    let cgroups: Vec<String> = cgroup_mounts()
        .iter()
        .map(|m| {
            m.path
                .join(format!("{CGROUP_PREFIX}{name}"))
                .display()
                .to_string()
        })
        .collect();
    let hook = script(
        &lab,
        "post-stop.sh",
        &format!(
            "{{ echo \"args=$*\"; echo \"target=$LXC_TARGET\"\n\
             for d in {}; do test -d \"$d\" && echo \"cgroup still there: $d\"; done; }} > {}\n\
             echo 'cleanup failed' >&2\nexit 1",
            cgroups.join(" "),
            out.display()
        ),
    );
    lab.create_with(&name, &format!("lxc.hook.post-stop = {}\n", hook.display()));
    lab.start(&name);
    let init = lab.init_pid(&name);
    lab.enclos("stop", &["-n", &name, "-k"]).success();
    lab.assert_stopped_and_clean(&name, Some(init));
    assert_eq!(
        read(&out),
        format!("args={name} lxc post-stop\ntarget=stop\n")
    );
}

#[test]
pub fn destroy_hook_runs_before_the_container_goes() {
    if !require_root("destroy_hook_runs_before_the_container_goes") {
        return;
    }
    let lab = Lab::new();
    let name = lab.name("hk-destroy");
    let out = lab.path().join("destroy.out");
    let hook = script(
        &lab,
        "destroy.sh",
        &format!(
            "{{ echo \"args=$*\"; test -d \"$LXC_ROOTFS_MOUNT/bin\" && echo rootfs-still-there; }} > {}",
            out.display()
        ),
    );
    lab.create_with(&name, &format!("lxc.hook.destroy = {}\n", hook.display()));
    lab.enclos("destroy", &["-n", &name]).success();
    assert!(!lab.path().join(&name).exists(), "container still there");
    assert_eq!(
        read(&out),
        format!("args={name} lxc destroy\nrootfs-still-there\n")
    );
}

#[test]
pub fn lxc_hook_clears_the_hooks_before_it() {
    if !require_root("lxc_hook_clears_the_hooks_before_it") {
        return;
    }
    let lab = Lab::new();
    let name = lab.name("hk-clear");
    let out = lab.path().join("after-clear.out");
    let hook = script(&lab, "after.sh", &format!("echo ran > {}", out.display()));
    lab.create_with(&name, "");
    add_config(
        &lab,
        &name,
        &format!(
            "lxc.hook.pre-start = /bin/false\nlxc.hook.mount = /bin/false\nlxc.hook =\nlxc.hook.start-host = {}\n",
            hook.display()
        ),
    );
    lab.start(&name);
    assert_eq!(read(&out), "ran\n");
}

#[test]
pub fn hook_version_1_passes_everything_in_the_environment() {
    if !require_root("hook_version_1_passes_everything_in_the_environment") {
        return;
    }
    let lab = Lab::new();
    let name = lab.name("hk-v1");
    let pre = lab.path().join("v1-pre-start.out");
    let stop = lab.path().join("v1-stop.out");
    let pre_hook = script(
        &lab,
        "v1-pre.sh",
        &format!(
            "echo \"argc=$# name=$LXC_NAME type=$LXC_HOOK_TYPE section=$LXC_HOOK_SECTION version=$LXC_HOOK_VERSION\" > {}",
            pre.display()
        ),
    );
    let stop_hook = script(
        &lab,
        "v1-stop.sh",
        &format!(
            "echo \"argc=$# type=$LXC_HOOK_TYPE net=$(readlink $LXC_NET_NS) target=$LXC_TARGET\" > {}",
            stop.display()
        ),
    );
    lab.create_with(
        &name,
        &format!(
            "lxc.hook.version = 1\nlxc.hook.pre-start = {}\nlxc.hook.stop = {}\n",
            pre_hook.display(),
            stop_hook.display()
        ),
    );
    lab.start(&name);
    let init = lab.init_pid(&name);
    let net = ns_of(&init.to_string(), "net");
    lab.enclos("stop", &["-n", &name, "-k"]).success();
    lab.assert_stopped_and_clean(&name, Some(init));
    assert_eq!(
        read(&pre),
        format!("argc=0 name={name} type=pre-start section=lxc version=1\n")
    );
    assert_eq!(
        read(&stop),
        format!("argc=0 type=stop net={net} target=stop\n")
    );
}

/// Debian's common.conf sets `lxc.hook.clone`: the configuration loads,
/// the container starts without a word about it and without running it;
/// a copy runs it (its environment: tests/copy.rs).
#[test]
fn clone_hook_runs_at_a_copy_not_at_start() {
    if !require_root("clone_hook_runs_at_a_copy_not_at_start") {
        return;
    }
    let lab = Lab::new();
    let copy = lab.name("hk-clone2");
    let name = lab.create("hk-clone");
    let marker = lab.path().join("clone.ran");
    let hook = script(
        &lab,
        "clone.sh",
        &format!("echo \"$*\" > {}", marker.display()),
    );
    let config = lab.path().join(&name).join("config");
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&config)
        .expect("open the config");
    writeln!(f, "lxc.hook.clone = {}", hook.display()).expect("append");
    drop(f);
    let out = lab.enclos("start", &["-n", &name]);
    assert!(out.ok(), "{out:#?}");
    assert_eq!(out.stderr, "", "{out:#?}");
    assert_eq!(lab.state(&name), "RUNNING");
    assert!(!marker.exists(), "the clone hook ran at start");
    lab.enclos("stop", &["-n", &name, "-k"]).success();
    lab.enclos("copy", &["-n", &name, "-N", &copy]).success();
    assert_eq!(
        std::fs::read_to_string(&marker).expect("the clone hook ran"),
        format!("{copy} lxc clone\n")
    );
}
