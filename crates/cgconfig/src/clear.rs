//! Removing groups as `cgclear` does: those a configuration makes, or
//! every group below a point of each hierarchy, children first; the
//! processes still inside go to the parent of what is removed, or, with
//! "only empty", groups that hold processes or children stay.

use std::sync::Arc;

use enclos_cgroupfs::{
    walk, Cgroup, DeleteOptions, Error as CgError, Hierarchy, Layout, Populated, Version,
};
use serde::Serialize;

use crate::ast::Config;
use crate::error::{ConfigError, Error};

/// What [`Config::clear`] and [`clear_all`] take.
#[derive(Debug, Clone, Copy, Default)]
pub struct ClearOptions {
    /// Remove only groups without processes and without child groups
    /// (`cgclear -e`); the others are kept and reported.
    pub only_empty: bool,
}

/// What a clear did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ClearReport {
    /// The groups removed, as `controllers:/path`.
    pub removed: Vec<String>,
    /// The groups kept (only empty ones are removed), with the reason.
    pub kept: Vec<(String, String)>,
}

impl Config {
    /// Removes the groups of this configuration (not its templates), the
    /// deepest first, in every hierarchy its controller blocks name, under
    /// their namespaces. A group that is already gone is passed over.
    pub fn clear(&self, layout: Arc<Layout>, opts: ClearOptions) -> Result<ClearReport, Error> {
        let mut groups: Vec<_> = self.groups.iter().collect();
        groups.sort_by_key(|g| std::cmp::Reverse(g.name.matches('/').count()));
        let mut report = ClearReport::default();
        for g in groups {
            let path = g.path().map_err(|e| {
                ConfigError::with_source(&g.at, format!("Invalid group name '{}'", g.name), e)
            })?;
            if path.is_empty() {
                continue;
            }
            for b in &g.controllers {
                let full = self.full_path(&b.name, &path);
                let cg = Cgroup::new(layout.clone(), &[b.name.as_str()], &full).map_err(|e| {
                    ConfigError::with_source(
                        &b.at,
                        format!("Cannot find group '{}' of controller '{}'", g.name, b.name),
                        e,
                    )
                })?;
                remove(&cg, opts.only_empty, &mut report)?;
            }
        }
        Ok(report)
    }
}

/// Removes every group below `under` (a group path, `""` for the roots)
/// of every hierarchy of `layout`; `under` itself stays. With `""` this is
/// `cgclear` without a file: every group of the host.
pub fn clear_all(
    layout: Arc<Layout>,
    under: &str,
    opts: ClearOptions,
) -> Result<ClearReport, Error> {
    let mut report = ClearReport::default();
    for h in &layout.hierarchies {
        let tree = match walk(h, under, false) {
            Ok(t) => t,
            Err(CgError::NotFound { .. }) => continue,
            Err(e) => return Err(e.into()),
        };
        let controller = handle_controller(h);
        if opts.only_empty {
            // Children before their parents, so that a parent whose
            // children all went can go too.
            let mut paths = tree.paths();
            paths.reverse();
            for p in paths.into_iter().filter(|p| *p != tree.path) {
                let cg = Cgroup::new(layout.clone(), &[controller.as_str()], p)?;
                remove(&cg, true, &mut report)?;
            }
        } else {
            for child in &tree.children {
                let cg = Cgroup::new(layout.clone(), &[controller.as_str()], &child.path)?;
                remove(&cg, false, &mut report)?;
            }
        }
    }
    Ok(report)
}

/// A controller name that [`Cgroup::new`] resolves to `h`.
fn handle_controller(h: &Hierarchy) -> String {
    match h.version {
        Version::V2 => "unified".to_string(),
        Version::V1 => h.controllers.first().cloned().unwrap_or_default(),
    }
}

/// Deletes `cg`: recursively, its processes moved to the parent; or, when
/// `only_empty`, only if it has neither processes nor children.
fn remove(cg: &Cgroup, only_empty: bool, report: &mut ClearReport) -> Result<(), Error> {
    if !cg.members().iter().any(|m| m.dir.is_dir()) {
        return Ok(());
    }
    let delete = DeleteOptions {
        recursive: !only_empty,
        populated: if only_empty {
            Populated::Refuse
        } else {
            Populated::MoveToParent
        },
        ignore_missing: true,
    };
    match cg.delete(delete) {
        Ok(()) => report.removed.push(cg.name()),
        Err(e @ (CgError::Populated { .. } | CgError::HasChildren { .. })) if only_empty => {
            report.kept.push((cg.name(), e.to_string()))
        }
        Err(e) => return Err(e.into()),
    }
    Ok(())
}

#[cfg(test)]
mod tests;
