//! `enclos checkconfig` and the `lxc-checkconfig` link: what the running
//! kernel offers containers, one feature per line (enclos-checkconfig
//! does the checking).

use std::ffi::OsString;
use std::process::ExitCode;

use anyhow::Result;
use clap::{Args, Parser};
use enclos_checkconfig::{check, has_missing_required, Finding, Host, Status};

use crate::output::{colour_stdout, finding_line, print_json, Format, Tone};

/// The name of the link that runs this command.
pub const TOOL: &str = "lxc-checkconfig";

/// Check what the running kernel offers containers: namespaces, cgroup
/// controllers, user namespace sysctls, filesystems, network devices,
/// seccomp, AppArmor and idmapped mounts. Reads /proc/config.gz or
/// /boot/config-$(uname -r), and probes what a config cannot tell. Exits 1
/// when a feature every container needs is missing.
#[derive(Debug, Args)]
pub struct CheckconfigArgs {
    /// text: one feature per line; json: an array of {group, feature,
    /// status, detail, fix, required}.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
}

/// `lxc-checkconfig ARGS` as a link.
#[derive(Debug, Parser)]
#[command(name = TOOL, version)]
struct Tool {
    #[command(flatten)]
    args: CheckconfigArgs,
}

/// Runs `args` (argv of the `lxc-checkconfig` link).
pub fn run_as_tool(args: Vec<OsString>) -> Result<ExitCode> {
    match Tool::try_parse_from(args) {
        Ok(t) => t.args.run(),
        Err(e) => Ok(crate::usage_exit(e)),
    }
}

impl CheckconfigArgs {
    pub fn run(self) -> Result<ExitCode> {
        let findings = check(&Host::default());
        match self.format {
            Format::Json => print_json(&findings)?,
            Format::Text => {
                let colour = colour_stdout();
                for f in &findings {
                    println!("{}", line(f, colour));
                }
            }
        }
        Ok(if has_missing_required(&findings) {
            ExitCode::from(1)
        } else {
            ExitCode::SUCCESS
        })
    }
}

/// `enabled  overlay: DETAIL`, `missing  btrfs: DETAIL; to do: FIX`, the
/// status coloured on a terminal.
fn line(f: &Finding, colour: bool) -> String {
    let tone = match f.status {
        Status::Enabled => Tone::Good,
        Status::Unknown => Tone::Doubt,
        Status::Missing if f.required => Tone::Fatal,
        Status::Missing => Tone::Bad,
    };
    let fix = f.fix.as_deref().map(|fix| ("to do", fix));
    finding_line(f.status.as_str(), tone, colour, &f.feature, &f.detail, fix)
}
