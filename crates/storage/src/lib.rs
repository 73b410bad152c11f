//! enclos-storage: where a container's root filesystem lives.
//!
//! A rootfs is named as LXC's `lxc.rootfs.path` names it: an optional
//! backend prefix and the backend's own description (`dir:/var/lib/enclos/c1/rootfs`,
//! or a plain path, which is `dir`). [`Backend`] is the closed set of
//! backends enclos knows; each can create, prepare (mount) and destroy a
//! rootfs.
#![forbid(unsafe_code)]

// The README's example is compiled and run as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeExample;

use std::fs;
use std::io;
use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::path::{Path, PathBuf};

use serde::Serialize;

/// Errors of this crate; each names the path or spec involved.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("Unknown storage backend '{name}': enclos knows {known}")]
    UnknownBackend { name: String, known: String },

    #[error("Storage backend '{name}' is not supported by enclos yet; use -B dir")]
    NotSupportedYet { name: String },

    #[error("Invalid rootfs '{spec}': {reason}")]
    InvalidSpec { spec: String, reason: &'static str },

    #[error("Cannot create the rootfs directory {path}")]
    Create {
        path: PathBuf,
        #[source]
        source: io::Error,
    },

    #[error("Rootfs {path} does not exist; the container's storage is missing or was moved")]
    Missing { path: PathBuf },

    #[error("Cannot remove the rootfs {path}")]
    Destroy {
        path: PathBuf,
        #[source]
        source: io::Error,
    },

    #[error("Refusing to remove {path}: {reason}")]
    Unsafe { path: PathBuf, reason: &'static str },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The storage backends enclos knows. Only `Dir` is implemented today; the
/// others are recognised so that their names give a clear error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    Dir,
}

/// The storage backends LXC knows, as `lxc.rootfs.path` prefixes and `-B`
/// names (`overlayfs` is another name of `overlay`). enclos implements
/// `dir`; the others give a clear error.
pub const BACKEND_NAMES: &[&str] = &[
    "dir",
    "overlay",
    "overlayfs",
    "btrfs",
    "loop",
    "lvm",
    "zfs",
    "rbd",
    "nbd",
];

impl Backend {
    /// The backend of a `-B` name.
    pub fn from_name(name: &str) -> Result<Backend> {
        match name {
            "dir" | "none" => Ok(Backend::Dir),
            n if BACKEND_NAMES.contains(&n) => Err(Error::NotSupportedYet {
                name: n.to_string(),
            }),
            n => Err(Error::UnknownBackend {
                name: n.to_string(),
                known: "dir (overlay, btrfs, loop, lvm and zfs come later)".to_string(),
            }),
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            Backend::Dir => "dir",
        }
    }
}

/// A rootfs as `lxc.rootfs.path` describes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rootfs {
    pub backend: Backend,
    /// For `dir`, the directory.
    pub path: PathBuf,
}

impl Rootfs {
    /// Parses `lxc.rootfs.path`: `dir:/path`, or a plain absolute path.
    pub fn parse(spec: &str) -> Result<Rootfs> {
        let (backend, rest) = match spec.split_once(':') {
            Some((b, rest)) if !b.contains('/') => (Backend::from_name(b)?, rest),
            _ => (Backend::Dir, spec),
        };
        if !rest.starts_with('/') {
            return Err(Error::InvalidSpec {
                spec: spec.to_string(),
                reason: "the path must be absolute",
            });
        }
        Ok(Rootfs {
            backend,
            path: PathBuf::from(rest),
        })
    }

    /// The value for `lxc.rootfs.path`.
    pub fn spec(&self) -> String {
        format!("{}:{}", self.backend.name(), self.path.display())
    }

    /// Creates an empty rootfs for a new container whose directory is
    /// `container_dir` (`<lxcpath>/<name>`): `dir` makes `rootfs/` there.
    pub fn create(backend: Backend, container_dir: &Path) -> Result<Rootfs> {
        match backend {
            Backend::Dir => {
                let path = container_dir.join("rootfs");
                fs::DirBuilder::new()
                    .mode(0o755)
                    .create(&path)
                    .map_err(|source| Error::Create {
                        path: path.clone(),
                        source,
                    })?;
                Ok(Rootfs { backend, path })
            }
        }
    }

