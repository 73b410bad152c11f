//! Where the container's and the monitor's cgroups go: `lxc.cgroup.dir`,
//! `lxc.cgroup.dir.container` (`.inner`), `lxc.cgroup.dir.monitor`
//! (`.pivot`) and `lxc.cgroup.relative`, as in LXC. The container's path
//! is recorded in its runtime directory at start, so that stop, info,
//! attach and the others find it where it is.
//!
//! A daemonized monitor gets a cgroup of its own, `enclos.monitor.NAME`
//! next to the container's `enclos.payload.NAME` (LXC's `lxc.monitor.NAME`
//! and `lxc.payload.NAME`): it leaves the cgroup of whatever started it
//! (a login session, a unit), which a service manager may kill at
//! shutdown before the container can be stopped cleanly.

use std::path::Path;
use std::sync::Arc;

use enclos_cgroupfs::{
    read_membership, Cgroup, DeleteOptions, Layout, Permissions, Populated, Version,
};
use enclos_config::{Config, Origin};

use crate::container::{Container, CGROUP_PREFIX};
use crate::error::{Error, Result};

pub(crate) use crate::container::{INIT_RUN_FILE, RUN_FILE};

/// The prefix of a monitor's own cgroup: `enclos.monitor.NAME`.
pub(crate) const MONITOR_PREFIX: &str = "enclos.monitor.";

/// The runtime file that holds the monitor's cgroup path while it exists.
pub(crate) const MONITOR_RUN_FILE: &str = "cgroup.monitor";

fn at(o: &Origin) -> String {
    format!("{}:{}", o.file.display(), o.line)
}

/// Where start puts the container's cgroup, and the monitor's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Placement {
    /// The container's cgroup, relative to each hierarchy's root.
    pub container: String,
    /// The monitor's own cgroup, when it gets one.
    pub monitor: Option<String>,
    /// Where the monitor goes on its way out, to remove its own group
    /// (the root when empty).
    pub pivot: String,
}

/// The placement the configuration asks for, decided in the process that
/// starts the container (for `lxc.cgroup.relative`, its cgroup is the
/// base). With `own_monitor` (a daemonized monitor) the monitor gets a
/// group of its own even when no key asks for one; a monitor in the
/// foreground stays where its caller put it (a service manager tracks it
/// there), unless a key says otherwise.
pub(crate) fn placement(
    cfg: &Config,
    c: &Container,
    layout: &Layout,
    own_monitor: bool,
) -> Result<Placement> {
    let fail = |reason: String| Error::StartFailed {
        name: c.name().to_string(),
        reason,
    };
    let dir = cfg.cgroup_dir("");
    let container = cfg.cgroup_dir("container");
    let monitor = cfg.cgroup_dir("monitor");
    let leaf = match (dir, container) {
        (Some((_, o)), Some(_)) => {
            return Err(fail(format!(
                "{}: lxc.cgroup.dir and lxc.cgroup.dir.container exclude each other; keep one",
                at(&o)
            )))
        }
        (None, Some((_, o))) if monitor.is_none() => {
            return Err(fail(format!(
                "{}: lxc.cgroup.dir.container goes with lxc.cgroup.dir.monitor; set both, or use lxc.cgroup.dir",
                at(&o)
            )))
        }
        (Some((d, _)), None) | (None, Some((d, _))) => d,
        (None, None) => format!("{CGROUP_PREFIX}{}", c.name()),
    };
    check_path(&leaf, c.name())?;
    let pivot = cfg.cgroup_dir("monitor.pivot").map(|(p, _)| p);
    let base = if cfg.cgroup_relative() {
        own_cgroup(layout, c.name())?
    } else {
        String::new()
    };
    // Under lxc.cgroup.relative the monitor leaves the base group, as
    // LXC's does, so that the base may hold no process (cgroup v2 allows
    // controllers below a group only when it has none).
    let monitor = match monitor {
        Some((m, _)) => Some(join(&base, &m)),
        None if own_monitor || cfg.cgroup_relative() => {
            Some(join(&base, &format!("{MONITOR_PREFIX}{}", c.name())))
        }
        None => None,
    };
    if let Some(m) = &monitor {
        check_path(m, c.name())?;
    }
    Ok(Placement {
        container: join(&base, &leaf),
        monitor,
        pivot: pivot.map(|p| join(&base, &p)).unwrap_or_default(),
    })
}

