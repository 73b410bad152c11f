//! cgxget and cgxset: cgget and cgset in the terms of either cgroup
//! version, whatever version serves the controller.

use std::io::Write;
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use clap::{Args, Parser};
use enclos_cgconfig::{get_as, host_version, set_as, set_as_recursive, values_as, ConvertError};
use enclos_cgroupfs::{normalize_path, split_spec, Layout, Version};

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
    /// Parameter to print; repeatable.
    #[arg(short = 'r', long = "variable", value_name = "NAME")]
    keys: Vec<String>,
    /// A controller whose parameters to print all, or a group as
    /// controllers:path; repeatable.
    #[arg(short = 'g', value_name = "CONTROLLER")]
    controllers: Vec<String>,
    /// Print every parameter of every controller (the default without -r
    /// and -g).
    #[arg(short = 'a', long = "all")]
    all: bool,
    /// Do not print the group names.
    #[arg(short = 'n')]
    no_names: bool,
    /// Print the values only.
    #[arg(short = 'v', long = "values-only")]
    values_only: bool,
    /// Groups to read.
    #[arg(value_name = "PATH")]
    paths: Vec<String>,
}

impl XgetArgs {
    pub fn run(self) -> Result<ExitCode> {
        let layout = super::layout()?;
        let mut out = String::new();
        for (path, ctrls) in self.targets(&layout)? {
            if !self.no_names {
                // As cgget names groups: the path without its leading slash.
                let p = normalize_path(&path)?;
                out.push_str(&format!("{}:\n", if p.is_empty() { "/" } else { &p }));
            }
            let mut values = Vec::new();
            for key in &self.keys {
                let want = self.version.version(&layout, key)?;
                match get_as(&layout, &path, key, want) {
                    Ok(v) => values.push((key.clone(), v)),
                    Err(ConvertError::Unmappable { .. }) if self.ignore_unmappable => {}
                    Err(e) => {
                        return Err(e)
                            .with_context(|| format!("Cannot read {key} of cgroup {path}"))
                    }
                }
            }
            for c in &ctrls {
                let want = self.version.for_controller(&layout, c)?;
                values.extend(
                    values_as(&layout, &path, c, want).with_context(|| {
                        format!("Cannot list the {c} parameters of cgroup {path}")
                    })?,
                );
            }
            for (key, value) in values {
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

    /// The groups to read, each with the controllers to list all
    /// parameters of (every controller the group is in, with -a or
    /// without -r and -g).
    fn targets(&self, layout: &Layout) -> Result<Vec<(String, Vec<String>)>> {
        let mut targets = Vec::new();
        let mut plain = Vec::new();
        for g in &self.controllers {
            match split_spec(g) {
                Some((c, p)) => {
                    targets.push((p.to_string(), c.iter().map(|c| c.to_string()).collect()))
                }
                None => plain.extend(g.split(',').map(str::to_string)),
            }
        }
        let every = self.all || (self.keys.is_empty() && self.controllers.is_empty());
        for p in &self.paths {
            let mut ctrls = plain.clone();
            if every {
                let rel = normalize_path(p)?;
                for h in layout.hierarchies.iter().filter(|h| h.dir(&rel).is_dir()) {
                    ctrls.extend(
                        h.controllers
                            .iter()
                            .filter(|c| !c.starts_with("name="))
                            .cloned(),
                    );
                }
            }
            targets.push((p.clone(), ctrls));
        }
        if targets.is_empty() {
            bail!("No group given: name one, e.g. `cgxget -2 -r cpu.weight helloworld`");
        }
        Ok(targets)
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
