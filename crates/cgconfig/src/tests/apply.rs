use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::sync::Arc;

use enclos_cgroupfs::{Layout, Version};
use enclos_testkit::{read, CgroupTree};
use rstest::rstest;
use serde::Serialize;

use super::*;
use crate::*;

// --- apply against fake trees -----------------------------------------

/// The layout of `tree`, discovered from its mount table.
fn layout_of(tree: &CgroupTree) -> Arc<Layout> {
    Arc::new(Layout::from_mountinfo(tree.mountinfo()).unwrap())
}

/// One v2 hierarchy offering cpuset, cpu, io, memory and pids, all of
/// them enabled for the children of its root.
fn v2_tree() -> CgroupTree {
    let controllers = ["cpuset", "cpu", "io", "memory", "pids"];
    CgroupTree::new().v2(&controllers).enable(&controllers)
}

#[test]
fn apply_writes_the_course_file_on_v1() {
    let tree = CgroupTree::legacy();
    let layout = layout_of(&tree);
    let cpu = tree.group("cpu,cpuacct/helloworld2", &[("cpu.shares", "")]);
    let mem = tree.group("memory/helloworld2", &[("memory.limit_in_bytes", "")]);
    let report = parse(COURSE)
        .apply(layout, &ApplyOptions::default())
        .unwrap();
    assert_eq!(read(cpu.join("cpu.shares")), "100");
    assert_eq!(read(mem.join("memory.limit_in_bytes")), "40000");
    let g = &report.groups[0];
    assert_eq!(g.name, "helloworld2");
    assert_eq!(g.controllers.len(), 2);
    assert!(g.controllers.iter().all(|c| !c.created));
    assert_eq!(g.controllers[1].cgroup, "memory:/helloworld2");
    assert_eq!(
        g.settings[1],
        SettingReport {
            controller: "memory".into(),
            key: "memory.limit_in_bytes".into(),
            asked: "40000".into(),
            kept: "40000".into(),
            notice: None,
            at: at(6, 9),
        }
    );
}

#[test]
fn apply_creates_missing_groups_with_their_permissions() {
    let tree = CgroupTree::legacy();
    let layout = layout_of(&tree);
    let existing = tree.group("cpu,cpuacct/p", &[("tasks", ""), ("cpu.shares", "")]);
    let cfg = parse(
        "group p { perm { task { fperm = 660; } admin { dperm = 750; fperm = 640; } } cpu { } }\n\
             group new/child { perm { admin { dperm = 700; } } cpu { } memory { } }\n",
    );
    let report = cfg.apply(layout, &ApplyOptions::default()).unwrap();
    let mode = |p: PathBuf| fs::metadata(&p).unwrap().permissions().mode() & 0o7777;
    assert_eq!(mode(existing.clone()), 0o750);
    assert_eq!(mode(existing.join("tasks")), 0o660);
    assert_eq!(mode(existing.join("cpu.shares")), 0o640);
    assert_eq!(mode(tree.root().join("cpu,cpuacct/new/child")), 0o700);
    assert!(tree.root().join("memory/new/child").is_dir());
    assert!(!report.groups[0].controllers[0].created);
    assert!(report.groups[1].controllers.iter().all(|c| c.created));
}

#[test]
fn apply_failure_removes_only_the_groups_it_created() {
    let tree = CgroupTree::legacy();
    let layout = layout_of(&tree);
    let existing = tree.group("cpu,cpuacct/existing", &[("cpu.shares", "")]);
    let cfg = parse(
        "group existing { cpu { cpu.shares = 100; } }\n\
             group fresh/child { cpu { } memory { } }\n\
             group broken {\n  memory {\n    memory.limit_in_bytes = 40000;\n  }\n}\n",
    );
    let err = cfg.apply(layout, &ApplyOptions::default()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "cgconfig.conf:5:5: Cannot set memory.limit_in_bytes = 40000 in group 'broken'"
    );
    let source = std::error::Error::source(&err).expect("the write error");
    assert!(
        source.to_string().contains("memory.limit_in_bytes"),
        "{source}"
    );
    assert!(!tree.root().join("cpu,cpuacct/fresh").exists());
    assert!(!tree.root().join("memory/fresh").exists());
    assert!(!tree.root().join("memory/broken").exists());
    assert!(existing.is_dir());
    // Written before the failure, and not restorable.
    assert_eq!(read(existing.join("cpu.shares")), "100");
}

