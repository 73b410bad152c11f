#![doc = include_str!("../README.md")]
#![deny(unsafe_code)]

mod archive;
mod error;
pub mod holds;
pub mod layers;
pub mod layout;
pub mod restore;
pub mod rewrite;
pub mod stage;
mod ts;

pub use archive::{
    export, import, read_manifest, Compression, ExportOptions, ExportSource, ExportSummary, Format,
    ImportOptions, Imported, Manifest, Progress, SnapshotSource, CHECKSUM, MANIFEST,
};
pub use error::{Error, Result};
pub use holds::{check_destroy, holders, Holders};
pub use layout::{find, list, snaps_dir, NewSnapshot, Snapshot};
pub use restore::Restore;
pub use rewrite::{rewrite_config, Rename, Rewritten};
pub use ts::{format_ts, is_ts};
