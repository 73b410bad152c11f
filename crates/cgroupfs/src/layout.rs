//! Discovery of the cgroup hierarchies a host mounts: pure v1, pure v2 or
//! hybrid, from `/proc/self/mountinfo` (path injectable).

use std::collections::BTreeSet;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::error::{Error, Result};

/// The controllers the v1 kernel knows about; any other mount option of a
/// v1 cgroup mount (xattr, noprefix, release_agent=...) is not a controller.
pub const V1_CONTROLLERS: &[&str] = &[
    "blkio",
    "cpu",
    "cpuacct",
    "cpuset",
    "debug",
    "devices",
    "freezer",
    "hugetlb",
    "memory",
    "misc",
    "net_cls",
    "net_prio",
    "perf_event",
    "pids",
    "rdma",
];

/// Cgroup version of one hierarchy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Version {
    V1,
    V2,
}

/// How a host lays out its hierarchies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// Only v1 hierarchies.
    Legacy,
    /// Only the v2 unified hierarchy.
    Unified,
    /// v1 controllers plus a v2 mount (systemd's "hybrid" layout).
    Hybrid,
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Kind::Legacy => "legacy (cgroup v1)",
            Kind::Unified => "unified (cgroup v2)",
            Kind::Hybrid => "hybrid (cgroup v1 controllers + cgroup v2)",
        })
    }
}

/// One mounted hierarchy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Hierarchy {
    pub version: Version,
    /// v1: the controllers bound to it (`cpu`, `cpuacct`), or `name=systemd`
    /// for a named hierarchy. v2: the controllers listed in the root's
    /// `cgroup.controllers` (those not bound to a v1 hierarchy).
    pub controllers: Vec<String>,
    /// Where it is mounted.
    pub mount_point: PathBuf,
    /// The cgroup the mount shows as its root (field 4 of mountinfo): `/`
    /// on a host, something deeper inside a container.
    pub root: String,
}

impl Hierarchy {
    /// The name libcgroup prints for this hierarchy: its controllers joined
    /// by commas (`cpu,cpuacct`), `name=systemd`, or `unified` for a v2
    /// hierarchy without controllers.
    pub fn label(&self) -> String {
        match self.version {
            Version::V1 => self.controllers.join(","),
            Version::V2 if self.controllers.is_empty() => "unified".to_string(),
            Version::V2 => self.controllers.join(","),
        }
    }

    /// Whether `controller` is served by this hierarchy.
    pub fn has(&self, controller: &str) -> bool {
        self.controllers.iter().any(|c| c == controller)
    }

    /// The directory of the group at `rel` (a path relative to the hierarchy
    /// root, as validated by [`normalize_path`]).
    pub fn dir(&self, rel: &str) -> PathBuf {
        if rel.is_empty() {
            self.mount_point.clone()
        } else {
            self.mount_point.join(rel)
        }
    }
}

/// All the hierarchies of a host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Layout {
    pub hierarchies: Vec<Hierarchy>,
}

/// Default path of the mount table.
pub use enclos_mounts::MOUNTINFO;

impl Layout {
    /// Discovers the hierarchies of this host from `/proc/self/mountinfo`.
    pub fn discover() -> Result<Layout> {
        Self::from_mountinfo(Path::new(MOUNTINFO))
    }

