//! Moving a process where its rules send it.

use std::sync::Arc;

use enclos_cgroupfs::{Cgroup, Layout, Permissions};

use super::matcher::Destination;

/// A group a process was moved into.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placed {
    /// The group, as controllers:path.
    pub group: String,
    /// Whether the group was created for it (a template's group).
    pub created: bool,
}

/// Moves process `pid` into each destination, creating the groups that do
/// not exist yet (with default permissions), as cgrulesengd does for
/// template destinations.
pub fn place(
    layout: &Arc<Layout>,
    destinations: &[Destination],
    pid: i32,
) -> enclos_cgroupfs::Result<Vec<Placed>> {
    let mut out = Vec::new();
    for d in destinations {
        let cg = Cgroup::new(layout.clone(), &d.controllers, &d.path)?;
        let created = !cg.exists();
        if created {
            cg.create(&Permissions::default())?;
        }
        cg.attach(pid)?;
        out.push(Placed {
            group: cg.name(),
            created,
        });
    }
    Ok(out)
}
