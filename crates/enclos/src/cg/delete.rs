//! cgdelete: removing groups, and what to do with their processes.

use std::process::ExitCode;

use anyhow::{bail, Result};
use clap::Parser;
use enclos_cgroupfs::{delete_all, Cgroup, DeleteOptions, Node, Populated};

use super::{groups, layout, wrong_input};

/// cgdelete: delete control groups.
#[derive(Debug, Parser)]
#[command(name = "cgdelete", about = "Delete control groups")]
pub struct DeleteArgs {
    /// Delete the groups' children too.
    #[arg(short = 'r', long = "recursive")]
    recursive: bool,
    /// Group to delete, as controllers:path; repeatable.
    #[arg(short = 'g', value_name = "CONTROLLERS:PATH")]
    groups: Vec<String>,
    /// Move the processes still in a group into its parent first
    /// (libcgroup's behaviour).
    #[arg(long = "move", conflicts_with = "kill")]
    move_to_parent: bool,
    /// Kill the processes still in a group (SIGKILL) and wait for them.
    #[arg(long = "kill")]
    kill: bool,
    /// Groups to delete, as controllers:path.
    #[arg(value_name = "CONTROLLERS:PATH")]
    specs: Vec<String>,
    /// Run under libcgroup's name (cgdelete): its messages, and -r moves
    /// processes into the parent.
    #[arg(skip)]
    libcgroup: bool,
}

impl DeleteArgs {
    /// As run under libcgroup's name (cgdelete).
    pub(crate) fn under_libcgroup_name(self) -> DeleteArgs {
        DeleteArgs {
            libcgroup: true,
            ..self
        }
    }

    pub fn run(self) -> Result<ExitCode> {
        let specs: Vec<String> = self.groups.iter().chain(&self.specs).cloned().collect();
        if specs.is_empty() {
            wrong_input(self.libcgroup, "cgdelete");
            bail!(
                "No group given: name one as controllers:path, e.g. `cgdelete memory:helloworld`"
            );
        }
        let layout = layout()?;
        let cgs = groups(&layout, &specs)?;
        // Under its libcgroup name, `cgdelete -r` moves the processes
        // into the parent as libcgroup does, and says so.
        let move_to_parent =
            self.move_to_parent || (self.libcgroup && self.recursive && !self.kill);
        if self.libcgroup {
            for cg in &cgs {
                if !cg.exists() {
                    // libcgroup's line first, for scripts that look for it.
                    eprintln!(
                        "cgdelete: cannot remove group '{}': No such file or directory",
                        cg.path()
                    );
                    bail!(
                        "Cgroup {} does not exist; check the name with `lscgroup`",
                        cg.name()
                    );
                }
            }
        }
        if move_to_parent {
            for cg in &cgs {
                notice_moves(cg)?;
            }
        }
        let opts = DeleteOptions {
            recursive: self.recursive,
            populated: if self.kill {
                Populated::Kill
            } else if move_to_parent {
                Populated::MoveToParent
            } else {
                Populated::Refuse
            },
            ignore_missing: false,
        };
        match delete_all(&cgs, opts) {
            Err(enclos_cgroupfs::Error::DeleteGroup { group, source })
                if matches!(*source, enclos_cgroupfs::Error::Populated { .. }) =>
            {
                bail!(
                    "Cannot delete cgroup {group}: {source} (--move moves them, --kill kills them)"
                )
            }
            r => r?,
        }
        Ok(ExitCode::SUCCESS)
    }
}

/// Says which processes of `cg` (and its descendants) go to the parent.
fn notice_moves(cg: &Cgroup) -> Result<()> {
    fn pids_of(node: &Node, out: &mut Vec<i32>) {
        out.extend(&node.pids);
        node.children.iter().for_each(|c| pids_of(c, out));
    }
    for (h, node) in cg.trees(true)? {
        let mut pids = Vec::new();
        pids_of(&node, &mut pids);
        if !pids.is_empty() {
            let list: Vec<String> = pids.iter().map(i32::to_string).collect();
            eprintln!(
                "note: moving process(es) {} of {}:/{} into its parent group",
                list.join(" "),
                h.label(),
                cg.path()
            );
        }
    }
    Ok(())
}
