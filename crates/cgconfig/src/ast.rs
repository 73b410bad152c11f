//! The tree a configuration parses into: groups, templates, mount and
//! namespace entries, perm sections, each item with its place; and the
//! merging of several files into one [`Config`].

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

use enclos_cgroupfs::{normalize_path, Error as CgError, Permissions};
use serde::Serialize;

use crate::error::{ConfigError, Location};

// The AST

/// A user or group given by number or by name (looked up when applied).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum IdSpec {
    Id(u32),
    Name(String),
}

impl fmt::Display for IdSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IdSpec::Id(n) => write!(f, "{n}"),
            IdSpec::Name(s) => f.write_str(s),
        }
    }
}

/// A `uid = ...` or `gid = ...` of a perm section, with its place.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Owner {
    pub id: IdSpec,
    pub at: Location,
}

/// `task { uid = ...; gid = ...; fperm = ...; }`: the owner and mode of
/// the files that place tasks (`tasks`, `cgroup.procs`, `cgroup.threads`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct TaskPerm {
    pub uid: Option<Owner>,
    pub gid: Option<Owner>,
    pub fperm: Option<u32>,
}

/// `admin { uid = ...; gid = ...; dperm = ...; fperm = ...; }`: the owner
/// of the directory and of the other files, their modes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct AdminPerm {
    pub uid: Option<Owner>,
    pub gid: Option<Owner>,
    pub dperm: Option<u32>,
    pub fperm: Option<u32>,
}

/// A `perm { ... }` section.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PermSection {
    pub task: Option<TaskPerm>,
    pub admin: Option<AdminPerm>,
    pub at: Location,
}

/// One `key = value;` of a controller block.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Setting {
    pub key: String,
    pub value: String,
    /// The place of the key.
    pub at: Location,
}

/// A `controller { key = value; ... }` block of a group or template.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ControllerBlock {
    pub name: String,
    pub settings: Vec<Setting>,
    pub at: Location,
}

/// A `group NAME { ... }` or `template NAME { ... }`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Group {
    /// As written: `helloworld2`, `a/b/c`, `.` for the root group; a
    /// template's may hold `%u`-style variables.
    pub name: String,
    pub perm: Option<PermSection>,
    pub controllers: Vec<ControllerBlock>,
    /// The place of the name.
    pub at: Location,
}

/// One `controller = path;` of a `mount` or `namespace` section.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MountEntry {
    pub controller: String,
    /// `mount`: an absolute mount point. `namespace`: a group path
    /// (normalized, `""` for the root) under which the groups go.
    pub path: String,
    pub at: Location,
}

/// A whole configuration: one file or several merged.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Config {
    pub groups: Vec<Group>,
    pub templates: Vec<Group>,
    pub mounts: Vec<MountEntry>,
    pub namespaces: Vec<MountEntry>,
    /// Permissions for the groups (of every merged file) that do not set
    /// them in a perm section of their own, field by field.
    pub default: Option<PermSection>,
    /// The files read, in order.
    pub sources: Vec<PathBuf>,
}

/// The values a template's name may refer to. A variable the name uses
/// but that is `None` here is an error.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TemplateVars {
    /// `%u`
    pub user: Option<String>,
    /// `%U`
    pub uid: Option<u32>,
    /// `%g`
    pub group: Option<String>,
    /// `%G`
    pub gid: Option<u32>,
    /// `%p`
    pub process: Option<String>,
    /// `%P`
    pub pid: Option<i32>,
}

impl Group {
    /// The group's path relative to the hierarchy roots (`""` for `.`).
    pub fn path(&self) -> enclos_cgroupfs::Result<String> {
        normalize_path(&self.name)
    }

    /// The block of `controller`, if the group has one.
    pub fn controller(&self, controller: &str) -> Option<&ControllerBlock> {
        self.controllers.iter().find(|b| b.name == controller)
    }

    /// Instantiates a template: `%u` → user name, `%U` → uid, `%g` →
    /// group name, `%G` → gid, `%p` → process name, `%P` → pid, `%%` → `%`
    /// in its name; any other `%x` is kept as written. Settings and
    /// permissions are copied as they are.
    pub fn instantiate(&self, vars: &TemplateVars) -> std::result::Result<Group, ConfigError> {
        let name = expand_template_name(&self.name, vars)
            .map_err(|m| ConfigError::new(&self.at, format!("Template '{}' {m}", self.name)))?;
        if let Err(CgError::InvalidPath { reason, .. }) = normalize_path(&name) {
            return Err(ConfigError::new(
                &self.at,
                format!(
                    "Template '{}' gives the invalid group name '{name}': {reason}",
                    self.name
                ),
            ));
        }
        Ok(Group {
            name,
            ..self.clone()
        })
    }
}

