//! cgget, and what cgxget shares with it: the arguments that name the
//! groups and parameters to read, and the way values are printed.

use std::io::Write;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use clap::{Args, Parser};
use enclos_cgroupfs::{normalize_path, split_spec, Cgroup, Layout};
use serde::Serialize;

use super::{layout, wrong_input};
use crate::output::{print_json, Format};

/// One group read: where it is named `g1:`, and its values in order.
#[derive(Debug, Serialize)]
pub(super) struct GroupValues {
    pub path: String,
    pub values: Vec<KeyValue>,
}

#[derive(Debug, Serialize)]
pub(super) struct KeyValue {
    pub key: String,
    pub value: String,
}

/// A group to read and the controllers to list every parameter of.
pub(super) struct Target {
    pub path: String,
    pub controllers: Vec<String>,
}

/// The groups cgget and cgxget read: `-g CONTROLLER:PATH` specs, and the
/// `paths` with the plain `-g CONTROLLER` ones. With `every` (-a), or
/// when nothing is asked for a group (no -r, no controller), every
/// controller the group exists in; a group that exists in none is an
/// error. Empty when no group is named.
fn targets(
    layout: &Arc<Layout>,
    specs: &[String],
    paths: &[String],
    every: bool,
    no_keys: bool,
) -> Result<Vec<Target>> {
    let mut targets = Vec::new();
    let mut plain = Vec::new();
    for g in specs {
        match split_spec(g) {
            Some((c, p)) => targets.push(Target {
                path: p.to_string(),
                controllers: c
                    .into_iter()
                    .filter(|c| !c.is_empty())
                    .map(str::to_string)
                    .collect(),
            }),
            None => plain.extend(g.split(',').map(str::to_string)),
        }
    }
    for p in paths {
        targets.push(Target {
            path: p.clone(),
            controllers: plain.clone(),
        });
    }
    for t in &mut targets {
        if every || (no_keys && t.controllers.is_empty()) {
            let cg = Cgroup::new(layout.clone(), &["*"], &t.path)?.existing()?;
            let named = cg.members().iter().flat_map(|m| m.controllers.iter());
            for c in named.filter(|c| !c.starts_with("name=")) {
                if !t.controllers.contains(c) {
                    t.controllers.push(c.clone());
                }
            }
        }
    }
    Ok(targets)
}

/// A group's name as cgget prints it: the path without its leading slash,
/// `/` for the root.
pub(super) fn group_label(path: &str) -> Result<String> {
    let p = normalize_path(path)?;
    Ok(if p.is_empty() { "/".into() } else { p })
}

/// Prints groups as cgget does: a `g1:` header unless `no_names` (even
/// with `values_only`), `key: value` or the value alone, continuation
/// lines indented with a tab, a blank line after each group.
fn print_values(out: &[GroupValues], no_names: bool, values_only: bool) -> Result<()> {
    let mut stdout = std::io::stdout().lock();
    for g in out {
        if !no_names {
            writeln!(stdout, "{}:", g.path)?;
        }
        for kv in &g.values {
            let value = kv.value.replace('\n', "\n\t");
            if values_only {
                writeln!(stdout, "{value}")?;
            } else {
                writeln!(stdout, "{}: {value}", kv.key)?;
            }
        }
        if !no_names {
            writeln!(stdout)?;
        }
    }
    Ok(())
}

/// What cgget and cgxget read and how they print it: their arguments but
/// the version ones.
#[derive(Debug, Args)]
pub(super) struct Selection {
    /// Parameter to print (memory.limit_in_bytes); repeatable.
    #[arg(short = 'r', long = "variable", value_name = "NAME")]
    pub keys: Vec<String>,
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
    /// Print the values without the parameters' names.
    #[arg(short = 'v', long = "values-only")]
    values_only: bool,
    /// Groups to read.
    #[arg(value_name = "PATH")]
    paths: Vec<String>,
}

impl Selection {
    /// The groups named, each read by `read`; `None` when no group is
    /// named.
    pub fn read(
        &self,
        layout: &Arc<Layout>,
        read: impl FnMut(&Target) -> Result<GroupValues>,
    ) -> Result<Option<Vec<GroupValues>>> {
        let targets = targets(
            layout,
            &self.controllers,
            &self.paths,
            self.all,
            self.keys.is_empty(),
        )?;
        if targets.is_empty() {
            return Ok(None);
        }
        targets.iter().map(read).collect::<Result<_>>().map(Some)
    }

    /// Prints `groups` as cgget does, or as JSON.
    pub fn print(&self, groups: &[GroupValues], format: Format) -> Result<()> {
        if format == Format::Json {
            print_json(&groups)
        } else {
            print_values(groups, self.no_names, self.values_only)
        }
    }
}

/// cgget: print parameters of control groups.
#[derive(Debug, Parser)]
#[command(name = "cgget", about = "Print parameters of control groups")]
pub struct GetArgs {
    #[command(flatten)]
    select: Selection,
    #[arg(long, value_enum, default_value_t)]
    format: Format,
    /// Run under libcgroup's name (cgget): its messages.
    #[arg(skip)]
    libcgroup: bool,
}

impl GetArgs {
    /// As run under libcgroup's name (cgget): its messages.
    pub(crate) fn under_libcgroup_name(self) -> GetArgs {
        GetArgs {
            libcgroup: true,
            ..self
        }
    }

    pub fn run(self) -> Result<ExitCode> {
        let layout = layout()?;
        let Some(groups) = self.select.read(&layout, |t| self.read(&layout, t))? else {
            wrong_input(self.libcgroup, "cgget");
            bail!("No group given: name one, e.g. `cgget -r memory.limit_in_bytes helloworld`");
        };
        self.select.print(&groups, self.format)?;
        Ok(ExitCode::SUCCESS)
    }

    /// The values of one group: the -r keys, then every parameter of each
    /// controller, each key once.
    fn read(&self, layout: &Arc<Layout>, t: &Target) -> Result<GroupValues> {
        let path = &t.path;
        let mut values = Vec::new();
        for key in &self.select.keys {
            let cg = Cgroup::for_key(layout.clone(), key, path)?;
            let value = cg
                .get(key)
                .with_context(|| format!("Cannot read {key} of cgroup {path}"))?;
            values.push(KeyValue {
                key: key.clone(),
                value,
            });
        }
        for c in &t.controllers {
            let cg = Cgroup::new(layout.clone(), &[c.as_str()], path)?;
            let listed = cg
                .values(Some(c))
                .with_context(|| format!("Cannot list the {c} parameters of cgroup {path}"))?;
            for (key, value) in listed {
                if !values.iter().any(|kv| kv.key == key) {
                    values.push(KeyValue { key, value });
                }
            }
        }
        Ok(GroupValues {
            path: group_label(path)?,
            values,
        })
    }
}
