//! `enclos doctor`: what the calling user's containers need from the host,
//! one check per line with its fix (enclos-container's `doctor` module
//! does the checking).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::Args;
use enclos_container::doctor::{self, Finding, HostPaths, Status};
use serde::Serialize;

use crate::output::{colour_stdout, finding_line, print_json, Format, Tone};

/// Check what an unprivileged container needs: user namespaces, subuid and
/// subgid ranges, newuidmap and newgidmap, the container root's access to
/// the rootfs, a delegated cgroup. Exits 1 when something must be fixed.
#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// The container to check (default: your default configuration, for
    /// the containers you will create).
    #[arg(short = 'n', long = "name", value_name = "NAME")]
    name: Option<String>,
    /// The directory holding the containers (default: /var/lib/enclos for
    /// root, ~/.local/share/enclos otherwise).
    #[arg(short = 'P', long = "lxcpath", value_name = "PATH")]
    lxcpath: Option<PathBuf>,
    /// text: one finding per line; json: an array of {check, status,
    /// detail, fix}.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
}

/// A finding as `--format json` prints it.
#[derive(Debug, Serialize)]
struct Row<'a> {
    check: &'a str,
    status: &'a str,
    detail: &'a str,
    fix: Option<&'a str>,
}

impl DoctorArgs {
    pub fn run(self) -> Result<ExitCode> {
        let lxcpath = self
            .lxcpath
            .unwrap_or_else(enclos_container::default_lxcpath);
        let host = HostPaths::default();
        let findings = doctor::doctor(&host, &lxcpath, self.name.as_deref())?;
        match self.format {
            Format::Json => {
                let rows: Vec<Row> = findings
                    .iter()
                    .map(|f| Row {
                        check: f.check.as_str(),
                        status: f.status.as_str(),
                        detail: &f.detail,
                        fix: f.fix.as_deref(),
                    })
                    .collect();
                print_json(&rows)?;
            }
            Format::Text => {
                let colour = colour_stdout();
                for f in &findings {
                    println!("{}", line(f, colour));
                }
            }
        }
        Ok(if doctor::has_problem(&findings) {
            ExitCode::from(1)
        } else {
            ExitCode::SUCCESS
        })
    }
}

/// `problem  rootfs_access: DETAIL; fix: FIX`, the status coloured on a
/// terminal.
fn line(f: &Finding, colour: bool) -> String {
    let tone = match f.status {
        Status::Ok => Tone::Good,
        Status::Warning => Tone::Doubt,
        Status::Problem => Tone::Fatal,
    };
    let fix = f.fix.as_deref().map(|fix| ("fix", fix));
    finding_line(f.status.as_str(), tone, colour, &f.check, &f.detail, fix)
}
