//! cgxget and cgxset: cgget and cgset in the terms of either cgroup
//! version, whatever version serves the controller.

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use clap::{Args, Parser};
use enclos_cgconfig::{get_as, host_version, set_as, set_as_recursive, values_as, ConvertError};
use enclos_cgroupfs::{Layout, Version};

use super::get::{group_label, GroupValues, KeyValue, Selection, Target};
use crate::output::Format;

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
    /// The version asked for; without -1 or -2, the host's for the
    /// hierarchy of `controller`.
    fn for_controller(&self, layout: &Layout, controller: &str) -> Result<Version> {
        Ok(match (self.v1, self.v2) {
            (true, _) => Version::V1,
            (_, true) => Version::V2,
            _ => layout.resolve(controller)?.version,
        })
    }

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
    #[command(flatten)]
    select: Selection,
}

impl XgetArgs {
    pub fn run(self) -> Result<ExitCode> {
        let layout = super::layout()?;
        let Some(groups) = self.select.read(&layout, |t| self.read(&layout, t))? else {
            bail!("No group given: name one, e.g. `cgxget -2 -r cpu.weight helloworld`");
        };
        self.select.print(&groups, Format::Text)?;
        Ok(ExitCode::SUCCESS)
    }

    /// The values of one group in the version asked for: the -r keys, then
    /// every parameter of each controller that the other version maps.
    fn read(&self, layout: &Arc<Layout>, t: &Target) -> Result<GroupValues> {
        let path = &t.path;
        let mut values = Vec::new();
        for key in &self.select.keys {
            let want = self.version.version(layout, key)?;
            match get_as(layout, path, key, want) {
                Ok(value) => values.push(KeyValue {
                    key: key.clone(),
                    value,
                }),
                Err(ConvertError::Unmappable { .. }) if self.ignore_unmappable => {}
                Err(e) => {
                    return Err(e).with_context(|| format!("Cannot read {key} of cgroup {path}"))
                }
            }
        }
        for c in &t.controllers {
            let want = self.version.for_controller(layout, c)?;
            let listed = values_as(layout, path, c, want)
                .with_context(|| format!("Cannot list the {c} parameters of cgroup {path}"))?;
            values.extend(
                listed
                    .into_iter()
                    .map(|(key, value)| KeyValue { key, value }),
            );
        }
        Ok(GroupValues {
            path: group_label(path)?,
            values,
        })
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
        let pairs = super::parse_settings(&self.settings)?;
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
