//! Export of a container to a `.tar.zst` and import back.
//!
//! An export is a tar stream (GNU format, numeric owners, full modes,
//! mtimes, xattrs as `SCHILY.xattr.*` pax records: file capabilities and
//! POSIX ACLs with them, device nodes, fifos, symlinks, hard links, GNU
//! sparse files), compressed with zstd (or not), whose members are:
//!
//! | member                    | what                                              |
//! |---------------------------|---------------------------------------------------|
//! | `enclos-export.json`      | the [`Manifest`], first                           |
//! | `config`, `rootfs/...`    | the container                                     |
//! | `snaps/snapN/{config,ts,comment,rootfs/...}` | its snapshots, when asked      |
//! | `enclos-export.sha256`    | the SHA-256 of every byte of the tar stream before this member's header, last |
//!
//! Both ends stream: memory stays bounded whatever the container's size.
//! [`import`] also takes a plain tar of `rootfs` and `config` (the
//! course's `tar czf backup.tar.gz rootfs config`), plain, gzip or zstd,
//! told apart by their first bytes.

mod digest;
mod export;
mod import;
mod paxtap;
mod unpack;

use serde::{Deserialize, Serialize};

pub use export::{export, ExportOptions, ExportSource, ExportSummary, SnapshotSource};
pub use import::{import, read_manifest, Format, ImportOptions, Imported};

/// The manifest member's name.
pub const MANIFEST: &str = "enclos-export.json";
/// The checksum member's name.
pub const CHECKSUM: &str = "enclos-export.sha256";

/// What an export says about itself, in its first member.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// Always `enclos-export`.
    pub format: String,
    /// The layout's version: 1.
    pub version: u32,
    /// The container's name when exported.
    pub name: String,
    /// The container's directory when exported (its config's paths point
    /// there).
    pub dir: String,
    /// The bytes of file data in the archive (before compression, holes
    /// counted): the total of the progress of an import.
    pub payload_bytes: u64,
    /// The snapshots in the archive.
    pub snapshots: Vec<String>,
}

/// How far a long export or import is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// Bytes of file data done.
    pub done: u64,
    /// Bytes of file data in all, when known.
    pub total: Option<u64>,
}

/// The compression of an export.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    /// zstd at this level (3 is zstd's default), with its frame checksum.
    Zstd { level: i32 },
    /// A plain tar.
    None,
}

impl Default for Compression {
    fn default() -> Self {
        Compression::Zstd { level: 3 }
    }
}
