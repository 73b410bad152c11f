//! `lxc.namespace.*` and `lxc.time.offset.*`: which namespaces init is in,
//! as the host sees them in /proc/PID/ns, and the clocks inside.

use enclos_tests::lab::Lab;
use enclos_tests::{missing_feature, require_root};

pub const CASES: &[crate::Case] = &[
    crate::Case {
        pattern: "lxc.namespace.clone",
        test: namespace_clone_creates_only_the_listed_namespaces,
    },
    crate::Case {
        pattern: "lxc.namespace.keep",
        test: namespace_keep_net_runs_with_the_hosts_network,
    },
    crate::Case {
        pattern: "lxc.namespace.share.net",
        test: share_net_joins_another_containers_network,
    },
    crate::Case {
        pattern: "lxc.namespace.share.ipc",
        test: share_ipc_joins_the_ipc_namespace_of_a_pid,
    },
    crate::Case {
        pattern: "lxc.namespace.share.uts",
        test: share_uts_takes_another_containers_hostname,
    },
    crate::Case {
        pattern: "lxc.namespace.share.cgroup",
        test: share_cgroup_joins_another_containers_cgroup_namespace,
    },
    crate::Case {
        pattern: "lxc.namespace.share.pid",
        test: share_pid_runs_init_in_another_containers_pid_namespace,
    },
    crate::Case {
        pattern: "lxc.namespace.share.time",
        test: share_time_joins_another_containers_clocks,
    },
    crate::Case {
        pattern: "lxc.time.offset.boot",
        test: time_offset_boot_shifts_the_uptime_inside,
    },
    crate::Case {
        pattern: "lxc.time.offset.monotonic",
        test: time_offset_monotonic_is_the_namespaces_offset,
    },
];

fn ns_of(pid: impl std::fmt::Display, ns: &str) -> String {
    std::fs::read_link(format!("/proc/{pid}/ns/{ns}"))
        .unwrap_or_else(|e| panic!("readlink /proc/{pid}/ns/{ns}: {e}"))
        .to_string_lossy()
        .into_owned()
}

fn host(ns: &str) -> String {
    ns_of("self", ns)
}

/// A running container with `extra` config lines.
fn running_with(lab: &Lab, tag: &str, extra: &str) -> String {
    let name = lab.name(tag);
    lab.create_with(&name, extra);
    lab.start(&name);
    name
}

