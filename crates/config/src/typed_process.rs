//! Typed access to the keys about init's process and the monitor:
//! resource limits, sysctls, /proc settings, supplementary groups, the
//! session keyring, core scheduling, the monitor's own settings.

use crate::error::Origin;
use crate::values::{parse_bool, parse_signal, parse_uint, SIGKILL};
use crate::Config;

/// One key of a family (`lxc.prlimit.nofile = 1024`): the part after the
/// family's prefix, its value in effect, and where it was set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FamilyValue {
    /// The key without the family's prefix (`nofile`, `net.ipv4.ip_forward`).
    pub name: String,
    pub value: String,
    pub origin: Origin,
}

impl Config {
    /// Every key starting with `prefix` (`lxc.sysctl.`), with its last
    /// value in effect (an empty value clears it), in the order each was
    /// first set.
    fn family(&self, prefix: &str) -> Vec<FamilyValue> {
        let mut out: Vec<FamilyValue> = Vec::new();
        for e in self.live_entries() {
            let Some(name) = e.key.strip_prefix(prefix).filter(|n| !n.is_empty()) else {
                continue;
            };
            let value = FamilyValue {
                name: name.to_string(),
                value: e.value.clone(),
                origin: e.origin.clone(),
            };
            match out.iter_mut().find(|v| v.name == name) {
                Some(slot) => *slot = value,
                None => out.push(value),
            }
        }
        out.retain(|v| !v.value.is_empty());
        out
    }

    /// `lxc.prlimit.*`: resource (`nofile`) and limit (`1024`,
    /// `1024:4096`, `unlimited`).
    pub fn prlimits(&self) -> Vec<FamilyValue> {
        self.family("lxc.prlimit.")
    }

    /// `lxc.sysctl.*`: the sysctl in dotted form (`net.ipv4.ip_forward`)
    /// and its value.
    pub fn sysctls(&self) -> Vec<FamilyValue> {
        self.family("lxc.sysctl.")
    }

    /// `lxc.proc.*`: the file under `/proc/<pid>/` (`oom_score_adj`) and
    /// what is written to it.
    pub fn proc_settings(&self) -> Vec<FamilyValue> {
        self.family("lxc.proc.")
    }

    /// `lxc.init.groups`: the group ids, from every line in effect, each
    /// a list separated by commas or blanks. A value that is not a group
    /// id is an error naming the line.
    pub fn init_groups(&self) -> Result<Vec<u32>, (Origin, String)> {
        let mut groups = Vec::new();
        for e in self.live_key("lxc.init.groups") {
            for part in e.value.split([',', ' ', '\t']).filter(|p| !p.is_empty()) {
                let gid = parse_uint(part).map_err(|_| (e.origin.clone(), part.to_string()))?;
                if !groups.contains(&gid) {
                    groups.push(gid);
                }
            }
        }
        Ok(groups)
    }

    /// `lxc.keyring.session`: whether init gets a new session keyring
    /// (LXC's default) or keeps the one of the monitor (`0`).
    pub fn keyring_session(&self) -> bool {
        self.get("lxc.keyring.session")
            .and_then(|v| parse_bool(v).ok())
            .unwrap_or(true)
    }

    /// `lxc.sched.core`: whether init starts a core scheduling domain.
    pub fn sched_core(&self) -> bool {
        self.get("lxc.sched.core")
            .and_then(|v| parse_bool(v).ok())
            .unwrap_or(false)
    }

    /// `lxc.monitor.signal.pdeath`: the signal init gets when the monitor
    /// dies; SIGKILL when unset, 0 for none.
    pub fn monitor_signal_pdeath(&self) -> i32 {
        match self.get("lxc.monitor.signal.pdeath") {
            Some("0") => 0,
            Some(v) => parse_signal(v).unwrap_or(SIGKILL),
            None => SIGKILL,
        }
    }

    /// `lxc.autodev.tmpfs.size`: the size of the /dev tmpfs as LXC gives
    /// it to the kernel (`size=N`, in bytes); `None` (LXC's 500000) when
    /// unset or 0.
    pub fn autodev_tmpfs_size(&self) -> Option<u64> {
        self.get("lxc.autodev.tmpfs.size")
            .and_then(|v| parse_uint(v).ok())
            .filter(|&n| n > 0)
            .map(u64::from)
    }