#[rstest]
#[case::unknown_user(
    "group fresh { perm { admin { gid = no_such_group_enclos; } } cpu { } }",
    "cgconfig.conf:2:36: Unknown group 'no_such_group_enclos' (gid of the admin permissions)"
)]
#[case::unknown_controller(
    "group fresh { cpu { } bogus { } }",
    "cgconfig.conf:2:23: Cannot place group 'fresh' in the hierarchy of controller 'bogus'"
)]
#[case::key_of_another_controller(
        "group fresh { cpu { memory.limit_in_bytes = 1; } }",
        "cgconfig.conf:2:21: Key memory.limit_in_bytes belongs to controller 'memory', not to the cpu block it is written in; move it into a `memory { }` block"
    )]
#[case::mount_elsewhere(
        "mount { cpu = /nonexistent/cpu; }",
        "cgconfig.conf:2:9: The mount section asks for controller 'cpu' at /nonexistent/cpu, but it is mounted at "
    )]
#[case::mount_missing(
        "mount { blkio = /nonexistent/blkio; }",
        "cgconfig.conf:2:9: The mount section asks for controller 'blkio' at /nonexistent/blkio, but this host does not mount it anywhere; enclos does not mount hierarchies itself: mount it first, e.g. `mkdir -p /nonexistent/blkio && mount -t cgroup -o blkio none /nonexistent/blkio`"
    )]
fn apply_validates_before_creating_anything(#[case] tail: &str, #[case] expected: &str) {
    let tree = CgroupTree::legacy();
    let layout = layout_of(&tree);
    let cfg = parse(&format!(
        "group first {{ cpu {{ }} memory {{ }} }}\n{tail}\n"
    ));
    let err = cfg
        .apply(layout.clone(), &ApplyOptions::default())
        .unwrap_err()
        .to_string();
    assert!(err.starts_with(expected), "{err}");
    assert!(!tree.root().join("cpu,cpuacct/first").exists());
    assert!(!tree.root().join("memory/first").exists());
    assert!(cfg.check(layout, &ApplyOptions::default()).is_err());
}

#[test]
fn mount_section_matching_the_host_passes() {
    let tree = CgroupTree::legacy();
    let layout = layout_of(&tree);
    let cfg = parse(&format!(
            "mount {{ cpu = \"{0}/cpu,cpuacct\"; cpuacct = \"{0}/cpu,cpuacct/\"; memory = \"{0}/memory\"; }}",
            tree.root().display()
        ));
    cfg.check(layout.clone(), &ApplyOptions::default()).unwrap();
    let cfg = parse(&format!(
        "mount {{ memory = \"{0}/cpu,cpuacct\"; }}",
        tree.root().display()
    ));
    let err = cfg
        .check(layout, &ApplyOptions::default())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("the hierarchy mounted there serves cpu,cpuacct"),
        "{err}"
    );
}

#[test]
fn namespace_prefixes_group_paths() {
    let tree = CgroupTree::legacy();
    let layout = layout_of(&tree);
    fs::create_dir(tree.root().join("cpu,cpuacct/daemons")).unwrap();
    let cfg = parse("namespace { cpu = /daemons; }\ngroup www { cpu { } memory { } }\n");
    let report = cfg.apply(layout, &ApplyOptions::default()).unwrap();
    assert!(tree.root().join("cpu,cpuacct/daemons/www").is_dir());
    assert!(tree.root().join("memory/www").is_dir());
    assert_eq!(report.groups[0].controllers[0].cgroup, "cpu:/daemons/www");
}

