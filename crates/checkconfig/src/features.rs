//! The features other than cgroups: where the config came from,
//! namespaces, the user namespace sysctls, filesystems, network devices
//! and security modules.

use std::path::PathBuf;

use crate::config::KernelConfig;
use crate::host::Host;
use crate::{Finding, Group, Status};

/// What a probe saw: `Some(true)` present, `Some(false)` absent for sure,
/// `None` when its absence proves nothing (a module not loaded yet).
type Probe = Option<bool>;

/// One kernel feature: the config options it needs, the probe's answer
/// and its words, and what to do when it is missing.
pub(crate) struct Feature<'a> {
    pub group: Group,
    pub name: &'a str,
    pub options: &'a [&'a str],
    pub probe: Probe,
    pub probe_what: &'a str,
    pub fix: &'a str,
    pub required: bool,
}

impl Feature<'_> {
    /// Decides from the probe first (what works now), then the config.
    pub fn judge(&self, config: Option<&KernelConfig>) -> Finding {
        let values: Vec<String> = self
            .options
            .iter()
            .map(|o| match config.and_then(|c| c.value(o)) {
                Some(v) => format!("{o}={v}"),
                None => format!("{o} not set"),
            })
            .collect();
        let in_config = config.map(|c| self.options.iter().all(|o| c.enabled(o)));
        let (status, detail) = match (self.probe, in_config) {
            (Some(true), _) => (Status::Enabled, self.with_values(&values, config)),
            (_, Some(true)) => (Status::Enabled, values.join(", ")),
            (_, Some(false)) => (Status::Missing, values.join(", ")),
            (Some(false), None) => (Status::Missing, format!("no {}", self.probe_what)),
            (None, None) => (
                Status::Unknown,
                format!("no {} and no kernel config to tell", self.probe_what),
            ),
        };
        Finding {
            group: self.group,
            feature: self.name.to_string(),
            status,
            fix: (status != Status::Enabled).then(|| self.fix.to_string()),
            detail,
            required: self.required,
        }
    }

    fn with_values(&self, values: &[String], config: Option<&KernelConfig>) -> String {
        match config {
            Some(_) if !values.is_empty() => format!("{} ({})", self.probe_what, values.join(", ")),
            _ => self.probe_what.to_string(),
        }
    }
}

/// The first line: which kernel configuration was read.
pub(crate) fn config_source(config: Option<&(PathBuf, KernelConfig)>) -> Finding {
    let (status, detail, fix) = match config {
        Some((path, _)) => (Status::Enabled, format!("read {}", path.display()), None),
        None => (
            Status::Unknown,
            "neither /proc/config.gz nor /boot/config-RELEASE: probes only".to_string(),
            Some(
                "modprobe configs (for /proc/config.gz), or install the kernel's config in /boot"
                    .to_string(),
            ),
        ),
    };
    Finding {
        group: Group::Kernel,
        feature: "kernel config".to_string(),
        status,
        detail,
        fix,
        required: false,
    }
}

/// The namespaces: uts, ipc, pid, mount, net, user, cgroup and time.
pub(crate) fn namespaces(host: &Host, config: Option<&KernelConfig>) -> Vec<Finding> {
    const NS: &[(&str, &str, &[&str], bool)] = &[
        ("uts", "uts", &["CONFIG_UTS_NS"], true),
        ("ipc", "ipc", &["CONFIG_IPC_NS"], true),
        ("pid", "pid", &["CONFIG_PID_NS"], true),
        ("mount", "mnt", &[], true),
        ("net", "net", &["CONFIG_NET_NS"], true),
        ("user", "user", &["CONFIG_USER_NS"], false),
        ("cgroup", "cgroup", &["CONFIG_CGROUPS"], false),
        ("time", "time", &["CONFIG_TIME_NS"], false),
    ];
    NS.iter()
        .map(|(name, file, options, required)| {
            let feature = format!("{name} namespace");
            let probe_what = format!("/proc/self/ns/{file}");
            let fix = format!(
                "rebuild the kernel with {}",
                if options.is_empty() {
                    "CONFIG_NAMESPACES"
                } else {
                    options[0]
                }
            );
            Feature {
                group: Group::Namespaces,
                name: &feature,
                options,
                probe: Some(host.has_namespace(file)),
                probe_what: &probe_what,
                fix: &fix,
                required: *required,
            }
            .judge(config)
        })
        .collect()
}

/// `user.max_user_namespaces` above 0, and Debian's
/// `kernel.unprivileged_userns_clone` at 1 where it exists.
pub(crate) fn userns_sysctls(host: &Host) -> Vec<Finding> {
    let mut out = Vec::new();
    let sysctl = |name: &str, value: Option<String>, ok: &dyn Fn(i64) -> bool, fix: String| {
        let parsed = value.as_deref().and_then(|v| v.trim().parse::<i64>().ok());
        let (status, detail) = match parsed {
            Some(v) if ok(v) => (Status::Enabled, format!("{name} = {v}")),
            Some(v) => (Status::Missing, format!("{name} = {v}")),
            None => (Status::Unknown, format!("{name} cannot be read")),
        };
        Finding {
            group: Group::Userns,
            feature: name.to_string(),
            status,
            detail,
            fix: (status != Status::Enabled).then_some(fix),
            required: false,
        }
    };
    out.push(sysctl(
        "user.max_user_namespaces",
        host.read("sys/user/max_user_namespaces"),
        &|v| v > 0,
        "sysctl -w user.max_user_namespaces=15000 (and set it in /etc/sysctl.d/ to keep it)".into(),
    ));
    if let Some(v) = host.read("sys/kernel/unprivileged_userns_clone") {
        out.push(sysctl(
            "kernel.unprivileged_userns_clone",
            Some(v),
            &|v| v == 1,
            "sysctl -w kernel.unprivileged_userns_clone=1 (and set it in /etc/sysctl.d/ to keep it)"
                .into(),
        ));
    }
    out
}

