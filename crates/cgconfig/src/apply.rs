//! Applying a [`Config`] as `cgconfigparser` does: every check first,
//! then the groups and their settings, and the groups it made removed
//! again if a step fails.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use enclos_cgroupfs::{
    key_controller, v2_name, Cgroup, DeleteOptions, Hierarchy, Layout, Member, Permissions,
    Populated, Version,
};
use serde::Serialize;

use crate::ast::{overlay, Config, ControllerBlock, Group, Setting};
use crate::error::{ConfigError, Location, Result};
use crate::translate::{translate_for_v2, TranslateError, V2Setting};
use crate::translate_v1::translate_for_v1;

/// One direction of the translation table.
type Translate = fn(&[(&str, &str)]) -> std::result::Result<Vec<V2Setting>, TranslateError>;

/// Options of [`Config::apply`].
#[derive(Debug, Clone, Default)]
pub struct ApplyOptions {
    /// Permissions for what neither a group's perm section nor the
    /// configuration's default section sets, field by field: what
    /// `cgconfigparser -t/-a/-d/-f/-s` give (libcgroup's precedence: the
    /// group's perm section, then the file's default section, then these).
    pub default_perms: Permissions,
}

/// What [`Config::apply`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ApplyReport {
    pub groups: Vec<GroupReport>,
}

/// One group of an [`ApplyReport`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GroupReport {
    /// As written in the configuration.
    pub name: String,
    pub controllers: Vec<ControllerReport>,
    /// Every write, in the order made.
    pub settings: Vec<SettingReport>,
}

/// One controller block of a [`GroupReport`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ControllerReport {
    /// As written in the configuration (`cpuacct`, `blkio`).
    pub controller: String,
    pub version: Version,
    /// `controllers:/path`, as libcgroup names the group.
    pub cgroup: String,
    pub dir: PathBuf,
    /// Whether this apply made the directory (false: it existed).
    pub created: bool,
}

/// One write of a [`GroupReport`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SettingReport {
    pub controller: String,
    /// The file written (after translation to cgroup v2).
    pub key: String,
    /// The value written.
    pub asked: String,
    /// What the kernel kept, read back (`memory.limit_in_bytes = 40000` is
    /// kept as `36864` with 4 KiB pages).
    pub kept: String,
    /// How a setting of the other cgroup version was translated.
    pub notice: Option<String>,
    /// The setting in the configuration.
    pub at: Location,
}

impl fmt::Display for ApplyReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for g in &self.groups {
            writeln!(f, "group {}", g.name)?;
            for c in &g.controllers {
                let what = if c.created { "created" } else { "existed" };
                writeln!(f, "  {} ({what})", c.cgroup)?;
            }
            for s in &g.settings {
                write!(f, "  {} = {}", s.key, s.asked)?;
                if enclos_cgroupfs::kernel_kept_other(&s.asked, &s.kept) {
                    write!(f, " (kept {})", s.kept)?;
                }
                writeln!(f)?;
                if let Some(n) = &s.notice {
                    writeln!(f, "    note: {n}")?;
                }
            }
        }
        Ok(())
    }
}

struct PlannedWrite<'c> {
    setting: &'c Setting,
    key: String,
    value: String,
    notice: Option<String>,
}

struct PlannedBlock<'c> {
    block: &'c ControllerBlock,
    cg: Cgroup,
    writes: Vec<PlannedWrite<'c>>,
}

struct PlannedGroup<'c> {
    group: &'c Group,
    perms: Permissions,
    blocks: Vec<PlannedBlock<'c>>,
}

impl Config {
    /// Creates every group (not the templates) and writes its settings, as
    /// `cgconfigparser` does. Everything that can be checked is checked
    /// first (mount points, namespaces, controllers, users, keys and their
    /// cgroup v2 translations); if a step then fails, the groups this call
    /// created are deleted again. Values already written to groups that
    /// existed before cannot be restored.
    pub fn apply(&self, layout: Arc<Layout>, opts: &ApplyOptions) -> Result<ApplyReport> {
        let plan = self.plan(&layout, opts)?;
        let mut undo: Vec<Cgroup> = Vec::new();
        match execute(&layout, &plan, &mut undo) {
            Ok(report) => Ok(report),
            Err(e) => {
                rollback(undo);
                Err(e)
            }
        }
    }

