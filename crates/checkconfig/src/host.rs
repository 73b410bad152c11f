//! The paths a check reads, and the small probes on them.

use std::path::{Path, PathBuf};

use crate::config::{self, KernelConfig};

/// Where the checks look. [`Host::default`] is this machine; tests point
/// the fields at a temporary tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Host {
    /// `/proc/config.gz`.
    pub proc_config: PathBuf,
    /// `/boot`, holding `config-RELEASE`.
    pub boot_dir: PathBuf,
    /// The kernel release (`uname -r`); `None` reads
    /// `proc/sys/kernel/osrelease`.
    pub release: Option<String>,
    /// `/proc`: `self/ns/*`, `filesystems`, `cgroups`, `self/status`,
    /// `self/mountinfo`, `sys/user/*`, `sys/kernel/*`.
    pub proc: PathBuf,
    /// `/sys`: `module/*`.
    pub sys: PathBuf,
    /// `/dev`: `loop-control`.
    pub dev: PathBuf,
    /// The directory an idmapped mount is tried on; `None` leaves the
    /// probe out (the finding is then unknown).
    pub idmap_probe: Option<PathBuf>,
}

impl Default for Host {
    fn default() -> Host {
        Host {
            proc_config: PathBuf::from("/proc/config.gz"),
            boot_dir: PathBuf::from("/boot"),
            release: None,
            proc: PathBuf::from("/proc"),
            sys: PathBuf::from("/sys"),
            dev: PathBuf::from("/dev"),
            idmap_probe: Some(PathBuf::from("/")),
        }
    }
}

impl Host {
    /// The running kernel's release.
    pub fn release(&self) -> Option<String> {
        self.release.clone().or_else(|| {
            self.read("sys/kernel/osrelease")
                .map(|s| s.trim().to_string())
        })
    }

    /// The kernel configuration and the file it came from.
    pub fn kernel_config(&self) -> Option<(PathBuf, KernelConfig)> {
        let release = self.release().unwrap_or_default();
        config::find(&self.proc_config, &self.boot_dir, &release)
    }

    /// The text of `rel` under `proc`, when readable.
    pub fn read(&self, rel: &str) -> Option<String> {
        std::fs::read_to_string(self.proc.join(rel)).ok()
    }

    /// Whether `/proc/self/ns/NAME` exists.
    pub fn has_namespace(&self, name: &str) -> bool {
        self.proc.join("self/ns").join(name).exists()
    }

    /// Whether `/proc/filesystems` lists `fs`.
    pub fn has_filesystem(&self, fs: &str) -> bool {
        self.read("filesystems").is_some_and(|t| {
            t.lines()
                .any(|l| l.split_whitespace().next_back() == Some(fs))
        })
    }

    /// Whether `/sys/module/NAME` exists (a loaded module, or a built-in
    /// one with parameters).
    pub fn has_module(&self, name: &str) -> bool {
        self.sys.join("module").join(name).exists()
    }

    /// `/sys/PATH`'s content, trimmed.
    pub fn sys_value(&self, rel: &str) -> Option<String> {
        std::fs::read_to_string(self.sys.join(rel))
            .ok()
            .map(|s| s.trim().to_string())
    }

    /// `/dev/NAME` exists.
    pub fn has_dev(&self, name: &str) -> bool {
        self.dev.join(name).exists()
    }

    /// The mount table (`proc/self/mountinfo`).
    pub fn mountinfo(&self) -> PathBuf {
        self.proc.join("self/mountinfo")
    }

    /// The path tried for idmapped mounts.
    pub fn idmap_probe(&self) -> Option<&Path> {
        self.idmap_probe.as_deref()
    }
}
