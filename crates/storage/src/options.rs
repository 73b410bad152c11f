//! What a create or a clone is asked, where it goes, and what a usage
//! query answers.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::error::{Error, Result};

/// lxc-create's `-B` options. Each backend reads the ones it has and
/// ignores the others; `None` takes LXC's default for that backend.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CreateOptions {
    /// `--fssize`, in bytes (loop, lvm, rbd; LXC's default is 1 GiB). For a
    /// clone, the default is the source's size.
    pub fssize: Option<u64>,
    /// `--fstype`: the filesystem to make (loop, lvm, rbd; default ext4).
    pub fstype: Option<String>,
    /// `--vgname`: the LVM volume group (default: `lxc.bdev.lvm.vg` or
    /// `lxc`).
    pub vgname: Option<String>,
    /// `--lvname`: the logical volume (default: the container's name).
    pub lvname: Option<String>,
    /// `--thinpool`: the LVM thin pool (default: `lxc.bdev.lvm.thin_pool`
    /// or `lxc`, used when it exists).
    pub thinpool: Option<String>,
    /// `--zfsroot`: the ZFS dataset under which containers go (default:
    /// `lxc.bdev.zfs.root` or `lxc`).
    pub zfsroot: Option<String>,
    /// `--rbdpool`: the Ceph pool (default: `lxc.bdev.rbd.pool` or `lxc`).
    pub rbdpool: Option<String>,
}

/// LXC's default `--fssize`: 1 GiB.
pub const DEFAULT_FSSIZE: u64 = 1 << 30;

/// Parses a size as lxc-create's `--fssize` takes it: bytes, or a number
/// with a `K`, `M`, `G` or `T` suffix (powers of 1024, `B` and `iB`
/// accepted after the letter).
pub fn parse_size(value: &str) -> Result<u64> {
    let bad = || Error::InvalidSize {
        value: value.to_string(),
    };
    let v = value.trim();
    let digits = v.find(|c: char| !c.is_ascii_digit()).unwrap_or(v.len());
    let (num, unit) = v.split_at(digits);
    let num: u64 = num.parse().map_err(|_| bad())?;
    let unit = unit.trim().to_ascii_uppercase();
    let unit = unit.trim_end_matches("IB").trim_end_matches('B');
    let shift = match unit {
        "" => 0,
        "K" => 10,
        "M" => 20,
        "G" => 30,
        "T" => 40,
        _ => return Err(bad()),
    };
    num.checked_mul(1 << shift).ok_or_else(bad)
}

/// What kind of clone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CloneKind {
    /// A full, independent copy (`lxc-copy` without `-s`).
    Copy,
    /// A copy-on-write clone that shares the unchanged data with its
    /// source (`lxc-copy -s`, `lxc-snapshot`). For a `dir` source it is an
    /// overlay over it, as in LXC.
    Snapshot,
}

/// Where a new rootfs goes: the directory of the container (or snapshot)
/// that will own it, and the name backends use for volumes that live
/// outside it (`lxc/NAME` for zfs, `/dev/VG/NAME` for lvm).
///
/// Each backend puts its rootfs at a fixed place, as LXC does: `dir` and
/// `btrfs` at `DIR/rootfs`, `overlay` an upper layer at `DIR/delta0`
/// (and its work directory at `DIR/olwork`), `loop` an image at
/// `DIR/rootdev`, `lvm` at `/dev/VG/NAME`, `zfs` at `ROOT/NAME`, `rbd` at
/// `POOL/NAME`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dest {
    /// The container's directory, `<lxcpath>/<name>` (or a snapshot's,
    /// `<lxcpath>/<name>/snaps/snapN`). It exists.
    pub dir: PathBuf,
    /// The name for volumes outside `dir`.
    pub name: String,
}

impl Dest {
    /// The destination of a container whose directory is `dir`, named by
    /// the directory's last component.
    pub fn new(dir: &Path) -> Dest {
        let name = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        Dest {
            dir: dir.to_path_buf(),
            name,
        }
    }

    /// The destination in `dir`, with `name` for volumes outside it.
    pub fn named(dir: &Path, name: &str) -> Dest {
        Dest {
            dir: dir.to_path_buf(),
            name: name.to_string(),
        }
    }
}

/// What a rootfs takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct Usage {
    /// The size of the volume, for backends with one (loop image, logical
    /// volume, rbd image, zfs quota); `None` where the rootfs shares its
    /// filesystem's space (dir, overlay, btrfs).
    pub size: Option<u64>,
    /// Bytes in use: blocks allocated to the rootfs's own files, hard links
    /// counted once (for overlay, the upper layer only).
    pub used: u64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case("4096", 4096)]
    #[case("1G", 1 << 30)]
    #[case("512M", 512 << 20)]
    #[case("2k", 2048)]
    #[case("3GiB", 3 << 30)]
    #[case("1T", 1 << 40)]
    fn parses_sizes(#[case] value: &str, #[case] bytes: u64) {
        assert_eq!(parse_size(value).unwrap(), bytes);
    }

    #[rstest]
    #[case("")]
    #[case("G")]
    #[case("1X")]
    #[case("-1G")]
    #[case("99999999999999999999T")]
    fn refuses_bad_sizes(#[case] value: &str) {
        let err = parse_size(value).unwrap_err().to_string();
        assert!(err.contains("Invalid size"), "{err}");
    }

    #[test]
    fn dest_is_named_by_its_directory() {
        let d = Dest::new(Path::new("/var/lib/enclos/c1"));
        assert_eq!(d.name, "c1");
    }
}
