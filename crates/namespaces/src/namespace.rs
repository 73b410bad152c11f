//! The namespace kinds, their clone flags and their names.

use std::fmt;
use std::path::Path;
use std::str::FromStr;

use nix::sched::CloneFlags;

use crate::error::{Error, Result};

/// Where the current process's namespaces are listed.
pub const PROC_SELF_NS: &str = "/proc/self/ns";

/// One kind of Linux namespace.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Namespace {
    Mount,
    Pid,
    Uts,
    Ipc,
    Net,
    Cgroup,
    User,
    Time,
}

impl Namespace {
    /// Every kind, in the order LXC lists them (its `ns_info` table, user
    /// first): the order of a stop hook's namespace references.
    pub const ALL: [Namespace; 8] = [
        Namespace::User,
        Namespace::Mount,
        Namespace::Pid,
        Namespace::Uts,
        Namespace::Ipc,
        Namespace::Net,
        Namespace::Cgroup,
        Namespace::Time,
    ];

    /// The `CLONE_NEW*` flag that creates (clone, unshare) or selects (setns)
    /// this kind.
    pub fn clone_flag(self) -> CloneFlags {
        match self {
            Namespace::Mount => CloneFlags::CLONE_NEWNS,
            Namespace::Pid => CloneFlags::CLONE_NEWPID,
            Namespace::Uts => CloneFlags::CLONE_NEWUTS,
            Namespace::Ipc => CloneFlags::CLONE_NEWIPC,
            Namespace::Net => CloneFlags::CLONE_NEWNET,
            Namespace::Cgroup => CloneFlags::CLONE_NEWCGROUP,
            Namespace::User => CloneFlags::CLONE_NEWUSER,
            Namespace::Time => CloneFlags::from_bits_retain(libc::CLONE_NEWTIME),
        }
    }

    /// The file name under `/proc/PID/ns/`: "mnt", "pid", "uts", ...
    pub fn proc_name(self) -> &'static str {
        match self {
            Namespace::Mount => "mnt",
            Namespace::Pid => "pid",
            Namespace::Uts => "uts",
            Namespace::Ipc => "ipc",
            Namespace::Net => "net",
            Namespace::Cgroup => "cgroup",
            Namespace::User => "user",
            Namespace::Time => "time",
        }
    }

    /// The name LXC uses (`lxc.namespace.clone`, `lxc-unshare -s`):
    /// "mount", "pid", "uts", ...
    pub fn lxc_name(self) -> &'static str {
        match self {
            Namespace::Mount => "mount",
            other => other.proc_name(),
        }
    }

    /// The environment variable that hands a reference to this kind to an
    /// LXC hook (`lxc.hook.version = 1`): "LXC_MNT_NS", "LXC_PID_NS", ...
    pub fn lxc_env_var(self) -> String {
        format!("LXC_{}_NS", self.proc_name().to_ascii_uppercase())
    }

    /// The union of the clone flags of `namespaces`.
    pub fn flags(namespaces: &[Namespace]) -> CloneFlags {
        namespaces
            .iter()
            .fold(CloneFlags::empty(), |acc, ns| acc | ns.clone_flag())
    }

    /// The kinds this kernel offers, from `/proc/self/ns`.
    pub fn available() -> Result<Vec<Namespace>> {
        Self::available_in(Path::new(PROC_SELF_NS))
    }

    /// The kinds listed in `dir` (a `/proc/PID/ns` directory), in
    /// [`Namespace::ALL`] order.
    pub fn available_in(dir: &Path) -> Result<Vec<Namespace>> {
        let list_err = |source| Error::ListNamespaces {
            dir: dir.to_path_buf(),
            source,
        };
        let mut names = Vec::new();
        for entry in std::fs::read_dir(dir).map_err(list_err)? {
            names.push(entry.map_err(list_err)?.file_name());
        }
        Ok(Self::ALL
            .into_iter()
            .filter(|ns| names.iter().any(|n| n == ns.proc_name()))
            .collect())
    }

    /// Parses a comma- or pipe-separated list ("uts,net", "uts|net"), as
    /// `lxc-unshare -s` and `lxc.namespace.*` write them.
    pub fn parse_list(list: &str) -> Result<Vec<Namespace>> {
        let mut out = Vec::new();
        for name in list
            .split([',', '|'])
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            let ns: Namespace = name.parse()?;
            if !out.contains(&ns) {
                out.push(ns);
            }
        }
        Ok(out)
    }

    /// A readable list for messages: "mount, pid, uts".
    pub fn describe(namespaces: &[Namespace]) -> String {
        if namespaces.is_empty() {
            return "none".to_owned();
        }
        namespaces
            .iter()
            .map(|ns| ns.lxc_name())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

impl fmt::Display for Namespace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.lxc_name())
    }
}