impl Placement {
    /// The same placement below `base` (a user's delegated subtree).
    pub(crate) fn under(self, base: &str) -> Placement {
        Placement {
            container: join(base, &self.container),
            monitor: self.monitor.map(|m| join(base, &m)),
            pivot: match self.pivot.as_str() {
                "" => base.trim_matches('/').to_string(),
                p => join(base, p),
            },
        }
    }
}

fn join(base: &str, leaf: &str) -> String {
    match base.trim_matches('/') {
        "" => leaf.to_string(),
        b => format!("{b}/{leaf}"),
    }
}

/// A path under the root: no `..`, nothing empty.
fn check_path(path: &str, name: &str) -> Result<()> {
    if path
        .split('/')
        .any(|p| p.is_empty() || p == "." || p == "..")
    {
        return Err(Error::StartFailed {
            name: name.to_string(),
            reason: format!("cgroup path '{path}' (lxc.cgroup.dir*) must be a path of names under the root, without '.' or '..'"),
        });
    }
    Ok(())
}

/// This process's cgroup, the same on every hierarchy (one path serves
/// them all), for `lxc.cgroup.relative`.
fn own_cgroup(layout: &Layout, name: &str) -> Result<String> {
    let proc = Path::new("/proc/self/cgroup");
    let memberships = read_membership(proc)?;
    let mut paths: Vec<String> = Vec::new();
    for h in &layout.hierarchies {
        let p = layout.group_of(h, &memberships).unwrap_or("/").to_string();
        if !paths.contains(&p) {
            paths.push(p);
        }
    }
    match paths.as_slice() {
        [one] => Ok(one.clone()),
        _ => Err(Error::StartFailed {
            name: name.to_string(),
            reason: format!(
                "lxc.cgroup.relative = 1, but the process that starts the container is in different cgroups on the hierarchies ({}); start it from one cgroup on all of them, or unset lxc.cgroup.relative",
                paths.join(", ")
            ),
        }),
    }
}

/// The group init joins: the container's, or its `.inner` child (the
/// limits stay on the outer group, out of the container's reach).
pub(crate) fn init_group(cfg: &Config, outer: &Cgroup, c: &Container) -> Result<Option<Cgroup>> {
    let Some((inner, _)) = cfg.cgroup_dir("container.inner") else {
        return Ok(None);
    };
    check_path(&inner, c.name())?;
    let path = join(outer.path(), &inner);
    c.write_run_file(INIT_RUN_FILE, &path)?;
    let cg = Cgroup::new(outer.layout().clone(), &["*"], &path)?;
    cg.create(&Permissions::default())?;
    Ok(Some(cg))
}

/// Which part of the monitor's group [`make_monitor_group`] makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MonitorPart {
    /// Every hierarchy: a leftover empty group of a killed monitor
    /// removed, the group recorded in the runtime directory, created.
    Whole,
    /// The v2 part alone, by the starting command, so that the monitor is
    /// cloned into it: a move into a v2 group waits for the kernel's
    /// threadgroup lock, an RCU grace period (some 15 ms on this kind of
    /// machine, where a v1 move costs microseconds). Recorded, leftover
    /// removed, as [`MonitorPart::Whole`]. None without a v2 hierarchy.
    V2First,
    /// What [`MonitorPart::V2First`] left, by the monitor itself
    /// ([`crate::monitor::MonitorGroup::Meanwhile`]): recorded already,
    /// and a dead monitor's leftovers went before the start
    /// ([`clean_after_dead_monitor`]).
    Rest,
}

