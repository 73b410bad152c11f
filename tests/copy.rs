//! copy (lxc-copy) and the storage backends at start, as a user checks
//! them: the file in the copy's rootfs, the lines of its config, what the
//! container sees inside, the ephemeral copy gone after its stop, the
//! overlay's upper layer holding only what changed, no loop device or
//! mount left behind, and the error text of what is refused.
//!
//! Each test has its own lxcpath ([`Lab`]); its guard destroys the
//! containers (clones first: their names are taken first) and fails the
//! test if anything was left.

use std::fs;
use std::path::{Path, PathBuf};

use enclos_tests::lab::*;
use enclos_tests::require_root;

/// The loop devices whose backing file is under `dir`.
fn loops_under(dir: &Path) -> Vec<String> {
    let Ok(entries) = fs::read_dir("/sys/block") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| {
            let backing = fs::read_to_string(e.path().join("loop/backing_file")).ok()?;
            Path::new(backing.trim())
                .starts_with(dir)
                .then(|| e.file_name().to_string_lossy().into_owned())
        })
        .collect()
}

/// Fails unless the monitor of `name` runs from a sealed binary (the
/// copy is made unsealed, its start by a sealed child): not the host's
/// file, and nothing can be written through its /proc/PID/exe.
fn assert_monitor_sealed(lab: &Lab, name: &str) {
    let pid = fs::read_to_string(lab.path().join(name).join(".enclos/monitor.pid")).unwrap();
    let exe = format!("/proc/{}/exe", pid.trim());
    let target = fs::read_link(&exe).unwrap();
    let host = enclos_tests::enclos_bin();
    assert_ne!(target, host, "the monitor runs the host's binary");
    let file_name = host.file_name().unwrap().to_string_lossy().into_owned();
    let shown = target.to_string_lossy();
    assert!(
        shown == format!("/{file_name}") || shown.starts_with("/memfd:"),
        "the monitor's binary is {shown}, neither the detached overlay's nor a memfd"
    );
    let write = fs::OpenOptions::new().append(true).open(&exe);
    assert!(write.is_err(), "{exe} opened for writing");
}

/// Fails if a loop device still holds an image of the lab.
fn assert_no_loop(lab: &Lab) {
    assert_eq!(
        loops_under(lab.path()),
        Vec::<String>::new(),
        "loop devices left"
    );
}

/// The files (not directories) under `dir`, relative.
fn files_under(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if e.file_type().unwrap().is_dir() {
                todo.push(p);
            } else {
                out.push(p.strip_prefix(dir).unwrap().display().to_string());
            }
        }
    }
    out.sort();
    out
}

/// A stopped busybox container with `/root/hi` holding "hello", and
/// `extra` config lines; the copy's name `copy` is taken first so that
/// the guard destroys it before its original.
fn original(lab: &Lab, extra: &str) -> (String, String) {
    let copy = lab.name("copy");
    let orig = lab.name("orig");
    lab.create_with(&orig, extra);
    fs::write(lab.path().join(&orig).join("rootfs/root/hi"), "hello\n").unwrap();
    (orig, copy)
}

