//! What is mounted in the container: `lxc.mount.entry` (and the lines of
//! `lxc.mount.fstab`) and `lxc.mount.auto`.

use std::path::Path;

use serde::Serialize;

use super::cgroup::CgroupAuto;
use crate::error::Origin;

/// What `create=` asks for a missing mount target.
pub use enclos_mounts::Create as MountCreate;
use enclos_mounts::{FstabEntry, FstabError};

/// One `lxc.mount.entry` (or one line of `lxc.mount.fstab`), in fstab
/// syntax: `source target fstype [options [dump [pass]]]`, and where it
/// was written. The target is as written: a relative target is relative to
/// the container's root (the rootfs mount point); see
/// [`MountEntry::target_in_rootfs`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MountEntry {
    /// The line, read by enclos-mounts (the parser the rootfs set-up uses).
    #[serde(flatten)]
    pub fstab: FstabEntry,
    pub origin: Origin,
}

impl MountEntry {
    pub fn parse(value: &str, origin: Origin) -> Result<MountEntry, String> {
        let fstab = FstabEntry::parse(value).map_err(|e| match e {
            FstabError::BadCreate => "create=dir or create=file among the options".to_string(),
            _ => "SOURCE TARGET FSTYPE [OPTIONS [DUMP [PASS]]]".to_string(),
        })?;
        Ok(MountEntry { fstab, origin })
    }

    /// The target as a path inside the container's root, as LXC resolves
    /// it: a relative target as is; an absolute one only when it lies under
    /// the rootfs path (`rootfs_path`, e.g. `/var/lib/enclos/c1/rootfs`),
    /// with that prefix taken off. `None` for an absolute target elsewhere
    /// (LXC ignores such an entry with a warning).
    ///
    /// The rootfs may be reached through symbolic links (an lxcpath that is
    /// a link to the real directory) and the target written through the
    /// real path, or the other way round: when the paths differ as written,
    /// the target's leading directories are resolved on the host, and the
    /// shortest one that is the rootfs directory itself marks where the
    /// path inside the container starts. What follows it is kept as
    /// written: links inside the rootfs are the mount's business.
    pub fn target_in_rootfs(&self, rootfs_path: &Path) -> Option<String> {
        if !self.fstab.target.starts_with('/') {
            return Some(self.fstab.target.clone());
        }
        let target = Path::new(&self.fstab.target);
        if let Ok(rest) = target.strip_prefix(rootfs_path) {
            return Some(rest.to_string_lossy().into_owned());
        }
        let rootfs = std::fs::canonicalize(rootfs_path).ok()?;
        let base = target
            .ancestors()
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .find(|dir| std::fs::canonicalize(dir).is_ok_and(|real| real == rootfs))?;
        let rest = target.strip_prefix(base).ok()?;
        Some(rest.to_string_lossy().into_owned())
    }
}

/// How `/proc` is mounted by `lxc.mount.auto`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ProcMode {
    /// `proc` or `proc:mixed`: read-write, with /proc/sys and
    /// /proc/sysrq-trigger read-only.
    Mixed,
    /// `proc:rw`.
    Rw,
}

/// How `/sys` is mounted by `lxc.mount.auto`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SysMode {
    /// `sys:ro`.
    Ro,
    /// `sys:rw`.
    Rw,
    /// `sys` or `sys:mixed`: read-only but /sys/devices/virtual/net.
    Mixed,
}

/// `shmounts:HOST[:CONTAINER]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SharedMounts {
    pub host: String,
    /// `/dev/.lxc-mounts` unless given.
    pub container: String,
}

/// What `lxc.mount.auto` asks to mount. Each line adds to the previous
/// ones; a later `proc:...`, `sys:...` or `cgroup...` replaces an earlier
/// one of the same file system, and an empty value clears all.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct MountAuto {
    pub proc: Option<ProcMode>,
    pub sys: Option<SysMode>,
    pub cgroup: Option<CgroupAuto>,
    pub shmounts: Option<SharedMounts>,
}

impl MountAuto {
    /// Applies one line of `lxc.mount.auto`.
    pub fn apply(&mut self, value: &str) -> Result<(), String> {
        for token in value.split_whitespace() {
            self.apply_token(token).map_err(|_| {
                format!(
                    "proc[:mixed|:rw], sys[:ro|:rw|:mixed], cgroup[:mixed|:ro|:rw][:force], \
                     cgroup-full[:mixed|:ro|:rw][:force] or shmounts:HOST[:CONTAINER] ('{token}' is none of them)"
                )
            })?;
        }
        Ok(())
    }

