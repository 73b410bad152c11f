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
    crate::leftovers::clean_lxcpath(lxcpath);
    for name in list_names(lxcpath)? {
        let c = Container::new(lxcpath, &name)?.with_layout(layout);
        if crate::create::remove_dead_ephemeral(&c) {
            continue;
        }
        crate::leftovers::clean_container(&c);
        crate::cgroup_keys::clean_after_dead_monitor(&c);
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fake::FakeHost;

    /// web1 stopped; web2 running with its monitor; db's monitor was
    /// killed but its processes remain in its cgroup; web3 frozen.
    fn host() -> (FakeHost, Vec<nix::fcntl::Flock<std::fs::File>>) {
        let h = FakeHost::new();
        let me = std::process::id();
        h.container("web1", "lxc.start.auto = 1\nlxc.group = web\n");
        let web2 = h.container("web2", "lxc.group = web\nlxc.group = front\n");
        h.cgroup(&web2, &[me]);
        let db = h.container("db", "");
        h.cgroup(&db, &[me]);
        crate::fake::write_run_files(&db, "RUNNING", me);
        let web3 = h.container("web3", "");
        let frozen = h.cgroup(&web3, &[me]);
        std::fs::write(frozen.join("cgroup.freeze"), "1\n").unwrap();
        std::fs::write(frozen.join("cgroup.events"), "populated 1\nfrozen 1\n").unwrap();
        let locks = vec![
            h.running(&web2, "RUNNING", me),
            h.running(&web3, "RUNNING", me),
        ];
        (h, locks)
    }

    fn names(rows: &[Summary]) -> Vec<&str> {
        rows.iter().map(|s| s.name.as_str()).collect()
    }

    #[test]
    fn ls_filters_by_state_and_name_on_a_fake_tree() {
        let (h, _locks) = host();
        let ls = |f: LsFilter| ls(&h.lxcpath, &f, &h.layout).unwrap();
        let all = ls(LsFilter::default());
        assert_eq!(names(&all), ["db", "web1", "web2", "web3"]);
        let states: Vec<State> = all.iter().map(|s| s.state).collect();
        assert_eq!(
            states,
            [
                State::Running,
                State::Stopped,
                State::Running,
                State::Frozen
            ]
        );
        let running = LsFilter {
            running: true,
            ..Default::default()
        };
        assert_eq!(names(&ls(running.clone())), ["db", "web2"]);
        let web_running = LsFilter {
            pattern: Some("^web".into()),
            ..running
        };
        assert_eq!(names(&ls(web_running)), ["web2"]);
        let active = LsFilter {
            active: true,
            ..Default::default()
        };
        assert_eq!(names(&ls(active)), ["db", "web2", "web3"]);
        let stopped_or_frozen = LsFilter {
            stopped: true,
            frozen: true,
            ..Default::default()
        };
        assert_eq!(names(&ls(stopped_or_frozen)), ["web1", "web3"]);
    }

    #[test]
    fn ls_prints_tables_and_names() {
        let (h, _locks) = host();
        let rows = ls(&h.lxcpath, &LsFilter::default(), &h.layout).unwrap();
        let me = std::process::id();
        let table = ls_table(&rows, Some("name, state,autostart,groups,pid")).unwrap();
        let expected = format!(
            "NAME STATE   AUTOSTART GROUPS     PID\n\
             db   RUNNING 0         -          {me}\n\
             web1 STOPPED 1         web        -\n\
             web2 RUNNING 0         web, front {me}\n\
             web3 FROZEN  0         -          {me}\n"
        );
        assert_eq!(table, expected);
        let default = ls_table(&rows[1..2], None).unwrap();
        assert_eq!(
            default,
            "NAME STATE   AUTOSTART GROUPS IPV4 IPV6 UNPRIVILEGED\n\
             web1 STOPPED 1         web    -    -    false\n"
        );
        assert_eq!(ls_names(&rows, true), "db\nweb1\nweb2\nweb3\n");
        assert_eq!(ls_names(&rows, false), "db  web1  web2  web3\n");
        assert_eq!(ls_names(&[], false), "");
    }

    #[test]
    fn ls_refuses_a_bad_filter_and_an_unknown_column() {
        let (h, _locks) = host();
        let bad = LsFilter {
            pattern: Some("web(".into()),
            ..Default::default()
        };
        let err = ls(&h.lxcpath, &bad, &h.layout).unwrap_err();
        assert!(
            crate::error::chain(&err)
                .starts_with("Invalid filter 'web(': not a regular expression: "),
            "{err}"
        );
        let rows = ls(&h.lxcpath, &LsFilter::default(), &h.layout).unwrap();
        let err = ls_table(&rows, Some("name,size")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "Unknown column 'SIZE': use name, state, autostart, groups, ipv4, ipv6, unprivileged, pid"
        );
    }
}