    /// `lxc.rootfs.mount`: where the rootfs is bind-mounted before the
    /// pivot (what hooks see as `LXC_ROOTFS_MOUNT`); None: where it lies.
    pub fn rootfs_mount(&self) -> Option<&str> {
        self.get("lxc.rootfs.mount").filter(|v| !v.is_empty())
    }

    /// `lxc.rootfs.managed`: whether enclos owns the rootfs (and destroy
    /// removes it); true when unset.
    pub fn rootfs_managed(&self) -> bool {
        self.get("lxc.rootfs.managed")
            .and_then(|v| parse_bool(v).ok())
            .unwrap_or(true)
    }

    /// `lxc.cgroup.dir`, `lxc.cgroup.dir.container`,
    /// `lxc.cgroup.dir.container.inner`, `lxc.cgroup.dir.monitor`,
    /// `lxc.cgroup.dir.monitor.pivot`: each as written, with its origin.
    pub fn cgroup_dir(&self, which: &str) -> Option<(String, Origin)> {
        let key = match which {
            "" => "lxc.cgroup.dir".to_string(),
            w => format!("lxc.cgroup.dir.{w}"),
        };
        self.live_entries()
            .filter(|e| e.key == key)
            .last()
            .filter(|e| !e.value.is_empty())
            .map(|e| (e.value.trim_matches('/').to_string(), e.origin.clone()))
    }

    /// `lxc.cgroup.relative`: whether the container's cgroup goes under
    /// the cgroup of the process that starts it, not under the root.
    pub fn cgroup_relative(&self) -> bool {
        self.get("lxc.cgroup.relative")
            .and_then(|v| parse_bool(v).ok())
            .unwrap_or(false)
    }

    /// `lxc.log.syslog`: the syslog facility the container's log also
    /// goes to (`daemon`, `local0` .. `local7`).
    pub fn log_syslog(&self) -> Option<&str> {
        self.get("lxc.log.syslog").filter(|v| !v.is_empty())
    }

    /// `lxc.monitor.unshare`: whether the monitor unshares its mount
    /// namespace before it sets the container up.
    pub fn monitor_unshare(&self) -> bool {
        self.get("lxc.monitor.unshare")
            .and_then(|v| parse_bool(v).ok())
            .unwrap_or(false)
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use crate::Config;

    fn parse(text: &str) -> Config {
        Config::parse_str(text, Path::new("/c/config")).unwrap()
    }

    #[test]
    fn family_keeps_the_last_value_of_each_key() {
        let c = parse(
            "lxc.prlimit.nofile = 10\nlxc.prlimit.core = 0\nlxc.prlimit.nofile = 20:30\nlxc.prlimit.core =\n",
        );
        let got: Vec<(String, String, usize)> = c
            .prlimits()
            .into_iter()
            .map(|v| (v.name, v.value, v.origin.line))
            .collect();
        assert_eq!(got, [("nofile".to_string(), "20:30".to_string(), 3)]);
    }

    #[test]
    fn clearing_the_family_clears_every_key() {
        let c = parse("lxc.sysctl.kernel.msgmax = 1\nlxc.sysctl =\nlxc.sysctl.net.a = 2\n");
        let names: Vec<String> = c.sysctls().into_iter().map(|v| v.name).collect();
        assert_eq!(names, ["net.a"]);
    }

    #[test]
    fn init_groups_from_lists() {
        let c = parse("lxc.init.groups = 10,20\nlxc.init.groups = 30 10\n");
        assert_eq!(c.init_groups().unwrap(), [10, 20, 30]);
        let c = parse("lxc.init.groups = 10\nlxc.init.groups =\nlxc.init.groups = 5\n");
        assert_eq!(c.init_groups().unwrap(), [5]);
        let c = parse("lxc.init.groups = wheel\n");
        let (origin, bad) = c.init_groups().unwrap_err();
        assert_eq!((origin.line, bad.as_str()), (1, "wheel"));
    }

    #[test]
    fn defaults_as_lxc() {
        let c = parse("");
        assert!(c.keyring_session());
        assert!(!c.sched_core());
        assert_eq!(c.monitor_signal_pdeath(), 9);
        let c = parse("lxc.monitor.signal.pdeath = 0\nlxc.keyring.session = 0\n");
        assert_eq!(c.monitor_signal_pdeath(), 0);
        assert!(!c.keyring_session());
    }
}
