//! cgclear: remove the groups of cgconfig.conf files, or every group.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::Parser;
use enclos_cgconfig::{clear_all, load, ClearOptions};

/// cgclear: remove control groups.
#[derive(Debug, Parser)]
#[command(
    name = "cgclear",
    about = "Remove the control groups of cgconfig.conf files, or every group of the host",
    long_about = "Remove the control groups of cgconfig.conf files (-l, -L), or without them every \
                  group of every hierarchy: their processes move to the root group. enclos never \
                  unmounts hierarchies (it never mounts them)."
)]
pub struct ClearArgs {
    /// A configuration file whose groups to remove; repeatable.
    #[arg(short = 'l', long = "load", value_name = "FILE")]
    files: Vec<PathBuf>,
    /// A directory of configuration files; repeatable.
    #[arg(short = 'L', long = "load-directory", value_name = "DIR")]
    dirs: Vec<PathBuf>,
    /// Remove only groups without processes and child groups.
    #[arg(short = 'e', long = "only-empty")]
    only_empty: bool,
}

impl ClearArgs {
    pub fn run(self) -> Result<ExitCode> {
        let layout = super::layout()?;
        let opts = ClearOptions {
            only_empty: self.only_empty,
        };
        let report = if self.files.is_empty() && self.dirs.is_empty() {
            clear_all(layout, "", opts)?
        } else {
            load(&self.files, &self.dirs)?.clear(layout, opts)?
        };
        for (group, why) in &report.kept {
            eprintln!("cgclear: note: kept {group}: {why}");
        }
        Ok(ExitCode::SUCCESS)
    }
}