/// The monitor's cgroup (`lxc.cgroup.dir.monitor`, or its own), or the
/// `part` of it asked for ([`enter_monitor_group`] moves the monitor in).
pub(crate) fn make_monitor_group(
    c: &Container,
    p: &Placement,
    layout: Arc<Layout>,
    part: MonitorPart,
) -> Result<Option<Cgroup>> {
    let Some(dir) = &p.monitor else {
        return Ok(None);
    };
    if layout.hierarchies.is_empty() {
        // A user's container without a delegated cgroup: nowhere to go.
        return Ok(None);
    }
    if part != MonitorPart::Rest {
        c.write_run_file(MONITOR_RUN_FILE, dir)?;
    }
    let cg = match part {
        MonitorPart::V2First if !layout.hierarchies.iter().any(|h| h.version == Version::V2) => {
            return Ok(None)
        }
        MonitorPart::V2First => Cgroup::new(layout, &["unified"], dir)?,
        MonitorPart::Whole | MonitorPart::Rest => bare_group(layout, dir)?,
    };
    if part != MonitorPart::Rest && cg.members().iter().any(|m| m.dir.is_dir()) {
        // Refused while a process is in it: the create below then
        // reuses it, and the attach still moves this monitor there.
        let _ = cg.delete(DeleteOptions {
            recursive: true,
            populated: Populated::Refuse,
            ignore_missing: true,
        });
    }
    cg.create(&Permissions::default())?;
    Ok(Some(cg))
}

/// The calling monitor enters its group (made by [`make_monitor_group`]),
/// where it is not already: a monitor cloned into the group's v2
/// directory is there on v2.
pub(crate) fn enter_monitor_group(cg: &Cgroup) -> Result<()> {
    Ok(cg.enter(enclos_namespaces::started_in_cgroup())?)
}

/// The group at `path` on every hierarchy, with no cgroup v2 controller
/// enabled for it: a process may move there from its parent (v2 refuses
/// to enable controllers below a group that holds processes).
fn bare_group(layout: Arc<Layout>, path: &str) -> Result<Cgroup> {
    bare_group_on(layout, path, true)
}

/// [`bare_group`] on the v1 hierarchies alone, or on all of them.
fn bare_group_on(layout: Arc<Layout>, path: &str, with_v2: bool) -> Result<Cgroup> {
    let names: Vec<String> = layout
        .hierarchies
        .iter()
        .filter_map(|h| match h.version {
            Version::V1 => Some(h.controllers.first().cloned().unwrap_or_else(|| h.label())),
            Version::V2 => with_v2.then(|| "unified".to_string()),
        })
        .collect();
    Ok(Cgroup::new(layout, &names, path)?)
}

/// Leaves the monitor's cgroup for the pivot (else the root, where a
/// process may always go) and removes it, as LXC's monitor does on its
/// way out.
///
/// With `stop_removes_v2`, a `stop` waits for this monitor's exit and
/// removes its v2 group then ([`clean_after_dead_monitor`]): the monitor
/// leaves and removes its v1 groups only (a move by its own thread, see
/// Cgroup::enter), since a move out of a v2 group would make the stop
/// wait for the kernel's threadgroup lock (an RCU grace period). The
/// record of the group stays for the stop.
pub(crate) fn leave_monitor_group(
    c: &Container,
    p: &Placement,
    monitor: Cgroup,
    stop_removes_v2: bool,
) {
    let layout = monitor.layout().clone();
    let has_v2 = monitor
        .members()
        .iter()
        .any(|m| m.hierarchy.version == Version::V2);
    // The hierarchies the monitor leaves: all, or v1 alone.
    let with_v2 = !(stop_removes_v2 && has_v2);
    let on = |path: &str| bare_group_on(layout.clone(), path, with_v2).ok();
    let Some(mine) = on(monitor.path()).filter(|g| !g.members().is_empty()) else {
        return;
    };
    // The pivot is made on every hierarchy, where the monitor goes.
    let made = bare_group(layout.clone(), &p.pivot)
        .is_ok_and(|to| to.create(&Permissions::default()).is_ok());
    let moved = on(&p.pivot).is_some_and(|to| made && to.enter(false).is_ok())
        || on("").is_some_and(|root| root.enter(false).is_ok());
    if moved {
        // Empty once the monitor left it: one rmdir per hierarchy; else
        // the long way, children first.
        if !mine.remove_if_empty() {
            let _ = mine.delete(DeleteOptions {
                recursive: true,
                populated: Populated::Refuse,
                ignore_missing: true,
            });
        }
        forget_monitor_group_if_gone(c, &monitor);
    }
}

