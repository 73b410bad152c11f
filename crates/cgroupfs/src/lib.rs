//! enclos-cgroupfs: control groups on every layout a Linux host may have.
//!
//! - [`Layout`] discovers the hierarchies from `/proc/self/mountinfo`: pure
//!   v1 (one hierarchy per controller, co-mounted ones, named ones), pure
//!   v2, and hybrid (v1 controllers plus a v2 mount).
//! - [`Cgroup`] is one group path across the hierarchies serving the
//!   controllers asked for: create, delete, attach, list processes, raw
//!   keys, typed settings that pick the v1 or v2 file, freeze and thaw, and
//!   statistics.
//! - [`delegate`] and [`undelegate`]: subtrees a user owns
//!   (`user/NAME/0`), as pam_cgfs makes them.
//! - [`parse_owner`] and [`parse_mode`] read owners and modes as libcgroup's
//!   tools take them.
//! - [`devices`]: device rules as cgroup v1 writes them, and the eBPF
//!   device program that enforces them on cgroup v2.
//!
//! libcgroup's `cgconfig.conf` language lives in the `enclos-cgconfig` crate,
//! on top of this one.
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

mod attach;
mod cgroup;
mod create;
mod delegate;
mod delete;
pub mod devices;
mod error;
mod files;
mod layout;
mod owner;
mod settings;
mod subsys;
mod tree;
mod wait;

pub use attach::{attach_all, ChildPlacement, PROC};
pub use cgroup::{
    kernel_kept_other, key_controller, split_spec, Cgroup, DeleteOptions, Member, Permissions,
    Populated,
};
pub use create::create_all;
pub use delegate::{
    delegate, delegated_dir, delegated_root, enable_offered, place, undelegate, vacate,
    DelegateError, Delegated, Delegation, DELEGATED_FILES, LOGIN_LEAF, SESSION, USERS_DIR,
};
pub use delete::delete_all;
pub use error::{Error, Result};
pub use files::{read_file, read_pids, write_file};
pub use layout::{
    normalize_path, parse_membership, read_membership, v2_name, Hierarchy, Kind, Layout,
    Membership, Version, MOUNTINFO, V1_CONTROLLERS,
};
pub use owner::{
    db_entry, group_id, is_numeric_id, parse_mode, parse_owner, user_id, user_name, GROUP, PASSWD,
};
pub use settings::{blkio_to_io_weight, shares_to_weight, weight_to_shares, FreezerState, Stats};
pub use subsys::{
    parse_mounts, parse_proc_cgroups, MountPoints, Mounted, SubsysOptions, Subsystem, Subsystems,
    PROC_CGROUPS,
};
pub use tree::{process_cmdline, walk, Node};
