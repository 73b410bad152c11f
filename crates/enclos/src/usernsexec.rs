//! `enclos usernsexec` and its `lxc-usernsexec` link: a command as root in
//! a new user namespace.

use std::ffi::OsString;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Args, Parser};
use enclos_container as container;
use enclos_idmap::{IdMaps, SubIdPaths};

/// The name of the link.
pub const TOOL: &str = "lxc-usernsexec";

/// Run a command as root in a new user namespace (lxc-usernsexec).
#[derive(Debug, Args)]
pub struct UsernsexecArgs {
    /// An id map, u|g|b:NSID:HOSTID:RANGE (b: both uids and gids); repeat
    /// for more. Default: your first ranges of /etc/subuid and
    /// /etc/subgid, from id 0.
    #[arg(short = 'm', value_name = "MAP", value_parser = parse_map)]
    maps: Vec<Vec<enclos_idmap::IdMap>>,
    /// Map your own uid and gid too, at the first ids the maps leave free.
    #[arg(short = 's')]
    map_self: bool,
    /// The command and its arguments (default: /bin/sh).
    #[arg(
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "COMMAND"
    )]
    command: Vec<String>,
}

fn parse_map(s: &str) -> Result<Vec<enclos_idmap::IdMap>, String> {
    container::parse_usernsexec_map(s)
}

/// `lxc-usernsexec ARGS` as a link.
#[derive(Debug, Parser)]
#[command(name = TOOL, version)]
struct Tool {
    #[command(flatten)]
    args: UsernsexecArgs,
}

/// Runs `args` (argv of the `lxc-usernsexec` link).
pub fn run_as_tool(args: Vec<OsString>) -> Result<ExitCode> {
    match Tool::try_parse_from(args) {
        Ok(t) => t.args.run(),
        Err(e) => Ok(crate::usage_exit(e)),
    }
}

impl UsernsexecArgs {
    pub fn run(self) -> Result<ExitCode> {
        let mut maps = if self.maps.is_empty() {
            container::default_maps(&SubIdPaths::default())
                .context("Failed to find subuid or subgid allocation")?
        } else {
            IdMaps::new(self.maps.into_iter().flatten().collect())
        };
        if self.map_self {
            maps = container::with_caller(&maps);
        }
        let command = if self.command.is_empty() {
            vec!["/bin/sh".to_string()]
        } else {
            self.command
        };
        let code = container::usernsexec(&maps, &command)?;
        Ok(ExitCode::from(u8::try_from(code).unwrap_or(1)))
    }
}