#[test]
fn a_copy_has_the_files_and_a_config_of_its_own() {
    if !require_root("a_copy_has_the_files_and_a_config_of_its_own") {
        return;
    }
    let lab = Lab::new();
    let (orig, copy) = original(
        &lab,
        "lxc.net.0.type = empty\nlxc.net.0.hwaddr = 00:16:3e:11:22:33\n",
    );
    let hook = lab.path().join(&orig).join("hook.sh");
    fs::write(&hook, "#!/bin/sh\nexit 0\n").unwrap();
    fs::set_permissions(&hook, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let cfg = lab.path().join(&orig).join("config");
    let mut text = fs::read_to_string(&cfg).unwrap();
    text.push_str(&format!("lxc.hook.pre-start = {}\n", hook.display()));
    fs::write(&cfg, text).unwrap();

    lab.enclos("copy", &["-n", &orig, "-N", &copy]).success();
    let dir = lab.path().join(&copy);
    assert_eq!(
        fs::read_to_string(dir.join("rootfs/root/hi")).unwrap(),
        "hello\n"
    );
    assert_eq!(
        fs::read_to_string(dir.join("rootfs/etc/hostname")).unwrap(),
        format!("{copy}\n")
    );
    let conf = read_config(&dir.join("config"));
    assert_eq!(conf["lxc.uts.name"], [copy.as_str()]);
    assert_eq!(
        conf["lxc.rootfs.path"],
        [format!("dir:{}/rootfs", dir.display())]
    );
    assert_eq!(
        conf["lxc.hook.pre-start"],
        [dir.join("hook.sh").display().to_string()]
    );
    assert!(
        dir.join("hook.sh").is_file(),
        "the hook script is copied along"
    );
    // The template's seccomp profile too: the copy names its own.
    assert_eq!(
        conf["lxc.seccomp.profile"],
        [dir.join("common.seccomp").display().to_string()]
    );
    assert_eq!(
        fs::read(dir.join("common.seccomp")).unwrap(),
        fs::read(lab.path().join(&orig).join("common.seccomp")).unwrap()
    );
    let mac = &conf["lxc.net.0.hwaddr"][0];
    assert!(
        mac.starts_with("00:16:3e:") && mac != "00:16:3e:11:22:33",
        "{mac}"
    );
    // The original is untouched.
    let before = read_config(&cfg);
    assert_eq!(before["lxc.uts.name"], [orig.as_str()]);
    assert_eq!(before["lxc.net.0.hwaddr"], ["00:16:3e:11:22:33"]);
    // And the copy runs under its own name.
    lab.start(&copy);
    let out = lab
        .attach(&copy, &["sh", "-c", "hostname; cat /root/hi"])
        .success();
    assert_eq!(out.stdout, format!("{copy}\nhello\n"));
    lab.enclos("stop", &["-n", &copy, "-k"]).success();
}

/// `lxc.hook.clone` runs once the copy exists, with LXC's arguments and
/// environment; a failing one fails the copy, which leaves nothing.
#[test]
fn clone_hooks_run_after_a_copy_and_a_failing_one_leaves_no_copy() {
    if !require_root("clone_hooks_run_after_a_copy_and_a_failing_one_leaves_no_copy") {
        return;
    }
    let lab = Lab::new();
    let bad = lab.name("bad");
    let (orig, copy) = original(&lab, "");
    let out = lab.path().join("hook.out");
    let hook = lab.path().join("clone.sh");
    fs::write(
        &hook,
        format!(
            "#!/bin/sh\necho \"$*|$LXC_NAME|$LXC_SRC_NAME|$LXC_ROOTFS_MOUNT|$LXC_ROOTFS_PATH|$LXC_CONFIG_FILE|$(cat $LXC_ROOTFS_MOUNT/root/hi)\" > {}\n[ -z \"$FAIL\" ] || {{ echo \"clone hook refuses\" >&2; exit 2; }}\n",
            out.display()
        ),
    )
    .unwrap();
    fs::set_permissions(&hook, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let cfg = lab.path().join(&orig).join("config");
    let mut text = fs::read_to_string(&cfg).unwrap();
    text.push_str(&format!("lxc.hook.clone = {}\n", hook.display()));
    fs::write(&cfg, text).unwrap();

    lab.enclos("copy", &["-n", &orig, "-N", &copy]).success();
    let dir = lab.path().join(&copy);
    let rootfs = dir.join("rootfs");
    assert_eq!(
        fs::read_to_string(&out).unwrap(),
        format!(
            "{copy} lxc clone|{copy}|{orig}|{}|dir:{}|{}|hello\n",
            rootfs.display(),
            rootfs.display(),
            dir.join("config").display()
        )
    );

    let mut cmd = lab.cmd("copy", &["-n", &orig, "-N", &bad]);
    cmd.env("FAIL", "1");
    let failed = run(cmd);
    assert_eq!(failed.code, Some(1), "{failed:#?}");
    assert!(
        failed.stderr.contains("clone hook refuses"),
        "{}",
        failed.stderr
    );
    assert!(!lab.path().join(&bad).exists(), "no half-made copy");
    let ls = lab.enclos("ls", &[]).success();
    assert!(!ls.lines().contains(&bad.as_str()), "{ls:#?}");
}

#[test]
fn keepname_and_keepmac_keep_them() {
    if !require_root("keepname_and_keepmac_keep_them") {
        return;
    }
    let lab = Lab::new();
    let (orig, copy) = original(
        &lab,
        "lxc.net.0.type = empty\nlxc.net.0.hwaddr = 00:16:3e:11:22:33\n",
    );
    lab.enclos("copy", &["-n", &orig, "-N", &copy, "-K", "-M"])
        .success();
    let dir = lab.path().join(&copy);
    let conf = read_config(&dir.join("config"));
    assert_eq!(conf["lxc.uts.name"], [orig.as_str()]);
    assert_eq!(conf["lxc.net.0.hwaddr"], ["00:16:3e:11:22:33"]);
    assert_eq!(
        fs::read_to_string(dir.join("rootfs/etc/hostname")).unwrap(),
        format!("{orig}\n")
    );
}

#[test]
fn a_running_original_is_refused_and_nothing_is_made() {
    if !require_root("a_running_original_is_refused_and_nothing_is_made") {
        return;
    }
    let lab = Lab::new();
    let (orig, copy) = original(&lab, "");
    lab.start(&orig);
    for flags in [&["-e"][..], &[][..]] {
        let mut args = vec!["-n", orig.as_str(), "-N", copy.as_str()];
        args.extend_from_slice(flags);
        let out = lab.enclos("copy", &args);
        assert_eq!(out.code, Some(1), "{out:?}");
        assert_one_error_line(&out, &format!("Original container ({orig}) is running"));
        assert!(
            out.stderr
                .contains(&format!("stop it first (enclos stop -n {orig})")),
            "{}",
            out.stderr
        );
    }
    let names: Vec<String> = fs::read_dir(lab.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("copy"))
        .collect();
    assert_eq!(
        names,
        Vec::<String>::new(),
        "no copy, not even a staged one"
    );
    lab.enclos("stop", &["-n", &orig, "-k"]).success();
}

#[test]
fn an_ephemeral_copy_runs_keeps_its_changes_in_its_upper_layer_and_vanishes_at_stop() {
    if !require_root(
        "an_ephemeral_copy_runs_keeps_its_changes_in_its_upper_layer_and_vanishes_at_stop",
    ) {
        return;
    }
    let lab = Lab::new();
    let (orig, eph) = original(&lab, "");
    let out = lab
        .enclos("copy", &["-e", "-N", &eph, "-n", &orig])
        .success();
    assert_eq!(out.stdout, format!("Created {eph} as clone of {orig}\n"));
    assert_eq!(lab.state(&eph), "RUNNING");
    assert_monitor_sealed(&lab, &eph);
    let conf = read_config(&lab.path().join(&eph).join("config"));
    assert_eq!(conf["lxc.ephemeral"], ["1"]);
    let seccomp = lab.path().join(&eph).join("common.seccomp");
    assert_eq!(conf["lxc.seccomp.profile"], [seccomp.display().to_string()]);
    let status = lab
        .attach(&eph, &["grep", "Seccomp:", "/proc/1/status"])
        .success();
    assert!(status.stdout.ends_with("2\n"), "{status:#?}");
    assert_eq!(
        conf["lxc.rootfs.path"],
        [format!(
            "overlay:{}/rootfs:{}/delta0",
            lab.path().join(&orig).display(),
            lab.path().join(&eph).display()
        )]
    );
    lab.attach(&eph, &["sh", "-c", "echo test > /root/testdata"])
        .success();
    // Still there at the next attach; the copy has its own hostname,
    // written at its start.
    let out = lab
        .attach(
            &eph,
            &["cat", "/root/testdata", "/root/hi", "/etc/hostname"],
        )
        .success();
    assert_eq!(out.stdout, format!("test\nhello\n{eph}\n"));
    assert!(!lab
        .path()
        .join(&eph)
        .join(".enclos/hostname.pending")
        .exists());
    // The upper layer holds what changed, not the original's files.
    let upper = files_under(&lab.path().join(&eph).join("delta0"));
    assert!(upper.contains(&"root/testdata".to_string()), "{upper:?}");
    assert!(upper.contains(&"etc/hostname".to_string()), "{upper:?}");
    assert!(
        !upper
            .iter()
            .any(|f| f.starts_with("bin/") || f == "root/hi"),
        "{upper:?}"
    );
    assert!(!lab.path().join(&orig).join("rootfs/root/testdata").exists());
    // The original is held while it runs.
    let out = lab.enclos("destroy", &["-n", &orig]);
    assert_eq!(out.code, Some(1));
    assert!(
        out.stderr
            .contains(&format!("it has clone {}", lab.path().join(&eph).display())),
        "{}",
        out.stderr
    );

    lab.enclos("stop", &["-n", &eph]).success();
    // Gone when the stop returns: its directory renamed away, removed
    // meanwhile by a process of its own.
    assert!(
        !lab.path().join(&eph).exists(),
        "the ephemeral copy is gone after its stop"
    );
    assert!(
        poll(SETTLE, || lab_entries(lab.path()).is_empty().then_some(())).is_some(),
        "the removal is done: {:?}",
        lab_entries(lab.path())
    );
    let ls = lab.enclos("ls", &[]).success();
    assert_eq!(ls.lines(), [orig.as_str()]);
    assert!(!lab.path().join(&orig).join("lxc_snapshots").exists());
    assert_eq!(mounts_under(lab.path()), Vec::<String>::new());
}

/// The hidden entries of the lxcpath (a copy being made or a container
/// being removed).
fn lab_entries(lxcpath: &Path) -> Vec<String> {
    fs::read_dir(lxcpath)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.'))
        .collect()
}

/// The file systems mounted on `at` in the mount namespace of `pid`.
fn fstypes_at(pid: &str, at: &Path) -> Vec<String> {
    let info = fs::read_to_string(format!("/proc/{pid}/mountinfo")).unwrap_or_default();
    enclos_mounts::MountInfo::parse_all(&info)
        .filter(|m| m.mount_point == at)
        .map(|m| m.fstype)
        .collect()
}

/// `copy -e -t` of `orig` as `eph`: the copy's changes are on a tmpfs
/// that its monitor mounted over its upper layer's directory (seen in the
/// monitor's mount namespace, not on the host's disk nor in its mount
/// table), and nothing is left after its stop.
fn an_ephemeral_copy_on_tmpfs(lab: &Lab, orig: &str, eph: &str, lowers: &str) {
    let out = lab
        .enclos("copy", &["-e", "-t", "-N", eph, "-n", orig])
        .success();
    assert_eq!(
        out.stdout,
        format!("Created {eph} as clone of {orig}\nContainer is placed on tmpfs.\nRebooting will cause all changes made to it to be lost!\n")
    );
    let dir = lab.path().join(eph);
    let tmpfs = dir.join("tmpfs");
    let conf = read_config(&dir.join("config"));
    assert_eq!(
        conf["lxc.rootfs.path"],
        [format!("overlay:{lowers}:{}/delta0", tmpfs.display())]
    );
    lab.attach(eph, &["sh", "-c", "echo test > /root/testdata"])
        .success();
    let out = lab
        .attach(eph, &["cat", "/root/testdata", "/root/hi", "/etc/hostname"])
        .success();
    assert_eq!(out.stdout, format!("test\nhello\n{eph}\n"));
    let monitor = fs::read_to_string(dir.join(".enclos/monitor.pid")).unwrap();
    assert_eq!(fstypes_at(monitor.trim(), &tmpfs), ["tmpfs"]);
    assert!(
        !tmpfs.join("delta0/root/testdata").exists(),
        "the change is not on the disk"
    );
    assert_eq!(mounts_under(lab.path()), Vec::<String>::new());

    lab.enclos("stop", &["-n", eph, "-k"]).success();
    assert!(
        poll(SETTLE, || (!dir.exists()).then_some(())).is_some(),
        "the ephemeral copy is gone after its stop"
    );
    assert_eq!(mounts_under(lab.path()), Vec::<String>::new());
    assert!(!lab.path().join(orig).join("rootfs/root/testdata").exists());
}

#[test]
fn an_ephemeral_copy_on_tmpfs_of_a_dir_container() {
    if !require_root("an_ephemeral_copy_on_tmpfs_of_a_dir_container") {
        return;
    }
    let lab = Lab::new();
    let (orig, eph) = original(&lab, "");
    let lowers = lab.path().join(&orig).join("rootfs");
    an_ephemeral_copy_on_tmpfs(&lab, &orig, &eph, &lowers.display().to_string());
    let ls = lab.enclos("ls", &[]).success();
    assert_eq!(ls.lines(), [orig.as_str()]);
}

#[test]
fn an_ephemeral_copy_on_tmpfs_of_an_overlay_container() {
    if !require_root("an_ephemeral_copy_on_tmpfs_of_an_overlay_container") {
        return;
    }
    let lab = Lab::new();
    let eph = lab.name("eph");
    let (orig, ov) = original(&lab, "");
    lab.enclos("copy", &["-s", "-n", &orig, "-N", &ov])
        .success();
    let lowers = format!(
        "{}/delta0:{}/rootfs",
        lab.path().join(&ov).display(),
        lab.path().join(&orig).display()
    );
    an_ephemeral_copy_on_tmpfs(&lab, &ov, &eph, &lowers);
    let out = lab.enclos("copy", &["-e", "-t", "-B", "dir", "-N", &eph, "-n", &orig]);
    assert_eq!(out.code, Some(1));
    assert!(
        out.stderr
            .contains("when the overlay storage driver is used"),
        "{}",
        out.stderr
    );
    assert!(!lab.path().join(&eph).exists());
}

#[test]
fn keepdata_keeps_an_ephemeral_copy_after_its_stop() {
    if !require_root("keepdata_keeps_an_ephemeral_copy_after_its_stop") {
        return;
    }
    let lab = Lab::new();
    let (orig, eph) = original(&lab, "");
    lab.enclos("copy", &["-e", "-D", "-N", &eph, "-n", &orig])
        .success();
    lab.attach(&eph, &["sh", "-c", "echo kept > /root/data"])
        .success();
    // Its name in /etc/hostname, left by the copy for its start.
    assert_eq!(
        lab.attach(&eph, &["cat", "/etc/hostname"]).success().stdout,
        format!("{eph}\n")
    );
    lab.enclos("stop", &["-n", &eph, "-k"]).success();
    assert_eq!(lab.state(&eph), "STOPPED");
    assert!(!read_config(&lab.path().join(&eph).join("config")).contains_key("lxc.ephemeral"));
    lab.start(&eph);
    assert_eq!(
        lab.attach(&eph, &["cat", "/root/data"]).success().stdout,
        "kept\n"
    );
    lab.enclos("stop", &["-n", &eph, "-k"]).success();
}

#[test]
fn an_ephemeral_copy_sees_its_bind_mount() {
    if !require_root("an_ephemeral_copy_sees_its_bind_mount") {
        return;
    }
    let lab = Lab::new();
    let (orig, eph) = original(&lab, "");
    let shared = lab.path().join("shared");
    fs::create_dir(&shared).unwrap();
    fs::write(shared.join("note"), "from the host\n").unwrap();
    let spec = format!("bind={}:/mnt/shared:ro", shared.display());
    lab.enclos("copy", &["-e", "-N", &eph, "-n", &orig, "-m", &spec])
        .success();
    let out = lab.attach(&eph, &["cat", "/mnt/shared/note"]).success();
    assert_eq!(out.stdout, "from the host\n");
    let out = lab.attach(&eph, &["sh", "-c", "echo x > /mnt/shared/new"]);
    assert!(!out.ok(), "the bind mount is read-only");
    lab.enclos("stop", &["-n", &eph, "-k"]).success();
}

#[test]
fn a_snapshot_copy_stacks_on_its_original_which_it_holds() {
    if !require_root("a_snapshot_copy_stacks_on_its_original_which_it_holds") {
        return;
    }
    let lab = Lab::new();
    let (orig, copy) = original(&lab, "");
    lab.enclos("copy", &["-n", &orig, "-N", &copy, "-s"])
        .success();
    let (o, c) = (lab.path().join(&orig), lab.path().join(&copy));
    assert_eq!(
        read_config(&c.join("config"))["lxc.rootfs.path"],
        [format!(
            "overlay:{}/rootfs:{}/delta0",
            o.display(),
            c.display()
        )]
    );
    assert_eq!(
        fs::read_to_string(o.join("lxc_snapshots")).unwrap(),
        format!("{}\n{copy}\n", lab.path().display())
    );
    lab.start(&copy);
    assert_eq!(
        lab.attach(&copy, &["cat", "/root/hi"]).success().stdout,
        "hello\n"
    );
    lab.enclos("stop", &["-n", &copy, "-k"]).success();
    for args in [&["-n", orig.as_str()][..], &["-n", orig.as_str(), "-s"][..]] {
        let out = lab.enclos("destroy", args);
        assert_eq!(out.code, Some(1), "{out:?}");
        assert_one_error_line(&out, &format!("it has clone {}", c.display()));
    }
    lab.enclos("destroy", &["-n", &copy]).success();
    assert!(!o.join("lxc_snapshots").exists());
    lab.enclos("destroy", &["-n", &orig]).success();
    assert!(!o.exists());
}

#[test]
fn destroy_s_takes_the_snapshots_along() {
    if !require_root("destroy_s_takes_the_snapshots_along") {
        return;
    }
    let lab = Lab::new();
    let (orig, _) = original(&lab, "");
    let o = lab.path().join(&orig);
    let snap = o.join("snaps/snap0");
    fs::create_dir_all(snap.join("rootfs")).unwrap();
    fs::write(
        snap.join("config"),
        format!("lxc.rootfs.path = dir:{}/rootfs\n", snap.display()),
    )
    .unwrap();
    fs::write(snap.join("ts"), "2026:01:01 00:00:00").unwrap();
    let out = lab.enclos("destroy", &["-n", &orig]);
    assert_eq!(out.code, Some(1));
    assert_one_error_line(&out, "it has snapshot snap0; destroy them first, or use -s");
    assert!(snap.join("config").is_file());
    lab.enclos("destroy", &["-n", &orig, "-s"]).success();
    assert!(!o.exists());
}

#[test]
fn rename_moves_the_container_and_its_paths() {
    if !require_root("rename_moves_the_container_and_its_paths") {
        return;
    }
    let lab = Lab::new();
    let (orig, new) = original(&lab, "");
    lab.enclos("copy", &["-n", &orig, "-N", &new, "-R"])
        .success();
    let n = lab.path().join(&new);
    assert!(!lab.path().join(&orig).exists());
    let conf = read_config(&n.join("config"));
    assert_eq!(conf["lxc.uts.name"], [new.as_str()]);
    assert_eq!(
        conf["lxc.rootfs.path"],
        [format!("dir:{}/rootfs", n.display())]
    );
    assert_eq!(
        fs::read_to_string(n.join("rootfs/etc/hostname")).unwrap(),
        format!("{new}\n")
    );
    lab.start(&new);
    assert_eq!(
        lab.attach(&new, &["hostname"]).success().stdout,
        format!("{new}\n")
    );
    lab.enclos("stop", &["-n", &new, "-k"]).success();
}

/// Section 2.2's loop and overlay backing stores: created, filled by the
/// template, started with the rootfs seen inside, stopped with nothing
/// left mounted or attached.
#[test]
fn loop_and_overlay_containers_start_on_their_backend() {
    if !require_root("loop_and_overlay_containers_start_on_their_backend") {
        return;
    }
    let lab = Lab::new();
    for backend in ["loop", "overlay"] {
        let n = lab.name(backend);
        lab.enclos(
            "create",
            &["-n", &n, "-t", "busybox", "-B", backend, "--fssize", "48M"],
        )
        .success();
        let dir = lab.path().join(&n);
        let spec = &read_config(&dir.join("config"))["lxc.rootfs.path"][0];
        match backend {
            "loop" => {
                assert_eq!(spec, &format!("loop:{}/rootdev", dir.display()));
                assert_eq!(fs::metadata(dir.join("rootdev")).unwrap().len(), 48 << 20);
            }
            _ => {
                // An empty upper layer over the cached template rootfs;
                // the container's own files (its name) in the upper one.
                let cache = format!("overlay:{}/.cache/busybox@", lab.path().display());
                let upper = format!("/rootfs:{}/delta0", dir.display());
                assert!(spec.starts_with(&cache) && spec.ends_with(&upper), "{spec}");
                assert_eq!(
                    fs::read_to_string(dir.join("delta0/etc/hostname")).unwrap(),
                    format!("{n}\n")
                );
                assert!(!dir.join("delta0/bin/busybox").exists(), "nothing copied");
            }
        }
        assert_no_loop(&lab);
        lab.start(&n);
        let out = lab
            .attach(
                &n,
                &["sh", "-c", "echo written > /root/f; cat /etc/hostname"],
            )
            .success();
        assert_eq!(out.stdout, format!("{n}\n"));
        if backend == "loop" {
            let df = lab.attach(&n, &["df", "/"]).success().stdout;
            assert!(df.contains("/dev/loop"), "{df}");
        }
        lab.enclos("stop", &["-n", &n, "-k"]).success();
        assert_no_loop(&lab);
        lab.start(&n);
        assert_eq!(
            lab.attach(&n, &["cat", "/root/f"]).success().stdout,
            "written\n"
        );
        lab.enclos("stop", &["-n", &n, "-k"]).success();
        assert_no_loop(&lab);
        assert_eq!(mounts_under(lab.path()), Vec::<String>::new());
    }
}

#[test]
fn a_copy_into_loop_takes_its_size_and_a_failed_one_leaves_nothing() {
    if !require_root("a_copy_into_loop_takes_its_size_and_a_failed_one_leaves_nothing") {
        return;
    }
    let lab = Lab::new();
    let (orig, copy) = original(&lab, "");
    lab.enclos(
        "copy",
        &["-n", &orig, "-N", &copy, "-B", "loop", "-L", "40M"],
    )
    .success();
    let image: PathBuf = lab.path().join(&copy).join("rootdev");
    assert_eq!(fs::metadata(&image).unwrap().len(), 40 << 20);
    assert_no_loop(&lab);
    lab.start(&copy);
    assert_eq!(
        lab.attach(&copy, &["cat", "/root/hi"]).success().stdout,
        "hello\n"
    );
    lab.enclos("stop", &["-n", &copy, "-k"]).success();
    assert_no_loop(&lab);

    // 40 MiB of data do not fit in 8 MiB: the copy fails, and leaves no
    // container, staged directory, mount or loop device.
    let big = lab.path().join(&orig).join("rootfs/root/big");
    let f = fs::File::create(&big).unwrap();
    std::io::Write::write_all(&mut &f, &vec![7u8; 40 << 20]).unwrap();
    drop(f);
    let full = lab.name("full");
    let out = lab.enclos(
        "copy",
        &["-n", &orig, "-N", &full, "-B", "loop", "-L", "8M"],
    );
    assert_eq!(out.code, Some(1), "{out:?}");
    assert!(
        out.stderr.contains("No space left on device"),
        "{}",
        out.stderr
    );
    let left: Vec<String> = fs::read_dir(lab.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("full"))
        .collect();
    assert_eq!(left, Vec::<String>::new());
    assert_no_loop(&lab);
    assert_eq!(mounts_under(lab.path()), Vec::<String>::new());
}

/// A field of `btrfs subvolume show PATH` ("UUID", "Parent UUID").
fn subvolume_field(path: &Path, field: &str) -> String {
    let out = std::process::Command::new("btrfs")
        .args(["subvolume", "show"])
        .arg(path)
        .output()
        .unwrap();
    assert!(out.status.success(), "btrfs subvolume show: {out:?}");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.trim().strip_prefix(&format!("{field}:")))
        .map(|v| v.trim().to_string())
        .unwrap_or_else(|| panic!("no {field} for {}", path.display()))
}

/// On a btrfs lxcpath, create from the busybox template clones a cached
/// rootfs, built once per busybox: a subvolume snapshot for a btrfs
/// container, a copy for a dir one, and a file put in the cache is in the
/// next container; once the busybox changes (its modification time here),
/// the cache is built again and the file is gone.
#[test]
fn a_second_create_clones_the_cached_template_until_busybox_changes() {
    let test = "a_second_create_clones_the_cached_template_until_busybox_changes";
    if !require_root(test) {
        return;
    }
    let Some(b) = BtrfsLxcpath::make(test) else {
        return;
    };
    let bin = tempfile::tempdir().unwrap();
    let bb = copy_of_host_busybox(bin.path());
    let bb_arg = bb.display().to_string();
    let create = |n: &str, backend: &str| {
        b.enclos(
            "create",
            &[
                "-n",
                n,
                "-t",
                "busybox",
                "-B",
                backend,
                "--",
                "--busybox-path",
                &bb_arg,
            ],
        )
        .success();
        b.path().join(n).join("rootfs")
    };
    let first = create("c1", "btrfs");
    let cache = b.path().join(".cache/busybox");
    let identity = fs::read_to_string(cache.join("identity")).unwrap();
    assert!(
        identity.contains(&format!(
            "busybox {}\n",
            fs::canonicalize(&bb).unwrap().display()
        )),
        "{identity}"
    );
    assert_eq!(
        subvolume_field(&first, "Parent UUID"),
        subvolume_field(&cache.join("rootfs"), "UUID")
    );
    fs::write(cache.join("rootfs/etc/from-cache"), "cached\n").unwrap();

    for (n, backend) in [("c2", "btrfs"), ("c3", "dir")] {
        assert_clone_of_cache(&create(n, backend), &first, n, backend);
    }
    assert_eq!(
        fs::read(first.join("bin/busybox")).unwrap(),
        fs::read(&bb).unwrap()
    );
    b.enclos("start", &["-n", "c3"]).success();
    assert_eq!(
        b.enclos("attach", &["-n", "c3", "--", "hostname"])
            .success()
            .stdout,
        "c3\n"
    );
    b.enclos("stop", &["-n", "c3", "-k"]).success();

    let later = std::time::SystemTime::now() + std::time::Duration::from_secs(60);
    fs::File::options()
        .write(true)
        .open(&bb)
        .unwrap()
        .set_modified(later)
        .unwrap();
    let fourth = create("c4", "btrfs");
    assert!(
        !fourth.join("etc/from-cache").exists(),
        "a stale cache was used"
    );
    assert!(!cache.join("rootfs/etc/from-cache").exists());
    assert_ne!(
        fs::read_to_string(cache.join("identity")).unwrap(),
        identity
    );
    assert_eq!(
        subvolume_field(&fourth, "Parent UUID"),
        subvolume_field(&cache.join("rootfs"), "UUID")
    );
}

/// A copy of the host's busybox in `dir`, for a test that changes it.
fn copy_of_host_busybox(dir: &Path) -> PathBuf {
    let host = std::env::split_paths(&std::env::var_os("PATH").unwrap())
        .map(|d| d.join("busybox"))
        .find(|p| p.is_file())
        .expect("busybox on PATH");
    let bb = dir.join("busybox");
    fs::copy(&host, &bb).unwrap();
    bb
}

/// `rootfs`, made by a create named `n` on `backend`, holds the cache's
/// marker, its own hostname and hosts, and the same files as `first`.
fn assert_clone_of_cache(rootfs: &Path, first: &Path, n: &str, backend: &str) {
    assert_eq!(
        fs::read_to_string(rootfs.join("etc/from-cache")).unwrap(),
        "cached\n",
        "{backend}"
    );
    assert_eq!(
        fs::read_to_string(rootfs.join("etc/hostname")).unwrap(),
        format!("{n}\n")
    );
    let hosts = fs::read_to_string(rootfs.join("etc/hosts")).unwrap();
    assert!(hosts.contains(&format!("\t{n}\n")), "{hosts}");
    // The same files as the first container's but for the cache's own.
    let mut listed = files_under(rootfs);
    listed.retain(|f| f != "etc/from-cache");
    assert_eq!(files_under(first), listed, "{backend}");
}

/// An lxcpath on a btrfs filesystem of its own: an image in a temporary
/// directory, attached to a loop device and mounted; its containers are
/// destroyed, the filesystem unmounted and the device detached when
/// dropped.
struct BtrfsLxcpath {
    dir: tempfile::TempDir,
    dev: String,
}

impl BtrfsLxcpath {
    fn make(test: &str) -> Option<BtrfsLxcpath> {
        let have = std::process::Command::new("mkfs.btrfs")
            .arg("--version")
            .output();
        if !have.is_ok_and(|o| o.status.success()) {
            enclos_tests::missing_feature(test, "no mkfs.btrfs (install btrfs-progs)");
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let image = dir.path().join("btrfs.img");
        fs::File::create(&image)
            .unwrap()
            .set_len(256 << 20)
            .unwrap();
        let out = std::process::Command::new("losetup")
            .args(["--find", "--show"])
            .arg(&image)
            .output()
            .unwrap();
        assert!(out.status.success(), "losetup: {out:?}");
        let b = BtrfsLxcpath {
            dir,
            dev: String::from_utf8_lossy(&out.stdout).trim().to_string(),
        };
        let mk = std::process::Command::new("mkfs.btrfs")
            .args(["-q", "-f", &b.dev])
            .output()
            .unwrap();
        assert!(mk.status.success(), "mkfs.btrfs: {mk:?}");
        fs::create_dir(b.path()).unwrap();
        nix::mount::mount(
            Some(b.dev.as_str()),
            &b.path(),
            Some("btrfs"),
            nix::mount::MsFlags::empty(),
            None::<&str>,
        )
        .unwrap();
        Some(b)
    }

    fn path(&self) -> PathBuf {
        self.dir.path().join("lxc")
    }

    fn enclos(&self, sub: &str, args: &[&str]) -> Out {
        let mut c = std::process::Command::new(enclos_tests::enclos_bin());
        c.arg(sub).arg("-P").arg(self.path()).args(args);
        run(c)
    }
}

impl Drop for BtrfsLxcpath {
    fn drop(&mut self) {
        let names = self.enclos("ls", &[]).stdout;
        // The clones first.
        for n in names.lines().rev() {
            let _ = self.enclos("destroy", &["-f", "-n", n]);
        }
        let _ = nix::mount::umount2(&self.path(), nix::mount::MntFlags::MNT_DETACH);
        let _ = std::process::Command::new("losetup")
            .args(["-d", &self.dev])
            .status();
    }
}

/// Section 2.2's btrfs backing store: `-B best` on a btrfs lxcpath makes a
/// subvolume, the container starts on it, and `copy -s` is a btrfs
/// snapshot (a subvolume of its own, the file there at once).
#[test]
fn btrfs_containers_start_and_copy_s_snapshots_them() {
    let test = "btrfs_containers_start_and_copy_s_snapshots_them";
    if !require_root(test) {
        return;
    }
    let Some(b) = BtrfsLxcpath::make(test) else {
        return;
    };
    b.enclos("create", &["-n", "bb", "-t", "busybox", "-B", "best"])
        .success();
    let dir = b.path().join("bb");
    assert_eq!(
        read_config(&dir.join("config"))["lxc.rootfs.path"],
        [format!("btrfs:{}/rootfs", dir.display())]
    );
    // The root of a subvolume has inode 256.
    use std::os::unix::fs::MetadataExt;
    assert_eq!(fs::metadata(dir.join("rootfs")).unwrap().ino(), 256);
    // A snapshot of the cached template rootfs, a subvolume of the lxcpath.
    let cache = b.path().join(".cache/busybox/rootfs");
    assert_eq!(
        subvolume_field(&dir.join("rootfs"), "Parent UUID"),
        subvolume_field(&cache, "UUID")
    );
    fs::write(dir.join("rootfs/root/hi"), "hello\n").unwrap();
    b.enclos("start", &["-n", "bb"]).success();
    let out = b
        .enclos("attach", &["-n", "bb", "--", "cat", "/root/hi"])
        .success();
    assert_eq!(out.stdout, "hello\n");
    let out = b.enclos("copy", &["-n", "bb", "-N", "bb2", "-s"]);
    assert_eq!(out.code, Some(1), "{out:?}");
    b.enclos("stop", &["-n", "bb", "-k"]).success();
    b.enclos("copy", &["-n", "bb", "-N", "bb2", "-s"]).success();
    let dir2 = b.path().join("bb2");
    assert_eq!(
        read_config(&dir2.join("config"))["lxc.rootfs.path"],
        [format!("btrfs:{}/rootfs", dir2.display())]
    );
    assert_eq!(fs::metadata(dir2.join("rootfs")).unwrap().ino(), 256);
    assert_eq!(
        fs::read_to_string(dir2.join("rootfs/root/hi")).unwrap(),
        "hello\n"
    );
    b.enclos("start", &["-n", "bb2"]).success();
    assert_eq!(
        b.enclos("attach", &["-n", "bb2", "--", "hostname"])
            .success()
            .stdout,
        "bb2\n"
    );
    b.enclos("stop", &["-n", "bb2", "-k"]).success();
    b.enclos("destroy", &["-n", "bb2"]).success();
    b.enclos("destroy", &["-n", "bb"]).success();
    assert!(!dir.exists() && !dir2.exists());
}

/// An ephemeral copy whose monitor is killed does not outlive it: the next
/// `ls` or `start` removes it (as after a reboot of the host).
#[test]
fn an_ephemeral_copy_whose_monitor_died_is_removed_by_the_next_ls_or_start() {
    if !require_root("an_ephemeral_copy_whose_monitor_died_is_removed_by_the_next_ls_or_start") {
        return;
    }
    let lab = Lab::new();
    let (orig, eph) = original(&lab, "");
    for next in ["ls", "start"] {
        lab.enclos("copy", &["-e", "-N", &eph, "-n", &orig])
            .success();
        let dir = lab.path().join(&eph);
        let monitor: i32 = fs::read_to_string(dir.join(".enclos/monitor.pid"))
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(monitor),
            nix::sys::signal::Signal::SIGKILL,
        )
        .unwrap();
        assert!(
            poll(SETTLE, || (lab.state(&eph) == "STOPPED").then_some(())).is_some(),
            "{eph} stops with its monitor"
        );
        assert!(dir.exists(), "nothing removed it yet");
        let out = lab.enclos(next, &["-n", &eph][..if next == "ls" { 0 } else { 2 }]);
        if next == "ls" {
            assert_eq!(out.success().lines(), [orig.as_str()]);
        } else {
            assert_one_error_line(&out, &format!("Container '{eph}' does not exist"));
        }
        assert!(!dir.exists(), "{next} removed the copy");
        assert!(!lab.path().join(&orig).join("lxc_snapshots").exists());
    }
}
