//! Cgroups: the layout (v1, v2 or hybrid) from the mount table, and each
//! controller containers use, from the layout, `/proc/cgroups` and the
//! kernel config.

use enclos_cgroupfs::{Kind, Layout, Version};

use crate::config::KernelConfig;
use crate::host::Host;
use crate::{Finding, Group, Status};

/// The controllers containers use: name, v1 name in /proc/cgroups, config
/// option.
const CONTROLLERS: &[(&str, &str, &str)] = &[
    ("cpu", "cpu", "CONFIG_CGROUP_SCHED"),
    ("cpuset", "cpuset", "CONFIG_CPUSETS"),
    ("memory", "memory", "CONFIG_MEMCG"),
    ("pids", "pids", "CONFIG_CGROUP_PIDS"),
    ("io", "blkio", "CONFIG_BLK_CGROUP"),
    ("freezer", "freezer", "CONFIG_CGROUP_FREEZER"),
    ("devices", "devices", "CONFIG_CGROUP_DEVICE"),
];

/// Whether `/proc/cgroups` (text) marks `name` as enabled: `Some(false)`
/// for a controller turned off on the kernel command line
/// (`cgroup_disable=`), `None` when it is not listed.
pub(crate) fn proc_cgroups_enabled(text: &str, name: &str) -> Option<bool> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .find(|f| f.first() == Some(&name))
        .and_then(|f| f.get(3).map(|e| *e == "1"))
}

/// The layout line and one line per controller.
pub(crate) fn check(host: &Host, config: Option<&KernelConfig>) -> Vec<Finding> {
    let finding = |feature: String, status, detail, fix: Option<String>, required| Finding {
        group: Group::Cgroups,
        feature,
        status,
        detail,
        fix,
        required,
    };
    let layout = match Layout::from_mountinfo(&host.mountinfo()) {
        Ok(l) if !l.hierarchies.is_empty() => l,
        other => {
            let why = match other {
                Err(e) => e.to_string(),
                Ok(_) => "no cgroup hierarchy is mounted".to_string(),
            };
            return vec![finding(
                "cgroup layout".into(),
                Status::Missing,
                why,
                Some(
                    "mount cgroup2 on /sys/fs/cgroup (mount -t cgroup2 none /sys/fs/cgroup)".into(),
                ),
                true,
            )];
        }
    };
    let mounts: Vec<String> = layout
        .hierarchies
        .iter()
        .map(|h| h.mount_point.display().to_string())
        .collect();
    let mut out = vec![finding(
        "cgroup layout".into(),
        Status::Enabled,
        format!("{} at {}", layout.kind(), mounts.join(" ")),
        None,
        true,
    )];
    let proc_cgroups = host.read("cgroups").unwrap_or_default();
    for (name, v1, option) in CONTROLLERS {
        let (status, detail, fix) = controller(&layout, &proc_cgroups, config, name, v1, option);
        out.push(finding(
            format!("cgroup {name}"),
            status,
            detail,
            fix,
            false,
        ));
    }
    out
}

/// One controller: served by a hierarchy, or why not.
fn controller(
    layout: &Layout,
    proc_cgroups: &str,
    config: Option<&KernelConfig>,
    name: &str,
    v1: &str,
    option: &str,
) -> (Status, String, Option<String>) {
    if name == "devices" && layout.kind() == Kind::Unified {
        // cgroup v2 has no devices controller: eBPF programs do its work.
        let bpf = config.map(|c| c.enabled("CONFIG_CGROUP_BPF"));
        return match bpf {
            Some(false) => (
                Status::Missing,
                "cgroup v2 controls devices with eBPF: CONFIG_CGROUP_BPF not set".into(),
                Some("rebuild the kernel with CONFIG_CGROUP_BPF".into()),
            ),
            _ => (
                Status::Enabled,
                "cgroup v2 controls devices with eBPF programs".into(),
                None,
            ),
        };
    }
    let lookup = if layout.unified().is_some() && layout.kind() == Kind::Unified {
        name
    } else {
        v1
    };
    if let Ok(h) = layout.resolve(lookup) {
        let version = match h.version {
            Version::V1 => "v1",
            Version::V2 => "v2",
        };
        return (
            Status::Enabled,
            format!("{version} hierarchy at {}", h.mount_point.display()),
            None,
        );
    }
    if config.is_some_and(|c| !c.enabled(option)) {
        return (
            Status::Missing,
            format!("{option} not set"),
            Some(format!("rebuild the kernel with {option}")),
        );
    }
    match proc_cgroups_enabled(proc_cgroups, v1) {
        Some(false) => (
            Status::Missing,
            format!("/proc/cgroups marks {v1} as disabled"),
            Some(format!("remove cgroup_disable={v1} from the kernel command line, or boot with cgroup_enable={v1}")),
        ),
        _ => (
            Status::Missing,
            "no mounted hierarchy serves it".into(),
            Some(match layout.unified() {
                Some(v2) => format!(
                    "enable it in {}/cgroup.subtree_control, or free it from its v1 hierarchy",
                    v2.mount_point.display()
                ),
                None => format!("mount it: mount -t cgroup -o {v1} cgroup /sys/fs/cgroup/{v1}"),
            }),
        ),
    }
}
