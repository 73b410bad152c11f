//! cg delegate: cgroup subtrees of a user's own, as pam_cgfs makes them.

use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Args;

use super::layout;
use crate::output::{print_json, Format};

#[derive(Debug, Args)]
pub struct DelegateArgs {
    /// The user who gets the subtrees.
    #[arg(long, value_name = "NAME")]
    user: String,
    /// Only the hierarchies of these controllers (and the v2 one), e.g.
    /// cpu,memory,pids; default: every hierarchy.
    #[arg(long, value_name = "LIST", value_delimiter = ',')]
    controllers: Vec<String>,
    /// Also move process PID (the user's login shell: `echo $$` in it)
    /// into the subtrees, as pam_cgfs places a login: on cgroup v2 a
    /// user's start can put its containers only in a subtree that
    /// already holds its process.
    #[arg(long = "move", value_name = "PID", conflicts_with = "remove")]
    move_pid: Option<u32>,
    /// Remove the user's subtrees instead.
    #[arg(long)]
    remove: bool,
    #[arg(long, value_enum, default_value_t)]
    format: Format,
}

impl DelegateArgs {
    pub fn run(self) -> Result<ExitCode> {
        let layout = layout()?;
        if self.remove {
            let gone = enclos_cgroupfs::undelegate(&layout, &self.user, &self.controllers)
                .with_context(|| format!("Cannot remove the cgroups of user '{}'", self.user))?;
            match self.format {
                Format::Json => print_json(&gone)?,
                Format::Text => {
                    for dir in gone {
                        println!("removed {}", dir.display());
                    }
                }
            }
            return Ok(ExitCode::SUCCESS);
        }
        let d = enclos_cgroupfs::Delegation::for_user(
            &self.user,
            Path::new(enclos_cgroupfs::PASSWD),
            self.controllers,
        )?;
        let done = enclos_cgroupfs::delegate(&layout, &d)
            .with_context(|| format!("Cannot delegate cgroups to user '{}'", self.user))?;
        let placed = match self.move_pid {
            Some(pid) => enclos_cgroupfs::place(&layout, &d, pid, Path::new("/proc"))
                .with_context(|| {
                    format!(
                        "Cannot move process {pid} into the cgroups of user '{}'",
                        self.user
                    )
                })?,
            None => Vec::new(),
        };
        match self.format {
            Format::Json if self.move_pid.is_none() => print_json(&done)?,
            Format::Json => print_json(&serde_json::json!({
                "delegated": done,
                "moved": placed,
            }))?,
            Format::Text => {
                for x in done {
                    println!("{}: {}", x.hierarchy, x.dir.display());
                }
                if let Some(pid) = self.move_pid {
                    for dir in placed {
                        println!("moved {pid} into {}", dir.display());
                    }
                }
            }
        }
        Ok(ExitCode::SUCCESS)
    }
}