    /// Runs every check of [`Config::apply`] without changing anything.
    pub fn check(&self, layout: Arc<Layout>, opts: &ApplyOptions) -> Result<()> {
        self.plan(&layout, opts).map(|_| ())
    }

    /// The permissions a group gets: its perm section, then the default
    /// section, then `opts`, field by field.
    pub(crate) fn permissions_for(
        &self,
        g: &Group,
        opts: &ApplyOptions,
    ) -> std::result::Result<Permissions, ConfigError> {
        let defaults = match &self.default {
            Some(d) => overlay(&d.resolve()?, &opts.default_perms),
            None => opts.default_perms.clone(),
        };
        Ok(match &g.perm {
            Some(p) => overlay(&p.resolve()?, &defaults),
            None => defaults,
        })
    }

    fn check_mounts(&self, layout: &Layout) -> std::result::Result<(), ConfigError> {
        for m in &self.mounts {
            let c = m.controller.as_str();
            let at = Path::new(&m.path);
            let serves = |h: &Hierarchy| match h.version {
                Version::V1 => h.has(c),
                Version::V2 => c == "unified" || c == "freezer" || h.has(v2_name(c)),
            };
            let opts = if c.starts_with("name=") {
                format!("none,{c}")
            } else {
                c.to_string()
            };
            let how = format!("mount -t cgroup -o {opts} none {}", m.path);
            if let Some(h) = layout.hierarchies.iter().find(|h| h.mount_point == at) {
                if serves(h) {
                    continue;
                }
                return Err(ConfigError::new(
                    &m.at,
                    format!(
                        "The mount section asks for controller '{c}' at {}, but the hierarchy mounted there serves {}; enclos does not mount hierarchies itself: fix the mount section, or mount '{c}' elsewhere and name that place",
                        m.path,
                        h.label()
                    ),
                ));
            }
            let message = match layout.resolve(c) {
                Ok(h) => format!(
                    "The mount section asks for controller '{c}' at {}, but it is mounted at {}; enclos does not mount hierarchies itself: write {} in the mount section, or mount it there first, e.g. `{how}`",
                    m.path,
                    h.mount_point.display(),
                    h.mount_point.display()
                ),
                Err(_) => format!(
                    "The mount section asks for controller '{c}' at {}, but this host does not mount it anywhere; enclos does not mount hierarchies itself: mount it first, e.g. `mkdir -p {} && {how}`",
                    m.path, m.path
                ),
            };
            return Err(ConfigError::new(&m.at, message));
        }
        Ok(())
    }

