use std::path::Path;
use std::sync::Arc;

use enclos_cgroupfs::Layout;
use enclos_testkit::CgroupTree;

use super::*;

fn layout(tree: &CgroupTree) -> Arc<Layout> {
    Arc::new(Layout::from_mountinfo(tree.mountinfo()).unwrap())
}

/// A legacy host with groups in both hierarchies; `busy` holds a process.
fn host() -> CgroupTree {
    let tree = CgroupTree::legacy();
    for g in ["a", "a/b", "a/b/c", "other"] {
        tree.group(&format!("cpu,cpuacct/{g}"), &[]);
        tree.group(&format!("memory/{g}"), &[]);
    }
    tree.group("memory/busy", &[("cgroup.procs", "4242\n")]);
    tree
}

#[test]
fn clearing_a_config_removes_its_groups_only() {
    let tree = host();
    let config = crate::parse_str(
        "group a/b { cpu { } memory { } }\ngroup a { memory { } }\ngroup gone { cpu { } }",
        Path::new("c.conf"),
    )
    .unwrap();
    let report = config
        .clear(layout(&tree), ClearOptions::default())
        .unwrap();
    let root = tree.root();
    assert!(!root.join("memory/a").exists(), "a is in the file");
    assert!(
        !root.join("cpu,cpuacct/a/b").exists(),
        "a/b and its child c"
    );
    assert!(root.join("cpu,cpuacct/a").is_dir(), "a has no cpu block");
    assert!(root.join("memory/other").is_dir() && root.join("memory/busy").is_dir());
    assert_eq!(
        report.removed,
        ["cpu:/a/b", "memory:/a/b", "memory:/a"],
        "deepest first; a group already gone is passed over"
    );
}

#[test]
fn clearing_a_config_under_its_namespace() {
    let tree = host();
    let config = crate::parse_str(
        "namespace { memory = a; }\ngroup b { memory { } }",
        Path::new("c.conf"),
    )
    .unwrap();
    config
        .clear(layout(&tree), ClearOptions::default())
        .unwrap();
    assert!(!tree.root().join("memory/a/b").exists());
    assert!(tree.root().join("memory/a").is_dir());
    assert!(tree.root().join("cpu,cpuacct/a/b").is_dir());
}

#[test]
fn only_empty_keeps_groups_with_processes_or_children() {
    let tree = host();
    tree.group("memory/a/b/c", &[("cgroup.procs", "77\n")]);
    let config = crate::parse_str(
        "group a/b/c { memory { } }\ngroup a/b { memory { } }\ngroup other { memory { } }",
        Path::new("c.conf"),
    )
    .unwrap();
    let opts = ClearOptions { only_empty: true };
    let report = config.clear(layout(&tree), opts).unwrap();
    assert_eq!(report.removed, ["memory:/other"]);
    let kept: Vec<&str> = report.kept.iter().map(|(g, _)| g.as_str()).collect();
    assert_eq!(kept, ["memory:/a/b/c", "memory:/a/b"]);
    assert!(
        report.kept[0].1.contains("still holds 1 process"),
        "{:?}",
        report.kept
    );
    assert!(
        report.kept[1].1.contains("child groups"),
        "{:?}",
        report.kept
    );
    assert!(tree.root().join("memory/a/b/c").is_dir());
}

#[test]
fn clear_all_empties_every_hierarchy_of_the_root() {
    let tree = host();
    tree.group("memory/busy", &[]);
    std::fs::remove_file(tree.root().join("memory/busy/cgroup.procs")).unwrap();
    let report = clear_all(layout(&tree), "", ClearOptions::default()).unwrap();
    for h in ["cpu,cpuacct", "memory"] {
        let left: Vec<_> = std::fs::read_dir(tree.root().join(h))
            .unwrap()
            .flatten()
            .filter(|e| e.path().is_dir())
            .collect();
        assert!(left.is_empty(), "{h}: {left:?}");
    }
    assert_eq!(report.removed.len(), 5, "{:?}", report.removed);
}

#[test]
fn clear_all_below_a_group_keeps_it_and_the_rest() {
    let tree = host();
    let opts = ClearOptions { only_empty: true };
    let report = clear_all(layout(&tree), "a", opts).unwrap();
    let root = tree.root();
    assert!(root.join("memory/a").is_dir() && !root.join("memory/a/b").exists());
    assert!(root.join("cpu,cpuacct/a").is_dir() && !root.join("cpu,cpuacct/a/b").exists());
    assert!(root.join("memory/other").is_dir() && root.join("memory/busy").is_dir());
    assert!(report.kept.is_empty());
    assert_eq!(
        report.removed,
        ["cpu:/a/b/c", "cpu:/a/b", "memory:/a/b/c", "memory:/a/b"]
    );
}
