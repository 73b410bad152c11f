//! lssubsys: the hierarchies of the host, their mount points and ids.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Parser;
use enclos_cgroupfs::{MountPoints, SubsysOptions, Subsystems, MOUNTINFO, PROC_CGROUPS};

/// lssubsys: list hierarchies and the controllers they hold.
#[derive(Debug, Parser)]
#[command(
    name = "lssubsys",
    about = "List the hierarchies holding the given controllers (every mounted one by default)"
)]
pub struct SubsysArgs {
    /// Show every controller, those on no hierarchy too.
    #[arg(short = 'a', long = "all")]
    all: bool,
    /// Show the first mount point of each hierarchy.
    #[arg(short = 'm', long = "mount-points")]
    mount_points: bool,
    /// Show every mount point of each hierarchy, a line each.
    #[arg(short = 'M', long = "all-mount-points")]
    all_mount_points: bool,
    /// Show hierarchy ids (with -m, only for hierarchies not mounted here).
    #[arg(short = 'i', long = "hierarchies")]
    ids: bool,
    /// Controllers whose hierarchies to show.
    #[arg(value_name = "CONTROLLER")]
    controllers: Vec<String>,
}

impl SubsysArgs {
    pub fn run(self) -> Result<ExitCode> {
        let s = Subsystems::read(Path::new(PROC_CGROUPS), Path::new(MOUNTINFO))
            .context("Cannot list the controllers of this host")?;
        let opts = SubsysOptions {
            all: self.all,
            mount_points: if self.all_mount_points {
                MountPoints::All
            } else if self.mount_points {
                MountPoints::First
            } else {
                MountPoints::None
            },
            ids: self.ids,
        };
        for c in self.controllers.iter().filter(|c| !s.knows(c)) {
            eprintln!("lssubsys: note: this host has no controller '{c}'");
        }
        let mut out = std::io::stdout().lock();
        for line in s.lines(&opts, &self.controllers) {
            writeln!(out, "{line}")?;
        }
        Ok(ExitCode::SUCCESS)
    }
}
