//! `lxc.rootfs.path`: a rootfs named by its backend and the backend's own
//! description, parsed and printed back.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::backend::Backend;
use crate::error::{Error, Result};

/// A rootfs as `lxc.rootfs.path` describes it.
///
/// | `lxc.rootfs.path`                | `backend` | `path`             | `lowers`          |
/// |----------------------------------|-----------|--------------------|-------------------|
/// | `/p` or `dir:/p`                 | Dir       | `/p`               |                   |
/// | `overlay:/base/rootfs:/c/delta0` | Overlay   | `/c/delta0` (upper)| `/base/rootfs`    |
/// | `overlay:/b/delta0:/a/rootfs:/c/delta0` | Overlay | `/c/delta0`   | `/b/delta0`, `/a/rootfs` |
/// | `btrfs:/p`                       | Btrfs     | `/p` (subvolume)   |                   |
/// | `loop:/c/rootdev`                | Loop      | `/c/rootdev` (image) |                 |
/// | `lvm:/dev/vg/lv`                 | Lvm       | `/dev/vg/lv`       |                   |
/// | `zfs:pool/ds`                    | Zfs       | `pool/ds` (dataset)|                   |
/// | `rbd:pool/image`                 | Rbd       | `pool/image`       |                   |
///
/// An overlay with several lower layers lists them as the kernel's
/// `lowerdir=` does, the topmost first, and the upper last; LXC reads the
/// same form (it splits off the upper at the last `:/`). Overlay paths
/// cannot contain `:`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rootfs {
    pub backend: Backend,
    /// The backend's handle of the rootfs: the directory (dir, btrfs), the
    /// upper layer (overlay), the image file (loop), the device (lvm),
    /// the dataset (zfs) or `pool/image` (rbd).
    pub path: PathBuf,
    /// Overlay only: the lower layers, topmost first.
    pub lowers: Vec<PathBuf>,
}

impl Rootfs {
    /// A `dir` rootfs.
    pub fn dir(path: impl Into<PathBuf>) -> Rootfs {
        Rootfs::new(Backend::Dir, path)
    }

    /// A rootfs of `backend` at `path`, with no lower layers.
    pub fn new(backend: Backend, path: impl Into<PathBuf>) -> Rootfs {
        Rootfs {
            backend,
            path: path.into(),
            lowers: Vec::new(),
        }
    }

    /// An overlay rootfs: `upper` over `lowers` (topmost first).
    pub fn overlay(lowers: Vec<PathBuf>, upper: impl Into<PathBuf>) -> Rootfs {
        Rootfs {
            backend: Backend::Overlay,
            path: upper.into(),
            lowers,
        }
    }

    /// Parses `lxc.rootfs.path`: a plain absolute path (`dir`), or
    /// `BACKEND:DESCRIPTION` as the table above shows.
    pub fn parse(spec: &str) -> Result<Rootfs> {
        let invalid = |reason| Error::InvalidSpec {
            spec: spec.to_string(),
            reason,
        };
        let (backend, rest) = match spec.split_once(':') {
            Some((b, rest)) if !b.contains('/') => (Backend::from_name(b)?, rest),
            _ => (Backend::Dir, spec),
        };
        match backend {
            Backend::Overlay => parse_overlay(rest).ok_or_else(|| {
                invalid(
                    "overlay takes LOWER:UPPER, absolute paths, several lower layers topmost first",
                )
            }),
            Backend::Zfs => {
                if rest.is_empty() || rest.starts_with('/') || rest.ends_with('/') {
                    return Err(invalid("zfs takes a dataset name, like lxc/c1"));
                }
                Ok(Rootfs::new(backend, rest))
            }
            Backend::Rbd => {
                let image = rest.strip_prefix("/dev/rbd/").unwrap_or(rest);
                match image.split_once('/') {
                    Some((pool, name)) if !pool.is_empty() && !name.is_empty() => {
                        Ok(Rootfs::new(backend, rest))
                    }
                    _ => Err(invalid("rbd takes POOL/IMAGE or /dev/rbd/POOL/IMAGE")),
                }
            }
            _ => {
                if !rest.starts_with('/') {
                    return Err(invalid("the path must be absolute"));
                }
                Ok(Rootfs::new(backend, rest))
            }
        }
    }

    /// The value for `lxc.rootfs.path`.
    pub fn spec(&self) -> String {
        let mut s = format!("{}:", self.backend.name());
        for l in &self.lowers {
            s.push_str(&l.to_string_lossy());
            s.push(':');
        }
        s.push_str(&self.path.to_string_lossy());
        s
    }