    fn apply_token(&mut self, token: &str) -> Result<(), ()> {
        if let Some(rest) = token.strip_prefix("shmounts:") {
            let (host, container) = match rest.split_once(':') {
                Some((host, container)) if !container.is_empty() => (host, container),
                Some((host, _)) => (host, "/dev/.lxc-mounts"),
                None => (rest, "/dev/.lxc-mounts"),
            };
            if host.is_empty() {
                return Err(());
            }
            self.shmounts = Some(SharedMounts {
                host: host.to_string(),
                container: container.to_string(),
            });
            return Ok(());
        }
        let (fs, spec) = token.split_once(':').unwrap_or((token, ""));
        match (fs, spec) {
            ("proc", "" | "mixed") => self.proc = Some(ProcMode::Mixed),
            ("proc", "rw") => self.proc = Some(ProcMode::Rw),
            ("sys", "" | "mixed") => self.sys = Some(SysMode::Mixed),
            ("sys", "ro") => self.sys = Some(SysMode::Ro),
            ("sys", "rw") => self.sys = Some(SysMode::Rw),
            ("cgroup" | "cgroup-full", spec) => {
                self.cgroup = Some(CgroupAuto::parse(fs == "cgroup-full", spec)?);
            }
            _ => return Err(()),
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::values::cgroup::CgroupMode;
    use rstest::rstest;

    #[rstest]
    #[case(
        "shm dev/shm tmpfs defaults,create=dir 0 0",
        ("shm", "dev/shm", "tmpfs"), &["defaults"], Some(MountCreate::Dir), false, false
    )]
    #[case(
        "mqueue dev/mqueue mqueue defaults,optional,create=dir 0 0",
        ("mqueue", "dev/mqueue", "mqueue"), &["defaults"], Some(MountCreate::Dir), true, false
    )]
    #[case(
        "/lib lib none ro,bind 0 0",
        ("/lib", "lib", "none"), &["ro", "bind"], None, false, false
    )]
    #[case(
        "dev/null proc/kcore none bind,relative 0 0",
        ("dev/null", "proc/kcore", "none"), &["bind"], None, false, true
    )]
    #[case(
        "/etc/resolv.conf etc/resolv.conf none bind,create=file",
        ("/etc/resolv.conf", "etc/resolv.conf", "none"), &["bind"], Some(MountCreate::File), false, false
    )]
    #[case(
        r"/srv/My\040Files srv/files none bind",
        ("/srv/My Files", "srv/files", "none"), &["bind"], None, false, false
    )]
    #[case("proc proc proc", ("proc", "proc", "proc"), &["defaults"], None, false, false)]
    fn mount_entries(
        #[case] value: &str,
        #[case] fields: (&str, &str, &str),
        #[case] options: &[&str],
        #[case] create: Option<MountCreate>,
        #[case] optional: bool,
        #[case] relative: bool,
    ) {
        let entry = MountEntry::parse(value, Origin::new("config", 1))
            .unwrap()
            .fstab;
        assert_eq!(
            (
                entry.source.as_str(),
                entry.target.as_str(),
                entry.fstype.as_str()
            ),
            fields
        );
        assert_eq!(entry.options, options);
        assert_eq!(
            (entry.create, entry.optional, entry.relative),
            (create, optional, relative)
        );
    }

    #[rstest]
    #[case("proc proc")]
    #[case("a b c d 0 0 extra")]
    #[case("a b c d x 0")]
    #[case("a b c create=link")]
    fn bad_mount_entries(#[case] value: &str) {
        assert!(MountEntry::parse(value, Origin::new("config", 1)).is_err());
    }

    #[rstest]
    #[case(
        "sys/kernel/security",
        "/var/lib/enclos/c1/rootfs",
        Some("sys/kernel/security")
    )]
    #[case(
        "/var/lib/enclos/c1/rootfs/mnt/data",
        "/var/lib/enclos/c1/rootfs",
        Some("mnt/data")
    )]
    #[case("/mnt/data", "/var/lib/enclos/c1/rootfs", None)]
    fn mount_targets(#[case] target: &str, #[case] rootfs: &str, #[case] expected: Option<&str>) {
        let entry =
            MountEntry::parse(&format!("src {target} none bind"), Origin::new("", 0)).unwrap();
        assert_eq!(
            entry.target_in_rootfs(Path::new(rootfs)).as_deref(),
            expected
        );
    }

    /// The lxcpath is a link to the real directory: an absolute target
    /// written through either path lies inside the rootfs; a link inside
    /// the rootfs is not followed to decide it, and a path elsewhere is
    /// still refused.
    #[test]
    fn mount_targets_through_a_linked_lxcpath() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real");
        std::fs::create_dir_all(real.join("c1/rootfs/opt/inside")).unwrap();
        std::fs::create_dir_all(dir.path().join("elsewhere")).unwrap();
        let linked = dir.path().join("linked");
        std::os::unix::fs::symlink(&real, &linked).unwrap();
        std::os::unix::fs::symlink(
            real.join("c1/rootfs/opt/inside"),
            real.join("c1/rootfs/opt/link"),
        )
        .unwrap();
        let target_in = |target: &Path, rootfs: &Path| {
            let line = format!("src {} none bind", target.display());
            MountEntry::parse(&line, Origin::new("", 0))
                .unwrap()
                .target_in_rootfs(rootfs)
        };
        let via_link = linked.join("c1/rootfs");
        let via_real = real.join("c1/rootfs");
        for (target, rootfs) in [(&via_real, &via_link), (&via_link, &via_real)] {
            assert_eq!(
                target_in(&target.join("opt/xxx/dir2"), rootfs).as_deref(),
                Some("opt/xxx/dir2"),
                "{} in {}",
                target.display(),
                rootfs.display()
            );
        }
        assert_eq!(
            target_in(&via_real.join("opt/link/dir"), &via_link).as_deref(),
            Some("opt/link/dir"),
            "a link inside the rootfs is kept as written"
        );
        assert_eq!(
            target_in(&dir.path().join("elsewhere/dir"), &via_link),
            None
        );
        assert_eq!(
            target_in(&real.join("c1/rootfs2/dir"), &via_link),
            None,
            "a sibling whose name starts like the rootfs is elsewhere"
        );
    }

    fn cg(full: bool, mode: CgroupMode, force: bool) -> Option<CgroupAuto> {
        Some(CgroupAuto { full, mode, force })
    }

    #[rstest]
    #[case("proc", Some(ProcMode::Mixed), None, None)]
    #[case("proc:mixed", Some(ProcMode::Mixed), None, None)]
    #[case("proc:rw", Some(ProcMode::Rw), None, None)]
    #[case("sys", None, Some(SysMode::Mixed), None)]
    #[case("sys:ro", None, Some(SysMode::Ro), None)]
    #[case("sys:rw", None, Some(SysMode::Rw), None)]
    #[case("sys:mixed", None, Some(SysMode::Mixed), None)]
    #[case("cgroup", None, None, cg(false, CgroupMode::Default, false))]
    #[case("cgroup:mixed", None, None, cg(false, CgroupMode::Mixed, false))]
    #[case("cgroup:ro", None, None, cg(false, CgroupMode::Ro, false))]
    #[case("cgroup:rw", None, None, cg(false, CgroupMode::Rw, false))]
    #[case("cgroup:force", None, None, cg(false, CgroupMode::Default, true))]
    #[case("cgroup:mixed:force", None, None, cg(false, CgroupMode::Mixed, true))]
    #[case("cgroup:ro:force", None, None, cg(false, CgroupMode::Ro, true))]
    #[case("cgroup:rw:force", None, None, cg(false, CgroupMode::Rw, true))]
    #[case("cgroup-full", None, None, cg(true, CgroupMode::Default, false))]
    #[case("cgroup-full:mixed", None, None, cg(true, CgroupMode::Mixed, false))]
    #[case("cgroup-full:ro", None, None, cg(true, CgroupMode::Ro, false))]
    #[case("cgroup-full:rw", None, None, cg(true, CgroupMode::Rw, false))]
    #[case("cgroup-full:force", None, None, cg(true, CgroupMode::Default, true))]
    #[case("cgroup-full:rw:force", None, None, cg(true, CgroupMode::Rw, true))]
    #[case(
        "cgroup:mixed proc:mixed sys:mixed",
        Some(ProcMode::Mixed),
        Some(SysMode::Mixed),
        cg(false, CgroupMode::Mixed, false)
    )]
    #[case(
        "proc:rw sys:rw cgroup-full:rw",
        Some(ProcMode::Rw),
        Some(SysMode::Rw),
        cg(true, CgroupMode::Rw, false)
    )]
    #[case("sys:ro sys:rw", None, Some(SysMode::Rw), None)]
    fn mount_auto(
        #[case] value: &str,
        #[case] proc: Option<ProcMode>,
        #[case] sys: Option<SysMode>,
        #[case] cgroup: Option<CgroupAuto>,
    ) {
        let mut auto = MountAuto::default();
        auto.apply(value).unwrap();
        assert_eq!(
            auto,
            MountAuto {
                proc,
                sys,
                cgroup,
                shmounts: None
            }
        );
    }

    #[rstest]
    #[case("shmounts:/run/shared", "/run/shared", "/dev/.lxc-mounts")]
    #[case("shmounts:/run/shared:/mnt/shared", "/run/shared", "/mnt/shared")]
    fn shared_mounts(#[case] value: &str, #[case] host: &str, #[case] container: &str) {
        let mut auto = MountAuto::default();
        auto.apply(value).unwrap();
        let expected = SharedMounts {
            host: host.to_string(),
            container: container.to_string(),
        };
        assert_eq!(auto.shmounts, Some(expected));
    }

    #[rstest]
    #[case("proc:ro")]
    #[case("sys:full")]
    #[case("cgroup:force:mixed")]
    #[case("cgroup:mixed:strong")]
    #[case("dev")]
    #[case("shmounts:")]
    fn bad_mount_auto(#[case] value: &str) {
        assert!(MountAuto::default().apply(value).is_err());
    }
}
