//! cgclassify: running processes into groups, named or by rule.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Parser;
use enclos_cgroupfs::{attach_all, PROC};

use super::{groups, layout};

/// cgclassify: move running processes into control groups.
#[derive(Debug, Parser)]
#[command(
    name = "cgclassify",
    about = "Move running processes into control groups"
)]
pub struct ClassifyArgs {
    /// Destination, as controllers:path; repeatable. Without it, the
    /// rules of cgrules.conf decide.
    #[arg(short = 'g', value_name = "CONTROLLERS:PATH")]
    groups: Vec<String>,
    /// Keep the processes, and the children they make, where they are:
    /// the rules daemon leaves them alone.
    #[arg(long = "sticky", conflicts_with = "cancel_sticky")]
    sticky: bool,
    /// Let the rules daemon move the processes again.
    #[arg(long = "cancel-sticky")]
    cancel_sticky: bool,
    /// The rules file used without -g (enclos's own option).
    #[arg(long = "rules", value_name = "FILE", default_value = enclos_cgconfig::rules::CGRULES_CONF)]
    rules: PathBuf,
    /// The directory of more rules files used without -g (enclos's own
    /// option).
    #[arg(long = "rules-dir", value_name = "DIR", default_value = enclos_cgconfig::rules::CGRULES_DIR)]
    rules_dir: PathBuf,
    /// The sticky list the rules daemon reads (enclos's own option).
    #[arg(long = "sticky-file", value_name = "FILE", default_value = enclos_cgconfig::rules::STICKY_FILE)]
    sticky_file: PathBuf,
    /// Processes to move.
    #[arg(value_name = "PID", required = true)]
    pids: Vec<i32>,
}

impl ClassifyArgs {
    pub fn run(self) -> Result<ExitCode> {
        use enclos_cgconfig::rules::{self, ProcessInfo, Rules};
        let layout = layout()?;
        if self.groups.is_empty() {
            let rules = Rules::load_all(&self.rules, &self.rules_dir)?;
            for &pid in &self.pids {
                let p = ProcessInfo::read(Path::new(PROC), pid)
                    .with_context(|| format!("No process with pid {pid}: check the pid with ps"))?;
                let dests = rules.classify(&p)?;
                rules::place(&layout, &dests, pid)
                    .with_context(|| format!("Cannot move process {pid} by its rules"))?;
            }
        } else {
            let cgs = groups(&layout, &self.groups)?;
            attach_all(&cgs, &self.pids, Path::new(PROC))?;
        }
        if self.sticky || self.cancel_sticky {
            let list = rules::StickyList {
                file: self.sticky_file.clone(),
                ..Default::default()
            };
            for &pid in &self.pids {
                list.set(pid, self.sticky).with_context(|| {
                    format!("Cannot update the sticky list {}", list.file.display())
                })?;
            }
        }
        Ok(ExitCode::SUCCESS)
    }
}
