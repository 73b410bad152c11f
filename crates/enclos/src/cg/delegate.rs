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
        match self.format {
            Format::Json => print_json(&done)?,
            Format::Text => {
                for x in done {
                    println!("{}: {}", x.hierarchy, x.dir.display());
                }
            }
        }
        Ok(ExitCode::SUCCESS)
    }
}
