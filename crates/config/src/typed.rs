//! Typed access to the supported keys, with LXC's defaults. Values were
//! checked when they were read or set, so these do not fail.

use std::fs;
use std::path::{Path, PathBuf};

use crate::error::{Error, Origin};
use crate::keys;
use crate::values::{
    parse_bool, parse_environment, parse_personality, parse_signal, parse_size, parse_uint,
    split_command, Capability, CgroupSetting, LogLevel, MountAuto, MountEntry, Net, NetSetting,
    NetType, Personality, Rootfs, SIGINT, SIGKILL, SIGPWR,
};
use crate::Config;
use enclos_idmap::{IdMap, IdMaps};

impl Config {
    fn flag(&self, key: &str, default: bool) -> bool {
        self.get(key)
            .and_then(|v| parse_bool(v).ok())
            .unwrap_or(default)
    }

    fn uint(&self, key: &str) -> Option<u32> {
        self.get(key).and_then(|v| parse_uint(v).ok())
    }

    fn signal(&self, key: &str, default: i32) -> i32 {
        self.get(key)
            .and_then(|v| parse_signal(v).ok())
            .unwrap_or(default)
    }

    /// `lxc.uts.name`.
    pub fn uts_name(&self) -> Option<&str> {
        self.get("lxc.uts.name")
    }

    /// `lxc.arch` as written.
    pub fn arch(&self) -> Option<&str> {
        self.get("lxc.arch")
    }

    /// The execution domain `lxc.arch` asks for.
    pub fn personality(&self) -> Option<Personality> {
        self.arch().and_then(|a| parse_personality(a).ok())
    }

