use rstest::rstest;

use super::*;
use crate::translate_for_v2;

#[rstest]
// libcgroup's scaling (weight × 1024 / 100), not OCI's (100 → 2597).
#[case::weight(&[("cpu.weight", "100")], &[("cpu.shares", "1024")])]
#[case::weight_double(&[("cpu.weight", "200")], &[("cpu.shares", "2048")])]
#[case::weight_max(&[("cpu.weight", "10000")], &[("cpu.shares", "102400")])]
#[case::cpu_max(&[("cpu.max", "50000 100000")], &[("cpu.cfs_period_us", "100000"), ("cpu.cfs_quota_us", "50000")])]
#[case::cpu_max_unlimited(&[("cpu.max", "max 200000")], &[("cpu.cfs_period_us", "200000"), ("cpu.cfs_quota_us", "-1")])]
#[case::cpu_max_quota(&[("cpu.max", "25000")], &[("cpu.cfs_quota_us", "25000")])]
#[case::burst(&[("cpu.max.burst", "1000")], &[("cpu.cfs_burst_us", "1000")])]
#[case::memory(&[("memory.max", "40960")], &[("memory.limit_in_bytes", "40960")])]
#[case::memory_unlimited(&[("memory.max", "max")], &[("memory.limit_in_bytes", "-1")])]
#[case::high(&[("memory.high", "1G")], &[("memory.soft_limit_in_bytes", "1G")])]
#[case::swap(
    &[("memory.max", "1G"), ("memory.swap.max", "512M")],
    &[("memory.limit_in_bytes", "1G"), ("memory.memsw.limit_in_bytes", "1610612736")]
)]
#[case::io_default(&[("io.weight", "default 100")], &[("blkio.weight", "19")])]
#[case::io_device(&[("io.weight", "8:0 10000")], &[("blkio.weight_device", "8:0 1000")])]
#[case::hugetlb(&[("hugetlb.2MB.max", "max")], &[("hugetlb.2MB.limit_in_bytes", "-1")])]
#[case::freeze(&[("cgroup.freeze", "1")], &[("freezer.state", "FROZEN")])]
#[case::passthrough(&[("pids.max", "10"), ("cpuset.cpus", "0")], &[("pids.max", "10"), ("cpuset.cpus", "0")])]
fn v2_to_v1(#[case] input: &[(&str, &str)], #[case] expected: &[(&str, &str)]) {
    let out = translate_for_v1(input).unwrap();
    let got: Vec<(&str, &str)> = out
        .iter()
        .map(|s| (s.key.as_str(), s.value.as_str()))
        .collect();
    assert_eq!(got, expected);
}

#[rstest]
#[case::low("memory.low", "1G", "has no cgroup v1 equivalent")]
#[case::bad_weight("cpu.weight", "0", "between 1 and 10000")]
#[case::swap_alone("memory.swap.max", "1G", "needs a memory.max")]
#[case::bad_max("cpu.max", "a b c", "expected \"QUOTA PERIOD\"")]
fn v2_to_v1_refusals(#[case] key: &str, #[case] value: &str, #[case] needle: &str) {
    let e = translate_for_v1(&[(key, value)]).unwrap_err();
    assert_eq!(e.key, key);
    assert!(e.message.contains(needle), "{}", e.message);
}

/// Both directions of the table agree where a value survives the trip.
#[rstest]
#[case("cpu.max", "50000 100000")]
#[case("memory.max", "max")]
#[case("memory.max", "40960")]
#[case("cgroup.freeze", "1")]
#[case("cpu.max.burst", "500")]
fn there_and_back(#[case] key: &str, #[case] value: &str) {
    let v1 = translate_for_v1(&[(key, value)]).unwrap();
    let pairs: Vec<(&str, &str)> = v1
        .iter()
        .map(|s| (s.key.as_str(), s.value.as_str()))
        .collect();
    let v2 = translate_for_v2(&pairs).unwrap();
    assert_eq!((v2[0].key.as_str(), v2[0].value.as_str()), (key, value));
}

#[test]
fn the_v1_no_limit_count_reads_as_max() {
    let v2 = translate_for_v2(&[("memory.limit_in_bytes", "9223372036854771712")]).unwrap();
    assert_eq!(v2[0].value, "max");
}