impl FromStr for Namespace {
    type Err = Error;

    /// Accepts LXC's names and the `/proc/PID/ns` names, any case, with or
    /// without a `CLONE_NEW` prefix ("mount", "mnt", "NEWNS" ...).
    fn from_str(s: &str) -> Result<Self> {
        let lower = s.trim().to_ascii_lowercase();
        let name = lower
            .strip_prefix("clone_new")
            .or_else(|| lower.strip_prefix("new"))
            .unwrap_or(&lower);
        Ok(match name {
            "mount" | "mnt" | "ns" => Namespace::Mount,
            "pid" => Namespace::Pid,
            "uts" => Namespace::Uts,
            "ipc" => Namespace::Ipc,
            "net" | "network" => Namespace::Net,
            "cgroup" => Namespace::Cgroup,
            "user" => Namespace::User,
            "time" => Namespace::Time,
            _ => return Err(Error::UnknownNamespace { name: s.to_owned() }),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case("mount", Namespace::Mount)]
    #[case("mnt", Namespace::Mount)]
    #[case("MOUNT", Namespace::Mount)]
    #[case("CLONE_NEWNS", Namespace::Mount)]
    #[case("pid", Namespace::Pid)]
    #[case("uts", Namespace::Uts)]
    #[case("ipc", Namespace::Ipc)]
    #[case("net", Namespace::Net)]
    #[case("network", Namespace::Net)]
    #[case("cgroup", Namespace::Cgroup)]
    #[case("user", Namespace::User)]
    #[case("time", Namespace::Time)]
    #[case(" CLONE_NEWUSER ", Namespace::User)]
    fn parses_names(#[case] name: &str, #[case] expected: Namespace) {
        assert_eq!(name.parse::<Namespace>().unwrap(), expected);
    }

    #[rstest]
    #[case("")]
    #[case("mounts")]
    #[case("pidns")]
    #[case("bogus")]
    fn rejects_unknown_names(#[case] name: &str) {
        let err = name.parse::<Namespace>().unwrap_err();
        assert!(matches!(err, Error::UnknownNamespace { .. }));
        assert!(err.to_string().starts_with("Unknown namespace"));
    }

    #[test]
    fn names_round_trip() {
        for ns in Namespace::ALL {
            assert_eq!(ns.lxc_name().parse::<Namespace>().unwrap(), ns);
            assert_eq!(ns.proc_name().parse::<Namespace>().unwrap(), ns);
            assert_eq!(ns.to_string(), ns.lxc_name());
        }
    }

    #[test]
    fn lxc_order_and_hook_variables() {
        let names: Vec<&str> = Namespace::ALL.iter().map(|ns| ns.proc_name()).collect();
        assert_eq!(
            names,
            ["user", "mnt", "pid", "uts", "ipc", "net", "cgroup", "time"]
        );
        assert_eq!(Namespace::Mount.lxc_env_var(), "LXC_MNT_NS");
        assert_eq!(Namespace::Cgroup.lxc_env_var(), "LXC_CGROUP_NS");
    }

    #[test]
    fn flags_are_distinct_and_combined() {
        let all = Namespace::flags(&Namespace::ALL);
        let mut sum = 0;
        for ns in Namespace::ALL {
            let bits = ns.clone_flag().bits();
            assert_eq!(bits.count_ones(), 1, "{ns}");
            assert_eq!(sum & bits, 0, "{ns} overlaps");
            sum |= bits;
        }
        assert_eq!(all.bits(), sum);
        assert_eq!(Namespace::Time.clone_flag().bits(), 0x80);
    }

    #[test]
    fn parses_lists() {
        assert_eq!(
            Namespace::parse_list("uts, net|uts").unwrap(),
            vec![Namespace::Uts, Namespace::Net]
        );
        assert!(Namespace::parse_list("uts,nope").is_err());
        assert_eq!(
            Namespace::describe(&[Namespace::Mount, Namespace::Pid]),
            "mount, pid"
        );
    }

    #[test]
    fn available_from_a_fake_dir() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["net", "mnt", "pid_for_children", "uts", "time_for_children"] {
            std::fs::write(dir.path().join(name), "").unwrap();
        }
        assert_eq!(
            Namespace::available_in(dir.path()).unwrap(),
            vec![Namespace::Mount, Namespace::Uts, Namespace::Net]
        );
        let missing = dir.path().join("missing");
        let err = Namespace::available_in(&missing).unwrap_err();
        assert!(err.to_string().contains("missing"));
    }

    #[test]
    fn available_on_this_host() {
        let list = Namespace::available().unwrap();
        assert!(list.contains(&Namespace::Mount));
        assert!(list.contains(&Namespace::Net));
    }
}
