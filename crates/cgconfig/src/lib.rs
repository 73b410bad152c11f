//! enclos-cgconfig: libcgroup's `cgconfig.conf`, parsed into an AST with
//! the place of every item, and applied as `cgconfigparser` does, on top
//! of enclos-cgroupfs.
//!
//! ```text
//! mount { cpu = /sys/fs/cgroup/cpu; }     # checked against the host, never mounted
//! namespace { cpu = daemons; }            # a prefix for the groups' paths in cpu
//! default { perm { task { uid = root; gid = root; fperm = 660; } } }
//!
//! group helloworld2 {                     # a/b/c, "my group" and . (the root) work too
//!     perm {
//!         task  { uid = alice; gid = alice; fperm = 660; }
//!         admin { uid = root; gid = root; dperm = 775; fperm = 644; }
//!     }
//!     cpu { cpu.shares = 100; }
//!     memory { memory.limit_in_bytes = 40000; }
//!     cpuset { }                          # create the group there, set nothing
//! }
//!
//! template users/%u { cpu { cpu.shares = 512; } }   # %u %U %g %G %p %P
//! ```
//!
//! Comments run from `#` to the end of the line. Names and values are bare
//! words or double-quoted strings (a quoted string ends on its line).
//! Keywords are only keywords where the grammar expects them, so a group
//! may be called `default`.
//!
//! [`Config::apply`] validates everything it can first (controllers,
//! users, cgroup v2 translations, mount points) and only then creates the
//! groups and writes their settings, deleting again the groups it created
//! if a write fails.
//!
//! Modules, each with one job, importing one way: [`error`] (places and
//! errors), `ast` (the tree and merging), `lexer`, `parser`, `load`
//! (files and directories), `write` (a tree back as text), `translate`
//! (cgroup v1 keys on v2) and `translate_v1` (v2 keys on v1), `apply`,
//! `clear` (what cgclear removes), `snapshot` (the live groups as a tree,
//! for cgsnapshot) and `convert` (one setting read or written in either
//! version's terms, for cgxget and cgxset);
//! [`rules`] is libcgroup's other language, `cgrules.conf`, with what
//! cgrulesengd needs to apply it (the kernel's process events).
//!
//! ```
//! use std::path::Path;
//!
//! let config = enclos_cgconfig::parse_str(
//!     "group helloworld2 { cpu { cpu.shares = 100; } }",
//!     Path::new("cgconfig.conf"),
//! )?;
//! let group = config.group("helloworld2").unwrap();
//! assert_eq!(group.controllers[0].settings[0].key, "cpu.shares");
//! // On a host with cgroup v2, the same setting is written as cpu.weight:
//! let v2 = enclos_cgconfig::translate_for_v2(&[("cpu.shares", "100")]).unwrap();
//! // (scaled as libcgroup does: 100 × 100 / 1024)
//! assert_eq!((v2[0].key.as_str(), v2[0].value.as_str()), ("cpu.weight", "9"));
//! # Ok::<(), enclos_cgconfig::ConfigError>(())
//! ```

// unsafe only in rules::connector's socket wrapper and rules::resident's
// madvise.
#![deny(unsafe_code)]

mod apply;
mod ast;
mod clear;
mod convert;
pub mod error;
mod lexer;
mod load;
mod parser;
pub mod rules;
mod snapshot;
mod translate;
mod translate_v1;
mod write;

#[cfg(test)]
mod prop_tests;
#[cfg(test)]
mod tests;

/// The examples of the crate's README, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

pub use apply::{ApplyOptions, ApplyReport, ControllerReport, GroupReport, SettingReport};
pub use ast::{
    AdminPerm, Config, ControllerBlock, Group, IdSpec, MountEntry, Owner, PermSection, Setting,
    TaskPerm, TemplateVars,
};
pub use clear::{clear_all, ClearOptions, ClearReport};
pub use convert::{get_as, host_version, set_as, set_as_recursive, values_as, ConvertError};
pub use error::{ConfigError, Error, Location, Result};
pub use load::{config_files, load, load_dir, parse_file, parse_str};
pub use snapshot::{
    read_var_list, snapshot, Snapshot, SnapshotOptions, DEFAULT_BLACKLIST, SNAPSHOT_BLACKLIST,
};
pub use translate::{translate_for_v2, TranslateError, V2Setting, V1_NO_LIMIT};
pub use translate_v1::{translate_for_v1, V1Setting};
pub use write::{WriteError, SNAPSHOT_HEADER};

/// Where libcgroup keeps its main configuration file.
pub const CGCONFIG_CONF: &str = "/etc/cgconfig.conf";
/// Where libcgroup reads further configuration files from.
pub const CGCONFIG_DIR: &str = "/etc/cgconfig.d";
