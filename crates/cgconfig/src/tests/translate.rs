use rstest::rstest;

use crate::apply::write_order;
use crate::*;

use super::*;

#[rstest]
// libcgroup's scaling (shares × 100 / 1024), not OCI's (100 → 4, 1024 → 39).
#[case::shares(&[("cpu.shares", "100")], &[("cpu.weight", "9")])]
#[case::shares_default(&[("cpu.shares", "1024")], &[("cpu.weight", "100")])]
#[case::shares_half(&[("cpu.shares", "512")], &[("cpu.weight", "50")])]
// Kept within what the kernel takes for cpu.weight (1..=10000).
#[case::shares_tiny(&[("cpu.shares", "2")], &[("cpu.weight", "1")])]
#[case::shares_huge(&[("cpu.shares", "262144")], &[("cpu.weight", "10000")])]
#[case::quota_period(
        &[("cpu.cfs_quota_us", "50000"), ("cpu.cfs_period_us", "100000")],
        &[("cpu.max", "50000 100000")]
    )]
#[case::period_first(
        &[("cpu.cfs_period_us", "200000"), ("cpu.cfs_quota_us", "-1")],
        &[("cpu.max", "max 200000")]
    )]
#[case::quota_only(&[("cpu.cfs_quota_us", "25000")], &[("cpu.max", "25000")])]
#[case::memory(&[("memory.limit_in_bytes", "40000")], &[("memory.max", "40000")])]
#[case::memory_unlimited(&[("memory.limit_in_bytes", "-1")], &[("memory.max", "max")])]
#[case::memory_suffix(&[("memory.limit_in_bytes", "256M")], &[("memory.max", "256M")])]
#[case::soft(&[("memory.soft_limit_in_bytes", "1G")], &[("memory.high", "1G")])]
#[case::memsw(
        &[("memory.limit_in_bytes", "1G"), ("memory.memsw.limit_in_bytes", "1536M")],
        &[("memory.max", "1G"), ("memory.swap.max", "536870912")]
    )]
#[case::memsw_unlimited(&[("memory.memsw.limit_in_bytes", "-1")], &[("memory.swap.max", "max")])]
#[case::blkio(&[("blkio.weight", "500")], &[("io.weight", "default 4950")])]
#[case::blkio_device(&[("blkio.weight_device", "8:0 1000")], &[("io.weight", "8:0 10000")])]
#[case::throttle(
        &[("blkio.throttle.read_bps_device", "8:0 1048576"), ("blkio.throttle.write_iops_device", "8:16 0")],
        &[("io.max", "8:0 rbps=1048576"), ("io.max", "8:16 wiops=max")]
    )]
#[case::cpuset(&[("cpuset.cpus", "0-1"), ("cpuset.mems", "0")], &[("cpuset.cpus", "0-1"), ("cpuset.mems", "0")])]
#[case::pids(&[("pids.max", "100")], &[("pids.max", "100")])]
#[case::frozen(&[("freezer.state", "FROZEN")], &[("cgroup.freeze", "1")])]
#[case::thawed(&[("freezer.state", "THAWED")], &[("cgroup.freeze", "0")])]
#[case::hugetlb(&[("hugetlb.2MB.limit_in_bytes", "-1")], &[("hugetlb.2MB.max", "max")])]
#[case::burst(&[("cpu.cfs_burst_us", "1000")], &[("cpu.max.burst", "1000")])]
#[case::v2_key(&[("memory.high", "1G"), ("cpu.weight", "50")], &[("memory.high", "1G"), ("cpu.weight", "50")])]
fn v1_to_v2(#[case] input: &[(&str, &str)], #[case] expected: &[(&str, &str)]) {
    let out = translate_for_v2(input).unwrap();
    let got: Vec<(&str, &str)> = out
        .iter()
        .map(|s| (s.key.as_str(), s.value.as_str()))
        .collect();
    assert_eq!(got, expected);
    for s in &out {
        assert_eq!(s.notice.is_none(), input.iter().any(|(k, _)| *k == s.key));
    }
}

#[test]
fn v1_to_v2_notices() {
    let out = translate_for_v2(&[("cpu.shares", "100")]).unwrap();
    assert_eq!(
        out[0].notice.as_deref(),
        Some("cpu.shares = 100 is cpu.weight = 9 on cgroup v2")
    );
    assert_eq!(out[0].from, ["cpu.shares"]);
    let out =
        translate_for_v2(&[("cpu.cfs_quota_us", "-1"), ("cpu.cfs_period_us", "100000")]).unwrap();
    assert_eq!(out[0].from, ["cpu.cfs_quota_us", "cpu.cfs_period_us"]);
}