#[test]
fn apply_translates_v1_keys_on_v2() {
    let tree = v2_tree();
    let layout = layout_of(&tree);
    let g = tree.group(
        "g",
        &[
            ("cpu.weight", ""),
            ("cpu.max", ""),
            ("memory.max", ""),
            ("memory.high", ""),
            ("memory.swap.max", ""),
            ("io.weight", ""),
            ("cgroup.freeze", ""),
            ("pids.max", ""),
        ],
    );
    let cfg = parse(
        "group g {\n\
             \x20 cpu { cpu.shares = 512; cpu.cfs_quota_us = 50000; cpu.cfs_period_us = 100000; }\n\
             \x20 memory {\n\
             \x20   memory.memsw.limit_in_bytes = 2G;\n\
             \x20   memory.limit_in_bytes = 1G;\n\
             \x20   memory.soft_limit_in_bytes = 512M;\n\
             \x20 }\n\
             \x20 blkio { blkio.weight = 500; }\n\
             \x20 freezer { freezer.state = FROZEN; }\n\
             \x20 pids { pids.max = 100; }\n\
             }\n",
    );
    let report = cfg.apply(layout, &ApplyOptions::default()).unwrap();
    assert_eq!(
        read(g.join("cpu.weight")),
        "50",
        "cpu.shares 512 is weight 50, as libcgroup scales it"
    );
    assert_eq!(read(g.join("cpu.max")), "50000 100000");
    assert_eq!(read(g.join("memory.max")), "1G");
    assert_eq!(read(g.join("memory.swap.max")), "1073741824");
    assert_eq!(read(g.join("memory.high")), "512M");
    assert_eq!(read(g.join("io.weight")), "default 4950");
    assert_eq!(read(g.join("cgroup.freeze")), "1");
    assert_eq!(read(g.join("pids.max")), "100");
    let keys: Vec<&str> = report.groups[0]
        .settings
        .iter()
        .map(|s| s.key.as_str())
        .collect();
    assert_eq!(
        keys,
        [
            "cpu.weight",
            "cpu.max",
            "memory.max",
            "memory.swap.max",
            "memory.high",
            "io.weight",
            "cgroup.freeze",
            "pids.max"
        ]
    );
    let weight = &report.groups[0].settings[0];
    assert_eq!(weight.at, at(2, 9));
    assert!(weight
        .notice
        .as_deref()
        .unwrap()
        .starts_with("cpu.shares = 512 is cpu.weight"));
    assert!(report.groups[0].settings[7].notice.is_none());
    assert!(report.groups[0]
        .controllers
        .iter()
        .all(|c| c.version == Version::V2 && c.cgroup.ends_with(":/g")));
    assert_eq!(report.groups[0].controllers[2].cgroup, "io:/g");
}

#[test]
fn v1_key_without_v2_equivalent_fails_before_creating() {
    let tree = v2_tree();
    let layout = layout_of(&tree);
    let cfg = parse(
        "group first { cpu { } }\ngroup g {\n  memory {\n    memory.swappiness = 10;\n  }\n}\n",
    );
    let err = cfg
        .apply(layout, &ApplyOptions::default())
        .unwrap_err()
        .to_string();
    assert_eq!(
            err,
            "cgconfig.conf:4:5: memory.swappiness has no cgroup v2 equivalent, and this host serves its controller with cgroup v2: remove it, or write the cgroup v2 key instead"
        );
    assert!(!tree.root().join("first").exists());
}

#[test]
fn report_serializes_and_displays() {
    let tree = CgroupTree::legacy();
    let layout = layout_of(&tree);
    tree.group("cpu,cpuacct/helloworld2", &[("cpu.shares", "")]);
    tree.group("memory/helloworld2", &[("memory.limit_in_bytes", "")]);
    let mut report = parse(COURSE)
        .apply(layout, &ApplyOptions::default())
        .unwrap();
    report.groups[0].settings[1].kept = "36864".into();
    let text = report.to_string();
    assert!(
        text.starts_with("group helloworld2\n  cpu:/helloworld2 (existed)\n"),
        "{text}"
    );
    assert!(
        text.contains("  memory.limit_in_bytes = 40000 (kept 36864)\n"),
        "{text}"
    );
    fn is_serialize<T: Serialize>(_: &T) {}
    is_serialize(&report);
}
