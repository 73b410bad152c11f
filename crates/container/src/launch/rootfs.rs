//! The rootfs set-up handed to init, from the configuration.

use std::path::PathBuf;

use enclos_cgroupfs::Version;
use enclos_config::{CgroupMode as CfgCgroupMode, ProcMode as CfgProc, SysMode as CfgSys};
use enclos_namespaces::{
    CgroupHierarchy, CgroupMode, CgroupMount, DevPts, MountSpec, ProcMode, RootfsSpec, SysMode,
};

use super::plan::Plan;
use crate::error::{Error, Result};

/// The rootfs set-up for init, from the configuration, with the host pty
/// slaves `console` and `ttys` (a privileged container's).
pub(crate) fn rootfs_spec(
    plan: &Plan,
    console: Option<PathBuf>,
    ttys: Vec<PathBuf>,
) -> Result<RootfsSpec> {
    let cfg = &plan.config;
    let auto = cfg.mount_auto();
    let mut spec = RootfsSpec::new(&plan.rootfs);
    spec.rootfs_readonly = cfg.rootfs().is_some_and(|r| r.read_only());
    // A kept or shared UTS namespace keeps its hostname.
    spec.hostname = plan
        .ns
        .own_uts()
        .then(|| cfg.uts_name().unwrap_or(plan.container.name()).to_string());
    spec.proc = auto.proc.map(|p| match p {
        CfgProc::Mixed if plan.ns.own_net() => ProcMode::MixedOwnNet,
        CfgProc::Mixed => ProcMode::Mixed,
        CfgProc::Rw => ProcMode::Rw,
    });
    spec.sys = auto.sys.map(|s| match s {
        CfgSys::Ro => SysMode::Ro,
        CfgSys::Rw => SysMode::Rw,
        CfgSys::Mixed => SysMode::Mixed,
    });
    spec.cgroup = auto.cgroup.map(|cg| cgroup_mount(plan, cg.mode));
    spec.autodev = cfg.autodev();
    crate::rootfs_keys::apply(cfg, plan.container.name(), &mut spec)?;
    spec.devpts = Some(DevPts { max: cfg.pty_max() });
    spec.console = console;
    spec.ttys = ttys;
    spec.tty_dir = cfg.tty_dir().map(str::to_string);
    spec.mounts.extend(mount_specs(plan)?);
    Ok(spec)
}

/// The cgroup file systems of `lxc.mount.auto = cgroup:MODE`, one per
/// hierarchy of the host.
fn cgroup_mount(plan: &Plan, mode: CfgCgroupMode) -> CgroupMount {
    let mode = match mode {
        CfgCgroupMode::Ro => CgroupMode::Ro,
        CfgCgroupMode::Rw => CgroupMode::Rw,
        CfgCgroupMode::Mixed | CfgCgroupMode::Default => CgroupMode::Mixed,
    };
    let hierarchies = plan
        .layout
        .hierarchies
        .iter()
        .map(|h| match h.version {
            Version::V2 => CgroupHierarchy {
                dir_name: if plan.layout.kind() == enclos_cgroupfs::Kind::Unified {
                    String::new()
                } else {
                    "unified".into()
                },
                fstype_options: String::new(),
                v2: true,
            },
            Version::V1 => {
                let label = h.label();
                let dir_name = label.strip_prefix("name=").unwrap_or(&label).to_string();
                let fstype_options = if label.starts_with("name=") {
                    format!("none,{label}")
                } else {
                    label.clone()
                };
                CgroupHierarchy {
                    dir_name,
                    fstype_options,
                    v2: false,
                }
            }
        })
        .collect();
    CgroupMount { mode, hierarchies }
}

/// `lxc.mount.entry` and `lxc.mount.fstab` as mounts for init.
fn mount_specs(plan: &Plan) -> Result<Vec<MountSpec>> {
    let cfg = &plan.config;
    let mut mounts = Vec::new();
    let mut entries = cfg.mount_entries();
    entries.extend(cfg.fstab_entries()?);
    for e in entries {
        let Some(target) = e.target_in_rootfs(&plan.rootfs) else {
            return Err(Error::InvalidArgument {
                what: "lxc.mount.entry target",
                value: e.fstab.target.clone(),
                reason: format!(
                    "{}:{}: an absolute target must lie inside the rootfs {}",
                    e.origin.file.display(),
                    e.origin.line,
                    plan.rootfs.display()
                ),
            });
        };
        mounts.push(MountSpec::from_fstab(e.fstab, target));
    }
    Ok(mounts)
}