#[rstest]
#[case::swappiness(&[("memory.swappiness", "10")], "memory.swappiness", "memory.swappiness has no cgroup v2 equivalent")]
#[case::cpuacct(&[("cpuacct.usage", "0")], "cpuacct.usage", "cpuacct.usage has no cgroup v2 equivalent")]
#[case::devices(&[("devices.deny", "a")], "devices.deny", "devices.deny has no cgroup v2 equivalent")]
#[case::kmem(&[("memory.kmem.limit_in_bytes", "1")], "memory.kmem.limit_in_bytes", "no cgroup v2 equivalent")]
#[case::rt(&[("cpu.rt_runtime_us", "1")], "cpu.rt_runtime_us", "no cgroup v2 equivalent")]
#[case::period_alone(&[("cpu.cfs_period_us", "100000")], "cpu.cfs_period_us", "cpu.cfs_period_us alone has no cgroup v2 equivalent")]
#[case::memsw_alone(&[("memory.memsw.limit_in_bytes", "2G")], "memory.memsw.limit_in_bytes", "needs memory.limit_in_bytes in the same block")]
#[case::memsw_below(
        &[("memory.limit_in_bytes", "2G"), ("memory.memsw.limit_in_bytes", "1G")],
        "memory.memsw.limit_in_bytes",
        "is below memory.limit_in_bytes = 2G"
    )]
#[case::shares_nan(&[("cpu.shares", "lots")], "cpu.shares", "cpu.shares = lots: expected a whole number")]
#[case::bad_limit(&[("memory.limit_in_bytes", "12X")], "memory.limit_in_bytes", "expected a byte count")]
#[case::blkio_range(&[("blkio.weight", "5")], "blkio.weight", "between 10 and 1000")]
#[case::freezer(&[("freezer.state", "FREEZING")], "freezer.state", "expected FROZEN or THAWED")]
#[case::device(&[("blkio.throttle.read_bps_device", "sda 1")], "blkio.throttle.read_bps_device", "MAJOR:MINOR")]
fn v1_without_v2_equivalent(
    #[case] input: &[(&str, &str)],
    #[case] key: &str,
    #[case] message: &str,
) {
    let err = translate_for_v2(input).unwrap_err();
    assert_eq!(err.key, key);
    assert!(err.message.contains(message), "{}", err.message);
}

#[test]
fn write_order_follows_libcgroup() {
    let s = |k: &str| setting(k, "1", 1, 1);
    let settings = vec![
        s("memory.memsw.limit_in_bytes"),
        s("cpuset.cpu_exclusive"),
        s("memory.swappiness"),
        s("cpuset.mems"),
        s("memory.limit_in_bytes"),
        s("cpuset.cpus"),
    ];
    let keys: Vec<&str> = write_order(&settings)
        .iter()
        .map(|s| s.key.as_str())
        .collect();
    assert_eq!(
        keys,
        [
            "cpuset.cpus",
            "cpuset.mems",
            "memory.limit_in_bytes",
            "memory.memsw.limit_in_bytes",
            "cpuset.cpu_exclusive",
            "memory.swappiness",
        ]
    );
}

// The old translation sliced `hugetlb.SIZE.limit_in_bytes` by length and
// panicked on `hugetlb.limit_in_bytes` (no size); it is a v1 key without
// a v2 counterpart.
#[test]
fn hugetlb_key_without_a_size_is_an_error_not_a_panic() {
    let err = translate_for_v2(&[("hugetlb.limit_in_bytes", "1")]).unwrap_err();
    assert_eq!(err.key, "hugetlb.limit_in_bytes");
    assert!(
        err.message
            .starts_with("hugetlb.limit_in_bytes has no cgroup v2 equivalent"),
        "{err}"
    );
}

#[test]
fn every_rename_of_the_table_is_a_v1_key_and_a_v2_key() {
    // A v1 key of the table never passes through unchanged, and what it
    // becomes is never refused as a v1 key.
    for (v1, value) in [
        ("cpu.shares", "100"),
        ("cpu.cfs_burst_us", "10"),
        ("memory.limit_in_bytes", "1G"),
        ("memory.soft_limit_in_bytes", "1G"),
        ("blkio.weight", "100"),
        ("blkio.weight_device", "8:0 100"),
        ("blkio.throttle.read_bps_device", "8:0 100"),
        ("blkio.throttle.write_bps_device", "8:0 100"),
        ("blkio.throttle.read_iops_device", "8:0 100"),
        ("blkio.throttle.write_iops_device", "8:0 100"),
        ("freezer.state", "FROZEN"),
    ] {
        let out = translate_for_v2(&[(v1, value)]).unwrap();
        assert_eq!(out.len(), 1, "{v1}");
        assert_ne!(out[0].key, v1);
        assert!(out[0].notice.is_some(), "{v1}");
        let again = translate_for_v2(&[(out[0].key.as_str(), out[0].value.as_str())]).unwrap();
        assert!(again[0].notice.is_none(), "{} passes through", out[0].key);
    }
}
