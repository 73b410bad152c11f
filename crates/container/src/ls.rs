//! ls: the containers of an lxcpath, filtered by name and state, as a
//! list of names or a table. The CLI parses the flags and prints.

use serde::Serialize;
use std::path::Path;

use crate::container::{list_names, Container, SharedLayout, State};
use crate::error::{Error, Result};
use crate::info::addresses;

/// The columns of `ls -f`.
pub const DEFAULT_COLUMNS: &[&str] = &[
    "NAME",
    "STATE",
    "AUTOSTART",
    "GROUPS",
    "IPV4",
    "IPV6",
    "UNPRIVILEGED",
];

/// Which containers `ls` shows.
#[derive(Debug, Clone, Default)]
pub struct LsFilter {
    /// A regular expression the names must match.
    pub pattern: Option<String>,
    pub running: bool,
    pub stopped: bool,
    pub frozen: bool,
    /// Running or frozen (or on the way).
    pub active: bool,
}

impl LsFilter {
    /// Whether a container in `state` is shown (no state flag: all).
    fn shows(&self, state: State) -> bool {
        let any = self.running || self.stopped || self.frozen || self.active;
        !any || (self.running && state == State::Running)
            || (self.stopped && state == State::Stopped)
            || (self.frozen && state == State::Frozen)
            || (self.active && state.is_active())
    }
}

/// The containers of `lxcpath` that `filter` selects, on the host's
/// cgroup `layout`.
pub fn ls(lxcpath: &Path, filter: &LsFilter, layout: &SharedLayout) -> Result<Vec<Summary>> {
    let re = match &filter.pattern {
        Some(f) => Some(regex::Regex::new(f).map_err(|source| Error::BadFilter {
            filter: f.clone(),
            source,
        })?),
        None => None,
    };
    Ok(list(lxcpath, layout)?
        .into_iter()
        .filter(|s| re.as_ref().is_none_or(|r| r.is_match(&s.name)))
        .filter(|s| filter.shows(s.state))
        .collect())
}

/// `ls -f` / `ls -F COLUMNS` (comma-separated, any case; none: the
/// [`DEFAULT_COLUMNS`]): a header and one line per container, the
/// columns aligned.
pub fn ls_table(rows: &[Summary], columns: Option<&str>) -> Result<String> {
    let cols: Vec<String> = match columns {
        Some(f) => f
            .split(',')
            .map(|c| c.trim().to_ascii_uppercase())
            .collect(),
        None => DEFAULT_COLUMNS.iter().map(|c| c.to_string()).collect(),
    };
    let mut table: Vec<Vec<String>> = vec![cols.clone()];
    for s in rows {
        table.push(cols.iter().map(|c| s.cell(c)).collect::<Result<_>>()?);
    }
    let widths: Vec<usize> = (0..cols.len())
        .map(|i| table.iter().map(|r| r[i].len()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for r in &table {
        let cells: Vec<String> = r
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        out.push_str(cells.join(" ").trim_end());
        out.push('\n');
    }
    Ok(out)
}

/// The names: one per line, or on one line two spaces apart (none: no
/// line at all).
pub fn ls_names(rows: &[Summary], one_per_line: bool) -> String {
    let mut out = String::new();
    if one_per_line {
        for s in rows {
            out.push_str(&s.name);
            out.push('\n');
        }
    } else if !rows.is_empty() {
        let names: Vec<&str> = rows.iter().map(|s| s.name.as_str()).collect();
        out.push_str(&names.join("  "));
        out.push('\n');
    }
    out
}

/// One line of `ls -f`.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub name: String,
    pub state: State,
    pub autostart: bool,
    pub groups: Vec<String>,
    pub ipv4: Vec<String>,
    pub ipv6: Vec<String>,
    pub unprivileged: bool,
    pub pid: Option<i32>,
}

/// Every container of `lxcpath` with its state and settings.
pub fn list(lxcpath: &Path, layout: &SharedLayout) -> Result<Vec<Summary>> {
    let mut out = Vec::new();
    for name in list_names(lxcpath)? {
        let c = Container::new(lxcpath, &name)?.with_layout(layout);
        let state = c.state().unwrap_or(State::Stopped);
        let cfg = c.config().ok();
        let pid = if state.is_active() {
            c.init_pid()
        } else {
            None
        };
        let ips = pid.map(addresses).unwrap_or_default();
        out.push(Summary {
            name,
            state,
            autostart: cfg.as_ref().is_some_and(|c| c.start_auto()),
            groups: cfg.as_ref().map(|c| c.groups()).unwrap_or_default(),
            ipv4: ips.iter().filter(|a| !a.contains(':')).cloned().collect(),
            ipv6: ips.iter().filter(|a| a.contains(':')).cloned().collect(),
            unprivileged: cfg.as_ref().is_some_and(|c| !c.idmaps().is_empty()),
            pid,
        });
    }
    Ok(out)
}

impl Summary {
    /// The cell of column `col` (upper case) in `ls -F`.
    fn cell(&self, col: &str) -> Result<String> {
        let dash = |v: &[String]| {
            if v.is_empty() {
                "-".to_string()
            } else {
                v.join(", ")
            }
        };
        Ok(match col {
            "NAME" => self.name.clone(),
            "STATE" => self.state.as_str().to_string(),
            "AUTOSTART" => (self.autostart as u8).to_string(),
            "GROUPS" => dash(&self.groups),
            "IPV4" => dash(&self.ipv4),
            "IPV6" => dash(&self.ipv6),
            "UNPRIVILEGED" => self.unprivileged.to_string(),
            "PID" => self
                .pid
                .map(|p| p.to_string())
                .unwrap_or_else(|| "-".into()),
            other => {
                return Err(Error::UnknownColumn {
                    column: other.to_string(),
                })
            }
        })
    }
}