    fn plan<'c>(
        &'c self,
        layout: &Arc<Layout>,
        opts: &ApplyOptions,
    ) -> Result<Vec<PlannedGroup<'c>>> {
        self.check_mounts(layout)?;
        for n in &self.namespaces {
            layout.resolve(&n.controller).map_err(|e| {
                ConfigError::with_source(
                    &n.at,
                    format!("Cannot use the namespace of controller '{}'", n.controller),
                    e,
                )
            })?;
        }
        let mut plan = Vec::with_capacity(self.groups.len());
        for g in &self.groups {
            let path = g.path().map_err(|e| {
                ConfigError::with_source(&g.at, format!("Invalid group name '{}'", g.name), e)
            })?;
            let perms = self.permissions_for(g, opts)?;
            let blocks = g
                .controllers
                .iter()
                .map(|b| self.plan_block(layout, g, &path, b))
                .collect::<std::result::Result<Vec<_>, ConfigError>>()?;
            plan.push(PlannedGroup {
                group: g,
                perms,
                blocks,
            });
        }
        Ok(plan)
    }

    /// The group's path in the hierarchy of `controller`, under its
    /// namespace if the configuration gives one.
    pub(crate) fn full_path(&self, controller: &str, path: &str) -> String {
        match self.namespaces.iter().find(|n| n.controller == controller) {
            Some(n) if !n.path.is_empty() && !path.is_empty() => format!("{}/{path}", n.path),
            Some(n) if path.is_empty() => n.path.clone(),
            _ => path.to_string(),
        }
    }

    fn plan_block<'c>(
        &self,
        layout: &Arc<Layout>,
        g: &Group,
        path: &str,
        b: &'c ControllerBlock,
    ) -> std::result::Result<PlannedBlock<'c>, ConfigError> {
        let full = self.full_path(&b.name, path);
        let cg = Cgroup::new(layout.clone(), &[b.name.as_str()], &full).map_err(|e| {
            ConfigError::with_source(
                &b.at,
                format!(
                    "Cannot place group '{}' in the hierarchy of controller '{}'",
                    g.name, b.name
                ),
                e,
            )
        })?;
        let member = cg.members().first().cloned().ok_or_else(|| {
            ConfigError::new(
                &b.at,
                format!("No hierarchy serves controller '{}'", b.name),
            )
        })?;
        let ordered = write_order(&b.settings);
        for s in &ordered {
            check_key(&member, &b.name, &s.key).map_err(|m| ConfigError::new(&s.at, m))?;
        }
        // Settings of the other version are translated (auto-convert).
        let writes = match member.hierarchy.version {
            Version::V1 => translated_writes(b, &ordered, translate_for_v1)?,
            Version::V2 => translated_writes(b, &ordered, translate_for_v2)?,
        };
        Ok(PlannedBlock {
            block: b,
            cg,
            writes,
        })
    }
}

/// The writes of a block in `ordered`'s order, translated by `translate`
/// for the version of its hierarchy.
fn translated_writes<'c>(
    b: &'c ControllerBlock,
    ordered: &[&'c Setting],
    translate: Translate,
) -> std::result::Result<Vec<PlannedWrite<'c>>, ConfigError> {
    let pairs: Vec<(&str, &str)> = ordered
        .iter()
        .map(|s| (s.key.as_str(), s.value.as_str()))
        .collect();
    let find = |k: &str| ordered.iter().copied().find(|s| s.key == k);
    let translated = translate(&pairs).map_err(|e| {
        let at = find(&e.key).map_or(&b.at, |s| &s.at);
        ConfigError::new(at, e.message)
    })?;
    let mut writes = Vec::with_capacity(translated.len());
    for t in translated {
        // Every translation comes from at least one key of the block.
        let Some(setting) = t.from.first().and_then(|k| find(k)) else {
            continue;
        };
        writes.push(PlannedWrite {
            setting,
            key: t.key,
            value: t.value,
            notice: t.notice,
        });
    }
    Ok(writes)
}

/// Refuses a key of another controller's hierarchy in a block
/// (`cpu { memory.limit_in_bytes = 1; }`).
fn check_key(member: &Member, block: &str, key: &str) -> std::result::Result<(), String> {
    let c = match key_controller(key) {
        Ok(Some(c)) => c,
        Ok(None) => return Ok(()),
        Err(_) => return Err(format!("Invalid key '{key}'")),
    };
    let fits = match member.hierarchy.version {
        Version::V1 => c == block || member.hierarchy.has(c),
        Version::V2 => v2_name(c) == v2_name(block),
    };
    if fits {
        Ok(())
    } else {
        Err(format!(
            "Key {key} belongs to controller '{c}', not to the {block} block it is written in; move it into a `{c} {{ }}` block"
        ))
    }
}

/// The shallowest directory of `cg`'s path that does not exist yet (what a
/// create would make first), relative to the hierarchy root.
fn topmost_missing(cg: &Cgroup) -> Option<String> {
    let m = cg.members().first()?;
    let mut prefix = String::new();
    for part in cg.path().split('/').filter(|p| !p.is_empty()) {
        if !prefix.is_empty() {
            prefix.push('/');
        }
        prefix.push_str(part);
        if !m.hierarchy.dir(&prefix).is_dir() {
            return Some(prefix);
        }
    }
    None
}