    /// Discovers the hierarchies from the mount table at `path`; the
    /// controllers of a v2 mount are read from its `cgroup.controllers`.
    pub fn from_mountinfo(path: &Path) -> Result<Layout> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let mut layout = Self::parse_mountinfo(&text, path)?;
        for h in &mut layout.hierarchies {
            if h.version == Version::V2 {
                let file = h.mount_point.join("cgroup.controllers");
                // A v2 mount whose cgroup.controllers cannot be read has no
                // controllers we can use; the group's core files still work.
                if let Ok(text) = std::fs::read_to_string(&file) {
                    h.controllers = text.split_whitespace().map(str::to_string).collect();
                }
            }
        }
        Ok(layout)
    }

    /// Parses a mount table. `origin` is only used in error messages.
    /// v2 hierarchies come back without controllers (see
    /// [`Layout::from_mountinfo`], which reads them).
    pub fn parse_mountinfo(text: &str, origin: &Path) -> Result<Layout> {
        let mut hierarchies: Vec<(String, Hierarchy)> = Vec::new();
        for (idx, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let bad = |reason: &str| Error::Mountinfo {
                path: origin.to_path_buf(),
                line: idx + 1,
                reason: reason.to_string(),
            };
            let m = enclos_mounts::MountInfo::parse(line).map_err(|e| bad(e.reason))?;
            let version = match m.fstype.as_str() {
                "cgroup" => Version::V1,
                "cgroup2" => Version::V2,
                _ => continue,
            };
            let devno = m.devno.as_str();
            let root = m.root.clone();
            let mount_point = m.mount_point.clone();
            let controllers = match version {
                Version::V1 => {
                    let cs: Vec<String> = m
                        .super_options()
                        .filter(|o| V1_CONTROLLERS.contains(o) || o.starts_with("name="))
                        .map(str::to_string)
                        .collect();
                    if cs.is_empty() {
                        return Err(bad("a cgroup v1 mount without any controller or name="));
                    }
                    cs
                }
                Version::V2 => Vec::new(),
            };
            let h = Hierarchy {
                version,
                controllers,
                mount_point,
                root,
            };
            // The same hierarchy may be mounted twice (bind mounts): keep the
            // mount that shows the whole hierarchy, else the first one.
            match hierarchies.iter_mut().find(|(d, _)| d == devno) {
                Some((_, existing)) => {
                    if existing.root != "/" && h.root == "/" {
                        *existing = h;
                    }
                }
                None => hierarchies.push((devno.to_string(), h)),
            }
        }
        if hierarchies.is_empty() {
            return Err(Error::NoHierarchy {
                mountinfo: origin.to_path_buf(),
            });
        }
        Ok(Layout {
            hierarchies: hierarchies.into_iter().map(|(_, h)| h).collect(),
        })
    }

    /// Legacy, unified or hybrid.
    pub fn kind(&self) -> Kind {
        let v1 = self.hierarchies.iter().any(|h| h.version == Version::V1);
        let v2 = self.hierarchies.iter().any(|h| h.version == Version::V2);
        match (v1, v2) {
            (true, true) => Kind::Hybrid,
            (false, true) => Kind::Unified,
            _ => Kind::Legacy,
        }
    }

    /// The v2 hierarchy, if mounted.
    pub fn unified(&self) -> Option<&Hierarchy> {
        self.hierarchies.iter().find(|h| h.version == Version::V2)
    }

    /// The hierarchy that serves `controller`.
    ///
    /// A v1 hierarchy that binds it wins; otherwise the v2 hierarchy if its
    /// root lists it, with v1 names mapped to their v2 successors
    /// (`cpuacct` → `cpu`, `blkio` → `io`). `freezer` is built into every
    /// v2 group, and `unified` names the v2 hierarchy itself.
    pub fn resolve(&self, controller: &str) -> Result<&Hierarchy> {
        if let Some(h) = self
            .hierarchies
            .iter()
            .find(|h| h.version == Version::V1 && h.has(controller))
        {
            return Ok(h);
        }
        if let Some(v2) = self.unified() {
            let name = v2_name(controller);
            if controller == "unified" || controller == "freezer" || v2.has(name) {
                return Ok(v2);
            }
            if matches!(controller, "devices") && self.kind() == Kind::Unified {
                return Err(Error::NotOnV2 {
                    controller: controller.to_string(),
                    hint: "device access is controlled by eBPF programs on cgroup v2",
                });
            }
        }
        Err(Error::UnknownController {
            controller: controller.to_string(),
            available: self.available().join(", "),
        })
    }

    /// Every controller name that [`Layout::resolve`] accepts.
    pub fn available(&self) -> Vec<String> {
        let mut set = BTreeSet::new();
        for h in &self.hierarchies {
            for c in &h.controllers {
                set.insert(c.clone());
            }
            if h.version == Version::V2 {
                set.insert("freezer".to_string());
            }
        }
        set.into_iter().collect()
    }
}

