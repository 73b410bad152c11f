//! The container's root file system: `lxc.rootfs.path` and
//! `lxc.rootfs.options`.

use serde::Serialize;

/// The storage backends LXC knows as `lxc.rootfs.path` prefixes: the
/// storage crate's list.
pub use enclos_storage::BACKEND_NAMES as ROOTFS_BACKENDS;

/// `lxc.rootfs.path` split into its backend and the rest, and
/// `lxc.rootfs.options`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rootfs {
    /// `dir` for a plain path; `overlay` for `overlay:` and `overlayfs:`.
    pub backend: String,
    /// What follows the prefix: `/lower:/upper` for overlay, the path or
    /// device otherwise.
    pub path: String,
    /// `lxc.rootfs.options`, split at commas.
    pub options: Vec<String>,
}

impl Rootfs {
    pub fn parse(value: &str, options: Vec<String>) -> Result<Rootfs, String> {
        if value.starts_with('/') {
            return Ok(Rootfs {
                backend: "dir".to_string(),
                path: value.to_string(),
                options,
            });
        }
        let expected = || {
            format!(
                "an absolute path, or BACKEND:PATH with BACKEND one of {}",
                ROOTFS_BACKENDS.join(", ")
            )
        };
        let (backend, rest) = value.split_once(':').ok_or_else(expected)?;
        if !ROOTFS_BACKENDS.contains(&backend) || rest.is_empty() {
            return Err(expected());
        }
        let needs_absolute = matches!(
            backend,
            "dir" | "overlay" | "overlayfs" | "btrfs" | "loop" | "lvm"
        );
        if needs_absolute && !rest.starts_with('/') {
            return Err(format!("an absolute path after '{backend}:'"));
        }
        let backend = if backend == "overlayfs" {
            "overlay"
        } else {
            backend
        };
        Ok(Rootfs {
            backend: backend.to_string(),
            path: rest.to_string(),
            options,
        })
    }

    /// Whether `lxc.rootfs.options` makes the container's root read-only:
    /// `ro`, unless a later `rw` takes it back.
    pub fn read_only(&self) -> bool {
        self.options
            .iter()
            .rev()
            .find(|o| *o == "ro" || *o == "rw")
            .is_some_and(|o| o == "ro")
    }

    /// Whether a value already starts with a backend prefix.
    pub(crate) fn has_backend_prefix(value: &str) -> bool {
        !value.starts_with('/')
            && value
                .split_once(':')
                .is_some_and(|(backend, _)| ROOTFS_BACKENDS.contains(&backend))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case("/var/lib/enclos/c1/rootfs", "dir", "/var/lib/enclos/c1/rootfs")]
    #[case("dir:/var/lib/enclos/c1/rootfs", "dir", "/var/lib/enclos/c1/rootfs")]
    #[case("overlay:/lower:/upper", "overlay", "/lower:/upper")]
    #[case("overlayfs:/a:/b:/c", "overlay", "/a:/b:/c")]
    #[case(
        "btrfs:/var/lib/enclos/c1/rootfs",
        "btrfs",
        "/var/lib/enclos/c1/rootfs"
    )]
    #[case(
        "loop:/var/lib/enclos/c1/rootdev",
        "loop",
        "/var/lib/enclos/c1/rootdev"
    )]
    #[case("lvm:/dev/vg0/c1", "lvm", "/dev/vg0/c1")]
    #[case("zfs:tank/c1", "zfs", "tank/c1")]
    #[case("/with:colon", "dir", "/with:colon")]
    fn rootfs_paths(#[case] value: &str, #[case] backend: &str, #[case] path: &str) {
        let rootfs = Rootfs::parse(value, Vec::new()).unwrap();
        assert_eq!(
            (rootfs.backend.as_str(), rootfs.path.as_str()),
            (backend, path)
        );
    }

    #[rstest]
    #[case("relative/path")]
    #[case("foo:/x")]
    #[case("dir:")]
    #[case("dir:relative")]
    #[case("btrfs:x")]
    fn bad_rootfs_paths(#[case] value: &str) {
        assert!(Rootfs::parse(value, Vec::new()).is_err());
    }

    #[rstest]
    #[case("", false)]
    #[case("ro", true)]
    #[case("rw", false)]
    #[case("nodev,ro,nosuid", true)]
    #[case("ro,rw", false)]
    #[case("rw,ro", true)]
    fn rootfs_read_only(#[case] options: &str, #[case] expected: bool) {
        let options = options
            .split(',')
            .filter(|o| !o.is_empty())
            .map(str::to_string)
            .collect();
        let rootfs = Rootfs::parse("/var/lib/lxc/c1/rootfs", options).unwrap();
        assert_eq!(rootfs.read_only(), expected);
    }
}
