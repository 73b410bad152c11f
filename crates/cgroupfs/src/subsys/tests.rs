use std::fs;

use enclos_testkit::CgroupTree;

use super::*;

/// A `/proc/cgroups` where `bound` controllers sit on the given v1
/// hierarchy ids and the others on none.
fn proc_cgroups(tree: &CgroupTree, rows: &[(&str, u32)]) -> PathBuf {
    let mut text = String::from("#subsys_name\thierarchy\tnum_cgroups\tenabled\n");
    for (name, id) in rows {
        text.push_str(&format!("{name}\t{id}\t1\t1\n"));
    }
    let path = tree.dir().join("cgroups");
    fs::write(&path, text).unwrap();
    path
}

fn opts(all: bool, mount_points: MountPoints, ids: bool) -> SubsysOptions {
    SubsysOptions {
        all,
        mount_points,
        ids,
    }
}

/// As this kind of host: cpu and memory on v1, co-mounted net_cls and
/// net_prio, systemd's named hierarchy, hugetlb left to v2, pids nowhere.
fn hybrid() -> (CgroupTree, Subsystems) {
    let tree = CgroupTree::new()
        .v1(&["cpu"])
        .v1(&["memory"])
        .v1(&["net_cls", "net_prio"])
        .v1(&["name=systemd"])
        .v2_at("unified", &["hugetlb"]);
    let pc = proc_cgroups(
        &tree,
        &[
            ("cpu", 3),
            ("memory", 5),
            ("net_cls", 7),
            ("pids", 0),
            ("net_prio", 7),
            ("hugetlb", 0),
        ],
    );
    let s = Subsystems::read(&pc, tree.mountinfo()).unwrap();
    (tree, s)
}

#[test]
fn plain_listing_shows_the_v1_hierarchies_only() {
    let (_tree, s) = hybrid();
    assert_eq!(
        s.lines(&SubsysOptions::default(), &[]),
        ["cpu", "memory", "net_cls,net_prio"]
    );
}

#[test]
fn mount_points_and_ids() {
    let (tree, s) = hybrid();
    let root = tree.root().display().to_string();
    assert_eq!(
        s.lines(&opts(false, MountPoints::First, false), &[]),
        [
            format!("cpu {root}/cpu"),
            format!("memory {root}/memory"),
            format!("net_cls,net_prio {root}/net_cls,net_prio"),
        ]
    );
    assert_eq!(
        s.lines(&opts(false, MountPoints::None, true), &[]),
        ["cpu 3", "memory 5", "net_cls,net_prio 7"]
    );
    // With -m, an id is only shown for what is not mounted here.
    assert_eq!(
        s.lines(&opts(false, MountPoints::First, true), &["memory".into()]),
        [format!("memory {root}/memory")]
    );
}

#[test]
fn all_lists_unbound_controllers_first_and_v2_ones_with_their_mount() {
    let (tree, s) = hybrid();
    let root = tree.root().display().to_string();
    assert_eq!(
        s.lines(&opts(true, MountPoints::None, false), &[]),
        ["pids", "hugetlb", "cpu", "memory", "net_cls,net_prio"]
    );
    assert_eq!(
        s.lines(&opts(true, MountPoints::First, false), &[]),
        [
            "pids".to_string(),
            format!("hugetlb {root}/unified"),
            format!("cpu {root}/cpu"),
            format!("memory {root}/memory"),
            format!("net_cls,net_prio {root}/net_cls,net_prio"),
        ]
    );
    assert_eq!(
        s.lines(&opts(true, MountPoints::None, true), &[]),
        [
            "pids",
            "hugetlb 0",
            "cpu 3",
            "memory 5",
            "net_cls,net_prio 7"
        ]
    );
}

#[test]
fn named_controllers_pick_their_hierarchy() {
    let (tree, s) = hybrid();
    let root = tree.root().display().to_string();
    let want = |names: &[&str]| -> Vec<String> { names.iter().map(|n| n.to_string()).collect() };
    // A co-mounted controller shows its whole hierarchy, once.
    assert_eq!(
        s.lines(&SubsysOptions::default(), &want(&["net_prio", "net_cls"])),
        ["net_cls,net_prio"]
    );
    assert_eq!(
        s.lines(
            &opts(false, MountPoints::First, false),
            &want(&["hugetlb", "name=systemd"])
        ),
        [
            format!("hugetlb {root}/unified"),
            format!("name=systemd {root}/name=systemd"),
        ]
    );
    assert!(s
        .lines(&SubsysOptions::default(), &want(&["pids"]))
        .is_empty());
    assert!(s.knows("pids") && s.knows("name=systemd") && !s.knows("nosuch"));
}

#[test]
fn all_mount_points_of_a_hierarchy_with_capital_m() {
    let (tree, _) = hybrid();
    let bind = tree.dir().join("elsewhere");
    let mut table = fs::read_to_string(tree.mountinfo()).unwrap();
    // The memory hierarchy (device 0:32) mounted a second time.
    table.push_str(&format!(
        "90 24 0:32 / {} rw - cgroup cgroup rw,memory\n",
        bind.display()
    ));
    fs::write(tree.mountinfo(), table).unwrap();
    let s = Subsystems::read(&tree.dir().join("cgroups"), tree.mountinfo()).unwrap();
    let root = tree.root().display().to_string();
    assert_eq!(
        s.lines(&opts(false, MountPoints::All, false), &["memory".into()]),
        [
            format!("memory {root}/memory"),
            format!("memory {}", bind.display()),
        ]
    );
    assert_eq!(
        s.lines(&opts(false, MountPoints::First, false), &["memory".into()]),
        [format!("memory {root}/memory")]
    );
}

#[test]
fn unified_host_shows_its_controllers_with_a() {
    let tree = CgroupTree::new().v2(&["cpu", "io", "memory", "pids"]);
    let pc = proc_cgroups(
        &tree,
        &[
            ("cpu", 0),
            ("blkio", 0),
            ("memory", 0),
            ("pids", 0),
            ("net_cls", 0),
        ],
    );
    let s = Subsystems::read(&pc, tree.mountinfo()).unwrap();
    let root = tree.root().display().to_string();
    assert!(s.lines(&SubsysOptions::default(), &[]).is_empty());
    assert_eq!(
        s.lines(&opts(true, MountPoints::First, false), &[]),
        [
            format!("cpu {root}"),
            format!("blkio {root}"),
            format!("memory {root}"),
            format!("pids {root}"),
            "net_cls".to_string(),
        ]
    );
    assert_eq!(
        s.lines(&SubsysOptions::default(), &["memory".into()]),
        ["memory"]
    );
}

#[test]
fn a_kernel_that_lists_only_v1_controllers() {
    // Newer kernels leave v2-only controllers out of /proc/cgroups.
    let tree = CgroupTree::new().v2(&["cpu", "misc"]);
    let pc = proc_cgroups(&tree, &[("cpu", 0)]);
    let s = Subsystems::read(&pc, tree.mountinfo()).unwrap();
    assert_eq!(
        s.lines(&opts(true, MountPoints::None, true), &[]),
        ["cpu 0", "misc 0"]
    );
}

#[test]
fn malformed_proc_cgroups_names_the_line() {
    let err = parse_proc_cgroups("#h\ncpu 1 x 1\n", Path::new("/fake/cgroups"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("/fake/cgroups"), "{err}");
    assert!(err.contains("line 2"), "{err}");
}
