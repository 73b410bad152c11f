//! The container's cgroup: created and given the settings of the
//! configuration (`lxc.cgroup.*`, `lxc.cgroup2.*`).

use enclos_cgroupfs::{Cgroup, DeleteOptions, Permissions, Populated, Version, DELEGATED_FILES};

use super::plan::Plan;
use crate::error::{chain, Error, Result};

/// The container's cgroup: created (a leftover empty one is removed
/// first) and given the settings of the configuration.
pub(crate) fn make_cgroup(plan: &Plan) -> Result<Cgroup> {
    let c = &plan.container;
    let path = &plan.cgroups.container;
    c.write_run_file(crate::cgroup_keys::RUN_FILE, path)?;
    let cg = Cgroup::new(plan.layout.clone(), &["*"], path)?;
    if cg.members().iter().any(|m| m.dir.is_dir()) {
        // A leftover group goes, unless processes of an earlier run are
        // still in it (the delete checks before removing anything).
        match cg.delete(DeleteOptions {
            recursive: true,
            populated: Populated::Refuse,
            ignore_missing: true,
        }) {
            Ok(()) => {}
            Err(enclos_cgroupfs::Error::Populated { .. }) => {
                return Err(Error::StartFailed {
                    name: c.name().to_string(),
                    reason: format!(
                        "processes of an earlier run are still in cgroup {}; `enclos stop -k -n {}` ends them",
                        cg.name(),
                        c.name()
                    ),
                })
            }
            Err(e) => return Err(e.into()),
        }
    }
    cg.create(&Permissions::default())?;
    if let Err(e) = apply_cgroup_settings(plan, &cg) {
        let _ = cg.delete(DeleteOptions {
            recursive: true,
            populated: Populated::Kill,
            ignore_missing: true,
        });
        return Err(e);
    }
    Ok(cg)
}

/// Where cgroup v2 lists the files a delegated subtree's owner gets.
const V2_DELEGATE_LIST: &str = "/sys/kernel/cgroup/delegate";

/// Gives init's group to the container's root (an unprivileged
/// container) as LXC does: the directory and the files that place
/// processes and enable controllers (those a delegation gives, and v2's
/// delegatable files), on every hierarchy, so that the container can
/// manage its own subtree; its limits stay root's.
pub(crate) fn delegate(cg: &Cgroup, root: super::idmap::MappedRoot) -> Result<()> {
    let v2_files: Vec<String> = std::fs::read_to_string(V2_DELEGATE_LIST)
        .map(|t| t.split_whitespace().map(str::to_string).collect())
        .unwrap_or_default();
    for m in cg.members() {
        let files = DELEGATED_FILES
            .iter()
            .map(|f| m.dir.join(f))
            .chain(v2_files.iter().map(|f| m.dir.join(f)))
            .filter(|p| p.exists());
        for path in std::iter::once(m.dir.clone()).chain(files) {
            std::os::unix::fs::chown(&path, Some(root.uid), Some(root.gid))
                .map_err(crate::error::io_err("give to the container's root", &path))?;
        }
    }
    Ok(())
}

fn apply_cgroup_settings(plan: &Plan, cg: &Cgroup) -> Result<()> {
    for s in plan.config.cgroup_settings() {
        let controller = s.key.split('.').next().unwrap_or("");
        let h = plan.layout.resolve(controller);
        let on_v1 = matches!(&h, Ok(h) if h.version == Version::V1);
        let on_v2 = matches!(&h, Ok(h) if h.version == Version::V2);
        let origin = format!("{}:{}", s.origin.file.display(), s.origin.line);
        match s.version {
            1 if on_v1 => {}
            2 if on_v2 => {}
            // LXC skips the keys of the other version on hybrid hosts,
            // where common.conf carries both.
            2 if controller == "devices" && plan.layout.resolve("devices").is_ok() => continue,
            1 => {
                return Err(Error::Unsupported(format!(
                    "{origin}: lxc.cgroup.{} is a cgroup v1 setting, but this host's {controller} controller is not on cgroup v1; use lxc.cgroup2 with the v2 name",
                    s.key
                )))
            }
            _ => {
                return Err(Error::Unsupported(format!(
                    "{origin}: lxc.cgroup2.{} is a cgroup v2 setting, but this host's {controller} controller is not on cgroup v2; use lxc.cgroup with the v1 name",
                    s.key
                )))
            }
        }
        let target = Cgroup::for_key(plan.layout.clone(), &s.key, cg.path())?;
        target.set(&s.key, &s.value).map_err(|e| {
            Error::Unsupported(format!(
                "{origin}: cannot apply lxc.cgroup{}.{} = {}: {}",
                if s.version == 2 { "2" } else { "" },
                s.key,
                s.value,
                chain(&e)
            ))
        })?;
    }
    Ok(())
}