fn execute(
    layout: &Arc<Layout>,
    plan: &[PlannedGroup<'_>],
    undo: &mut Vec<Cgroup>,
) -> Result<ApplyReport> {
    let mut report = ApplyReport::default();
    for pg in plan {
        let mut gr = GroupReport {
            name: pg.group.name.clone(),
            controllers: Vec::new(),
            settings: Vec::new(),
        };
        for pb in &pg.blocks {
            let top = topmost_missing(&pb.cg);
            pb.cg.create(&pg.perms).map_err(|e| {
                ConfigError::with_source(
                    &pb.block.at,
                    format!("Cannot create group '{}' ({})", pg.group.name, pb.cg.name()),
                    e,
                )
            })?;
            if let Some(top) = &top {
                undo.push(Cgroup::new(layout.clone(), &[pb.block.name.as_str()], top)?);
                tracing::info!(group = %pb.cg.name(), "created");
            }
            let member = pb.cg.members().first();
            gr.controllers.push(ControllerReport {
                controller: pb.block.name.clone(),
                version: member.map(|m| m.hierarchy.version).unwrap_or(Version::V1),
                cgroup: pb.cg.name(),
                dir: member.map(|m| m.dir.clone()).unwrap_or_default(),
                created: top.is_some(),
            });
            for w in &pb.writes {
                let kept = pb.cg.set_and_read(&w.key, &w.value).map_err(|e| {
                    let from = if w.key != w.setting.key {
                        let v = member.map_or("v2", |m| match m.hierarchy.version {
                            Version::V1 => "v1",
                            Version::V2 => "v2",
                        });
                        format!(
                            " (for {} = {} on cgroup {v})",
                            w.setting.key, w.setting.value
                        )
                    } else {
                        String::new()
                    };
                    ConfigError::with_source(
                        &w.setting.at,
                        format!(
                            "Cannot set {} = {} in group '{}'{from}",
                            w.key, w.value, pg.group.name
                        ),
                        e,
                    )
                })?;
                tracing::info!(group = %pb.cg.name(), key = %w.key, asked = %w.value, kept = %kept, "set");
                gr.settings.push(SettingReport {
                    controller: pb.block.name.clone(),
                    key: w.key.clone(),
                    asked: w.value.clone(),
                    kept,
                    notice: w.notice.clone(),
                    at: w.setting.at.clone(),
                });
            }
        }
        report.groups.push(gr);
    }
    Ok(report)
}

fn rollback(undo: Vec<Cgroup>) {
    for cg in undo.into_iter().rev() {
        let opts = DeleteOptions {
            recursive: true,
            populated: Populated::Refuse,
            ignore_missing: true,
        };
        match cg.delete(opts) {
            Ok(()) => tracing::info!(group = %cg.name(), "removed after a failed apply"),
            Err(e) => tracing::warn!(
                group = %cg.name(),
                error = %e,
                "cannot remove a group created before the failure"
            ),
        }
    }
}

/// The order libcgroup writes a block's keys in: file order, except that
/// `cpuset.cpus` and `cpuset.mems` come first (a cpuset group takes no
/// other setting before it has CPUs and memory nodes) and
/// `memory.limit_in_bytes` comes before `memory.memsw.limit_in_bytes`
/// (which may never be below it).
pub(crate) fn write_order(settings: &[Setting]) -> Vec<&Setting> {
    let mut out: Vec<&Setting> = Vec::with_capacity(settings.len());
    for first in ["cpuset.cpus", "cpuset.mems"] {
        out.extend(settings.iter().filter(|s| s.key == first));
    }
    out.extend(
        settings
            .iter()
            .filter(|s| s.key != "cpuset.cpus" && s.key != "cpuset.mems"),
    );
    let pos = |k: &str, v: &[&Setting]| v.iter().position(|s| s.key == k);
    if let (Some(sw), Some(mem)) = (
        pos("memory.memsw.limit_in_bytes", &out),
        pos("memory.limit_in_bytes", &out),
    ) {
        if mem > sw {
            let m = out.remove(mem);
            out.insert(sw, m);
        }
    }
    out
}

// ---------------------------------------------------------------------------