    /// The directory to use as the container's root at start. For `dir`,
    /// the directory itself (the container binds it onto itself in its own
    /// mount namespace).
    pub fn prepare(&self) -> Result<PathBuf> {
        match self.backend {
            Backend::Dir => {
                if !self.path.is_dir() {
                    return Err(Error::Missing {
                        path: self.path.clone(),
                    });
                }
                Ok(self.path.clone())
            }
        }
    }

    /// Removes the rootfs. A `dir` rootfs is removed without following
    /// symlinks and without crossing into other filesystems mounted below
    /// it (such a mount is an error, not something to delete).
    pub fn destroy(&self) -> Result<()> {
        match self.backend {
            Backend::Dir => {
                if self.path.parent().is_none() {
                    return Err(Error::Unsafe {
                        path: self.path.clone(),
                        reason: "it is the root directory",
                    });
                }
                match fs::symlink_metadata(&self.path) {
                    Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
                    Err(source) => Err(Error::Destroy {
                        path: self.path.clone(),
                        source,
                    }),
                    Ok(meta) => remove_tree(&self.path, meta.dev()),
                }
            }
        }
    }
}

/// Removes `path` and below, refusing to descend into another filesystem.
fn remove_tree(path: &Path, dev: u64) -> Result<()> {
    let meta = fs::symlink_metadata(path).map_err(|source| Error::Destroy {
        path: path.to_path_buf(),
        source,
    })?;
    if meta.is_dir() {
        if meta.dev() != dev {
            return Err(Error::Unsafe {
                path: path.to_path_buf(),
                reason: "another filesystem is mounted there; unmount it first",
            });
        }
        let entries = fs::read_dir(path).map_err(|source| Error::Destroy {
            path: path.to_path_buf(),
            source,
        })?;
        for e in entries {
            let e = e.map_err(|source| Error::Destroy {
                path: path.to_path_buf(),
                source,
            })?;
            remove_tree(&e.path(), dev)?;
        }
        fs::remove_dir(path)
    } else {
        fs::remove_file(path)
    }
    .map_err(|source| Error::Destroy {
        path: path.to_path_buf(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case("dir:/var/lib/enclos/c1/rootfs", "/var/lib/enclos/c1/rootfs")]
    #[case("/var/lib/enclos/c1/rootfs", "/var/lib/enclos/c1/rootfs")]
    #[case("/odd:name/rootfs", "/odd:name/rootfs")]
    fn parses_dir_specs(#[case] spec: &str, #[case] path: &str) {
        let r = Rootfs::parse(spec).unwrap();
        assert_eq!(r.backend, Backend::Dir);
        assert_eq!(r.path, Path::new(path));
    }

    #[rstest]
    #[case("btrfs:/x", "not supported by enclos yet")]
    #[case("overlay:/a:/b", "not supported by enclos yet")]
    #[case("floppy:/x", "Unknown storage backend 'floppy'")]
    #[case("dir:relative", "must be absolute")]
    fn refuses_other_specs(#[case] spec: &str, #[case] msg: &str) {
        let err = Rootfs::parse(spec).unwrap_err().to_string();
        assert!(err.contains(msg), "{err}");
    }

    #[test]
    fn every_backend_name_is_known() {
        for name in BACKEND_NAMES {
            match Backend::from_name(name) {
                Ok(b) => assert_eq!(b.name(), *name),
                Err(e) => assert!(matches!(e, Error::NotSupportedYet { .. }), "{name}: {e}"),
            }
        }
    }

    #[test]
    fn create_prepare_destroy_dir() {
        let tmp = tempfile::tempdir().unwrap();
        let r = Rootfs::create(Backend::Dir, tmp.path()).unwrap();
        assert_eq!(r.spec(), format!("dir:{}/rootfs", tmp.path().display()));
        fs::create_dir_all(r.path.join("etc/init.d")).unwrap();
        fs::write(r.path.join("etc/hostname"), "c1\n").unwrap();
        // A symlink out of the rootfs must not be followed on destroy.
        let outside = tmp.path().join("outside");
        fs::create_dir(&outside).unwrap();
        fs::write(outside.join("keep"), "x").unwrap();
        std::os::unix::fs::symlink(&outside, r.path.join("link")).unwrap();
        assert_eq!(r.prepare().unwrap(), r.path);
        r.destroy().unwrap();
        assert!(!r.path.exists());
        assert!(outside.join("keep").exists());
        assert!(matches!(r.prepare(), Err(Error::Missing { .. })));
        r.destroy().unwrap();
    }
}
