//! Values of the typed keys: their parsers, and the types the container
//! crate gets from [`Config`](crate::Config)'s accessors. One module per
//! kind of value; `check` reads a line's value by its key's kind with them.

mod capability;
mod cgroup;
mod check;
mod log_level;
mod mounts;
mod net;
mod process;
mod rootfs;
mod scalars;
mod signal;

pub(crate) use capability::parse_caps;
pub use capability::{parse_capability, Capability};
pub use cgroup::{CgroupAuto, CgroupMode, CgroupSetting};
pub(crate) use check::check;
pub use log_level::LogLevel;
pub use mounts::{MountAuto, MountCreate, MountEntry, ProcMode, SharedMounts, SysMode};
pub use net::{Net, NetSetting, NetType};
pub(crate) use process::{parse_environment, parse_personality};
pub use process::{split_command, Personality};
pub use rootfs::{Rootfs, ROOTFS_BACKENDS};
pub(crate) use scalars::{parse_bool, parse_size, parse_uint};
pub use signal::{parse_signal, SIGINT, SIGKILL, SIGPWR, SIGRTMAX, SIGRTMIN};
