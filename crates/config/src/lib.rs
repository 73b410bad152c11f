//! enclos-config: LXC's container configuration language.
//!
//! - [`Config`] reads `key = value` files (comments, blank lines,
//!   `lxc.include` of files and directories, LXC 2.x keys read under their
//!   modern names with a [`Warning`]), gives typed access to the keys with
//!   LXC's defaults, and writes files back (`set`, `append`, `remove`,
//!   atomic `write`), keeping comments and untouched lines as they were.
//! - [`KEYS`] is the whole LXC 5.0 key set, each key marked supported by
//!   enclos, reported (read, and applied only where the host allows, with
//!   the reason), or not yet; [`NET_TYPES`] does the same for network
//!   types.
//! - Every [`Error`] about the content of a file names the file and line.
//!
//! The rules, following LXC:
//! - A line is blank, a comment (`#` first, after optional blanks; a `#`
//!   later in a line is part of the value), or `key = value`. Blanks
//!   around the key and the value are dropped, then one pair of matching
//!   quotes around the value.
//! - An empty value clears: the key's earlier values, and for `lxc.net`,
//!   `lxc.net.N`, `lxc.cgroup` and `lxc.cgroup2` every key under it.
//! - A key that is not LXC's is an error (with the closest known key when
//!   one is close); so is an LXC key enclos does not implement yet, and a
//!   value that does not fit its key.
//! - A network of type `empty` or `none` accepts the other `lxc.net.N.*`
//!   keys (they are checked) but they have no effect: each gives a
//!   warning. Other types are refused at their `type` line until enclos
//!   sets them up.
//!
//! ```
//! use std::path::Path;
//! use enclos_config::{Capability, Config};
//!
//! let config = Config::parse_str(
//!     "lxc.utsname = web\nlxc.tty.max = 2\nlxc.cap.drop = sys_module mknod\n",
//!     Path::new("/var/lib/enclos/web/config"),
//! )?;
//! assert_eq!(config.uts_name(), Some("web"));
//! assert_eq!(config.tty_max(), 2);
//! assert_eq!(
//!     config.cap_drop(),
//!     [Capability::CAP_SYS_MODULE, Capability::CAP_MKNOD]
//! );
//! assert_eq!(
//!     config.warnings()[0].to_string(),
//!     "/var/lib/enclos/web/config:1: Legacy key 'lxc.utsname' read as 'lxc.uts.name'; use 'lxc.uts.name' instead"
//! );
//! # Ok::<(), enclos_config::Error>(())
//! ```
#![forbid(unsafe_code)]

// The README's example is compiled and run as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeExample;

mod config;
mod error;
mod keys;
mod parse;
mod typed;
mod typed_hooks;
mod typed_process;
mod values;

pub use config::{Config, Entry};
pub use enclos_idmap::{IdKind, IdMap, IdMaps};
pub use error::{Error, Origin, Warning, WarningKind};
pub use keys::{lookup, Arity, KeySpec, Support, KEYS, NET_TYPES};
pub use typed_hooks::{parse_time_offset, HOOK_TYPES, SHARE_NAMESPACES};
pub use typed_process::FamilyValue;
pub use values::{
    parse_capability, parse_signal, split_command, Capability, CgroupAuto, CgroupMode,
    CgroupSetting, LogLevel, MountAuto, MountCreate, MountEntry, Net, NetSetting, NetType,
    Personality, ProcMode, Rootfs, SharedMounts, SysMode, ROOTFS_BACKENDS, SIGRTMAX, SIGRTMIN,
};

#[cfg(test)]
mod tests;
