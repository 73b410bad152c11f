//! enclos-cgroupfs: control groups on every layout a Linux host may have.
//!
//! - [`Layout`] discovers the hierarchies from `/proc/self/mountinfo`: pure
//!   v1 (one hierarchy per controller, co-mounted ones, named ones), pure
//!   v2, and hybrid (v1 controllers plus a v2 mount).
//! - [`Cgroup`] is one group path across the hierarchies serving the
//!   controllers asked for: create, delete, attach, list processes, raw
//!   keys, typed settings that pick the v1 or v2 file, freeze and thaw, and
//!   statistics.
//! - [`cgconfig`] parses libcgroup's `cgconfig.conf` and applies it.
//!
//! ```no_run
//! use std::sync::Arc;
//! use enclos_cgroupfs::{Cgroup, Layout, Permissions};
//!
//! let layout = Arc::new(Layout::discover()?);
//! let cg = Cgroup::new(layout, &["memory"], "helloworld")?;
//! cg.create(&Permissions::default())?;
//! let kept = cg.set_memory_limit(Some(40_000_000))?; // Some(39997440) with 4 KiB pages
//! # let _ = kept;
//! # Ok::<(), enclos_cgroupfs::Error>(())
//! ```
#![forbid(unsafe_code)]

// The README's example is compiled and run as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeExample;

pub mod cgconfig;
mod cgroup;
mod error;
mod layout;
mod settings;
mod wait;

pub use cgroup::{
    key_controller, process_cmdline, read_file, read_pids, walk, write_file, Cgroup, DeleteOptions,
    Member, Node, Permissions, Populated,
};
pub use error::{Error, Result};
pub use layout::{
    normalize_path, parse_membership, read_membership, v2_name, Hierarchy, Kind, Layout,
    Membership, Version, MOUNTINFO, V1_CONTROLLERS,
};
pub use settings::{blkio_to_io_weight, shares_to_weight, weight_to_shares, FreezerState, Stats};
