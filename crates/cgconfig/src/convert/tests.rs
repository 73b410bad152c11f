use std::sync::Arc;

use enclos_cgroupfs::{Layout, Version};
use enclos_testkit::{read, CgroupTree};

use super::*;

fn layout(tree: &CgroupTree) -> Arc<Layout> {
    Arc::new(Layout::from_mountinfo(tree.mountinfo()).unwrap())
}

/// A unified host with group `g` as the kernel shows it.
fn v2_host() -> CgroupTree {
    let tree = CgroupTree::new()
        .v2(&["cpu", "memory"])
        .enable(&["cpu", "memory"]);
    tree.group(
        "g",
        &[
            ("cpu.weight", "100\n"),
            ("cpu.max", "max 100000\n"),
            ("memory.max", "max\n"),
            ("memory.high", "max\n"),
            ("cpu.stat", "usage_usec 0\n"),
        ],
    );
    tree
}

/// A legacy host (cpu,cpuacct and memory) with group `g`.
fn v1_host() -> CgroupTree {
    let tree = CgroupTree::legacy();
    tree.group(
        "cpu,cpuacct/g",
        &[
            ("cpu.shares", "1024\n"),
            ("cpu.cfs_quota_us", "-1\n"),
            ("cpu.cfs_period_us", "100000\n"),
        ],
    );
    tree.group(
        "memory/g",
        &[("memory.limit_in_bytes", "9223372036854771712\n")],
    );
    tree
}

#[test]
fn v1_names_read_on_a_v2_host() {
    let tree = v2_host();
    let l = layout(&tree);
    let get = |k: &str| get_as(&l, "g", k, Version::V1).unwrap();
    assert_eq!(get("cpu.cfs_quota_us"), "-1");
    assert_eq!(get("cpu.cfs_period_us"), "100000");
    assert_eq!(get("memory.limit_in_bytes"), "9223372036854771712");
    assert_eq!(get("cpu.shares"), "1024");
    // The host's own names read as they are.
    assert_eq!(get_as(&l, "g", "cpu.weight", Version::V2).unwrap(), "100");
    assert!(matches!(
        get_as(&l, "g", "cpu.rt_runtime_us", Version::V1),
        Err(ConvertError::Unmappable { host: 2, .. })
    ));
}

#[test]
fn v2_names_read_on_a_v1_host() {
    let tree = v1_host();
    let l = layout(&tree);
    let get = |k: &str| get_as(&l, "g", k, Version::V2).unwrap();
    assert_eq!(get("cpu.max"), "max 100000");
    assert_eq!(get("memory.max"), "max");
    assert_eq!(get("cpu.weight"), "100");
    let err = get_as(&l, "g", "memory.low", Version::V2).unwrap_err();
    assert_eq!(
        err.to_string(),
        "memory.low has no counterpart on cgroup 1 which serves its controller here"
    );
}

#[test]
fn v1_writes_on_a_v2_host_keep_the_other_half_of_cpu_max() {
    let tree = v2_host();
    let l = layout(&tree);
    let g = tree.root().join("g");
    let w = set_as(&l, "g", "cpu.cfs_period_us", "50000", Version::V1).unwrap();
    assert_eq!(w, [("cpu.max".to_string(), "max 50000".to_string())]);
    assert_eq!(read(g.join("cpu.max")), "max 50000");
    set_as(&l, "g", "cpu.cfs_quota_us", "10000", Version::V1).unwrap();
    assert_eq!(read(g.join("cpu.max")), "10000 50000");
    set_as(&l, "g", "memory.limit_in_bytes", "-1", Version::V1).unwrap();
    assert_eq!(read(g.join("memory.max")), "max");
    let err = set_as(&l, "g", "memory.limit_in_bytes", "-10", Version::V1).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("Cannot write memory.limit_in_bytes = -10"),
        "{err}"
    );
}

#[test]
fn v2_writes_on_a_v1_host() {
    let tree = v1_host();
    let l = layout(&tree);
    let cpu = tree.root().join("cpu,cpuacct/g");
    set_as(&l, "g", "cpu.max", "5000 25000", Version::V2).unwrap();
    assert_eq!(read(cpu.join("cpu.cfs_quota_us")), "5000");
    assert_eq!(read(cpu.join("cpu.cfs_period_us")), "25000");
    assert_eq!(
        get_as(&l, "g", "cpu.max", Version::V2).unwrap(),
        "5000 25000"
    );
    set_as(&l, "g", "memory.max", "max", Version::V2).unwrap();
    assert_eq!(
        read(tree.root().join("memory/g/memory.limit_in_bytes")),
        "-1"
    );
    // The same version writes through unchanged.
    set_as(&l, "g", "cpu.shares", "512", Version::V1).unwrap();
    assert_eq!(read(cpu.join("cpu.shares")), "512");
}

#[test]
fn recursive_writes_reach_every_descendant() {
    let tree = v1_host();
    for g in ["g/a", "g/a/b"] {
        tree.group(&format!("cpu,cpuacct/{g}"), &[("cpu.shares", "1024\n")]);
    }
    tree.group("cpu,cpuacct/other", &[("cpu.shares", "1024\n")]);
    let l = layout(&tree);
    assert_eq!(
        set_as_recursive(&l, "g", "cpu.shares", "512", Version::V1).unwrap(),
        3
    );
    for g in ["g", "g/a", "g/a/b"] {
        assert_eq!(
            read(tree.root().join("cpu,cpuacct").join(g).join("cpu.shares")),
            "512"
        );
    }
    assert_eq!(
        read(tree.root().join("cpu,cpuacct/other/cpu.shares")),
        "1024\n"
    );
}

#[test]
fn a_controller_listed_in_the_other_versions_terms() {
    let tree = v1_host();
    tree.group(
        "cpu,cpuacct/g",
        &[("cpu.rt_runtime_us", "0\n"), ("cpu.cfs_burst_us", "0\n")],
    );
    let l = layout(&tree);
    let got = values_as(&l, "g", "cpu", Version::V2).unwrap();
    let names: Vec<&str> = got.iter().map(|(k, _)| k.as_str()).collect();
    // cpu.rt_runtime_us has no v2 counterpart; quota and period are one cpu.max.
    assert_eq!(names, ["cpu.max.burst", "cpu.max", "cpu.weight"]);
    assert_eq!(got[1].1, "max 100000");
    let same = values_as(&l, "g", "cpu", Version::V1).unwrap();
    assert!(same.contains(&("cpu.rt_runtime_us".to_string(), "0".to_string())));
}

#[test]
fn statistics_do_not_cross_versions() {
    let tree = v2_host();
    let l = layout(&tree);
    assert!(matches!(
        get_as(&l, "g", "cpu.stat", Version::V1),
        Err(ConvertError::Unmappable { .. })
    ));
    assert_eq!(
        get_as(&l, "g", "cpu.stat", Version::V2).unwrap(),
        "usage_usec 0"
    );
}