/// The running monitor's group, as its record names it; read before a
/// stop waits, since an ephemeral container's record goes with it.
pub(crate) fn monitor_group_of(c: &Container) -> Option<Cgroup> {
    let path = c.read_run_file(MONITOR_RUN_FILE)?;
    bare_group(c.layout().ok()?, &path).ok()
}

/// The v2 part of a monitor's `group` (the one a monitor that a stop
/// awaits leaves behind), if the host has v2.
pub(crate) fn v2_part(group: &Cgroup) -> Option<Cgroup> {
    let layout = group.layout().clone();
    let has_v2 = layout.hierarchies.iter().any(|h| h.version == Version::V2);
    has_v2
        .then(|| Cgroup::new(layout, &["unified"], group.path()).ok())
        .flatten()
}

/// After the monitor's exit, what a waiting stop removes: the monitor's
/// group where it is left (see [`leave_monitor_group`]), and its record.
pub(crate) fn remove_exited_monitor_group(c: &Container, monitor: &Cgroup) {
    if !c.monitor_alive() {
        remove_monitor_group(c, monitor);
    }
}

/// Removes a monitor's group when no process is left in it, and then its
/// record.
fn remove_monitor_group(c: &Container, monitor: &Cgroup) {
    let _ = monitor.delete(DeleteOptions {
        recursive: true,
        populated: Populated::Refuse,
        ignore_missing: true,
    });
    forget_monitor_group_if_gone(c, monitor);
}

/// Removes the record of the monitor's group once none of its
/// directories is left.
fn forget_monitor_group_if_gone(c: &Container, monitor: &Cgroup) {
    if monitor.members().iter().all(|m| !m.dir.is_dir()) {
        c.clear_run_file(MONITOR_RUN_FILE);
    }
}

/// What a killed monitor left: its own group (when no process is left in
/// it) and the container's group when it is empty, as a monitor removes
/// them on its way out. Nothing happens while a monitor holds the
/// container. `start`, `ls`, `stop` and `destroy` call it.
pub(crate) fn clean_after_dead_monitor(c: &Container) {
    let Some(path) = c.read_run_file(MONITOR_RUN_FILE) else {
        return;
    };
    if c.monitor_alive() {
        return;
    }
    let Ok(layout) = c.layout() else {
        return;
    };
    if let Ok(cg) = c.cgroup(layout.clone()) {
        let _ = cg.delete(DeleteOptions {
            recursive: true,
            populated: Populated::Refuse,
            ignore_missing: true,
        });
    }
    match bare_group(layout, &path) {
        Ok(monitor) => remove_monitor_group(c, &monitor),
        Err(_) => c.clear_run_file(MONITOR_RUN_FILE),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_join_and_check() {
        assert_eq!(join("/", "a/b"), "a/b");
        assert_eq!(join("/user.slice", "a"), "user.slice/a");
        assert!(check_path("a/b", "c").is_ok());
        assert!(check_path("a/../b", "c").is_err());
        assert!(check_path("a//b", "c").is_err());
    }
}