/// The v2 name of a v1 controller.
pub fn v2_name(controller: &str) -> &str {
    match controller {
        "cpuacct" => "cpu",
        "blkio" => "io",
        other => other,
    }
}

/// Validates and normalizes a group path given by a user: leading and
/// trailing slashes are dropped (`/a/b/` → `a/b`), `/` and `.` are the root
/// (empty string). `..`, empty components and NUL bytes are refused.
pub fn normalize_path(path: &str) -> Result<String> {
    if path.contains('\0') {
        return Err(Error::InvalidPath {
            path: path.escape_default().to_string(),
            reason: "it contains a NUL byte",
        });
    }
    let trimmed = path.trim_matches('/');
    if trimmed.is_empty() || trimmed == "." {
        return Ok(String::new());
    }
    let mut parts = Vec::new();
    for part in trimmed.split('/') {
        match part {
            "" => {
                return Err(Error::InvalidPath {
                    path: path.to_string(),
                    reason: "it contains an empty component ('//')",
                })
            }
            "." => {}
            ".." => {
                return Err(Error::InvalidPath {
                    path: path.to_string(),
                    reason: "'..' would leave the hierarchy",
                })
            }
            p => parts.push(p),
        }
    }
    Ok(parts.join("/"))
}

/// The groups a process belongs to, as read from `/proc/<pid>/cgroup`:
/// (hierarchy id, controllers, path). The v2 entry has id 0 and no
/// controllers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Membership {
    pub id: u32,
    pub controllers: Vec<String>,
    pub path: String,
}

/// Reads `/proc/<pid>/cgroup` (or any file of that format).
pub fn read_membership(path: &Path) -> Result<Vec<Membership>> {
    let text = std::fs::read_to_string(path).map_err(|source| Error::Read {
        path: path.to_path_buf(),
        source,
    })?;
    parse_membership(&text, path)
}

/// Parses the format of `/proc/<pid>/cgroup`.
pub fn parse_membership(text: &str, origin: &Path) -> Result<Vec<Membership>> {
    let mut out = Vec::new();
    for (idx, line) in text.lines().enumerate() {
        if line.is_empty() {
            continue;
        }
        let bad = |reason: &str| Error::ProcCgroup {
            path: origin.to_path_buf(),
            line: idx + 1,
            reason: reason.to_string(),
        };
        let mut it = line.splitn(3, ':');
        let id = it
            .next()
            .and_then(|s| s.parse::<u32>().ok())
            .ok_or_else(|| bad("the hierarchy id is not a number"))?;
        let ctrls = it
            .next()
            .ok_or_else(|| bad("expected id:controllers:path"))?;
        let path = it
            .next()
            .ok_or_else(|| bad("expected id:controllers:path"))?;
        if !path.starts_with('/') {
            return Err(bad("the path is not absolute"));
        }
        out.push(Membership {
            id,
            controllers: ctrls
                .split(',')
                .filter(|c| !c.is_empty())
                .map(str::to_string)
                .collect(),
            path: path.to_string(),
        });
    }
    Ok(out)
}

