use std::path::Path;
use std::sync::Arc;

use enclos_cgroupfs::Layout;
use enclos_testkit::CgroupTree;

use super::*;

fn layout(tree: &CgroupTree) -> Arc<Layout> {
    Arc::new(Layout::from_mountinfo(tree.mountinfo()).unwrap())
}

fn keys(g: &Group, controller: &str) -> Vec<(String, String)> {
    g.controller(controller)
        .unwrap_or_else(|| panic!("no {controller} block in {}", g.name))
        .settings
        .iter()
        .map(|s| (s.key.clone(), s.value.clone()))
        .collect()
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn legacy_groups_with_their_writable_settings() {
    let tree = CgroupTree::legacy();
    tree.group(
        "cpu,cpuacct/web",
        &[
            ("cpu.shares", "512\n"),
            ("cpu.cfs_quota_us", "-1\n"),
            ("cpuacct.usage", "99\n"),
        ],
    );
    tree.group("cpu,cpuacct/web/api", &[("cpu.shares", "256\n")]);
    tree.group(
        "memory/web",
        &[
            ("memory.limit_in_bytes", "40960\n"),
            ("memory.usage_in_bytes", "1\n"),
        ],
    );
    // A statistic: read-only, never part of a snapshot.
    let usage = tree.root().join("memory/web/memory.usage_in_bytes");
    std::fs::set_permissions(&usage, std::os::unix::fs::PermissionsExt::from_mode(0o444)).unwrap();
    let opts = SnapshotOptions {
        blacklist: DEFAULT_BLACKLIST.iter().map(|s| s.to_string()).collect(),
        ..SnapshotOptions::default()
    };
    let snap = snapshot(&layout(&tree), &opts).unwrap();
    let c = &snap.config;
    let names: Vec<&str> = c.groups.iter().map(|g| g.name.as_str()).collect();
    assert_eq!(names, ["web", "web/api"]);
    let web = c.group("web").unwrap();
    assert_eq!(
        keys(web, "cpu"),
        pairs(&[("cpu.cfs_quota_us", "-1"), ("cpu.shares", "512")])
    );
    assert!(
        keys(web, "cpuacct").is_empty(),
        "cpuacct.usage is blacklisted"
    );
    assert_eq!(
        keys(web, "memory"),
        pairs(&[("memory.limit_in_bytes", "40960")])
    );
    assert!(c.group("web/api").unwrap().controller("memory").is_none());
    let mounts: Vec<(&str, &Path)> = c
        .mounts
        .iter()
        .map(|m| (m.controller.as_str(), Path::new(&m.path)))
        .collect();
    assert_eq!(
        mounts[0],
        ("cpu", tree.root().join("cpu,cpuacct").as_path())
    );
    assert_eq!(mounts.len(), 3);
    // What it writes loads back.
    let text = c.to_conf().unwrap();
    let back = crate::parse_str(&text, Path::new("snap.conf")).unwrap();
    assert_eq!(
        keys(back.group("web/api").unwrap(), "cpu"),
        pairs(&[("cpu.shares", "256")])
    );
}

#[test]
fn v2_groups_show_the_controllers_they_have() {
    let tree = CgroupTree::new()
        .v2(&["cpu", "memory"])
        .enable(&["cpu", "memory"]);
    tree.group(
        "a",
        &[
            ("cgroup.controllers", "cpu memory\n"),
            ("cgroup.procs", ""),
            ("cpu.weight", "100\n"),
            ("memory.max", "max\n"),
            ("memory.oom.group", "0\n"),
            ("memory.stat", "anon 0\nfile 0\n"),
        ],
    );
    tree.group(
        "a/b",
        &[("cgroup.controllers", "cpu\n"), ("cpu.max", "max 100000\n")],
    );
    let opts = SnapshotOptions {
        controllers: vec!["memory".into()],
        whitelist: Some(vec!["memory.max".into()]),
        ..SnapshotOptions::default()
    };
    let snap = snapshot(&layout(&tree), &opts).unwrap();
    let names: Vec<&str> = snap.config.groups.iter().map(|g| g.name.as_str()).collect();
    assert_eq!(names, ["a"], "a/b has no memory controller");
    let a = snap.config.group("a").unwrap();
    assert_eq!(
        keys(a, "memory"),
        pairs(&[("memory.max", "max"), ("memory.oom.group", "0")])
    );
    assert!(
        snap.warnings
            .iter()
            .any(|w| w.contains("memory.stat") && w.contains("several lines")),
        "{:?}",
        snap.warnings
    );
    assert!(snap
        .warnings
        .contains(&"variable memory.oom.group is neither blacklisted nor whitelisted".to_string()));
    let strict = SnapshotOptions {
        strict: true,
        ..opts
    };
    let snap = snapshot(&layout(&tree), &strict).unwrap();
    assert_eq!(
        keys(snap.config.group("a").unwrap(), "memory"),
        pairs(&[("memory.max", "max")])
    );
}

#[test]
fn var_lists_skip_comments() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("bl.conf");
    std::fs::write(&f, "# stats\nmemory.failcnt\n\n cpuacct.usage # resets\n").unwrap();
    assert_eq!(
        read_var_list(&f).unwrap(),
        ["memory.failcnt", "cpuacct.usage"]
    );
}
