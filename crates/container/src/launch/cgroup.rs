//! The container's cgroup: created and given the settings of the
//! configuration (`lxc.cgroup.*`, `lxc.cgroup2.*`).

use std::sync::Arc;

use enclos_cgroupfs::{
    delegated_dir, Cgroup, DeleteOptions, Layout, Permissions, Populated, Version, DELEGATED_FILES,
    SESSION, USERS_DIR,
};
use nix::unistd::AccessFlags;

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
    if !nix::unistd::geteuid().is_root() {
        // Only root may give files away; a user's container keeps its
        // group as the user's (its limits are set from outside).
        return Ok(());
    }
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
    let settings = plan.config.cgroup_settings();
    let v1_devices = nix::unistd::geteuid().is_root()
        && cg
            .member_for("devices")
            .is_some_and(|m| m.hierarchy.version == Version::V1);
    let v2_devices = nix::unistd::geteuid().is_root()
        && !v1_devices
        && cg
            .members()
            .iter()
            .any(|m| m.hierarchy.version == Version::V2);
    if v1_devices {
        apply_v1_devices(plan, &settings, cg)?;
    } else if v2_devices {
        apply_v2_devices(plan, &settings, cg)?;
    }
    for s in settings {
        if (v1_devices && super::devices::is_device_rule(&s, 1))
            || (v2_devices && super::devices::is_device_rule(&s, 2))
        {
            continue;
        }
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

/// Writes the device rules (`devices.deny = a` and the allow-list) to
/// the container's devices cgroup on cgroup v1.
fn apply_v1_devices(
    plan: &Plan,
    settings: &[enclos_config::CgroupSetting],
    cg: &Cgroup,
) -> Result<()> {
    let target = Cgroup::for_key(plan.layout.clone(), "devices.allow", cg.path())?;
    for rule in super::devices::rules(settings, 1) {
        target.set(&rule.key, &rule.value).map_err(|e| {
            let origin = rule
                .origin
                .as_deref()
                .map_or_else(|| "default device rules".to_string(), str::to_string);
            Error::Unsupported(format!(
                "{origin}: cannot apply lxc.cgroup.{} = {}: {}",
                rule.key,
                rule.value,
                chain(&e)
            ))
        })?;
    }
    Ok(())
}

/// Where start keeps the device rules it gave the program on cgroup v2
/// (`devices.allow c 1:3 rwm` lines), for `device add` to widen.
pub(crate) const DEVICES_RUN_FILE: &str = "devices";

/// Enforces the device rules (`lxc.cgroup2.devices.*`, or LXC's
/// defaults) on cgroup v2 with an eBPF device program attached to the
/// container's group.
fn apply_v2_devices(
    plan: &Plan,
    settings: &[enclos_config::CgroupSetting],
    cg: &Cgroup,
) -> Result<()> {
    let Some(dir) = cg
        .members()
        .iter()
        .find(|m| m.hierarchy.version == Version::V2)
        .map(|m| m.dir.clone())
    else {
        return Ok(());
    };
    let mut lines = Vec::new();
    for rule in super::devices::rules(settings, 2) {
        let origin = rule.origin.as_deref().unwrap_or("default device rules");
        enclos_cgroupfs::devices::DeviceRule::parse(rule.key == "devices.allow", &rule.value)
            .map_err(|e| Error::Unsupported(format!("{origin}: lxc.cgroup2.{}: {e}", rule.key)))?;
        lines.push(format!("{} {}", rule.key, rule.value));
    }
    plan.container
        .write_run_file(DEVICES_RUN_FILE, &lines.join("\n"))?;
    attach_v2_rules(&dir, &lines, false)
}

/// Loads the program of `lines` (`devices.allow c 1:3 rwm`) and attaches
/// it to the v2 group `dir`, in place of the earlier ones (`replace`) or
/// beside none.
pub(crate) fn attach_v2_rules(
    dir: &std::path::Path,
    lines: &[String],
    replace: bool,
) -> Result<()> {
    use enclos_cgroupfs::devices::{device_program, DeviceRule};
    let mut rules = Vec::new();
    for line in lines {
        let (key, value) = line.split_once(' ').unwrap_or((line, ""));
        rules.push(
            DeviceRule::parse(key == "devices.allow", value).map_err(|e| {
                Error::Unsupported(format!(
                    "device rule '{line}' of cgroup {}: {e}",
                    dir.display()
                ))
            })?,
        );
    }
    let fail = |e: std::io::Error| {
        Error::Unsupported(format!(
            "cannot attach the device rules (an eBPF device program) to cgroup {}: {e}",
            dir.display()
        ))
    };
    let prog = super::device_bpf::load(&device_program(&rules)).map_err(fail)?;
    if replace {
        super::device_bpf::replace(dir, &prog).map_err(fail)
    } else {
        super::device_bpf::attach(dir, &prog).map_err(fail)
    }
}

/// Where a user's (not root's) container gets its cgroup: the layout of
/// the hierarchies it may use, and the prefix of its paths there.
#[derive(Debug)]
pub(crate) struct UserPlacement {
    pub layout: Arc<Layout>,
    pub prefix: Option<String>,
    /// The prefix is a v2 group that may hold processes (a scope of the
    /// user's systemd manager holding this one, a delegated subtree
    /// holding the user's login): this process must move to a leaf below
    /// it (the monitor's group) before controllers can be enabled there.
    pub leave_root: bool,
}

/// Where a user's (not root's) container gets its cgroup:
/// - on cgroup v2, the subtree the user owns that holds this process
///   (a login that pam_cgfs, or root with `enclos cg delegate --user NAME
///   --move PID`, placed in `user/NAME/N`), with the same path on the v1
///   hierarchies where the user owns it too;
/// - else the subtree `enclos cg delegate` made (`user/NAME/0` on each
///   hierarchy), on the v1 hierarchies where the user may write it;
/// - on a cgroup v2 only host without either, a scope with `Delegate=yes`
///   that the user's systemd manager starts ([`super::user_scope`]).
///
/// Without any, an empty layout (no cgroup, no limits), said once.
pub(crate) fn user_placement(name: &str, layout: &Layout) -> UserPlacement {
    let user = match crate::userns::current_owner(std::path::Path::new(crate::userns::PASSWD)) {
        Ok(o) => o.name,
        Err(_) => nix::unistd::getuid().to_string(),
    };
    let mut reason = None;
    match v2_subtree(layout) {
        Ok(Some(p)) => return p,
        Ok(None) => {}
        Err(e) => reason = Some(e),
    }
    let prefix = format!("{USERS_DIR}/{user}/{SESSION}");
    // On v2 a process moves only where the writer may write the common
    // ancestor's cgroup.procs: without the login in the subtree (above),
    // only the v1 hierarchies serve.
    let hierarchies: Vec<_> = layout
        .hierarchies
        .iter()
        .filter(|h| h.version != Version::V2)
        .filter(|h| {
            let dir = delegated_dir(h, &user);
            dir.is_dir() && nix::unistd::access(&dir, AccessFlags::W_OK).is_ok()
        })
        .cloned()
        .collect();
    if !hierarchies.is_empty() && reason.is_none() {
        return UserPlacement {
            layout: Arc::new(Layout { hierarchies }),
            prefix: Some(prefix),
            leave_root: false,
        };
    }
    if layout.kind() == enclos_cgroupfs::Kind::Unified && reason.is_none() {
        match systemd_scope(name, layout) {
            Ok(p) => return p,
            Err(e) => reason = Some(e.to_string()),
        }
    }
    eprintln!(
        "enclos: warning: container '{name}' runs without cgroup limits (freeze and memory figures need a cgroup): {}{}",
        reason.map(|r| format!("{r}; ")).unwrap_or_default(),
        user_cgroup_fix(&user, layout)
    );
    UserPlacement {
        layout: Arc::new(Layout {
            hierarchies: Vec::new(),
        }),
        prefix: None,
        leave_root: false,
    }
}

/// The v2 subtree the user owns that holds this process, when there is
/// one (not a systemd user manager's, which [`systemd_scope`] serves):
/// the v2 hierarchy with the controllers it offers, and the v1
/// hierarchies where the user owns the same path. Its processes (the
/// login's) move to its leaf when its controllers are not enabled yet,
/// so that the container's group gets them.
fn v2_subtree(layout: &Layout) -> std::result::Result<Option<UserPlacement>, String> {
    let Some(v2) = layout.unified() else {
        return Ok(None);
    };
    let uid = nix::unistd::getuid().as_raw();
    let memberships = enclos_cgroupfs::read_membership(std::path::Path::new("/proc/self/cgroup"))
        .unwrap_or_default();
    let own = layout.group_of(v2, &memberships).unwrap_or("");
    let Some(top) = enclos_cgroupfs::delegated_root(&v2.mount_point, own, uid) else {
        return Ok(None);
    };
    if super::user_scope::manager_of(&top, uid).is_some() {
        return Ok(None);
    }
    let dir = v2.dir(&top);
    let moved = enclos_cgroupfs::vacate(&dir).map_err(|e| {
        format!(
            "the login's processes cannot leave {} for its leaf, so that controllers are enabled below it: {}",
            dir.display(),
            chain(&e)
        )
    })?;
    if moved.len() > 1 {
        eprintln!(
            "enclos: note: the processes of {} moved to {}/{} (on cgroup v2 a group that gives controllers to its children holds none)",
            dir.display(),
            dir.display(),
            enclos_cgroupfs::LOGIN_LEAF
        );
    }
    let mut unified = v2.clone();
    unified.controllers = enclos_cgroupfs::enable_offered(&dir);
    let hierarchies = layout
        .hierarchies
        .iter()
        .filter(|h| h.version != Version::V2)
        .filter(|h| {
            let d = h.dir(&top);
            d.is_dir() && nix::unistd::access(&d, AccessFlags::W_OK).is_ok()
        })
        .cloned()
        .chain(std::iter::once(unified))
        .collect();
    Ok(Some(UserPlacement {
        layout: Arc::new(Layout { hierarchies }),
        prefix: Some(top),
        leave_root: true,
    }))
}

/// A scope of the user's systemd manager, with the controllers it
/// delegates (its `cgroup.controllers`) as those of the v2 hierarchy.
fn systemd_scope(
    name: &str,
    layout: &Layout,
) -> std::result::Result<UserPlacement, super::user_scope::ScopeError> {
    let path = super::user_scope::enter(name)?;
    let mut hierarchies: Vec<_> = layout.unified().into_iter().cloned().collect();
    for h in &mut hierarchies {
        let text = std::fs::read_to_string(h.dir(&path).join("cgroup.controllers"));
        h.controllers = text
            .unwrap_or_default()
            .split_whitespace()
            .map(str::to_string)
            .collect();
    }
    Ok(UserPlacement {
        layout: Arc::new(Layout { hierarchies }),
        prefix: Some(path),
        leave_root: true,
    })
}

/// In a v2 group that may hold processes ([`UserPlacement::leave_root`]):
/// moves this process (the future monitor) from the group (or its login
/// leaf) to the monitor's group below it, so that the group may enable
/// controllers for the container's group (cgroup v2 lets only leaves hold
/// processes). The monitor keeps that group even in the foreground.
pub(crate) fn leave_scope_root(
    name: &str,
    scope: &str,
    mut p: crate::cgroup_keys::Placement,
    layout: &Arc<Layout>,
) -> Result<crate::cgroup_keys::Placement> {
    let monitor = p
        .monitor
        .clone()
        .unwrap_or_else(|| format!("{scope}/{}{name}", crate::cgroup_keys::MONITOR_PREFIX));
    let cg = Cgroup::new(layout.clone(), &["unified"], &monitor)?;
    cg.create(&Permissions::default())?;
    cg.attach(0)?;
    p.monitor = Some(monitor);
    Ok(p)
}

/// Why a user's container got no cgroup on this host, and what gives it
/// one. On cgroup v1 (and hybrid) hosts, the subtree `enclos cg delegate`
/// makes. On a cgroup v2 only host, a process moves only between groups
/// whose common ancestor the mover may write, so the user's processes
/// must run in the delegated subtree: a scope of the user's systemd
/// manager (which needs the user's manager and bus: a login session, or
/// lingering), or without systemd a subtree root delegated that holds the
/// user's login ([`v2_login_fix`]).
pub(crate) fn user_cgroup_fix(user: &str, layout: &Layout) -> String {
    if layout.kind() == enclos_cgroupfs::Kind::Unified {
        let uid = nix::unistd::getuid();
        format!(
            "on this cgroup v2 host a container of user '{user}' gets a cgroup from a scope of the user's systemd manager: log in through a session (pam_systemd), or as root: loginctl enable-linger {user}, then start it with XDG_RUNTIME_DIR=/run/user/{uid} set; {}",
            v2_login_fix(user)
        )
    } else {
        format!(
            "no cgroup is delegated to user '{user}'; as root, `enclos cg delegate --user {user}` gives one"
        )
    }
}

/// The line of /etc/pam.d/common-session that has pam_cgfs place each
/// login in `user/NAME/N` on cgroup v2 too (Debian's libpam-cgfs profile
/// lists only v1 hierarchies: `unified` is the v2 one).
pub(crate) const PAM_CGFS_LINE: &str =
    "session optional pam_cgfs.so -c freezer,memory,name=systemd,unified";

/// What places a user's login in a subtree root delegated, on cgroup v2
/// without systemd: root moves a running login there, or pam_cgfs does
/// it at each login. pam_cgfs makes `user/NAME` afresh (without
/// controllers) at a first login, so `cg delegate` enables them again
/// once the user is logged in.
pub(crate) fn v2_login_fix(user: &str) -> String {
    format!(
        "without systemd, root places {user}'s login in a subtree delegated to {user}: as root, enclos cg delegate --user {user} --move PID (PID: `echo $$` in {user}'s login shell); or at every login: apt install libpam-cgfs, make its line in /etc/pam.d/common-session read `{PAM_CGFS_LINE}` (each login then goes to user/{user}/N), and once {user} is logged in run enclos cg delegate --user {user} as root (it enables the controllers for user/{user})"
    )
}