impl Layout {
    /// The path (relative to the hierarchy root, normalized) of the group
    /// that `memberships` place a process in on hierarchy `h`.
    pub fn group_of<'m>(&self, h: &Hierarchy, memberships: &'m [Membership]) -> Option<&'m str> {
        memberships
            .iter()
            .find(|m| match h.version {
                Version::V2 => m.id == 0 && m.controllers.is_empty(),
                Version::V1 => !m.controllers.is_empty() && m.controllers == h.controllers,
            })
            .map(|m| {
                // The mount may show a subtree (inside a container): strip it.
                let p = m.path.as_str();
                let p = if h.root != "/" {
                    p.strip_prefix(h.root.as_str()).unwrap_or(p)
                } else {
                    p
                };
                p.trim_start_matches('/')
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    const HYBRID: &str = "\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
37 31 0:34 / /sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw,nsdelegate
";

    const LEGACY: &str = "\
25 18 0:22 / /sys/fs/cgroup ro,nosuid - tmpfs tmpfs ro,mode=755
26 25 0:23 / /sys/fs/cgroup/systemd rw - cgroup cgroup rw,xattr,release_agent=/lib/systemd/systemd-cgroups-agent,name=systemd
28 25 0:25 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct
29 25 0:26 / /sys/fs/cgroup/net_cls,net_prio rw - cgroup cgroup rw,net_cls,net_prio
30 25 0:27 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory
31 25 0:27 /sub /mnt/memory\\040bind rw - cgroup cgroup rw,memory
";

    const UNIFIED: &str = "\
22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw
30 22 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot
";

    #[rstest]
    #[case::hybrid(HYBRID, Kind::Hybrid, 6)]
    #[case::legacy(LEGACY, Kind::Legacy, 4)]
    #[case::unified(UNIFIED, Kind::Unified, 1)]
    fn discovers_each_layout(#[case] text: &str, #[case] kind: Kind, #[case] count: usize) {
        let layout = Layout::parse_mountinfo(text, Path::new("mountinfo")).unwrap();
        assert_eq!(layout.kind(), kind);
        assert_eq!(layout.hierarchies.len(), count);
    }

    #[test]
    fn co_mounted_and_named_hierarchies() {
        let layout = Layout::parse_mountinfo(LEGACY, Path::new("m")).unwrap();
        let cpu = layout.resolve("cpu").unwrap();
        assert_eq!(cpu.controllers, ["cpu", "cpuacct"]);
        assert_eq!(cpu.mount_point, Path::new("/sys/fs/cgroup/cpu,cpuacct"));
        assert_eq!(layout.resolve("cpuacct").unwrap(), cpu);
        assert_eq!(
            layout.resolve("net_prio").unwrap().label(),
            "net_cls,net_prio"
        );
        let named = layout.resolve("name=systemd").unwrap();
        assert_eq!(named.controllers, ["name=systemd"]);
        // The bind mount of the memory hierarchy is folded into the full one.
        let mem = layout.resolve("memory").unwrap();
        assert_eq!(mem.mount_point, Path::new("/sys/fs/cgroup/memory"));
    }

    #[test]
    fn hybrid_resolves_v1_first_then_v2() {
        let mut layout = Layout::parse_mountinfo(HYBRID, Path::new("m")).unwrap();
        // As this host: only hugetlb left for v2.
        layout.hierarchies.last_mut().unwrap().controllers = vec!["hugetlb".into()];
        assert_eq!(layout.resolve("memory").unwrap().version, Version::V1);
        assert_eq!(layout.resolve("freezer").unwrap().version, Version::V1);
        assert_eq!(layout.resolve("hugetlb").unwrap().version, Version::V2);
        assert_eq!(layout.resolve("unified").unwrap().version, Version::V2);
        let err = layout.resolve("pids").unwrap_err().to_string();
        assert!(
            err.starts_with("Unknown controller 'pids': this host offers "),
            "{err}"
        );
        assert!(
            err.contains("cpu, cpuacct, freezer, hugetlb, memory"),
            "{err}"
        );
    }

    #[test]
    fn unified_maps_v1_names() {
        let mut layout = Layout::parse_mountinfo(UNIFIED, Path::new("m")).unwrap();
        layout.hierarchies[0].controllers = ["cpuset", "cpu", "io", "memory", "pids"]
            .map(String::from)
            .to_vec();
        for c in ["cpu", "cpuacct", "blkio", "io", "memory", "freezer", "pids"] {
            assert_eq!(layout.resolve(c).unwrap().version, Version::V2, "{c}");
        }
        assert!(matches!(
            layout.resolve("devices"),
            Err(Error::NotOnV2 { .. })
        ));
        assert!(matches!(
            layout.resolve("bogus"),
            Err(Error::UnknownController { .. })
        ));
    }

    #[rstest]
    #[case::no_separator(
        "32 31 0:29 / /sys/fs/cgroup/cpu rw cgroup cgroup rw,cpu",
        1,
        "no ' - ' separator"
    )]
    #[case::short("32 31 0:29 / - cgroup cgroup rw,cpu", 1, "fewer than 6 fields")]
    #[case::no_opts("32 31 0:29 / /x rw - cgroup", 1, "expected filesystem type")]
    #[case::bad_dev("\n32 31 029 / /x rw - cgroup cgroup rw,cpu", 2, "not a major:minor")]
    #[case::no_controller(
        "32 31 0:29 / /x rw - cgroup cgroup rw,xattr",
        1,
        "without any controller"
    )]
    fn malformed_mountinfo(#[case] text: &str, #[case] line: usize, #[case] reason: &str) {
        let err = Layout::parse_mountinfo(text, Path::new("/fake/mountinfo")).unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.starts_with(&format!(
                "/fake/mountinfo:{line}: malformed mountinfo line: "
            )),
            "{msg}"
        );
        assert!(msg.contains(reason), "{msg}");
    }

    #[test]
    fn no_hierarchy_is_an_error() {
        let err = Layout::parse_mountinfo("22 1 8:1 / / rw - ext4 /dev/sda1 rw\n", Path::new("m"))
            .unwrap_err();
        assert!(matches!(err, Error::NoHierarchy { .. }));
    }

    #[rstest]
    #[case("/", "")]
    #[case(".", "")]
    #[case("helloworld", "helloworld")]
    #[case("/a/b/", "a/b")]
    #[case("a/./b", "a/b")]
    fn normalizes_paths(#[case] input: &str, #[case] expected: &str) {
        assert_eq!(normalize_path(input).unwrap(), expected);
    }

    #[rstest]
    #[case("../etc")]
    #[case("a//b")]
    #[case("a/../../b")]
    #[case("a\0b")]
    fn refuses_bad_paths(#[case] input: &str) {
        assert!(matches!(
            normalize_path(input),
            Err(Error::InvalidPath { .. })
        ));
    }

    #[test]
    fn membership_maps_to_hierarchies() {
        let layout = Layout::parse_mountinfo(HYBRID, Path::new("m")).unwrap();
        let text =
            "6:freezer:/\n4:memory:/process_api/abc\n1:name=systemd:/init.scope\n0::/user.slice\n";
        let m = parse_membership(text, Path::new("cgroup")).unwrap();
        let mem = layout.resolve("memory").unwrap();
        assert_eq!(layout.group_of(mem, &m), Some("process_api/abc"));
        let v2 = layout.unified().unwrap();
        assert_eq!(layout.group_of(v2, &m), Some("user.slice"));
        let sd = layout.resolve("name=systemd").unwrap();
        assert_eq!(layout.group_of(sd, &m), Some("init.scope"));
        let cpu = layout.resolve("cpu").unwrap();
        assert_eq!(layout.group_of(cpu, &m), None);
    }

    #[rstest]
    #[case("x:memory:/", "not a number")]
    #[case("4:memory", "expected id:controllers:path")]
    #[case("4:memory:relative", "not absolute")]
    fn malformed_membership(#[case] text: &str, #[case] reason: &str) {
        let err = parse_membership(text, Path::new("/proc/1/cgroup"))
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("/proc/1/cgroup:1: "), "{err}");
        assert!(err.contains(reason), "{err}");
    }
}
