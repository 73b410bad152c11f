//! cgxget and cgxset: cgget and cgset in the terms of either cgroup
//! version, whatever version serves the controller.

use std::io::Write;
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use clap::{Args, Parser};
use enclos_cgconfig::{get_as, host_version, set_as, set_as_recursive, ConvertError};
use enclos_cgroupfs::{normalize_path, Layout, Version};

/// The version the names and values are given in.
#[derive(Debug, Args, Clone, Copy)]
#[group(multiple = false)]
pub struct VersionArgs {
    /// Names and values are cgroup v1's (cpu.shares, memory.limit_in_bytes).
    #[arg(short = '1', long = "v1")]
    v1: bool,
    /// Names and values are cgroup v2's (cpu.weight, memory.max).
    #[arg(short = '2', long = "v2")]
    v2: bool,
}

impl VersionArgs {
    /// The version asked for; without -1 or -2, the host's for `key`.
    fn version(&self, layout: &Layout, key: &str) -> Result<Version> {
        Ok(match (self.v1, self.v2) {
            (true, _) => Version::V1,
            (_, true) => Version::V2,
            _ => host_version(layout, key)?,
        })
    }
}

/// cgxget: print settings in v1 or v2 terms.
#[derive(Debug, Parser)]
#[command(
    name = "cgxget",
    about = "Print parameters of control groups in cgroup v1 or v2 terms"
)]
pub struct XgetArgs {
    #[command(flatten)]
    version: VersionArgs,
    /// Print nothing for a setting the other version has no counterpart of.
    #[arg(short = 'i', long = "ignore-unmappable")]
    ignore_unmappable: bool,
    /// Parameter to print; repeatable.
    #[arg(short = 'r', long = "variable", value_name = "NAME", required = true)]
    keys: Vec<String>,
    /// Do not print the group names.
    #[arg(short = 'n')]
    no_names: bool,
    /// Print the values only.
    #[arg(short = 'v', long = "values-only")]
    values_only: bool,
    /// Groups to read.
    #[arg(value_name = "PATH", required = true)]
    paths: Vec<String>,
}

impl XgetArgs {
    pub fn run(self) -> Result<ExitCode> {
        let layout = super::layout()?;
        let mut out = String::new();
        for path in &self.paths {
            if !self.no_names {
                // As cgget names groups: the path without its leading slash.
                let p = normalize_path(path)?;
                out.push_str(&format!("{}:\n", if p.is_empty() { "/" } else { &p }));
            }
            for key in &self.keys {
                let want = self.version.version(&layout, key)?;
                let value = match get_as(&layout, path, key, want) {
                    Ok(v) => v,
                    Err(ConvertError::Unmappable { .. }) if self.ignore_unmappable => continue,
                    Err(e) => {
                        return Err(e)
                            .with_context(|| format!("Cannot read {key} of cgroup {path}"))
                    }
                };
                let value = value.replace('\n', "\n\t");
                if self.values_only {
                    out.push_str(&format!("{value}\n"));
                } else {
                    out.push_str(&format!("{key}: {value}\n"));
                }
            }
            if !self.no_names {
                out.push('\n');
            }
        }
        std::io::stdout().write_all(out.as_bytes())?;
        Ok(ExitCode::SUCCESS)
    }
}

/// cgxset: change settings given in v1 or v2 terms.
#[derive(Debug, Parser)]
#[command(
    name = "cgxset",
    about = "Change parameters of control groups, given in cgroup v1 or v2 terms"
)]
pub struct XsetArgs {
    #[command(flatten)]
    version: VersionArgs,
    /// Pass over a setting the other version has no counterpart of.
    #[arg(short = 'i', long = "ignore-unmappable")]
    ignore_unmappable: bool,
    /// Parameter and value, as name=value; repeatable.
    #[arg(
        short = 'r',
        long = "variable",
        value_name = "NAME=VALUE",
        required = true
    )]
    settings: Vec<String>,
    /// Set the groups' descendants too.
    #[arg(short = 'R', long = "recursive")]
    recursive: bool,
    /// Groups to change.
    #[arg(value_name = "PATH", required = true)]
    paths: Vec<String>,
}

impl XsetArgs {
    pub fn run(self) -> Result<ExitCode> {
        let layout = super::layout()?;
        let mut pairs = Vec::new();
        for s in &self.settings {
            let Some((k, v)) = s.split_once('=') else {
                bail!("Invalid setting '{s}': expected name=value, e.g. cpu.weight=200");
            };
            pairs.push((k.trim(), v));
        }
        for path in &self.paths {
            for (key, value) in &pairs {
                let given = self.version.version(&layout, key)?;
                let r = if self.recursive {
                    set_as_recursive(&layout, path, key, value, given).map(|_| ())
                } else {
                    set_as(&layout, path, key, value, given).map(|_| ())
                };
                match r {
                    Ok(()) => {}
                    Err(ConvertError::Unmappable { .. }) if self.ignore_unmappable => {}
                    Err(e) => {
                        return Err(e).with_context(|| format!("Cannot set {key} of cgroup {path}"))
                    }
                }
            }
        }
        Ok(ExitCode::SUCCESS)
    }
}