pub(crate) fn expand_template_name(
    name: &str,
    vars: &TemplateVars,
) -> std::result::Result<String, String> {
    fn need<T: ToString>(v: &Option<T>, var: &str, what: &str) -> Result<String, String> {
        v.as_ref()
            .map(ToString::to_string)
            .ok_or_else(|| format!("uses {var}, but no {what} was given"))
    }
    let mut out = String::with_capacity(name.len());
    let mut chars = name.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let value = match chars.peek() {
            Some('u') => need(&vars.user, "%u", "user name")?,
            Some('U') => need(&vars.uid, "%U", "uid")?,
            Some('g') => need(&vars.group, "%g", "group name")?,
            Some('G') => need(&vars.gid, "%G", "gid")?,
            Some('p') => need(&vars.process, "%p", "process name")?,
            Some('P') => need(&vars.pid, "%P", "pid")?,
            Some('%') => "%".to_string(),
            _ => {
                out.push('%');
                continue;
            }
        };
        chars.next();
        out.push_str(&value);
    }
    Ok(out)
}

impl PermSection {
    /// The permissions this section sets, with user and group names
    /// looked up in the system's databases.
    pub fn resolve(&self) -> std::result::Result<Permissions, ConfigError> {
        let mut p = Permissions::default();
        if let Some(t) = &self.task {
            p.task_uid = t.uid.as_ref().map(|o| resolve_uid(o, "task")).transpose()?;
            p.task_gid = t.gid.as_ref().map(|o| resolve_gid(o, "task")).transpose()?;
            p.task_mode = t.fperm;
        }
        if let Some(a) = &self.admin {
            p.admin_uid = a
                .uid
                .as_ref()
                .map(|o| resolve_uid(o, "admin"))
                .transpose()?;
            p.admin_gid = a
                .gid
                .as_ref()
                .map(|o| resolve_gid(o, "admin"))
                .transpose()?;
            p.dir_mode = a.dperm;
            p.file_mode = a.fperm;
        }
        Ok(p)
    }
}

fn resolve_uid(o: &Owner, section: &str) -> std::result::Result<u32, ConfigError> {
    resolve(o, section, "uid", enclos_cgroupfs::user_id)
}

fn resolve_gid(o: &Owner, section: &str) -> std::result::Result<u32, ConfigError> {
    resolve(o, section, "gid", enclos_cgroupfs::group_id)
}

/// A number as it is, a name looked up with `lookup`; the error names the
/// section and the place.
fn resolve(
    o: &Owner,
    section: &str,
    key: &str,
    lookup: fn(&str) -> enclos_cgroupfs::Result<u32>,
) -> std::result::Result<u32, ConfigError> {
    let name = match &o.id {
        IdSpec::Id(n) => return Ok(*n),
        IdSpec::Name(name) => name,
    };
    lookup(name).map_err(|e| match e {
        CgError::UnknownId { what, .. } => ConfigError::new(
            &o.at,
            format!("Unknown {what} '{name}' ({key} of the {section} permissions): no such {what} in the {what} database; create it or give a number"),
        ),
        e => ConfigError::with_source(
            &o.at,
            format!("Cannot resolve '{name}' ({key} of the {section} permissions)"),
            e,
        ),
    })
}

/// Field by field: what `top` sets, else what `below` sets.
pub(crate) fn overlay(top: &Permissions, below: &Permissions) -> Permissions {
    Permissions {
        task_uid: top.task_uid.or(below.task_uid),
        task_gid: top.task_gid.or(below.task_gid),
        admin_uid: top.admin_uid.or(below.admin_uid),
        admin_gid: top.admin_gid.or(below.admin_gid),
        dir_mode: top.dir_mode.or(below.dir_mode),
        file_mode: top.file_mode.or(below.file_mode),
        task_mode: top.task_mode.or(below.task_mode),
    }
}

// ---------------------------------------------------------------------------
// Merging

impl Config {
    /// The template called `name`.
    pub fn template(&self, name: &str) -> Option<&Group> {
        self.templates.iter().find(|t| t.name == name)
    }

