//! The closed set of backends, what each can do, and the contract every
//! backend module fulfils ([`Driver`]).

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::error::{Error, Result};
use crate::options::{CreateOptions, Dest, Usage};
use crate::spec::Rootfs;

/// The storage backends enclos knows, as `lxc.rootfs.path` prefixes and
/// `-B` names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    /// A directory of the host's filesystem.
    Dir,
    /// An overlayfs upper layer over one or more lower ones.
    Overlay,
    /// A btrfs subvolume.
    Btrfs,
    /// An image file with a filesystem, attached to a loop device.
    Loop,
    /// An LVM logical volume.
    Lvm,
    /// A ZFS dataset.
    Zfs,
    /// A Ceph RBD image.
    Rbd,
}

/// The storage backends LXC knows, as `lxc.rootfs.path` prefixes and `-B`
/// names (`overlayfs` is another name of `overlay`). `nbd` is recognised
/// and refused.
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

/// What a backend can do, so that a command it cannot do is refused
/// before anything starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Capabilities {
    /// A copy-on-write clone ([`CloneKind::Snapshot`](crate::CloneKind))
    /// that costs no copy of the data.
    pub can_snapshot: bool,
    /// A full copy by the backend's own means (without mounting both
    /// sides and copying files).
    pub native_clone: bool,
    /// The rootfs must be mounted to be used as a directory (at start, to
    /// fill it from a template, to copy it).
    pub needs_mount: bool,
    /// `create` takes a size (`--fssize`).
    pub has_size: bool,
}

impl Backend {
    /// Every backend, in LXC's order.
    pub const ALL: [Backend; 7] = [
        Backend::Dir,
        Backend::Overlay,
        Backend::Btrfs,
        Backend::Loop,
        Backend::Lvm,
        Backend::Zfs,
        Backend::Rbd,
    ];

    /// The backend of a `-B` name or `lxc.rootfs.path` prefix (`none` is
    /// `dir`, `overlayfs` is `overlay`). `best` needs the lxcpath: see
    /// [`Backend::resolve`].
    pub fn from_name(name: &str) -> Result<Backend> {
        match name {
            "dir" | "none" => Ok(Backend::Dir),
            "overlay" | "overlayfs" => Ok(Backend::Overlay),
            "btrfs" => Ok(Backend::Btrfs),
            "loop" => Ok(Backend::Loop),
            "lvm" => Ok(Backend::Lvm),
            "zfs" => Ok(Backend::Zfs),
            "rbd" => Ok(Backend::Rbd),
            n if BACKEND_NAMES.contains(&n) => Err(Error::NotSupportedYet {
                name: n.to_string(),
            }),
            n => Err(Error::UnknownBackend {
                name: n.to_string(),
                known: "dir, overlay, btrfs, loop, lvm, zfs, rbd and best".to_string(),
            }),
        }
    }

    /// The backend of a `-B` name for a container in `lxcpath`: as
    /// [`Backend::from_name`], and `best` is [`Backend::best`].
    pub fn resolve(name: &str, lxcpath: &Path) -> Result<Backend> {
        if name == "best" {
            return Ok(Backend::best(lxcpath));
        }
        Backend::from_name(name)
    }

    /// What `-B best` picks, as lxc-create does among the backends that
    /// need nothing configured: `btrfs` when `lxcpath` (or its nearest
    /// existing ancestor) is on btrfs, else `dir`.
    pub fn best(lxcpath: &Path) -> Backend {
        let mut p = Some(lxcpath);
        while let Some(dir) = p {
            if dir.exists() {
                return if crate::fsinfo::is_btrfs(dir) {
                    Backend::Btrfs
                } else {
                    Backend::Dir
                };
            }
            p = dir.parent();
        }
        Backend::Dir
    }

    /// The name, as `lxc.rootfs.path` writes it.
    pub fn name(&self) -> &'static str {
        match self {
            Backend::Dir => "dir",
            Backend::Overlay => "overlay",
            Backend::Btrfs => "btrfs",
            Backend::Loop => "loop",
            Backend::Lvm => "lvm",
            Backend::Zfs => "zfs",
            Backend::Rbd => "rbd",
        }
    }

    /// What this backend can do.
    pub fn capabilities(&self) -> Capabilities {
        let caps = |can_snapshot, native_clone, needs_mount, has_size| Capabilities {
            can_snapshot,
            native_clone,
            needs_mount,
            has_size,
        };
        match self {
            Backend::Dir => caps(false, true, false, false),
            Backend::Overlay => caps(true, true, true, false),
            Backend::Btrfs => caps(true, true, false, false),
            Backend::Loop => caps(false, false, true, true),
            Backend::Lvm => caps(true, false, true, true),
            Backend::Zfs => caps(true, false, true, false),
            Backend::Rbd => caps(true, false, true, true),
        }
    }
}

