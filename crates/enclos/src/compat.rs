//! `enclos compat install DIR`: links named after the tools enclos stands
//! in for, so that `cgcreate` (and later `lxc-start`) run enclos.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use clap::Subcommand;

#[derive(Debug, Subcommand)]
pub enum CompatCommand {
    /// Create links named cgcreate, cgexec, ... to this binary in DIR.
    Install {
        /// Directory for the links (e.g. /usr/local/bin).
        dir: PathBuf,
        /// Replace files of those names that are not links to enclos.
        #[arg(long)]
        force: bool,
    },
    /// List the tool names enclos answers to.
    List,
}

/// Every name the binary dispatches on.
pub fn tool_names() -> Vec<&'static str> {
    crate::cg::Tool::ALL
        .iter()
        .map(|(n, _)| *n)
        .chain(crate::lxc::LxcCommand::NAMES.iter().copied())
        .chain([crate::usernsexec::TOOL])
        .collect()
}

impl CompatCommand {
    pub fn run(self) -> Result<ExitCode> {
        match self {
            CompatCommand::List => {
                for n in tool_names() {
                    println!("{n}");
                }
            }
            CompatCommand::Install { dir, force } => install(&dir, force)?,
        }
        Ok(ExitCode::SUCCESS)
    }
}

fn install(dir: &Path, force: bool) -> Result<()> {
    let exe = std::env::current_exe()
        .and_then(|p| p.canonicalize())
        .context("Cannot find the path of the enclos binary")?;
    if !dir.is_dir() {
        bail!(
            "Cannot install links in {}: it is not a directory; create it first",
            dir.display()
        );
    }
    // Check every name first so that nothing is half-installed.
    let mut todo = Vec::new();
    for name in tool_names() {
        let link = dir.join(name);
        match std::fs::symlink_metadata(&link) {
            Err(_) => todo.push((link, false)),
            Ok(_) => {
                let same = std::fs::canonicalize(&link).ok().as_deref() == Some(exe.as_path());
                if same {
                    continue;
                }
                if !force {
                    bail!(
                        "Cannot install {}: a file of that name exists and is not enclos; remove it, or pass --force to replace it",
                        link.display()
                    );
                }
                todo.push((link, true));
            }
        }
    }
    for (link, replace) in todo {
        if replace {
            std::fs::remove_file(&link)
                .with_context(|| format!("Cannot replace {}", link.display()))?;
        }
        std::os::unix::fs::symlink(&exe, &link)
            .with_context(|| format!("Cannot create link {}", link.display()))?;
        println!("{} -> {}", link.display(), exe.display());
    }
    Ok(())
}
