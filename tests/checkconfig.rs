//! `enclos checkconfig` (and the `lxc-checkconfig` link) on this host,
//! against what the host really has: the namespaces in /proc/self/ns, the
//! filesystems in /proc/filesystems, the sysctl's value, the cgroup
//! mounts in /proc/self/mountinfo.

use std::process::Command;

use enclos_tests::enclos_bin;
use enclos_tests::lab::{run, Out};
use serde_json::Value;

fn checkconfig(args: &[&str]) -> Out {
    let mut cmd = Command::new(enclos_bin());
    cmd.arg("checkconfig").args(args);
    run(cmd)
}

fn findings() -> Vec<Value> {
    let out = checkconfig(&["--format", "json"]);
    // This host runs containers: nothing required may be missing.
    let out = out.success();
    serde_json::from_str::<Value>(&out.stdout)
        .expect("checkconfig --format json prints JSON")
        .as_array()
        .expect("an array")
        .clone()
}

fn find<'a>(all: &'a [Value], feature: &str) -> &'a Value {
    all.iter()
        .find(|f| f["feature"] == feature)
        .unwrap_or_else(|| panic!("no {feature} in {all:#?}"))
}

fn status<'a>(all: &'a [Value], feature: &str) -> &'a str {
    find(all, feature)["status"].as_str().unwrap()
}

#[test]
fn namespaces_are_those_of_proc_self_ns() {
    let all = findings();
    for (feature, file) in [
        ("uts namespace", "uts"),
        ("ipc namespace", "ipc"),
        ("pid namespace", "pid"),
        ("mount namespace", "mnt"),
        ("net namespace", "net"),
        ("user namespace", "user"),
        ("cgroup namespace", "cgroup"),
        ("time namespace", "time"),
    ] {
        let there = std::path::Path::new("/proc/self/ns").join(file).exists();
        let want = if there { "enabled" } else { "missing" };
        assert_eq!(status(&all, feature), want, "{feature}");
    }
}

#[test]
fn filesystems_and_sysctls_are_the_hosts() {
    let all = findings();
    let filesystems = std::fs::read_to_string("/proc/filesystems").unwrap();
    for fs in ["overlay", "btrfs"] {
        let listed = filesystems
            .lines()
            .any(|l| l.split_whitespace().next_back() == Some(fs));
        if listed {
            assert_eq!(status(&all, fs), "enabled", "/proc/filesystems lists {fs}");
        } else {
            // Not loaded: a module loads on demand, so only the config
            // tells, and the probe is not claimed.
            let detail = find(&all, fs)["detail"].as_str().unwrap();
            assert!(!detail.contains("in /proc/filesystems"), "{detail}");
        }
    }
    if std::path::Path::new("/dev/loop-control").exists() {
        assert_eq!(status(&all, "loop"), "enabled");
    }
    let max = std::fs::read_to_string("/proc/sys/user/max_user_namespaces").unwrap();
    let f = find(&all, "user.max_user_namespaces");
    assert_eq!(
        f["detail"],
        format!("user.max_user_namespaces = {}", max.trim())
    );
    let want = if max.trim() == "0" {
        "missing"
    } else {
        "enabled"
    };
    assert_eq!(f["status"], want);
}

#[test]
fn cgroup_layout_is_the_mount_tables() {
    let all = findings();
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let fstype = |t: &str| {
        mountinfo
            .lines()
            .any(|l| l.split(" - ").nth(1).and_then(|r| r.split(' ').next()) == Some(t))
    };
    let want = match (fstype("cgroup"), fstype("cgroup2")) {
        (true, true) => "hybrid",
        (false, true) => "unified",
        _ => "legacy",
    };
    let layout = find(&all, "cgroup layout");
    assert_eq!(layout["status"], "enabled");
    assert!(
        layout["detail"].as_str().unwrap().starts_with(want),
        "{layout}"
    );
    // The memory controller a mounted v1 hierarchy binds is enabled there.
    let memory_v1 = mountinfo.lines().find(|l| {
        l.contains(" - cgroup ")
            && l.rsplit(' ')
                .next()
                .unwrap()
                .split(',')
                .any(|o| o == "memory")
    });
    if let Some(line) = memory_v1 {
        let mount = line.split(' ').nth(4).unwrap();
        assert_eq!(
            find(&all, "cgroup memory")["detail"],
            format!("v1 hierarchy at {mount}")
        );
    }
}

#[test]
fn text_has_one_line_per_feature_without_colours_and_the_link_agrees() {
    let all = findings();
    let text = checkconfig(&[]).success();
    assert_eq!(text.lines().len(), all.len(), "{}", text.stdout);
    assert!(!text.stdout.contains('\x1b'), "colours on a pipe");
    for (line, f) in text.lines().iter().zip(&all) {
        let start = format!(
            "{:<7} {}: ",
            f["status"].as_str().unwrap(),
            f["feature"].as_str().unwrap()
        );
        assert!(line.starts_with(&start), "{line} / {f}");
        assert_eq!(line.contains("; to do: "), !f["fix"].is_null(), "{line}");
    }

    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("lxc-checkconfig");
    std::os::unix::fs::symlink(enclos_bin(), &link).unwrap();
    let mut cmd = Command::new(&link);
    cmd.args(["--format", "json"]);
    let out = run(cmd).success();
    let via_link: Value = serde_json::from_str(&out.stdout).unwrap();
    let statuses = |v: &[Value]| {
        v.iter()
            .map(|f| (f["feature"].to_string(), f["status"].to_string()))
            .collect::<Vec<_>>()
    };
    assert_eq!(statuses(via_link.as_array().unwrap()), statuses(&all));
}