/// overlay, btrfs and loop devices.
pub(crate) fn filesystems(host: &Host, config: Option<&KernelConfig>) -> Vec<Finding> {
    let loop_probe = host.has_dev("loop-control") || host.has_module("loop");
    [
        Feature {
            group: Group::Filesystems,
            name: "overlay",
            options: &["CONFIG_OVERLAY_FS"],
            probe: host.has_filesystem("overlay").then_some(true),
            probe_what: "overlay in /proc/filesystems",
            fix: "modprobe overlay, or rebuild the kernel with CONFIG_OVERLAY_FS (needed by -B overlay and snapshots of overlay containers)",
            required: false,
        },
        Feature {
            group: Group::Filesystems,
            name: "btrfs",
            options: &["CONFIG_BTRFS_FS"],
            probe: host.has_filesystem("btrfs").then_some(true),
            probe_what: "btrfs in /proc/filesystems",
            fix: "modprobe btrfs, or rebuild the kernel with CONFIG_BTRFS_FS (needed by -B btrfs only)",
            required: false,
        },
        Feature {
            group: Group::Filesystems,
            name: "loop",
            options: &["CONFIG_BLK_DEV_LOOP"],
            probe: loop_probe.then_some(true),
            probe_what: "/dev/loop-control",
            fix: "modprobe loop, or rebuild the kernel with CONFIG_BLK_DEV_LOOP (needed by -B loop only)",
            required: false,
        },
    ]
    .iter()
    .map(|f| f.judge(config))
    .collect()
}

/// veth, bridge, macvlan and vlan.
pub(crate) fn network(host: &Host, config: Option<&KernelConfig>) -> Vec<Finding> {
    const NET: &[(&str, &str, &str, &str)] = &[
        ("veth", "veth", "CONFIG_VETH", "lxc.net.N.type = veth"),
        (
            "bridge",
            "bridge",
            "CONFIG_BRIDGE",
            "lxc.net.N.link bridges",
        ),
        (
            "macvlan",
            "macvlan",
            "CONFIG_MACVLAN",
            "lxc.net.N.type = macvlan",
        ),
        (
            "vlan",
            "8021q",
            "CONFIG_VLAN_8021Q",
            "lxc.net.N.type = vlan",
        ),
    ];
    NET.iter()
        .map(|(name, module, option, used)| {
            let probe_what = format!("/sys/module/{module}");
            let fix = format!(
                "modprobe {module}, or rebuild the kernel with {option} (needed by {used})"
            );
            Feature {
                group: Group::Network,
                name,
                options: &[option],
                probe: host.has_module(module).then_some(true),
                probe_what: &probe_what,
                fix: &fix,
                required: false,
            }
            .judge(config)
        })
        .collect()
}

/// seccomp filters, AppArmor and idmapped mounts.
pub(crate) fn security(host: &Host, config: Option<&KernelConfig>) -> Vec<Finding> {
    let seccomp = host
        .read("self/status")
        .map(|s| s.lines().any(|l| l.starts_with("Seccomp:")));
    let apparmor = host
        .sys_value("module/apparmor/parameters/enabled")
        .map(|v| v == "Y");
    let mut out: Vec<Finding> = [
        Feature {
            group: Group::Security,
            name: "seccomp",
            options: &["CONFIG_SECCOMP", "CONFIG_SECCOMP_FILTER"],
            probe: seccomp.filter(|s| *s),
            probe_what: "a Seccomp line in /proc/self/status",
            fix: "rebuild the kernel with CONFIG_SECCOMP and CONFIG_SECCOMP_FILTER (needed by lxc.seccomp.profile)",
            required: false,
        },
        Feature {
            group: Group::Security,
            name: "apparmor",
            options: &["CONFIG_SECURITY_APPARMOR"],
            probe: apparmor,
            probe_what: "AppArmor enabled in /sys/module/apparmor/parameters/enabled",
            fix: "boot with apparmor=1 security=apparmor (optional: without it lxc.apparmor.profile is not applied)",
            required: false,
        },
    ]
    .iter()
    .map(|f| f.judge(config))
    .collect();
    out.push(idmapped(host));
    out
}

/// An idmapped mount tried on [`Host::idmap_probe`]: only a try tells.
fn idmapped(host: &Host) -> Finding {
    let (status, detail) = match host.idmap_probe() {
        None => (Status::Unknown, "not probed".to_string()),
        Some(path) => match enclos_idmap::probe_idmapped_mount(path) {
            Ok(()) => (
                Status::Enabled,
                format!("an idmapped mount of {} works", path.display()),
            ),
            Err(e) => (Status::Missing, format!("on {}: {e}", path.display())),
        },
    };
    Finding {
        group: Group::Security,
        feature: "idmapped mounts".to_string(),
        status,
        detail,
        fix: (status != Status::Enabled).then(|| {
            "needs Linux 5.12 or later, a filesystem that supports them (ext4, xfs, btrfs; tmpfs from 6.3) and root or a user namespace; without them enclos shifts the rootfs's owners instead".to_string()
        }),
        required: false,
    }
}
