//! The container's device rules: `devices.deny = a`, then the allow-list
//! of the configuration (`lxc.cgroup.devices.allow` and
//! `lxc.cgroup.devices.deny` on cgroup v1, their `lxc.cgroup2` forms on
//! v2, in order). A configuration without any
//! device rule gets LXC's default list (its `common.conf`), so that a
//! privileged container can create device nodes but not open a disk.

use enclos_config::CgroupSetting;

/// One write to the devices cgroup: the file (`devices.allow` or
/// `devices.deny`) and the rule (`c 1:3 rwm`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DeviceRule {
    pub key: String,
    pub value: String,
    /// Where the rule comes from (`file:line`), or `None` for a default.
    pub origin: Option<String>,
}

/// LXC's default device rules (`/usr/share/lxc/config/common.conf`):
/// any mknod, and only these nodes opened.
pub(crate) const DEFAULT_RULES: &[(&str, &str)] = &[
    ("devices.deny", "a"),
    ("devices.allow", "c *:* m"),
    ("devices.allow", "b *:* m"),
    ("devices.allow", "c 1:3 rwm"),    // /dev/null
    ("devices.allow", "c 1:5 rwm"),    // /dev/zero
    ("devices.allow", "c 1:7 rwm"),    // /dev/full
    ("devices.allow", "c 5:0 rwm"),    // /dev/tty
    ("devices.allow", "c 5:1 rwm"),    // /dev/console
    ("devices.allow", "c 5:2 rwm"),    // /dev/ptmx
    ("devices.allow", "c 1:8 rwm"),    // /dev/random
    ("devices.allow", "c 1:9 rwm"),    // /dev/urandom
    ("devices.allow", "c 136:* rwm"),  // /dev/pts/*
    ("devices.allow", "c 10:229 rwm"), // /dev/fuse
];

/// Whether a setting is a device rule of cgroup `version`.
pub(crate) fn is_device_rule(s: &CgroupSetting, version: u8) -> bool {
    s.version == version && matches!(s.key.as_str(), "devices.allow" | "devices.deny")
}

/// The rules of cgroup `version` for a new container, in order:
/// LXC's defaults when the configuration has no device rule; otherwise
/// `devices.deny = a` and the configuration's rules, unless these start
/// with a deny (a deny-list, or their own `deny a`), which then stand as
/// written.
pub(crate) fn rules(settings: &[CgroupSetting], version: u8) -> Vec<DeviceRule> {
    let from_config: Vec<DeviceRule> = settings
        .iter()
        .filter(|s| is_device_rule(s, version))
        .map(|s| DeviceRule {
            key: s.key.clone(),
            value: s.value.clone(),
            origin: Some(format!("{}:{}", s.origin.file.display(), s.origin.line)),
        })
        .collect();
    let default = |(key, value): &(&str, &str)| DeviceRule {
        key: key.to_string(),
        value: value.to_string(),
        origin: None,
    };
    match from_config.first() {
        None => DEFAULT_RULES.iter().map(default).collect(),
        Some(first) if first.key == "devices.deny" => from_config,
        Some(_) => std::iter::once(default(&DEFAULT_RULES[0]))
            .chain(from_config)
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use enclos_config::Origin;

    fn setting(version: u8, key: &str, value: &str) -> CgroupSetting {
        CgroupSetting {
            version,
            key: key.into(),
            value: value.into(),
            origin: Origin {
                file: "config".into(),
                line: 3,
            },
        }
    }

    fn pairs(rules: &[DeviceRule]) -> Vec<(&str, &str)> {
        rules
            .iter()
            .map(|r| (r.key.as_str(), r.value.as_str()))
            .collect()
    }

    #[test]
    fn no_rule_gives_lxc_defaults() {
        let rules = rules(&[setting(1, "memory.limit_in_bytes", "1G")], 1);
        assert_eq!(pairs(&rules), DEFAULT_RULES);
        assert!(!rules.iter().any(|r| r.value.starts_with("b 8:")));
    }

    #[test]
    fn allow_list_goes_on_top_of_deny_all() {
        let rules = rules(
            &[
                setting(1, "devices.allow", "c 1:3 rwm"),
                setting(2, "devices.allow", "c 1:5 rwm"),
            ],
            1,
        );
        assert_eq!(
            pairs(&rules),
            [("devices.deny", "a"), ("devices.allow", "c 1:3 rwm")]
        );
        assert_eq!(rules[1].origin.as_deref(), Some("config:3"));
    }

    #[test]
    fn rules_starting_with_a_deny_stand_as_written() {
        let rules = rules(
            &[
                setting(1, "devices.deny", "b 8:* rwm"),
                setting(1, "devices.allow", "c 1:3 rwm"),
            ],
            1,
        );
        assert_eq!(
            pairs(&rules),
            [
                ("devices.deny", "b 8:* rwm"),
                ("devices.allow", "c 1:3 rwm")
            ]
        );
    }
}
