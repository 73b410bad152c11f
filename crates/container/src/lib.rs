//! enclos-container: system containers the LXC way.
//!
//! A container lives in `<lxcpath>/<name>/` (its `config` in LXC's
//! language, its `rootfs/`). [`create`] builds one from a template;
//! [`start`] forks a monitor that runs its init in new namespaces and a
//! cgroup of its own; [`attach`] joins a running one through its init's
//! pidfd; [`console`] reaches its ttys through the monitor; [`stop`],
//! [`freeze`], [`info`] and the rest act on the init and the cgroup
//! directly, so they work even when a monitor was killed.

mod attach;
mod cgroup_keys;
mod console;
mod console_log;
mod container;
mod create;
mod error;
mod hooks;
mod info;
mod init;
mod launch;
mod limits;
mod logging;
mod monitor;
mod monitor_keys;
mod ns_plan;
mod process;
mod rootfs_keys;
mod security;
mod start;
mod stop;
mod threads;

pub use attach::{attach, AttachOptions};
pub use console::{console, DEFAULT_ESCAPE};
pub use container::{
    default_config_path, default_lxcpath, global_settings, list_names, system_conf_path,
    validate_name, Container, OpLock, State, CGROUP_PREFIX, ROOT_LXCPATH,
};
pub use create::{create, destroy, CreateOptions};
pub use error::{Error, Result};
pub use info::{
    autostart, autostart_plan, config_values, info, list, AutostartAction, AutostartEntry, Info,
    Summary,
};
pub use monitor::socket_name;
pub use start::{execute, start, StartOptions};
pub use stop::{
    cgroup_get, cgroup_set, device_add, freeze, kill_and_clean, stop, unfreeze, wait, StopOptions,
};
