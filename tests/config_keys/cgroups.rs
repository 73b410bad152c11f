//! The container's cgroup settings, v1 and v2, and the keys that clear
//! them.

use enclos_tests::lab::*;
use enclos_tests::require_root;

use crate::{with_keys, Case};

pub const CASES: &[Case] = &[
    Case {
        pattern: "lxc.cgroup.*",
        test: cgroup_v1_setting_reaches_the_host_file,
    },
    Case {
        pattern: "lxc.cgroup2.*",
        test: cgroup_v2_setting_reaches_the_host_file,
    },
    Case {
        pattern: "lxc.cgroup",
        test: cgroup_clears_the_v1_settings,
    },
    Case {
        pattern: "lxc.cgroup2",
        test: cgroup2_clears_the_v2_settings,
    },
];

/// `lxc.cgroup` or `lxc.cgroup2` with a memory limit of 64 MiB: on a host
/// whose memory controller is of that version, the host's file holds it;
/// on the other, start refuses it and says why.
fn memory_setting(version_key: &str, tag: &str) {
    let lab = Lab::new();
    let mem = MemoryLimit::of_host();
    let (key, v, applies) = match version_key {
        "lxc.cgroup" => ("lxc.cgroup.memory.limit_in_bytes", "v1", mem.v1),
        _ => ("lxc.cgroup2.memory.max", "v2", !mem.v1),
    };
    let n = with_keys(&lab, tag, &format!("{key} = 67108864"));
    if applies {
        lab.start(&n);
        assert_eq!(mem.of(&n), "67108864");
    } else {
        let out = lab.enclos("start", &["-n", &n]);
        assert_one_error_line(
            &out,
            &format!("{key} is a cgroup {v} setting, but this host's memory controller is not on cgroup {v}"),
        );
        assert_eq!(
            cgroup_dirs(&n),
            Vec::<std::path::PathBuf>::new(),
            "no cgroup left"
        );
    }
}

#[test]
pub fn cgroup_v1_setting_reaches_the_host_file() {
    if !require_root("cgroup_v1_setting_reaches_the_host_file") {
        return;
    }
    memory_setting("lxc.cgroup", "cg1");
}

#[test]
pub fn cgroup_v2_setting_reaches_the_host_file() {
    if !require_root("cgroup_v2_setting_reaches_the_host_file") {
        return;
    }
    memory_setting("lxc.cgroup2", "cg2");
}

/// A memory limit of `version_key` set in an included file, then cleared
/// by `version_key =`: the container starts with no limit.
fn memory_setting_cleared(version_key: &str, tag: &str) {
    let lab = Lab::new();
    let mem = MemoryLimit::of_host();
    let key = match version_key {
        "lxc.cgroup" => "lxc.cgroup.memory.limit_in_bytes",
        _ => "lxc.cgroup2.memory.max",
    };
    let inc = lab.conf(&format!("{tag}.conf"), &format!("{key} = 67108864\n"));
    let n = with_keys(
        &lab,
        tag,
        &format!("lxc.include = {}\n{version_key} =", inc.display()),
    );
    // Uncleared, the setting would apply (or, on a host of the other
    // version, refuse the start): cleared, the start succeeds and the
    // group has the kernel's default.
    lab.start(&n);
    let unlimited = if mem.v1 { "9223372036854771712" } else { "max" };
    assert_eq!(mem.of(&n), unlimited);
}

#[test]
pub fn cgroup_clears_the_v1_settings() {
    if !require_root("cgroup_clears_the_v1_settings") {
        return;
    }
    memory_setting_cleared("lxc.cgroup", "cgclr1");
}

#[test]
pub fn cgroup2_clears_the_v2_settings() {
    if !require_root("cgroup2_clears_the_v2_settings") {
        return;
    }
    memory_setting_cleared("lxc.cgroup2", "cgclr2");
}
