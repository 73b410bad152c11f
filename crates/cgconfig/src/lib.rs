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
//! (files and directories), `translate` (cgroup v1 keys on v2) and
//! `apply`; [`rules`] is libcgroup's other language, `cgrules.conf`,
//! with what cgrulesengd needs to apply it (the kernel's process events).
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
//! assert_eq!((v2[0].key.as_str(), v2[0].value.as_str()), ("cpu.weight", "4"));
//! # Ok::<(), enclos_cgconfig::ConfigError>(())
//! ```

// unsafe only in rules::connector's socket wrapper.
#![deny(unsafe_code)]

mod apply;
mod ast;
pub mod error;
mod lexer;
mod load;
mod parser;
pub mod rules;
mod translate;

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
pub use error::{ConfigError, Error, Location, Result};
pub use load::{config_files, load, load_dir, parse_file, parse_str};
pub use translate::{translate_for_v2, TranslateError, V2Setting};

/// Where libcgroup keeps its main configuration file.
pub const CGCONFIG_CONF: &str = "/etc/cgconfig.conf";
/// Where libcgroup reads further configuration files from.
pub const CGCONFIG_DIR: &str = "/etc/cgconfig.d";
