//! What LXC's own tests (Debian's lxc-tests, played by `cargo xtask
//! conformance`) rely on, checked here in the normal suite through the
//! `lxc-*` names: `lxc-info -p -H` and `lxc-info -c KEY -H` print bare
//! values (lxc-test-rootfs, lxc-test-autostart), `lxc.rootfs.options = ro`
//! makes the root read-only (lxc-test-rootfs), and an lxcpath reached
//! through a symbolic link takes absolute mount targets written through the
//! real path (lxc-test-symlink).

use std::path::{Path, PathBuf};
use std::process::Command;

use enclos_tests::lab::*;
use enclos_tests::{enclos_bin, require_root};

/// A directory holding `lxc-*` links to the enclos binary (as `enclos
/// compat install` makes them), removed on drop.
struct Links {
    dir: tempfile::TempDir,
}

impl Links {
    fn new() -> Links {
        let dir = tempfile::Builder::new()
            .prefix("enclos-links-")
            .tempdir()
            .expect("temporary directory");
        let out = run({
            let mut c = Command::new(enclos_bin());
            c.args(["compat", "install"]).arg(dir.path());
            c
        });
        out.success();
        Links { dir }
    }

    /// `TOOL -P LXCPATH ARGS...` through its link, run.
    fn run(&self, tool: &str, lxcpath: &Path, args: &[&str]) -> Out {
        let mut c = Command::new(self.dir.path().join(tool));
        c.arg("-P").arg(lxcpath).args(args);
        run(c)
    }
}

#[test]
fn lxc_info_h_prints_the_bare_pid_and_config_value() {
    if !require_root("lxc_info_h_prints_the_bare_pid_and_config_value") {
        return;
    }
    let lab = Lab::new();
    let links = Links::new();
    let n = lab.running("info-h");

    let out = links
        .run("lxc-info", lab.path(), &["-n", &n, "-p", "-H"])
        .success();
    let pid: i32 = out
        .stdout
        .strip_suffix('\n')
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("lxc-info -p -H printed {:?}", out.stdout));
    assert_eq!(innermost_pid(pid), Some(1), "the pid printed is init's");
    assert!(Path::new(&format!("/proc/{pid}/root/bin/busybox")).exists());

    let out = links
        .run("lxc-info", lab.path(), &["-n", &n, "-s", "-H"])
        .success();
    assert_eq!(out.stdout, "RUNNING\n");

    // As lxc-test-autostart uses it: the directory of the rootfs path is
    // the container's, with its config.
    let out = links
        .run(
            "lxc-info",
            lab.path(),
            &["-n", &n, "-c", "lxc.rootfs.path", "-H"],
        )
        .success();
    let value = out.stdout.strip_suffix('\n').expect("one line");
    assert!(!value.contains(' '), "a bare value: {value:?}");
    let rootfs = PathBuf::from(value.strip_prefix("dir:").unwrap_or(value));
    assert_eq!(rootfs, lab.path().join(&n).join("rootfs"));
    assert!(rootfs.parent().unwrap().join("config").is_file());

    // Without -H, the key is named.
    let out = links
        .run("lxc-info", lab.path(), &["-n", &n, "-c", "lxc.rootfs.path"])
        .success();
    assert_eq!(out.stdout, format!("lxc.rootfs.path = {value}\n"));

    // An unset key is named with nothing after it; a name that is no key
    // is an error.
    let out = links
        .run("lxc-info", lab.path(), &["-n", &n, "-c", "lxc.start.delay"])
        .success();
    assert_eq!(out.stdout, "lxc.start.delay =\n");
    let out = links.run("lxc-info", lab.path(), &["-n", &n, "-c", "lxc.nokey"]);
    assert_one_error_line(&out, "Invalid configuration key 'lxc.nokey'");
}

#[test]
fn rootfs_options_ro_makes_the_root_read_only() {
    if !require_root("rootfs_options_ro_makes_the_root_read_only") {
        return;
    }
    let lab = Lab::new();
    let ro = lab.name("rootfs-ro");
    lab.create_with(&ro, "lxc.rootfs.options = ro\n");
    lab.start(&ro);
    let pid = lab.init_pid(&ro);
    let err = std::fs::create_dir(format!("/proc/{pid}/root/rotest"))
        .expect_err("mkdir in a read-only root");
    assert_eq!(
        err.raw_os_error(),
        Some(nix::errno::Errno::EROFS as i32),
        "{err}"
    );
    let out = lab.attach(&ro, &["touch", "/rotest"]);
    assert!(!out.ok(), "touch in a read-only root: {out:#?}");
    assert!(out.stderr.contains("Read-only"), "{out:#?}");

    let rw = lab.name("rootfs-rw");
    lab.create_with(&rw, "lxc.rootfs.options = rw\n");
    lab.start(&rw);
    let pid = lab.init_pid(&rw);
    let dir = format!("/proc/{pid}/root/rwtest");
    std::fs::create_dir(&dir).expect("mkdir in a writable root");
    std::fs::remove_dir(&dir).expect("rmdir");
}

#[test]
fn mount_target_through_the_real_path_of_a_linked_lxcpath() {
    if !require_root("mount_target_through_the_real_path_of_a_linked_lxcpath") {
        return;
    }
    let lab = Lab::new();
    let links = Links::new();
    let n = lab.name("symlink");
    let real = std::fs::canonicalize(lab.path()).expect("lxcpath");
    let linked = links.dir.path().join("lxcpath");
    std::os::unix::fs::symlink(&real, &linked).expect("link to the lxcpath");

    links
        .run("lxc-create", &linked, &["-n", &n, "-t", "busybox"])
        .success();
    let shared = tempfile::tempdir().expect("temporary directory");
    std::fs::write(shared.path().join("marker"), "through the real path\n").unwrap();
    let target = real.join(&n).join("rootfs/opt/xxx/dir2");
    let config = real.join(&n).join("config");
    let mut text = std::fs::read_to_string(&config).unwrap();
    text.push_str(&format!(
        "lxc.mount.entry = {} {} none bind,create=dir\n",
        shared.path().display(),
        target.display()
    ));
    std::fs::write(&config, text).unwrap();

    links.run("lxc-start", &linked, &["-n", &n]).success();
    let out = links
        .run("lxc-info", &linked, &["-n", &n, "-p", "-H"])
        .success();
    let pid: i32 = out.stdout.trim().parse().expect("a pid");
    let seen = std::fs::read_to_string(format!("/proc/{pid}/root/opt/xxx/dir2/marker"))
        .expect("the bind mount inside the container");
    assert_eq!(seen, "through the real path\n");
    let out = lab.attach(&n, &["cat", "/opt/xxx/dir2/marker"]).success();
    assert_eq!(out.stdout, "through the real path\n");
    links.run("lxc-stop", &linked, &["-n", &n, "-k"]).success();
}