/// /proc/self/timens_offsets inside `name`, blanks squeezed.
fn offsets_inside(lab: &Lab, name: &str) -> String {
    let out = lab
        .attach(name, &["cat", "/proc/self/timens_offsets"])
        .success();
    out.stdout.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A running container with `extra` config lines whose init is a plain
/// `sleep`: busybox's rcS brings up and runs DHCP on every interface it
/// sees, and sets the hostname, which must not happen to the host's.
fn sleeping_with(lab: &Lab, tag: &str, extra: &str) -> String {
    let name = lab.name(tag);
    lab.create_with(&name, extra);
    lab.enclos("start", &["-n", &name, "--", "/bin/sleep", "100000"])
        .success();
    name
}

fn has_time_namespaces(test: &str) -> bool {
    if std::path::Path::new("/proc/self/ns/time").exists() {
        return true;
    }
    missing_feature(test, "no time namespaces (Linux 5.6 or later)");
    false
}

#[test]
pub fn namespace_clone_creates_only_the_listed_namespaces() {
    if !require_root("namespace_clone_creates_only_the_listed_namespaces") {
        return;
    }
    let lab = Lab::new();
    let name = sleeping_with(&lab, "ns-clone", "lxc.namespace.clone = mount pid uts\n");
    let init = lab.init_pid(&name);
    for ns in ["ipc", "net", "cgroup"] {
        assert_eq!(ns_of(init, ns), host(ns), "{ns} should be the host's");
    }
    for ns in ["mnt", "pid", "uts"] {
        assert_ne!(ns_of(init, ns), host(ns), "{ns} should be new");
    }
}

#[test]
pub fn namespace_keep_net_runs_with_the_hosts_network() {
    if !require_root("namespace_keep_net_runs_with_the_hosts_network") {
        return;
    }
    let lab = Lab::new();
    let name = sleeping_with(&lab, "ns-keep", "lxc.namespace.keep = net\n");
    let init = lab.init_pid(&name);
    assert_eq!(ns_of(init, "net"), host("net"));
    for ns in ["mnt", "pid", "uts", "ipc"] {
        assert_ne!(ns_of(init, ns), host(ns), "{ns} should be new");
    }
    let inside = lab
        .attach(&name, &["readlink", "/proc/self/ns/net"])
        .success();
    assert_eq!(inside.stdout.trim(), host("net"));
}

#[test]
pub fn share_net_joins_another_containers_network() {
    if !require_root("share_net_joins_another_containers_network") {
        return;
    }
    let lab = Lab::new();
    let a = running_with(&lab, "ns-neta", "");
    let b = running_with(&lab, "ns-netb", &format!("lxc.namespace.share.net = {a}\n"));
    let (ia, ib) = (lab.init_pid(&a), lab.init_pid(&b));
    assert_ne!(ns_of(ia, "net"), host("net"));
    assert_eq!(ns_of(ib, "net"), ns_of(ia, "net"));
    assert_ne!(
        ns_of(ib, "uts"),
        ns_of(ia, "uts"),
        "only the network is shared"
    );
    let inside = lab.attach(&b, &["readlink", "/proc/self/ns/net"]).success();
    assert_eq!(inside.stdout.trim(), ns_of(ia, "net"));
}

#[test]
pub fn share_ipc_joins_the_ipc_namespace_of_a_pid() {
    if !require_root("share_ipc_joins_the_ipc_namespace_of_a_pid") {
        return;
    }
    let lab = Lab::new();
    let a = running_with(&lab, "ns-ipca", "");
    let ia = lab.init_pid(&a);
    let b = running_with(
        &lab,
        "ns-ipcb",
        &format!("lxc.namespace.share.ipc = {ia}\n"),
    );
    let ib = lab.init_pid(&b);
    assert_ne!(ns_of(ia, "ipc"), host("ipc"));
    assert_eq!(ns_of(ib, "ipc"), ns_of(ia, "ipc"));
}

#[test]
pub fn share_uts_takes_another_containers_hostname() {
    if !require_root("share_uts_takes_another_containers_hostname") {
        return;
    }
    let lab = Lab::new();
    let a = running_with(&lab, "ns-utsa", "");
    let b = running_with(&lab, "ns-utsb", &format!("lxc.namespace.share.uts = {a}\n"));
    assert_eq!(
        ns_of(lab.init_pid(&b), "uts"),
        ns_of(lab.init_pid(&a), "uts")
    );
    // A hostname set in one is the other's.
    lab.attach(&b, &["hostname", "set-in-b"]).success();
    let hostname = lab.attach(&a, &["hostname"]).success();
    assert_eq!(hostname.stdout.trim(), "set-in-b");
}

#[test]
pub fn share_cgroup_joins_another_containers_cgroup_namespace() {
    if !require_root("share_cgroup_joins_another_containers_cgroup_namespace") {
        return;
    }
    let lab = Lab::new();
    let a = running_with(&lab, "ns-cga", "");
    let b = running_with(
        &lab,
        "ns-cgb",
        &format!("lxc.namespace.share.cgroup = {a}\n"),
    );
    let (ia, ib) = (lab.init_pid(&a), lab.init_pid(&b));
    assert_ne!(ns_of(ia, "cgroup"), host("cgroup"));
    assert_eq!(ns_of(ib, "cgroup"), ns_of(ia, "cgroup"));
}

#[test]
pub fn share_pid_runs_init_in_another_containers_pid_namespace() {
    if !require_root("share_pid_runs_init_in_another_containers_pid_namespace") {
        return;
    }
    let lab = Lab::new();
    let a = running_with(&lab, "ns-pida", "");
    let b = lab.name("ns-pidb");
    lab.create_with(&b, &format!("lxc.namespace.share.pid = {a}\n"));
    // Busybox's init insists on being pid 1: b runs a plain command.
    lab.enclos("start", &["-n", &b, "--", "/bin/sleep", "100000"])
        .success();
    let (ia, ib) = (lab.init_pid(&a), lab.init_pid(&b));
    assert_eq!(ns_of(ib, "pid"), ns_of(ia, "pid"));
    let ps = lab.attach(&a, &["ps"]).success();
    assert!(
        ps.stdout.contains("sleep 100000"),
        "a does not see b's init:\n{}",
        ps.stdout
    );
}

#[test]
pub fn share_time_joins_another_containers_clocks() {
    if !require_root("share_time_joins_another_containers_clocks")
        || !has_time_namespaces("share_time_joins_another_containers_clocks")
    {
        return;
    }
    let lab = Lab::new();
    let a = running_with(&lab, "ns-timea", "lxc.time.offset.boot = 1000s\n");
    let b = running_with(
        &lab,
        "ns-timeb",
        &format!("lxc.namespace.share.time = {a}\n"),
    );
    let (ia, ib) = (lab.init_pid(&a), lab.init_pid(&b));
    assert_ne!(ns_of(ia, "time"), host("time"));
    assert_eq!(ns_of(ib, "time"), ns_of(ia, "time"));
    assert_eq!(offsets_inside(&lab, &b), "monotonic 0 0 boottime 1000 0");
}

fn uptime(text: &str) -> f64 {
    text.split_whitespace()
        .next()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not an uptime: {text:?}"))
}

#[test]
pub fn time_offset_boot_shifts_the_uptime_inside() {
    if !require_root("time_offset_boot_shifts_the_uptime_inside")
        || !has_time_namespaces("time_offset_boot_shifts_the_uptime_inside")
    {
        return;
    }
    let lab = Lab::new();
    let name = running_with(&lab, "ns-boot", "lxc.time.offset.boot = 100000s\n");
    let init = lab.init_pid(&name);
    assert_ne!(ns_of(init, "time"), host("time"));
    assert_eq!(
        offsets_inside(&lab, &name),
        "monotonic 0 0 boottime 100000 0"
    );
    let before = uptime(&std::fs::read_to_string("/proc/uptime").unwrap());
    let inside = uptime(&lab.attach(&name, &["cat", "/proc/uptime"]).success().stdout);
    // Both have two decimals: compared in hundredths, as integers (the
    // float sum of 43435.08 and 100000 is not 143435.08).
    let hundredths = |s: f64| (s * 100.0).round() as i64;
    assert!(
        hundredths(inside) >= hundredths(before) + 100000 * 100,
        "uptime inside {inside} is not the host's {before} + 100000"
    );
}

#[test]
pub fn time_offset_monotonic_is_the_namespaces_offset() {
    if !require_root("time_offset_monotonic_is_the_namespaces_offset")
        || !has_time_namespaces("time_offset_monotonic_is_the_namespaces_offset")
    {
        return;
    }
    let lab = Lab::new();
    let name = running_with(&lab, "ns-mono", "lxc.time.offset.monotonic = 3600500ms\n");
    let init = lab.init_pid(&name);
    assert_ne!(ns_of(init, "time"), host("time"));
    assert_eq!(
        offsets_inside(&lab, &name),
        "monotonic 3600 500000000 boottime 0 0"
    );
}