    /// `lxc.rootfs.path` (split into backend and path) with
    /// `lxc.rootfs.options`; `None` when unset (the container shares the
    /// host's root).
    pub fn rootfs(&self) -> Option<Rootfs> {
        let path = self.get("lxc.rootfs.path")?;
        let options = self
            .get("lxc.rootfs.options")
            .map(|o| {
                o.split(',')
                    .filter(|o| !o.is_empty())
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default();
        Rootfs::parse(path, options).ok()
    }

    /// The `lxc.mount.entry` lines in effect, in order.
    pub fn mount_entries(&self) -> Vec<MountEntry> {
        self.live_key("lxc.mount.entry")
            .filter_map(|e| MountEntry::parse(&e.value, e.origin.clone()).ok())
            .collect()
    }

    /// `lxc.mount.fstab`; a relative path is taken from the directory of
    /// the file that sets it.
    pub fn mount_fstab(&self) -> Option<PathBuf> {
        let entry = self.live_key("lxc.mount.fstab").last()?;
        Some(
            entry
                .origin
                .file
                .parent()
                .unwrap_or(Path::new(""))
                .join(&entry.value),
        )
    }

    /// The entries of the `lxc.mount.fstab` file (none when unset):
    /// blank lines and `#` comments skipped, each line in fstab syntax.
    pub fn fstab_entries(&self) -> Result<Vec<MountEntry>, Error> {
        let Some(path) = self.mount_fstab() else {
            return Ok(Vec::new());
        };
        let text = fs::read_to_string(&path).map_err(|source| Error::Read {
            path: path.clone(),
            source,
        })?;
        let mut entries = Vec::new();
        for (number, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let origin = Origin::new(&path, number + 1);
            let entry = MountEntry::parse(line, origin.clone()).map_err(|expected| {
                Error::InvalidValue {
                    origin,
                    key: "lxc.mount.fstab".to_string(),
                    value: line.to_string(),
                    expected,
                }
            })?;
            entries.push(entry);
        }
        Ok(entries)
    }

    /// `lxc.mount.auto`, every line in effect applied in order.
    pub fn mount_auto(&self) -> MountAuto {
        let mut auto = MountAuto::default();
        for entry in self.live_key("lxc.mount.auto") {
            let _ = auto.apply(&entry.value);
        }
        auto
    }

    /// `lxc.autodev`; LXC mounts and fills a /dev unless it is 0.
    pub fn autodev(&self) -> bool {
        self.flag("lxc.autodev", true)
    }

    /// `lxc.tty.max`; 0 when unset.
    pub fn tty_max(&self) -> u32 {
        self.uint("lxc.tty.max").unwrap_or(0)
    }

    /// `lxc.pty.max`; 0 when unset (no private devpts limit).
    pub fn pty_max(&self) -> u32 {
        self.uint("lxc.pty.max").unwrap_or(0)
    }

    /// `lxc.tty.dir`: the directory under /dev for the console and ttys.
    pub fn tty_dir(&self) -> Option<&str> {
        self.get("lxc.tty.dir")
    }

    /// `lxc.signal.halt`; SIGPWR when unset.
    pub fn signal_halt(&self) -> i32 {
        self.signal("lxc.signal.halt", SIGPWR)
    }

    /// `lxc.signal.reboot`; SIGINT when unset.
    pub fn signal_reboot(&self) -> i32 {
        self.signal("lxc.signal.reboot", SIGINT)
    }

    /// `lxc.signal.stop`; SIGKILL when unset.
    pub fn signal_stop(&self) -> i32 {
        self.signal("lxc.signal.stop", SIGKILL)
    }

    /// `lxc.init.cmd` split into words; `None` when unset (LXC then runs
    /// /sbin/init).
    pub fn init_cmd(&self) -> Option<Vec<String>> {
        self.get("lxc.init.cmd").and_then(|v| split_command(v).ok())
    }

    /// `lxc.execute.cmd` split into words.
    pub fn execute_cmd(&self) -> Option<Vec<String>> {
        self.get("lxc.execute.cmd")
            .and_then(|v| split_command(v).ok())
    }

    /// `lxc.init.cwd`; `None` when unset (LXC uses /).
    pub fn init_cwd(&self) -> Option<&str> {
        self.get("lxc.init.cwd")
    }

    /// `lxc.init.uid`; `None` when unset (0).
    pub fn init_uid(&self) -> Option<u32> {
        self.uint("lxc.init.uid")
    }

    /// `lxc.init.gid`; `None` when unset (0).
    pub fn init_gid(&self) -> Option<u32> {
        self.uint("lxc.init.gid")
    }

    /// `lxc.environment`: `NAME=value` gives `(NAME, Some(value))`, a bare
    /// `NAME` gives `(NAME, None)`: pass the host's value.
    pub fn environment(&self) -> Vec<(String, Option<String>)> {
        self.live_key("lxc.environment")
            .filter_map(|e| parse_environment(&e.value).ok())
            .collect()
    }

    /// `lxc.cap.drop`: the capabilities, each once, in order.
    pub fn cap_drop(&self) -> Vec<Capability> {
        let mut caps: Vec<Capability> = Vec::new();
        for cap in self.caps("lxc.cap.drop", false).into_iter().flatten() {
            if !caps.contains(&cap) {
                caps.push(cap);
            }
        }
        caps
    }

    /// `lxc.cap.keep`: `None` when unset (keep every capability not
    /// dropped); `Some` of the capabilities to keep otherwise, all others
    /// dropped. `none` clears what came before it, so `lxc.cap.keep =
    /// none` alone is `Some(vec![])`: drop every capability.
    pub fn cap_keep(&self) -> Option<Vec<Capability>> {
        self.live_key("lxc.cap.keep").next()?;
        let mut caps: Vec<Capability> = Vec::new();
        for cap in self.caps("lxc.cap.keep", true) {
            match cap {
                None => caps.clear(),
                Some(cap) if !caps.contains(&cap) => caps.push(cap),
                Some(_) => {}
            }
        }
        Some(caps)
    }

    /// The `lxc.cgroup.*` (version 1) and `lxc.cgroup2.*` (version 2)
    /// settings in effect, in order.
    pub fn cgroup_settings(&self) -> Vec<CgroupSetting> {
        self.live_entries()
            .filter_map(|e| {
                let spec = keys::lookup(&e.key)?;
                let (version, prefix) = match spec.pattern {
                    "lxc.cgroup.*" => (1, "lxc.cgroup."),
                    "lxc.cgroup2.*" => (2, "lxc.cgroup2."),
                    _ => return None,
                };
                Some(CgroupSetting {
                    version,
                    key: e.key[prefix.len()..].to_string(),
                    value: e.value.clone(),
                    origin: e.origin.clone(),
                })
            })
            .collect()
    }

    /// The networks (`lxc.net.N.*`), by index.
    pub fn nets(&self) -> Vec<Net> {
        let mut nets: Vec<Net> = self
            .net_groups()
            .into_iter()
            .filter_map(|group| {
                let type_entry = group.type_entry?;
                let settings = group
                    .others
                    .into_iter()
                    .map(|e| NetSetting {
                        key: keys::net_subkey(&e.key).unwrap_or_default().to_string(),
                        value: e.value.clone(),
                        origin: e.origin.clone(),
                    })
                    .collect();
                Some(Net {
                    index: group.index,
                    net_type: NetType::parse(&type_entry.value).ok()?,
                    origin: type_entry.origin.clone(),
                    settings,
                })
            })
            .collect();
        nets.sort_by_key(|n| n.index);
        nets
    }

    /// `lxc.start.auto`; false when unset.
    pub fn start_auto(&self) -> bool {
        self.flag("lxc.start.auto", false)
    }

    /// `lxc.start.delay` in seconds; 0 when unset.
    pub fn start_delay(&self) -> u32 {
        self.uint("lxc.start.delay").unwrap_or(0)
    }

    /// `lxc.start.order`; 0 when unset.
    pub fn start_order(&self) -> i32 {
        self.get("lxc.start.order")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    }

    /// `lxc.group`: every group named, each line holding one or more names
    /// separated by blanks.
    pub fn groups(&self) -> Vec<String> {
        self.live_key("lxc.group")
            .flat_map(|e| e.value.split_whitespace().map(str::to_string))
            .collect()
    }

    /// `lxc.ephemeral`; false when unset.
    pub fn ephemeral(&self) -> bool {
        self.flag("lxc.ephemeral", false)
    }

    /// `lxc.log.level`; ERROR when unset.
    pub fn log_level(&self) -> LogLevel {
        self.get("lxc.log.level")
            .and_then(|v| LogLevel::parse(v).ok())
            .unwrap_or(LogLevel::Error)
    }

    /// `lxc.log.file`.
    pub fn log_file(&self) -> Option<PathBuf> {
        self.get("lxc.log.file").map(PathBuf::from)
    }

    /// `lxc.console.path`: a device, or `none` for no console.
    pub fn console_path(&self) -> Option<&str> {
        self.get("lxc.console.path")
    }

    /// `lxc.console.logfile`.
    pub fn console_logfile(&self) -> Option<PathBuf> {
        self.get("lxc.console.logfile").map(PathBuf::from)
    }

    /// `lxc.console.size` in bytes, at least a page as LXC has it; `None`
    /// (no limit) when unset or 0.
    pub fn console_size(&self) -> Option<u64> {
        self.console_bytes("lxc.console.size")
    }

    /// `lxc.console.rotate`; false when unset.
    pub fn console_rotate(&self) -> bool {
        self.flag("lxc.console.rotate", false)
    }

    /// `lxc.console.buffer.size` in bytes, at least a page as LXC has it;
    /// `None` (no ring buffer) when unset or 0.
    pub fn console_buffer_size(&self) -> Option<u64> {
        self.console_bytes("lxc.console.buffer.size")
    }

    fn console_bytes(&self, key: &str) -> Option<u64> {
        let bytes = parse_size(self.get(key)?).ok()?;
        (bytes > 0).then(|| bytes.max(4096))
    }

    /// `lxc.idmap`, in order.
    pub fn idmaps(&self) -> IdMaps {
        IdMaps::new(
            self.live_key("lxc.idmap")
                .filter_map(|e| IdMap::parse(&e.value).ok())
                .collect(),
        )
    }

    /// `lxc.apparmor.profile` (`unconfined`, `generated`, a profile name).
    pub fn apparmor_profile(&self) -> Option<&str> {
        self.get("lxc.apparmor.profile")
    }

    /// `lxc.apparmor.allow_nesting`; false when unset.
    pub fn apparmor_allow_nesting(&self) -> bool {
        self.flag("lxc.apparmor.allow_nesting", false)
    }

    /// `lxc.seccomp.profile`.
    pub fn seccomp_profile(&self) -> Option<PathBuf> {
        self.get("lxc.seccomp.profile")
            .filter(|p| !p.is_empty())
            .map(PathBuf::from)
    }

    /// `lxc.seccomp.profile` with the file and line that set it.
    pub fn seccomp_profile_entry(&self) -> Option<&crate::Entry> {
        self.live_key("lxc.seccomp.profile")
            .last()
            .filter(|e| !e.value.is_empty())
    }

    /// `lxc.seccomp.allow_nesting`: load the profile even when the
    /// process is under a seccomp filter already; false when unset.
    pub fn seccomp_allow_nesting(&self) -> bool {
        self.flag("lxc.seccomp.allow_nesting", false)
    }

    /// `lxc.no_new_privs`: init and attached processes run with
    /// `PR_SET_NO_NEW_PRIVS`; false when unset.
    pub fn no_new_privs(&self) -> bool {
        self.flag("lxc.no_new_privs", false)
    }

    /// `lxc.hook.version`: 1 passes hook arguments in environment
    /// variables; 0 when unset.
    pub fn hook_version(&self) -> u32 {
        u32::from(self.flag("lxc.hook.version", false))
    }
}