    /// The group at `path` (`a/b`, `/a/b/` and `a/./b` are the same).
    pub fn group(&self, path: &str) -> Option<&Group> {
        let path = normalize_path(path).ok()?;
        self.groups
            .iter()
            .find(|g| g.path().ok().as_deref() == Some(path.as_str()))
    }

    pub fn is_empty(&self) -> bool {
        self.groups.is_empty()
            && self.templates.is_empty()
            && self.mounts.is_empty()
            && self.namespaces.is_empty()
            && self.default.is_none()
    }

    /// Adds the items of `other`. A group, template, mount or namespace
    /// entry defined in both (or a default section in both) is an error
    /// naming both places.
    pub fn merge(&mut self, other: Config) -> std::result::Result<(), ConfigError> {
        let mut names = Names::of(self);
        for g in other.groups {
            self.add_group(g, &mut names)?;
        }
        for t in other.templates {
            self.add_template(t, &mut names)?;
        }
        for m in other.mounts {
            add_entry(&mut self.mounts, m, "mount")?;
        }
        for n in other.namespaces {
            add_entry(&mut self.namespaces, n, "namespace")?;
        }
        if let Some(d) = other.default {
            self.set_default(d)?;
        }
        self.sources.extend(other.sources);
        Ok(())
    }

    /// Adds a group; `names` are this configuration's (see [`Names`]).
    pub(crate) fn add_group(
        &mut self,
        g: Group,
        names: &mut Names,
    ) -> std::result::Result<(), ConfigError> {
        let path = g.path().map_err(|e| {
            ConfigError::with_source(&g.at, format!("Invalid group name '{}'", g.name), e)
        })?;
        if let Some(first) = names.groups.get(&path).map(|&i| &self.groups[i]) {
            let also = if first.name != g.name {
                format!(" (as '{}')", first.name)
            } else {
                String::new()
            };
            return Err(ConfigError::new(
                &g.at,
                format!(
                    "Group '{}' is already defined at {}{also}",
                    g.name, first.at
                ),
            ));
        }
        names.groups.insert(path, self.groups.len());
        self.groups.push(g);
        Ok(())
    }

    pub(crate) fn add_template(
        &mut self,
        t: Group,
        names: &mut Names,
    ) -> std::result::Result<(), ConfigError> {
        if let Some(first) = names.templates.get(&t.name).map(|&i| &self.templates[i]) {
            return Err(ConfigError::new(
                &t.at,
                format!("Template '{}' is already defined at {}", t.name, first.at),
            ));
        }
        names.templates.insert(t.name.clone(), self.templates.len());
        self.templates.push(t);
        Ok(())
    }

    pub(crate) fn set_default(&mut self, d: PermSection) -> std::result::Result<(), ConfigError> {
        if let Some(first) = &self.default {
            return Err(ConfigError::new(
                &d.at,
                format!(
                    "Default permissions are already defined at {}; keep one default section",
                    first.at
                ),
            ));
        }
        self.default = Some(d);
        Ok(())
    }
}

pub(crate) fn add_entry(
    list: &mut Vec<MountEntry>,
    e: MountEntry,
    section: &str,
) -> std::result::Result<(), ConfigError> {
    if let Some(first) = list.iter().find(|f| f.controller == e.controller) {
        if Path::new(&first.path) == Path::new(&e.path) {
            return Ok(());
        }
        return Err(ConfigError::new(
            &e.at,
            format!(
                "Controller '{}' is already given {} '{}' at {}",
                e.controller, section, first.path, first.at
            ),
        ));
    }
    list.push(e);
    Ok(())
}

/// Where each group (by path) and template (by name) of a [`Config`] is,
/// so that adding one is not a search through all the others: a file of
/// many thousand groups reads in linear time.
#[derive(Debug, Default)]
pub(crate) struct Names {
    groups: HashMap<String, usize>,
    templates: HashMap<String, usize>,
}

impl Names {
    pub(crate) fn of(c: &Config) -> Names {
        let mut names = Names::default();
        for (i, g) in c.groups.iter().enumerate() {
            if let Ok(path) = g.path() {
                names.groups.entry(path).or_insert(i);
            }
        }
        for (i, t) in c.templates.iter().enumerate() {
            names.templates.entry(t.name.clone()).or_insert(i);
        }
        names
    }
}