impl std::fmt::Display for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The refusal of a backend that cannot replace a rootfs in place.
fn no_replace(backend: Backend) -> Error {
    Error::Unsupported {
        backend: backend.name(),
        what: "replace a rootfs in place".to_string(),
        hint: "",
    }
}

/// What every backend module implements. The public entry points are the
/// methods of [`Rootfs`] (in `ops`), which check [`Capabilities`] first
/// and pick the driver of the rootfs's backend; a driver may assume the
/// rootfs it is given is of its own backend.
pub(crate) trait Driver: Sync {
    /// Makes a new, empty rootfs for `dest`, of `opts.fssize` where the
    /// backend has a size; the filesystem is made if the backend has one.
    fn create(&self, dest: &Dest, opts: &CreateOptions) -> Result<Rootfs>;

    /// A copy-on-write clone of `src` for `dest` (only called when
    /// `can_snapshot`). `src` may be of another backend where this one
    /// can stack on it (overlay over dir).
    fn snapshot(&self, _src: &Rootfs, _dest: &Dest, _opts: &CreateOptions) -> Result<Rootfs> {
        Err(Error::Unsupported {
            backend: self.backend().name(),
            what: "snapshot".to_string(),
            hint: "",
        })
    }

    /// A full, independent copy of `src` (of this backend) for `dest` by
    /// the backend's own means (only called when `native_clone`).
    fn copy(&self, _src: &Rootfs, _dest: &Dest, _opts: &CreateOptions) -> Result<Rootfs> {
        Err(Error::Unsupported {
            backend: self.backend().name(),
            what: "copy natively".to_string(),
            hint: "",
        })
    }

    /// The options of a full copy of `src` (of this backend) made by
    /// creating a new rootfs: where `opts` does not say, the copy goes
    /// beside its source (its volume group, dataset root or pool) and
    /// has its filesystem (an image's, a volume's).
    fn place_like(&self, _src: &Rootfs, opts: &CreateOptions) -> Result<CreateOptions> {
        Ok(opts.clone())
    }

    /// Removes the rootfs and its data. Dependents were checked by the
    /// caller.
    fn destroy(&self, rootfs: &Rootfs) -> Result<()>;

    /// The clones and snapshots the backend itself records as depending
    /// on the rootfs (an LVM volume's snapshots, a ZFS snapshot's
    /// clones), which [`Rootfs::destroy`] refuses to leave orphaned.
    fn clones(&self, _rootfs: &Rootfs) -> Result<Vec<String>> {
        Ok(Vec::new())
    }

    /// Whether a snapshot of the rootfs stands on its own once it is put
    /// in place of another ([`Driver::replace`]): its origin can then be
    /// replaced or removed under it (a thin LVM volume's; a ZFS clone's,
    /// promoted by the replace; an RBD clone's, flattened by it).
    fn snapshots_stand_alone(&self, _rootfs: &Rootfs) -> Result<bool> {
        Ok(false)
    }

    /// The name of a rootfs of the backend's own beside one named `base`
    /// (`LV+TAG`, `DATASET:TAG`): one no container has, as container
    /// names have neither `+` nor `:`.
    fn own_name(&self, base: &str, tag: &str) -> String {
        crate::aside::COLON.tagged(base, tag)
    }

    /// Puts `new` (of this backend, beside `old`) in place of `old`, under
    /// `old`'s name; `old`'s data is renamed aside, and returned as a
    /// rootfs for [`Driver::release`] once the caller has committed, or
    /// for [`Driver::undo_replace`]. A failure undoes what was done.
    fn replace(&self, _old: &Rootfs, _new: &Rootfs) -> Result<Rootfs> {
        Err(no_replace(self.backend()))
    }

    /// Undoes [`Driver::replace`]: `new`'s data back under `new`'s name,
    /// `aside`'s under `old`'s.
    fn undo_replace(&self, _old: &Rootfs, _new: &Rootfs, _aside: &Rootfs) -> Result<()> {
        Err(no_replace(self.backend()))
    }

    /// Removes a rootfs [`Driver::replace`] set aside, unless snapshots
    /// still need it: then it is kept, and goes with the last of them.
    fn release(&self, _aside: &Rootfs) -> Result<()> {
        Err(no_replace(self.backend()))
    }

    /// Makes the rootfs usable as a directory: mounts it on `target` (an
    /// existing empty directory) when `needs_mount`, and returns the
    /// directory to use as the root (`target`, or the rootfs's own
    /// directory for backends that need no mount).
    fn mount(&self, rootfs: &Rootfs, target: &Path) -> Result<PathBuf>;

    /// Undoes [`Driver::mount`] on `target` (detaching what it attached).
    fn unmount(&self, rootfs: &Rootfs, target: &Path) -> Result<()>;

    /// The rootfs's size (for backends with one) and bytes in use.
    fn usage(&self, rootfs: &Rootfs) -> Result<Usage>;

    /// The backend this driver is for.
    fn backend(&self) -> Backend;
}
