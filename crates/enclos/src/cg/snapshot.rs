//! cgsnapshot: the groups of the host and their settings as a
//! cgconfig.conf that cgconfigparser loads back.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Parser;
use enclos_cgconfig::{
    read_var_list, snapshot, SnapshotOptions, DEFAULT_BLACKLIST, SNAPSHOT_BLACKLIST,
    SNAPSHOT_HEADER,
};

/// cgsnapshot: print the current groups as a configuration file.
#[derive(Debug, Parser)]
#[command(
    name = "cgsnapshot",
    about = "Print the control groups and their settings as a cgconfig.conf file"
)]
pub struct SnapshotArgs {
    /// Print no warnings.
    #[arg(short = 's', long = "silent")]
    silent: bool,
    /// With a whitelist, leave out the variables it does not name.
    #[arg(short = 't', long = "strict")]
    strict: bool,
    /// Variables to leave out, a line each (default: /etc/cgsnapshot_blacklist.conf
    /// if it exists, else a built-in list of statistics).
    #[arg(short = 'b', value_name = "FILE")]
    blacklist: Option<PathBuf>,
    /// Variables expected, a line each: others get a warning.
    #[arg(short = 'w', value_name = "FILE")]
    whitelist: Option<PathBuf>,
    /// Write to this file instead of standard output.
    #[arg(short = 'f', long = "file", value_name = "OUTPUT")]
    output: Option<PathBuf>,
    /// Controllers whose hierarchies to print (default: all).
    #[arg(value_name = "CONTROLLER")]
    controllers: Vec<String>,
}

impl SnapshotArgs {
    pub fn run(self) -> Result<ExitCode> {
        let blacklist = match &self.blacklist {
            Some(f) => read_var_list(f)?,
            None if Path::new(SNAPSHOT_BLACKLIST).exists() => {
                read_var_list(Path::new(SNAPSHOT_BLACKLIST))?
            }
            None => DEFAULT_BLACKLIST.iter().map(|s| s.to_string()).collect(),
        };
        let whitelist = self.whitelist.as_deref().map(read_var_list).transpose()?;
        let opts = SnapshotOptions {
            controllers: self.controllers.clone(),
            blacklist,
            whitelist,
            strict: self.strict,
        };
        let layout = super::layout()?;
        let snap = snapshot(&layout, &opts)?;
        if !self.silent {
            for w in &snap.warnings {
                eprintln!("WARNING: {w}");
            }
        }
        let text = format!("{SNAPSHOT_HEADER}\n{}", snap.config.to_conf()?);
        match &self.output {
            Some(f) => std::fs::write(f, text)
                .with_context(|| format!("Cannot write the snapshot to {}", f.display()))?,
            None => print!("{text}"),
        }
        Ok(ExitCode::SUCCESS)
    }
}