    /// The directory that holds this rootfs's own files, where it has one
    /// (`path` of dir and btrfs, the upper layer of an overlay).
    pub fn own_dir(&self) -> Option<&Path> {
        matches!(
            self.backend,
            Backend::Dir | Backend::Btrfs | Backend::Overlay
        )
        .then_some(self.path.as_path())
    }
}

/// `LOWER[:LOWER...]:UPPER`, every part absolute.
fn parse_overlay(rest: &str) -> Option<Rootfs> {
    let parts: Vec<&str> = rest.split(':').collect();
    if parts.len() < 2 || parts.iter().any(|p| !p.starts_with('/')) {
        return None;
    }
    let (upper, lowers) = parts.split_last()?;
    Some(Rootfs::overlay(
        lowers.iter().map(PathBuf::from).collect(),
        *upper,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case("dir:/var/lib/enclos/c1/rootfs", Backend::Dir, "/var/lib/enclos/c1/rootfs", &[])]
    #[case("/var/lib/enclos/c1/rootfs", Backend::Dir, "/var/lib/enclos/c1/rootfs", &[])]
    #[case("/odd:name/rootfs", Backend::Dir, "/odd:name/rootfs", &[])]
    #[case("overlay:/l/rootfs:/c/delta0", Backend::Overlay, "/c/delta0", &["/l/rootfs"])]
    #[case("overlayfs:/b/delta0:/a/rootfs:/c/delta0", Backend::Overlay, "/c/delta0", &["/b/delta0", "/a/rootfs"])]
    #[case("btrfs:/var/lib/enclos/c1/rootfs", Backend::Btrfs, "/var/lib/enclos/c1/rootfs", &[])]
    #[case("loop:/var/lib/enclos/c1/rootdev", Backend::Loop, "/var/lib/enclos/c1/rootdev", &[])]
    #[case("lvm:/dev/lxc/c1", Backend::Lvm, "/dev/lxc/c1", &[])]
    #[case("zfs:lxc/c1", Backend::Zfs, "lxc/c1", &[])]
    #[case("rbd:lxc/c1", Backend::Rbd, "lxc/c1", &[])]
    #[case("rbd:/dev/rbd/lxc/c1", Backend::Rbd, "/dev/rbd/lxc/c1", &[])]
    fn parses_every_form(
        #[case] spec: &str,
        #[case] backend: Backend,
        #[case] path: &str,
        #[case] lowers: &[&str],
    ) {
        let r = Rootfs::parse(spec).unwrap();
        assert_eq!(r.backend, backend);
        assert_eq!(r.path, Path::new(path));
        let lowers: Vec<PathBuf> = lowers.iter().map(PathBuf::from).collect();
        assert_eq!(r.lowers, lowers);
        // And back: the spec reads the same again.
        assert_eq!(Rootfs::parse(&r.spec()).unwrap(), r);
    }

    #[rstest]
    #[case("overlayfs:/a:/b", "overlay:/a:/b")]
    #[case("/p", "dir:/p")]
    #[case("none:/p", "dir:/p")]
    fn prints_the_canonical_spec(#[case] spec: &str, #[case] canonical: &str) {
        assert_eq!(Rootfs::parse(spec).unwrap().spec(), canonical);
    }

    #[rstest]
    #[case("nbd:/dev/nbd0", "not supported by enclos")]
    #[case("floppy:/x", "Unknown storage backend 'floppy'")]
    #[case("dir:relative", "must be absolute")]
    #[case("btrfs:x", "must be absolute")]
    #[case("overlay:/only", "LOWER:UPPER")]
    #[case("overlay:/a:relative", "LOWER:UPPER")]
    #[case("zfs:/tank", "dataset name")]
    #[case("zfs:", "dataset name")]
    #[case("rbd:image", "POOL/IMAGE")]
    fn refuses_bad_specs(#[case] spec: &str, #[case] msg: &str) {
        let err = Rootfs::parse(spec).unwrap_err().to_string();
        assert!(err.contains(msg), "{err}");
    }

    #[test]
    fn every_backend_name_is_known() {
        for name in crate::BACKEND_NAMES {
            match Backend::from_name(name) {
                Ok(b) => assert!(b.name() == *name || *name == "overlayfs", "{name}"),
                Err(e) => assert!(matches!(e, Error::NotSupportedYet { .. }), "{name}: {e}"),
            }
        }
    }
}
