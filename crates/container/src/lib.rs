//! enclos-container: system containers the LXC way.
//!
//! A container lives in `<lxcpath>/<name>/` (its `config` in LXC's
//! language, its `rootfs/`). [`create`] builds one from a template;
//! [`start`] forks a monitor that runs its init in new namespaces and a
//! cgroup of its own; [`attach`] joins a running one through its init's
//! pidfd; [`console`] reaches its ttys through the monitor; [`stop`],
//! [`freeze`], [`info`] and the rest act on the init and the cgroup
//! directly, so they work even when a monitor was killed.
//!
//! The host's cgroup layout (its hierarchies, from the mount table) is
//! read once per command: a [`Container`] handle reads it at its first
//! need and keeps it ([`Container::layout`]); commands over several
//! containers ([`ls`], [`autostart`]) share one [`SharedLayout`], and
//! [`Container::with_layout`] gives a handle a layout already known.
//!
//! Modules import one way only, each from those before it:
//!
//! 1. `error` (the error type, `chain`), then `container` (a container's
//!    place on disk, its run files, locks and state);
//! 2. one job each, on `container` alone: `process` (exec, exit codes,
//!    stdio, environment), `fds` (no host descriptor or cwd reaches a
//!    container), `sealed_exe` (run from a binary no container can write),
//!    `limits`, `threads`, `logging`, `security`,
//!    `monitor_keys`, `rootfs_keys`, `ns_plan`, `cgroup_keys`,
//!    `console_log`, `hooks`, `leftovers` (what a killed copy, import or
//!    snapshot left), `mapped_root` (an unprivileged container's
//!    root and how its rootfs is mapped); `userns` (work as a container's
//!    root in its user namespace: an idmapped create's template,
//!    usernsexec);
//! 3. commands on a container's processes and cgroup: `stop`, then
//!    `create` (destroy stops), `attach`;
//! 4. running one: `init` (PID 1 of the container, and execute's small
//!    init), `launch` (the plan, the cgroup, the rootfs spec, the clone of
//!    init), `monitor` (the event loop while init runs), `console` (a
//!    client of the monitor), `start` (start, execute, the daemonized
//!    monitor);
//! 5. over many containers: `info` (info and autostart), `ls`;
//! 6. `doctor` (what a user's containers need from the host, each finding
//!    with its fix), on `container` and `userns`;
//! 7. on top of the storage: `copy` (lxc-copy: copies, snapshots,
//!    ephemeral copies, rename), on `create` and `start`; `snapshots`
//!    (lxc-snapshot) and `backup` (export and import).

// The README's example is compiled and run as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeExample;

mod apparmor;
mod attach;
mod backup;
mod cgroup_keys;
mod confine;
mod console;
mod console_log;
mod container;
mod copy;
mod copy_hooks;
mod copy_tmpfs;
mod create;
mod discard;
pub mod doctor;
mod error;
#[cfg(test)]
mod fake;
mod fds;
mod hooks;
mod hwaddr;
mod info;
mod init;
mod init_exec;
mod launch;
mod leftovers;
mod limits;
mod logging;
mod ls;
mod mapped_root;
mod monitor;
mod monitor_keys;
mod net;
mod ns_plan;
mod process;
mod rootfs_keys;
mod sealed_exe;
mod security;
mod snapshots;
mod start;
mod stop;
mod template_cache;
mod threads;
mod user_net;
mod userns;

pub use attach::{attach, AttachOptions};
pub use backup::{export, import};
pub use console::{console, DEFAULT_ESCAPE};
pub use container::{
    default_config_path, default_lxcpath, global_settings, list_names, system_conf_path,
    validate_name, Container, OpLock, SharedLayout, State, CGROUP_PREFIX, ROOT_LXCPATH,
};
pub use copy::{copy, copy_kind_word, rename, start_copy, CopyOptions};
pub use create::{create, destroy, destroy_with, CreateOptions};
pub use error::{Error, Result};
pub use info::{
    autostart, autostart_plan, config_values, info, AutostartAction, AutostartEntry, Info,
};
pub use init_exec::{run_trampoline, TRAMPOLINE};
pub use ls::{list, ls, ls_names, ls_table, LsFilter, Summary, DEFAULT_COLUMNS};
pub use mapped_root::RootfsIdmap;
pub use monitor::socket_name;
pub use net::NetLink;
pub use sealed_exe::{is_sealed, run_from_sealed_copy, SealError, SELF_EXE};
pub use snapshots::{
    destroy_snapshot, restore, snapshot, snapshot_plan, snapshots, SnapshotPlan, ALL_SNAPSHOTS,
};
pub use start::{execute, start, StartOptions};
pub use stop::{
    cgroup_get, cgroup_set, device_add, freeze, kill_and_clean, stop, unfreeze, wait, StopOptions,
};
pub use userns::{
    check_allowed, current_owner, default_maps, parse_usernsexec_map, usernsexec, with_caller,
    UsernsError, PASSWD,
};
