//! Which rule a process falls under, and where it goes.

use crate::ast::{expand_template_name, TemplateVars};
use crate::error::{ConfigError, Location};

use super::parse::{Rule, Rules, UserSel};
use super::process::ProcessInfo;

/// The ids a process runs with: effective uid and gid, and its
/// supplementary groups.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ids {
    pub uid: u32,
    pub gid: u32,
    pub groups: Vec<u32>,
}

/// Where a rule sends a process: a group path (templates expanded) in
/// some controllers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Destination {
    pub controllers: Vec<String>,
    pub path: String,
    /// The rule's line.
    pub at: Location,
}

impl Rule {
    fn matches_user(&self, ids: &Ids) -> bool {
        match self.user {
            UserSel::Any | UserSel::Continuation => true,
            UserSel::Uid(uid) => ids.uid == uid,
            UserSel::Gid(gid) => ids.gid == gid || ids.groups.contains(&gid),
            UserSel::Unknown { .. } => false,
        }
    }

    fn matches_process(&self, p: &ProcessInfo) -> bool {
        let Some(want) = &self.process else {
            return true;
        };
        if want.contains('/') {
            return p
                .exe
                .as_deref()
                .is_some_and(|e| e == std::path::Path::new(want));
        }
        let base = p
            .exe
            .as_deref()
            .and_then(|e| e.file_name())
            .and_then(|n| n.to_str());
        base == Some(want.as_str())
            || p.name == *want
            // The kernel keeps the first 15 bytes of a command's name.
            || (p.name.len() == 15 && want.starts_with(&p.name))
    }

    /// Whether this rule, alone, matches `p`.
    pub fn matches(&self, p: &ProcessInfo) -> bool {
        self.matches_user(&p.ids) && self.matches_process(p)
    }
}

impl Rules {
    /// The rules `p` falls under: the first matching rule and the `%`
    /// lines that follow it (those naming a process only when it matches).
    pub fn matching(&self, p: &ProcessInfo) -> Vec<&Rule> {
        let first = self
            .rules
            .iter()
            .position(|r| r.user != UserSel::Continuation && r.matches(p));
        let Some(first) = first else {
            return Vec::new();
        };
        let mut out = vec![&self.rules[first]];
        out.extend(
            self.rules[first + 1..]
                .iter()
                .take_while(|r| r.user == UserSel::Continuation)
                .filter(|r| r.matches_process(p)),
        );
        out
    }

    /// Where `p` goes: the destinations of [`Rules::matching`], templates
    /// expanded with `p`'s names and ids.
    pub fn classify(&self, p: &ProcessInfo) -> Result<Vec<Destination>, ConfigError> {
        let matched = self.matching(p);
        if matched.is_empty() {
            return Ok(Vec::new());
        }
        let vars = self.vars(p, matched.iter().any(|r| r.destination.contains('%')));
        matched
            .into_iter()
            .map(|r| {
                let path = expand_template_name(&r.destination, &vars).map_err(|m| {
                    ConfigError::new(&r.at, format!("Destination '{}' {m}", r.destination))
                })?;
                Ok(Destination {
                    controllers: r.controllers.clone(),
                    path,
                    at: r.at.clone(),
                })
            })
            .collect()
    }

    /// The template values of `p`; names are looked up only when a
    /// destination has a template. A user or group without a name is
    /// called by its number, as libcgroup does.
    fn vars(&self, p: &ProcessInfo, templated: bool) -> TemplateVars {
        let name = |id: u32, group: bool| {
            templated
                .then(|| self.databases.name_of(id, group))
                .flatten()
                .unwrap_or_else(|| id.to_string())
        };
        TemplateVars {
            user: Some(name(p.ids.uid, false)),
            uid: Some(p.ids.uid),
            group: Some(name(p.ids.gid, true)),
            gid: Some(p.ids.gid),
            process: Some(p.command_name().to_string()),
            pid: Some(p.pid),
        }
    }
}
